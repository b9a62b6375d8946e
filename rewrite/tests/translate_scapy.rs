//! RFC 7915 translations compared byte for byte with packets scapy builds
//! (`tests/scripts/translate_cases.py`, run through Debian's `/usr/bin/python3`):
//! TCP, UDP and echo both ways, IPv4 options, IPv6 extension headers, fragments
//! in and out of order both ways, splitting at lowest-ipv6-mtu and the IPv4 link,
//! ICMP errors with their quotes (cut, fragmented, NATed, with RFC 4884
//! extensions), UDP checksum 0, every ICMP type and code of the RFC's tables,
//! every parameter-problem pointer, and the refusals with the ICMP reply the RFC
//! asks for.
//!
//! Each case is translated with the plan the script gives; a case whose plan is
//! plain RFC 6052 under the script's prefix also goes through `addr::Siit`, which
//! must make the same plan. Skips loudly without python3 and scapy, fails instead
//! when `SIXFOLD_REQUIRE_ORACLES=1`.

use serde_json::Value;
use sixfold_rewrite::addr::{Eamt, Nat64Prefix, Siit};
use sixfold_rewrite::translate::{
    Config, Fragments, IcmpReply, Mapping, ToIpv4, ToIpv6, TranslateError, Translator,
};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

mod common;

fn cases() -> Option<Vec<Value>> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/translate_cases.py"
    );
    let python = common::python("import scapy", "scapy translation oracle")?;
    let out = Command::new(python).arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "scapy script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn opt_u16(v: &Value) -> Option<u16> {
    v.as_u64().map(|n| n as u16)
}

fn mapping<A: std::str::FromStr>(v: &Value) -> Mapping<A>
where
    A::Err: std::fmt::Debug,
{
    Mapping {
        src: v["src"].as_str().unwrap().parse().unwrap(),
        dst: v["dst"].as_str().unwrap().parse().unwrap(),
        src_port: opt_u16(&v["src_port"]),
        dst_port: opt_u16(&v["dst_port"]),
        icmp_id: opt_u16(&v["icmp_id"]),
    }
}

fn config(v: &Value) -> Config {
    let d = Config::default();
    let u16_or = |k: &str, d: u16| v[k].as_u64().map_or(d, |n| n as u16);
    let bool_or = |k: &str, d: bool| v[k].as_bool().unwrap_or(d);
    Config {
        lowest_ipv6_mtu: u16_or("lowest_ipv6_mtu", d.lowest_ipv6_mtu),
        ipv6_mtu: u16_or("ipv6_mtu", d.ipv6_mtu),
        ipv4_mtu: u16_or("ipv4_mtu", d.ipv4_mtu),
        amend_udp_checksum_zero: bool_or("amend_udp_checksum_zero", d.amend_udp_checksum_zero),
        traffic_class: v["traffic_class"].as_u64().map(|n| n as u8),
        tos: v["tos"].as_u64().map(|n| n as u8),
        generate_ipv4_ident: bool_or("generate_ipv4_ident", d.generate_ipv4_ident),
        decrement_hop_limit: bool_or("decrement_hop_limit", d.decrement_hop_limit),
    }
}

/// The packets a translation emits: the packet, or its fragments.
type Emitted = Result<Vec<Vec<u8>>, TranslateError>;

fn emit(r: Result<sixfold_rewrite::translate::Translated, TranslateError>, out: &[u8]) -> Emitted {
    let t = r?;
    let packet = &out[..t.len];
    let Some(max) = t.fragment_len else {
        return Ok(vec![packet.to_vec()]);
    };
    let mut pieces = Fragments::new(packet, max)?;
    let mut piece = vec![0u8; max];
    let mut all = Vec::new();
    while let Some(n) = pieces.next_into(&mut piece)? {
        all.push(piece[..n].to_vec());
    }
    Ok(all)
}

