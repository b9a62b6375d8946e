//! The fast path's map entries as bytes, laid out exactly as
//! `bpf/fastpath.h` declares them (C structs, no implicit padding). Keys and
//! values travel as byte arrays — aya's `Pod` is implemented for `[u8; N]` — so
//! no `unsafe impl` is needed for the structs: encoding is explicit here and
//! its tests pin every offset.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

/// `struct flow4_key`.
pub type Flow4KeyBytes = [u8; 16];
/// `struct flow4_value`.
pub type Flow4ValueBytes = [u8; 48];
/// `struct flow6_key`.
pub type Flow6KeyBytes = [u8; 40];
/// `struct flow6_value`.
pub type Flow6ValueBytes = [u8; 32];

pub use crate::fastpath::{Flow4, Flow6};

/// Where a flow's packets may come in and which device the route lookup
/// starts from (the TUN the slow path would write them to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path {
    /// The only interface the flow's packets are taken from.
    pub in_ifindex: u32,
    /// `bpf_fib_lookup` looks the route up as for a packet arriving here.
    pub fib_ifindex: u32,
}

/// One CPU's share of a flow's counters, or their sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCounts {
    /// Packets forwarded by the fast path.
    pub packets: u64,
    /// Their IP bytes (header included).
    pub bytes: u64,
    /// The last one's `bpf_ktime_get_ns()` (CLOCK_MONOTONIC); 0: none yet.
    pub last_seen_ns: u64,
}

impl FlowCounts {
    /// The counts of all CPUs together: sums, and the latest time.
    pub fn sum(parts: impl IntoIterator<Item = FlowCounts>) -> FlowCounts {
        parts
            .into_iter()
            .fold(FlowCounts::default(), |a, b| FlowCounts {
                packets: a.packets + b.packets,
                bytes: a.bytes + b.bytes,
                last_seen_ns: a.last_seen_ns.max(b.last_seen_ns),
            })
    }

    fn decode(b: &[u8]) -> FlowCounts {
        FlowCounts {
            packets: u64_at(b, 0),
            bytes: u64_at(b, 8),
            last_seen_ns: u64_at(b, 16),
        }
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(word)
}

impl Flow4 {
    /// `struct flow4_key`: saddr, daddr, sport, dport (network order), proto.
    pub fn key(&self) -> Flow4KeyBytes {
        let mut k = [0; 16];
        k[0..4].copy_from_slice(&self.src.ip().octets());
        k[4..8].copy_from_slice(&self.dst.ip().octets());
        k[8..10].copy_from_slice(&self.src.port().to_be_bytes());
        k[10..12].copy_from_slice(&self.dst.port().to_be_bytes());
        k[12] = self.protocol;
        k
    }

    /// The flow of key `k` (the inverse of [`Flow4::key`]).
    pub fn from_key(k: &Flow4KeyBytes) -> Flow4 {
        let addr = |at: usize| Ipv4Addr::new(k[at], k[at + 1], k[at + 2], k[at + 3]);
        let port = |at: usize| u16::from_be_bytes([k[at], k[at + 1]]);
        Flow4 {
            protocol: k[12],
            src: SocketAddrV4::new(addr(0), port(8)),
            dst: SocketAddrV4::new(addr(4), port(10)),
        }
    }

    /// `struct flow4_value` for a packet of this flow that becomes `to` and
    /// takes `path`, with zero counters.
    pub fn value(to: &Flow4, path: Path) -> Flow4ValueBytes {
        let mut v = [0; 48];
        v[0..4].copy_from_slice(&to.src.ip().octets());
        v[4..8].copy_from_slice(&to.dst.ip().octets());
        v[8..10].copy_from_slice(&to.src.port().to_be_bytes());
        v[10..12].copy_from_slice(&to.dst.port().to_be_bytes());
        v[12..16].copy_from_slice(&path.in_ifindex.to_ne_bytes());
        v[16..20].copy_from_slice(&path.fib_ifindex.to_ne_bytes());
        v
    }

    /// The counters of one CPU's copy of a `struct flow4_value`.
    pub fn counts(v: &Flow4ValueBytes) -> FlowCounts {
        FlowCounts::decode(&v[24..48])
    }
}

impl Flow6 {
    /// `struct flow6_key`: saddr, daddr, sport, dport (network order), proto.
    pub fn key(&self) -> Flow6KeyBytes {
        let mut k = [0; 40];
        k[0..16].copy_from_slice(&self.src.ip().octets());
        k[16..32].copy_from_slice(&self.dst.ip().octets());
        k[32..34].copy_from_slice(&self.src.port().to_be_bytes());
        k[34..36].copy_from_slice(&self.dst.port().to_be_bytes());
        k[36] = self.protocol;
        k
    }

    /// The flow of key `k` (the inverse of [`Flow6::key`]).
    pub fn from_key(k: &Flow6KeyBytes) -> Flow6 {
        let addr = |at: usize| {
            let mut o = [0; 16];
            o.copy_from_slice(&k[at..at + 16]);
            Ipv6Addr::from(o)
        };
        let port = |at: usize| u16::from_be_bytes([k[at], k[at + 1]]);
        Flow6 {
            protocol: k[36],
            src: SocketAddrV6::new(addr(0), port(32), 0, 0),
            dst: SocketAddrV6::new(addr(16), port(34), 0, 0),
        }
    }

