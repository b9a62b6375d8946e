//! The lab's IPv6-only subscriber (`--ipv6-only`): the router is the PLAT
//! (stateful NAT64, RFC 6146), Debian's `unbound` in the WAN namespace is the
//! DNS64 resolver (RFC 6147) the router advertises (RDNSS), and Debian's `tayga`
//! in the subscriber's namespace is its CLAT, configured as clatd would (RFC
//! 6877: 464XLAT) — so IPv4-only programs there reach IPv4 literals too.
//!
//! unbound synthesises AAAA records only for names it resolves upstream, not
//! for `local-data`: the lab's names come from an `auth-zone` with
//! `for-upstream: yes`. The prefix is network-specific: tayga refuses the
//! documentation addresses the lab uses under 64:ff9b::/96 (RFC 6052 §3.1).

use super::args::{HTTP_PORT, SERVER_V4, SERVER_V6};
use super::world::{World, ip, netns_command};
use anyhow::{Context, bail};
use sixfold_router::device;
use std::net::{Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The NAT64 prefix of the lab.
pub(super) const NAT64_PREFIX: &str = "2001:db8:64::/96";
/// The DNS64 resolver, on the WAN namespace's loopback.
pub(super) const DNS64: &str = "2001:db8:ffff::53";
/// A name with only an A record (the lab's IPv4 server).
pub(super) const V4ONLY_NAME: &str = "v4only.lab.example";
/// The CLAT's IPv4 address for the host, and tayga's own (RFC 7335's range).
const CLAT_HOST_V4: &str = "192.0.0.1";
const CLAT_TAYGA_V4: &str = "192.0.0.2";
/// IPv4 through the CLAT: 1280 less the 20 bytes the translation adds.
const CLAT_MTU: &str = "1260";

/// The router as the PLAT: `[nat64]` with the lab's prefix unless the
/// configuration has one, and the DNS64 resolver advertised (RDNSS).
pub(super) fn plat_config(config: &mut sixfold_router::Config) -> anyhow::Result<()> {
    if config.nat64.is_none() {
        config.nat64 = Some(sixfold_router::config::Nat64 {
            prefix: NAT64_PREFIX.parse()?,
            ..Default::default()
        });
    }
    if config.router.rdnss.is_empty() {
        config.router.rdnss = vec![DNS64.parse()?];
    }
    Ok(())
}

/// A private directory (0700, a fresh name) for configuration files, removed
/// with the world.
pub(super) fn private_dir(world: &mut World, what: &str) -> anyhow::Result<PathBuf> {
    let template = std::env::temp_dir().join(format!("sixfold-lab-{what}-XXXXXX"));
    let dir = nix::unistd::mkdtemp(&template)
        .with_context(|| format!("creating a private directory like {}", template.display()))?;
    world.files.push(dir.clone());
    Ok(dir)
}

fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}

/// The zone the resolver serves: names with A and AAAA records, one with only
/// an A record, and ipv4only.arpa for prefix discovery (RFC 7050).
fn zones(dir: &Path) -> anyhow::Result<String> {
    let lab = format!(
        "$ORIGIN lab.example.\n\
         @ 60 IN SOA ns.lab.example. admin.lab.example. 1 3600 600 86400 60\n\
         @ 60 IN NS ns.lab.example.\n\
         ns 60 IN AAAA {DNS64}\n\
         www 60 IN A {SERVER_V4}\n\
         www 60 IN AAAA {SERVER_V6}\n\
         v4only 60 IN A {SERVER_V4}\n"
    );
    let arpa = "$ORIGIN ipv4only.arpa.\n\
                @ 60 IN SOA ns.lab.example. admin.lab.example. 1 3600 600 86400 60\n\
                @ 60 IN NS ns.lab.example.\n\
                @ 60 IN A 192.0.0.170\n\
                @ 60 IN A 192.0.0.171\n";
    write_new(&dir.join("lab.example.zone"), &lab)?;
    write_new(&dir.join("ipv4only.arpa.zone"), arpa)?;
    let zone = |name: &str| {
        format!(
            "auth-zone:\n  name: \"{name}\"\n  zonefile: \"{}\"\n  for-downstream: no\n  for-upstream: yes\n  fallback-enabled: no\n",
            dir.join(format!("{name}.zone")).display()
        )
    };
    Ok(zone("lab.example") + &zone("ipv4only.arpa"))
}

/// Starts unbound as DNS64 on [`DNS64`] in `wan_ns` and waits until it answers.
pub(super) fn start_dns64(world: &mut World, wan_ns: &str, prefix: &str) -> anyhow::Result<()> {
    ip(&[
        "-n",
        wan_ns,
        "addr",
        "add",
        &format!("{DNS64}/128"),
        "dev",
        "lo",
    ])?;
    let dir = private_dir(world, "dns64")?;
    let conf = format!(
        "server:\n  interface: {DNS64}\n  port: 53\n  access-control: ::/0 allow\n  \
         do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  \
         pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  \
         module-config: \"dns64 iterator\"\n  dns64-prefix: {prefix}\n{zones}",
        d = dir.display(),
        zones = zones(&dir)?
    );
    let path = dir.join("unbound.conf");
    write_new(&path, &conf)?;
    let child = netns_command(wan_ns, "unbound")
        .arg("-d")
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting unbound (apt-get install unbound)")?;
    world.children.push(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(found) = resolve_aaaa(wan_ns, V4ONLY_NAME)
            && !found.is_empty()
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("unbound did not answer for {V4ONLY_NAME} on [{DNS64}]:53 within 10 s")
}

/// A DNS query for the AAAA records of `name` (RFC 1035 §4.1), id `id`.
fn query(name: &str, id: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 28, 0, 1]);
    q
}