fn translate(case: &Value, translator: &Translator, input: &[u8]) -> Emitted {
    let plan = &case["plan"];
    let mut out = vec![0u8; input.len() + 1600];
    let icmp_message_len = plan["icmp_message_len"].as_u64().map(|n| n as usize);
    if case["dir"] == "4to6" {
        let p = ToIpv6 {
            quote: (!plan["quote"].is_null()).then(|| mapping(&plan["quote"])),
            icmp_message_len,
            ..ToIpv6::new(mapping(plan))
        };
        emit(translator.ipv4_to_ipv6(input, &p, &mut out), &out)
    } else {
        let p = ToIpv4 {
            quote: (!plan["quote"].is_null()).then(|| mapping(&plan["quote"])),
            icmp_message_len,
            ipv4_ident: plan["ipv4_ident"].as_u64().unwrap() as u16,
            ..ToIpv4::new(mapping(plan))
        };
        emit(translator.ipv6_to_ipv4(input, &p, &mut out), &out)
    }
}

/// The same packet through stateless SIIT's own RFC 6052 planning.
fn translate_siit(case: &Value, translator: &Translator, input: &[u8]) -> Emitted {
    let siit = Siit {
        pool6: Some(Nat64Prefix::new("2001:db8:64::".parse().unwrap(), 96).unwrap()),
        eamt: Eamt::new(&[][..]).unwrap(),
        rfc6791_v4: None,
        rfc6791_v6: None,
    };
    let ident = case["plan"]["ipv4_ident"].as_u64().unwrap() as u16;
    let mut out = vec![0u8; input.len() + 1600];
    emit(siit.translate(translator, input, ident, &mut out), &out)
}

fn reply_json(r: Option<IcmpReply>) -> Value {
    match r {
        None => Value::Null,
        Some(IcmpReply::V4 {
            icmp_type,
            code,
            rest,
        }) => serde_json::json!(["v4", u8::from(icmp_type), code, rest]),
        Some(IcmpReply::V6 {
            icmp_type,
            code,
            rest,
        }) => serde_json::json!(["v6", u8::from(icmp_type), code, rest]),
    }
}

/// What went wrong with one case, or `None`.
fn check(case: &Value, got: &Emitted) -> Option<String> {
    let expect = &case["expect"];
    match (got, expect.get("packets")) {
        (Ok(packets), Some(want)) => {
            let want: Vec<String> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            let got: Vec<String> = packets.iter().map(|p| to_hex(p)).collect();
            (got != want).then(|| format!("\n  got  {got:?}\n  want {want:?}"))
        }
        (Err(e), None) => {
            let (name, reply) = (expect["error"].as_str().unwrap(), &expect["reply"]);
            let got_reply = reply_json(e.reply());
            (e.name() != name || (!reply.is_null() && &got_reply != reply)).then(|| {
                format!(
                    "\n  got  error {} reply {got_reply}\n  want error {name} reply {reply}",
                    e.name()
                )
            })
        }
        (Ok(packets), None) => Some(format!(
            "\n  got  {:?}\n  want error {}",
            packets.iter().map(|p| to_hex(p)).collect::<Vec<_>>(),
            expect["error"]
        )),
        (Err(e), Some(_)) => Some(format!("\n  got  error {e:?}\n  want packets")),
    }
}

#[test]
fn translations_match_scapy() {
    let Some(cases) = cases() else {
        return;
    };
    assert!(cases.len() >= 400, "only {} cases", cases.len());
    let mut failures = Vec::new();
    let (mut through_siit, mut errors) = (0, 0);
    for case in &cases {
        let translator = Translator::new(config(&case["config"])).unwrap();
        let input = hex(case["input"].as_str().unwrap());
        let got = translate(case, &translator, &input);
        errors += got.is_err() as usize;
        if let Some(why) = check(case, &got) {
            failures.push(format!("{}:{why}", case["name"]));
        }
        if case["siit"] == true {
            through_siit += 1;
            let planned = translate_siit(case, &translator, &input);
            if planned != got {
                failures.push(format!(
                    "{}: through Siit\n  got  {planned:?}\n  want {got:?}",
                    case["name"]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from scapy:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        through_siit >= 300,
        "only {through_siit} cases went through Siit"
    );
    assert!(errors >= 100, "only {errors} refusals were checked");
    // The addresses the script embeds are RFC 6052's under its /96.
    let prefix = Nat64Prefix::new("2001:db8:64::".parse().unwrap(), 96).unwrap();
    assert_eq!(
        prefix.embed(Ipv4Addr::new(192, 0, 2, 1)),
        "2001:db8:64::c000:201".parse::<Ipv6Addr>().unwrap()
    );
}