    /// `struct flow6_value` for `path`, with zero counters.
    pub fn value(path: Path) -> Flow6ValueBytes {
        let mut v = [0; 32];
        v[0..4].copy_from_slice(&path.in_ifindex.to_ne_bytes());
        v[4..8].copy_from_slice(&path.fib_ifindex.to_ne_bytes());
        v
    }

    /// The counters of one CPU's copy of a `struct flow6_value`.
    pub fn counts(v: &Flow6ValueBytes) -> FlowCounts {
        FlowCounts::decode(&v[8..32])
    }
}

/// The program's counters (`enum fp_counter`), in their order: the name a
/// report and `sixfold stats` give each.
pub const COUNTER_NAMES: [&str; 17] = [
    "forwarded_ipv4",
    "forwarded_ipv6",
    "pass_not_ip",
    "pass_truncated",
    "pass_ip_options",
    "pass_fragment",
    "pass_extension_header",
    "pass_protocol",
    "pass_ttl",
    "pass_tcp_flags",
    "pass_bad_checksum",
    "pass_miss",
    "pass_wrong_interface",
    "pass_no_route",
    "pass_no_neighbour",
    "pass_mtu",
    "pass_egress",
];

/// Index of counter `name` in [`COUNTER_NAMES`].
pub fn counter(name: &str) -> usize {
    COUNTER_NAMES
        .iter()
        .position(|n| *n == name)
        .unwrap_or_else(|| panic!("no fast-path counter named {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> Flow4 {
        Flow4 {
            protocol: 17,
            src: "100.64.1.2:40000".parse().unwrap(),
            dst: "192.0.2.80:53".parse().unwrap(),
        }
    }

    #[test]
    fn flow4_key_is_laid_out_as_the_c_struct() {
        assert_eq!(
            flow().key(),
            [100, 64, 1, 2, 192, 0, 2, 80, 0x9c, 0x40, 0, 53, 17, 0, 0, 0]
        );
        assert_eq!(Flow4::from_key(&flow().key()), flow());
    }

    #[test]
    fn flow4_value_puts_the_rewrite_then_the_path_then_counters() {
        let to = Flow4 {
            protocol: 17,
            src: "203.0.113.5:1024".parse().unwrap(),
            dst: "192.0.2.80:53".parse().unwrap(),
        };
        let v = Flow4::value(
            &to,
            Path {
                in_ifindex: 7,
                fib_ifindex: 0x0102_0304,
            },
        );
        assert_eq!(&v[0..12], &[203, 0, 113, 5, 192, 0, 2, 80, 4, 0, 0, 53]);
        assert_eq!(&v[12..16], &7u32.to_ne_bytes());
        assert_eq!(&v[16..20], &0x0102_0304u32.to_ne_bytes());
        assert!(v[20..].iter().all(|&b| b == 0));
        let mut w = v;
        w[24..32].copy_from_slice(&3u64.to_ne_bytes());
        w[32..40].copy_from_slice(&180u64.to_ne_bytes());
        w[40..48].copy_from_slice(&99u64.to_ne_bytes());
        assert_eq!(
            Flow4::counts(&w),
            FlowCounts {
                packets: 3,
                bytes: 180,
                last_seen_ns: 99
            }
        );
    }

    #[test]
    fn flow6_key_and_value_are_laid_out_as_the_c_structs() {
        let f = Flow6 {
            protocol: 6,
            src: "[2001:db8:1:1::2]:443".parse().unwrap(),
            dst: "[2001:db8:ffff::80]:8080".parse().unwrap(),
        };
        let k = f.key();
        assert_eq!(&k[0..4], &[0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(&k[31..40], &[0x80, 0x01, 0xbb, 0x1f, 0x90, 6, 0, 0, 0]);
        assert_eq!(Flow6::from_key(&k), f);
        let v = Flow6::value(Path {
            in_ifindex: 2,
            fib_ifindex: 9,
        });
        assert_eq!(
            &v[0..8],
            &[2u32.to_ne_bytes(), 9u32.to_ne_bytes()].concat()[..]
        );
        assert!(v[8..].iter().all(|&b| b == 0));
    }

    #[test]
    fn counts_of_all_cpus_sum_and_keep_the_latest_time() {
        let a = FlowCounts {
            packets: 2,
            bytes: 100,
            last_seen_ns: 50,
        };
        let b = FlowCounts {
            packets: 1,
            bytes: 60,
            last_seen_ns: 70,
        };
        assert_eq!(
            FlowCounts::sum([a, b]),
            FlowCounts {
                packets: 3,
                bytes: 160,
                last_seen_ns: 70
            }
        );
    }

    #[test]
    fn counter_names_follow_the_c_enum() {
        let header = include_str!("../../../bpf/fastpath.h");
        let start = header.find("enum fp_counter").unwrap();
        let names: Vec<String> = header[start..]
            .lines()
            .filter_map(|l| l.trim().strip_prefix("FP_"))
            .map(|l| l.split([' ', ',', '=']).next().unwrap().to_string())
            .take_while(|n| n != "COUNTERS")
            .collect();
        assert_eq!(names.len(), COUNTER_NAMES.len());
        assert_eq!(names[0], "FORWARDED4");
        assert_eq!(names[11], "PASS_MISS");
        assert_eq!(COUNTER_NAMES[counter("pass_miss")], "pass_miss");
    }
}