/// Skips a (possibly compressed) name at `at`; the offset after it.
fn skip_name(m: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *m.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xC0 == 0xC0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

/// The AAAA records of a DNS answer.
fn answers(m: &[u8]) -> Option<Vec<Ipv6Addr>> {
    let count = u16::from_be_bytes([*m.get(6)?, *m.get(7)?]);
    let mut at = skip_name(m, 12)? + 4;
    let mut found = Vec::new();
    for _ in 0..count {
        at = skip_name(m, at)?;
        let kind = u16::from_be_bytes([*m.get(at)?, *m.get(at + 1)?]);
        let len = usize::from(u16::from_be_bytes([*m.get(at + 8)?, *m.get(at + 9)?]));
        let data = m.get(at + 10..at + 10 + len)?;
        if kind == 28 && len == 16 {
            found.push(Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?));
        }
        at += 10 + len;
    }
    Some(found)
}

/// Asks the lab's resolver, from namespace `ns`, for the AAAA records of `name`.
pub(super) fn resolve_aaaa(ns: &str, name: &str) -> anyhow::Result<Vec<Ipv6Addr>> {
    let server: SocketAddr = format!("[{DNS64}]:53").parse()?;
    let socket = device::in_netns(ns, || UdpSocket::bind("[::]:0"))?;
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    let id = std::process::id() as u16;
    socket.send_to(&query(name, id), server)?;
    let mut buf = [0u8; 1500];
    let (n, _) = socket.recv_from(&mut buf).context("no answer")?;
    answers(&buf[..n]).context("an answer that does not parse")
}

/// Makes `ns` use the lab's resolver, as a host that read the router's RDNSS
/// option would (`ip netns exec` mounts /etc/netns/NS/resolv.conf).
pub(super) fn resolv_conf(world: &mut World, ns: &str) -> anyhow::Result<()> {
    let dir = PathBuf::from("/etc/netns").join(ns);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    world.files.push(dir.clone());
    std::fs::write(dir.join("resolv.conf"), format!("nameserver {DNS64}\n"))
        .context("writing the subscriber's resolv.conf")
}

/// The CLAT's IPv6 address: `::c1a7` in the /64 the subscriber configured
/// from the router's advertisement (clatd takes a dedicated one too).
pub(super) fn clat_address(slaac: &str) -> anyhow::Result<Ipv6Addr> {
    let a: Ipv6Addr = slaac.parse()?;
    let s = a.segments();
    Ok(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0xc1a7))
}

/// Starts tayga as the CLAT in `ns` (whose link to the router is `dev`), for
/// IPv6 address `clat6`: IPv4 from the host's 192.0.0.1 leaves as IPv6 from
/// `clat6` to the NAT64 prefix; IPv4's default route is the clat TUN.
pub(super) fn start_clat(
    world: &mut World,
    ns: &str,
    dev: &str,
    clat6: Ipv6Addr,
    prefix: &str,
) -> anyhow::Result<()> {
    let dir = private_dir(world, "clat")?;
    let path = dir.join("tayga.conf");
    write_new(
        &path,
        &format!(
            "tun-device clat\nipv4-addr {CLAT_TAYGA_V4}\nprefix {prefix}\nmap {CLAT_HOST_V4} {clat6}\n"
        ),
    )?;
    let sysctl = |setting: &str| -> anyhow::Result<()> {
        let out = netns_command(ns, "sysctl")
            .args(["-qw", setting])
            .output()?;
        if !out.status.success() {
            bail!(
                "sysctl {setting} in {ns}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    };
    // The namespace forwards between the clat TUN and its link, and keeps
    // taking the router's advertisements while it does (accept_ra 2).
    sysctl(&format!("net.ipv6.conf.{dev}.accept_ra=2"))?;
    sysctl("net.ipv6.conf.all.forwarding=1")?;
    let out = netns_command(ns, "tayga")
        .arg("--mktun")
        .arg("-c")
        .arg(&path)
        .output()
        .context("running tayga --mktun (apt-get install tayga)")?;
    if !out.status.success() {
        bail!(
            "tayga --mktun in {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    ip(&["-n", ns, "link", "set", "clat", "up"])?;
    ip(&["-n", ns, "addr", "add", CLAT_HOST_V4, "dev", "clat"])?;
    ip(&[
        "-n", ns, "route", "add", "default", "dev", "clat", "mtu", CLAT_MTU,
    ])?;
    ip(&[
        "-n",
        ns,
        "-6",
        "route",
        "add",
        &clat6.to_string(),
        "dev",
        "clat",
    ])?;
    let child = netns_command(ns, "tayga")
        .arg("--nodetach")
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting tayga")?;
    world.children.push(child);
    Ok(())
}

/// The URL of the lab's web server by `host`.
pub(super) fn url(host: &str) -> String {
    format!("http://{host}:{HTTP_PORT}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_and_a_compressed_answer() {
        let q = query("v4only.lab.example", 0x1234);
        assert_eq!(&q[..12], &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..19], b"\x06v4only");
        assert_eq!(&q[q.len() - 4..], &[0, 28, 0, 1]);
        // The answer: the question, then one AAAA behind a pointer to it.
        let mut a = q.clone();
        a[2..8].copy_from_slice(&[0x81, 0x80, 0, 1, 0, 1]);
        a.extend_from_slice(&[0xC0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        let addr: Ipv6Addr = "2001:db8:64::c000:250".parse().unwrap();
        a.extend_from_slice(&addr.octets());
        assert_eq!(answers(&a), Some(vec![addr]));
        assert_eq!(answers(&a[..a.len() - 1]), None);
        assert_eq!(
            clat_address("2001:db8:1:3:b2cc:c1bc:2acd:45b0").unwrap(),
            "2001:db8:1:3::c1a7".parse::<Ipv6Addr>().unwrap()
        );
    }
}
