//! How exposed a client behind a NAT is once it runs Teredo.
//!
//! A Teredo address carries the client's public IPv4 address and NAT port, merely
//! bit-inverted. An attacker who knows the NAT's address (and the handful of public
//! Teredo servers) must guess only the port and the flag bits to reach the client
//! through the hole Teredo keeps open (RFC 4380 §7.1):
//! RFC 4380 flags leave 16 + 1 (cone) = 17 bits; RFC 5991's twelve random bits make
//! it 16 + 12 = 28 (29 if the cone bit is set too). Whoever sniffed the qualification
//! exchange saw the port in the origin indication, and has only the random bits left.
//! Across N clients, k random probes hit at least one with probability
//! 1 − (1 − N/2^b)^k (`../shared/reference/transition.md` §1.3).

use crate::address::{FlagStyle, Teredo};

/// What the attacker already knows besides the server and the NAT's IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Knowledge {
    /// Only the NAT's public address: port and flags are unknown.
    NatAddress,
    /// The qualification (RS/RA) was sniffed: the mapped port and the cone bit are
    /// known, only random flag bits remain.
    QualificationSniffed,
}

/// The bits an attacker must guess, by source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Exposure {
    /// Bits of the mapped port to guess (16 or 0).
    pub port_bits: u32,
    /// Bits for the cone flag (1 or 0).
    pub cone_bits: u32,
    /// Random flag bits (12 for RFC 5991-style flags, otherwise 0).
    pub random_bits: u32,
}

impl Exposure {
    /// The total number of bits to guess.
    pub const fn bits(&self) -> u32 {
        self.port_bits + self.cone_bits + self.random_bits
    }
}

/// The bits to guess for `teredo` given what the attacker knows.
///
/// ```
/// use sixfold_teredo::{Teredo, exposure::{exposure, Knowledge}};
/// let t = Teredo::decode("2001:0:4136:e378:8000:63bf:3fff:fdd2".parse().unwrap()).unwrap();
/// assert_eq!(exposure(&t, Knowledge::NatAddress).bits(), 17);
/// ```
pub const fn exposure(teredo: &Teredo, knowledge: Knowledge) -> Exposure {
    let random = match teredo.flags.style() {
        FlagStyle::Rfc4380 => 0,
        FlagStyle::Rfc5991 | FlagStyle::Nonconforming => 12,
    };
    match knowledge {
        Knowledge::QualificationSniffed => Exposure {
            port_bits: 0,
            cone_bits: 0,
            random_bits: random,
        },
        Knowledge::NatAddress => {
            // RFC 4380 clients may set the cone bit, so it is one more unknown; RFC 5991
            // clients send 0, unless this one did not.
            let cone = if random == 0 || teredo.flags.cone() {
                1
            } else {
                0
            };
            Exposure {
                port_bits: 16,
                cone_bits: cone,
                random_bits: random,
            }
        }
    }
}

/// The probability that `probes` random probes into a space of 2^`bits` addresses hit
/// at least one of `hosts` clients: `1 − (1 − N/2^b)^k`, computed as
/// `−expm1(k · log1p(−N/2^b))` so that it neither overflows nor loses the small
/// probabilities to rounding. 1.0 when there are at least as many hosts as addresses.
///
/// ```
/// use sixfold_teredo::exposure::hit_probability;
/// let p = hit_probability(100, 909, 17);
/// assert!(p > 0.5 && p < 0.51);
/// ```
pub fn hit_probability(hosts: u64, probes: u64, bits: u32) -> f64 {
    if hosts == 0 || probes == 0 {
        return 0.0;
    }
    let space = libm::exp2(bits.min(1023) as f64);
    let density = hosts as f64 / space;
    if density >= 1.0 {
        return 1.0;
    }
    -libm::expm1(probes as f64 * libm::log1p(-density))
}

/// How many probes give at least `probability` (0 < p < 1) of a hit, by the same
/// formula solved for k: `⌈log1p(−p) / log1p(−N/2^b)⌉`. `None` when there are no
/// hosts or `probability` is not in (0, 1).
pub fn probes_for(hosts: u64, bits: u32, probability: f64) -> Option<f64> {
    if hosts == 0 || !(probability > 0.0 && probability < 1.0) {
        return None;
    }
    let density = hosts as f64 / libm::exp2(bits.min(1023) as f64);
    if density >= 1.0 {
        return Some(1.0);
    }
    Some(libm::ceil(
        libm::log1p(-probability) / libm::log1p(-density),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::{Flags, Prefix};
    use core::net::Ipv4Addr;

    fn teredo(flags: u16) -> Teredo {
        Teredo {
            server: Ipv4Addr::new(203, 0, 113, 10),
            flags: Flags(flags),
            port: 44331,
            client: Ipv4Addr::new(203, 0, 113, 1),
            prefix: Prefix::Global,
        }
    }

    #[test]
    fn bits_by_style_and_knowledge() {
        assert_eq!(exposure(&teredo(0x8000), Knowledge::NatAddress).bits(), 17);
        assert_eq!(exposure(&teredo(0x0000), Knowledge::NatAddress).bits(), 17);
        assert_eq!(exposure(&teredo(0x1408), Knowledge::NatAddress).bits(), 28);
        assert_eq!(exposure(&teredo(0x9408), Knowledge::NatAddress).bits(), 29);
        assert_eq!(
            exposure(&teredo(0x1408), Knowledge::QualificationSniffed).bits(),
            12
        );
        assert_eq!(
            exposure(&teredo(0x8000), Knowledge::QualificationSniffed).bits(),
            0
        );
    }

    /// transition.md §1.3's worked numbers: k50 ≈ S·ln2/N.
    #[test]
    fn worked_numbers() {
        assert_eq!(probes_for(100, 17, 0.5), Some(909.0)); // 908.2 → 909
        let k = probes_for(100, 28, 0.5).unwrap();
        assert!((1.85e6..1.87e6).contains(&k), "{k}");
        let k = probes_for(1, 28, 0.5).unwrap();
        assert!((1.86e8..1.87e8).contains(&k), "{k}");
        assert!(hit_probability(100, 908, 17) < 0.5);
        assert!(hit_probability(100, 909, 17) >= 0.5);
    }

    #[test]
    fn extremes_do_not_overflow_or_vanish() {
        assert_eq!(hit_probability(0, 10, 17), 0.0);
        assert_eq!(hit_probability(10, 0, 17), 0.0);
        assert_eq!(hit_probability(1 << 20, 1, 17), 1.0);
        // One probe into 2^60: 8.67e-19, which 1 − (1 − x)^k would round to 0.
        let p = hit_probability(1, 1, 60);
        assert!((p - 1.0 / (1u64 << 60) as f64).abs() < 1e-30, "{p}");
        // u64::MAX probes into 2^17 with one host: certain.
        assert_eq!(hit_probability(1, u64::MAX, 17), 1.0);
        assert_eq!(probes_for(1, 17, 1.5), None);
    }
}
