//! The real captures in `teredo/tests/data/` (copied from `shared/data/teredo/`)
//! through the recogniser and the address classifier: miredo's qualification
//! (RS/RA with authentication and origin indication), bubbles and data; userspace
//! 6to4/ISATAP/6in4 proto-41 traffic; and the oracle address vectors.

use sixfold::capture::{self, Frame};
use sixfold_teredo::packet::{Kind, Proto41Kind, classify_proto41, recognize};
use sixfold_teredo::{AddressKind, Teredo, classify};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

fn frames(name: &str) -> Vec<Frame> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "teredo",
        "tests",
        "data",
        name,
    ]
    .iter()
    .collect();
    capture::read(&path).unwrap()
}

/// The UDP payload of an IPv4/UDP frame.
fn udp_payload(frame: &Frame) -> &[u8] {
    let ip = frame.ip().unwrap();
    assert_eq!(ip[9], 17);
    let ihl = (ip[0] & 0xF) as usize * 4;
    &ip[ihl + 8..]
}

#[test]
fn miredo_qualification_bubbles_and_data() {
    let frames = frames("miredo-qualification.pcap");
    assert_eq!(frames.len(), 22);
    let kinds: Vec<Kind> = frames
        .iter()
        .map(|f| recognize(udp_payload(f)).unwrap().kind)
        .collect();
    use Kind::*;
    let mut want = vec![
        RouterSolicitation,
        RouterAdvertisement,
        RouterSolicitation,
        RouterAdvertisement,
    ];
    want.extend([Bubble; 4]);
    want.extend([Data; 14]);
    assert_eq!(kinds, want);

    // Frame 1: RS with an authentication header, empty id and value.
    let rs = recognize(udp_payload(&frames[0])).unwrap();
    let auth = rs.auth.unwrap();
    assert_eq!(
        (auth.client_id, auth.auth_value, auth.confirmation),
        (&[][..], &[][..], 0)
    );
    assert_eq!(auth.nonce, [0x28, 0xac, 0x0a, 0xa2, 0xdc, 0x33, 0x29, 0xfe]);
    assert_eq!(rs.origin, None);
    assert_eq!(
        rs.inner.src,
        "fe80::ffff:ffff:ffff".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(rs.inner.dst, "ff02::2".parse::<Ipv6Addr>().unwrap());

    // Frame 2: RA with auth + origin indication = the client's mapping as the server saw it.
    let ra = recognize(udp_payload(&frames[1])).unwrap();
    assert_eq!(ra.auth.unwrap().nonce, auth.nonce);
    let origin = ra.origin.unwrap();
    assert_eq!(
        (origin.address, origin.port),
        (Ipv4Addr::new(203, 0, 113, 1), 44331)
    );
    assert_eq!(
        ra.inner.src,
        "fe80::8000:f227:34ff:8ef5".parse::<Ipv6Addr>().unwrap()
    );

    // Frame 7: a bubble relayed by the server with an origin indication.
    let relayed = recognize(udp_payload(&frames[6])).unwrap();
    assert_eq!(relayed.kind, Bubble);
    let o = relayed.origin.unwrap();
    assert_eq!((o.address, o.port), (Ipv4Addr::new(203, 0, 113, 20), 47624));

    // Data: ICMPv6 echo between two Teredo addresses that decode to the two NATs.
    let data = recognize(udp_payload(&frames[8])).unwrap();
    let src = Teredo::decode(data.inner.src).unwrap();
    let dst = Teredo::decode(data.inner.dst).unwrap();
    assert_eq!(
        (src.client, src.port),
        (Ipv4Addr::new(203, 0, 113, 20), 47624)
    );
    assert_eq!(
        (dst.client, dst.port),
        (Ipv4Addr::new(203, 0, 113, 1), 44331)
    );

    // Whatever the recogniser accepts, it writes back byte for byte.
    for f in &frames {
        let payload = udp_payload(f);
        let p = recognize(payload).unwrap();
        let mut out = vec![0u8; p.encoded_len()];
        assert_eq!(p.write(&mut out), Some(payload.len()));
        assert_eq!(out, payload);
    }
}

#[test]
fn proto41_mechanisms_by_inner_address() {
    let frames = frames("proto41-6in4-6to4-isatap.pcap");
    let kinds: Vec<Proto41Kind> = frames
        .iter()
        .map(|f| {
            let ip = f.ip().unwrap();
            assert_eq!(ip[9], 41, "protocol 41");
            classify_proto41(&ip[20..], None).unwrap().0
        })
        .collect();
    use Proto41Kind::*;
    let want: Vec<Proto41Kind> = [SixToFour; 4]
        .into_iter()
        .chain([Isatap; 4])
        .chain([SixInFour; 4])
        .collect();
    assert_eq!(kinds, want);
}

#[test]
fn oracle_vector_addresses() {
    let frames = frames("teredo-oracle-vectors.pcap");
    let kinds: Vec<String> = frames
        .iter()
        .map(|f| {
            let ip = f.ip().unwrap();
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap());
            let k = classify(src);
            match k.embedded_ipv4() {
                Some(v4) => format!("{} {v4}", k.name()),
                None => k.name().to_string(),
            }
        })
        .collect();
    let want = [
        "teredo 203.0.113.1",
        "teredo 203.0.113.20",
        "teredo 192.0.2.45",
        "teredo 192.0.2.45",
        "teredo 255.255.255.255",
        "teredo 0.0.0.0",
        "6to4 192.0.2.1",
        "6to4 203.0.113.10",
        "link-local",
        "isatap 192.0.2.1",
        "nat64 192.0.2.33",
        "ipv4-mapped 192.0.2.1",
        "ipv4-compatible 192.0.2.1",
    ];
    assert_eq!(kinds, want);
    let AddressKind::Teredo(legacy) =
        classify("3ffe:831f:4136:e378:8000:63bf:3fff:fdd2".parse().unwrap())
    else {
        panic!()
    };
    assert!(legacy.is_legacy());
}
