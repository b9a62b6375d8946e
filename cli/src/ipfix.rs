//! Reading IPFIX messages (RFC 7011) as a collector does: templates are
//! learnt from template sets (set ID 2) per observation domain, and data
//! records are decoded field by field by the information element each template
//! names — nothing here assumes the router's own templates, so it reads what
//! the router sends only if that follows the standard. Used by `sixfold lab
//! --ipfix` (its report) and `sixfold nat lookup --ipfix-pcap`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Information elements the readers below ask for (IANA numbers).
pub(crate) mod ie {
    pub(crate) const OCTET_DELTA_COUNT: u16 = 1;
    pub(crate) const PACKET_DELTA_COUNT: u16 = 2;
    pub(crate) const PROTOCOL_IDENTIFIER: u16 = 4;
    pub(crate) const SOURCE_TRANSPORT_PORT: u16 = 7;
    pub(crate) const SOURCE_IPV4_ADDRESS: u16 = 8;
    pub(crate) const DESTINATION_TRANSPORT_PORT: u16 = 11;
    pub(crate) const DESTINATION_IPV4_ADDRESS: u16 = 12;
    pub(crate) const SOURCE_IPV6_ADDRESS: u16 = 27;
    pub(crate) const DESTINATION_IPV6_ADDRESS: u16 = 28;
    pub(crate) const POST_NAT_SOURCE_IPV4_ADDRESS: u16 = 225;
    pub(crate) const POST_NAT_DESTINATION_IPV4_ADDRESS: u16 = 226;
    pub(crate) const POST_NAPT_SOURCE_TRANSPORT_PORT: u16 = 227;
    pub(crate) const NAT_EVENT: u16 = 230;
    pub(crate) const OBSERVATION_TIME_MILLISECONDS: u16 = 323;
    pub(crate) const PORT_RANGE_START: u16 = 361;
    pub(crate) const PORT_RANGE_END: u16 = 362;
}

/// One data record: each field's bytes by information element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DataRecord {
    pub(crate) fields: HashMap<u16, Vec<u8>>,
}

impl DataRecord {
    /// An unsigned field of any length up to 8 bytes.
    pub(crate) fn uint(&self, id: u16) -> Option<u64> {
        let b = self.fields.get(&id)?;
        (b.len() <= 8).then(|| b.iter().fold(0u64, |n, &x| n << 8 | u64::from(x)))
    }

    /// An address field (4 or 16 bytes).
    pub(crate) fn addr(&self, id: u16) -> Option<IpAddr> {
        let b = self.fields.get(&id)?;
        match b.len() {
            4 => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
            16 => Some(IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(&b[..]).ok()?,
            ))),
            _ => None,
        }
    }

    /// The source address, IPv4 or IPv6.
    pub(crate) fn src(&self) -> Option<IpAddr> {
        self.addr(ie::SOURCE_IPV4_ADDRESS)
            .or_else(|| self.addr(ie::SOURCE_IPV6_ADDRESS))
    }

    /// The destination address, IPv4 or IPv6.
    pub(crate) fn dst(&self) -> Option<IpAddr> {
        self.addr(ie::DESTINATION_IPV4_ADDRESS)
            .or_else(|| self.addr(ie::DESTINATION_IPV6_ADDRESS))
    }
}

/// A collector's state: the templates it has seen.
#[derive(Default)]
pub(crate) struct Reader {
    templates: HashMap<(u32, u16), Vec<(u16, u16)>>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

impl Reader {
    /// The data records of one message (learning its templates); `None` for a
    /// message that is not IPFIX or is cut short. Data sets whose template has
    /// not been seen are skipped, as RFC 7011 §8 allows.
    pub(crate) fn message(&mut self, m: &[u8]) -> Option<Vec<DataRecord>> {
        if u16_at(m, 0)? != 10 || usize::from(u16_at(m, 2)?) != m.len() || m.len() < 16 {
            return None;
        }
        let domain = u32::from_be_bytes(m[12..16].try_into().ok()?);
        let mut records = Vec::new();
        let mut at = 16;
        while at + 4 <= m.len() {
            let (id, len) = (u16_at(m, at)?, usize::from(u16_at(m, at + 2)?));
            let body = m.get(at + 4..at + len.max(4))?;
            match id {
                2 => self.templates_in(domain, body)?,
                256.. => {
                    if let Some(fields) = self.templates.get(&(domain, id)) {
                        records.extend(data_in(fields, body));
                    }
                }
                _ => {}
            }
            at += len.max(4);
        }
        Some(records)
    }

    fn templates_in(&mut self, domain: u32, mut body: &[u8]) -> Option<()> {
        while body.len() >= 4 {
            let (id, count) = (u16_at(body, 0)?, usize::from(u16_at(body, 2)?));
            let mut fields = Vec::with_capacity(count);
            for k in 0..count {
                let (ie, len) = (u16_at(body, 4 + 4 * k)?, u16_at(body, 6 + 4 * k)?);
                // Enterprise-specific elements carry 4 more bytes; none here.
                if ie & 0x8000 != 0 {
                    return None;
                }
                fields.push((ie, len));
            }
            self.templates.insert((domain, id), fields);
            body = body.get(4 + 4 * count..)?;
        }
        Some(())
    }
}

/// The records of a data set whose template has `fields`.
fn data_in(fields: &[(u16, u16)], body: &[u8]) -> Vec<DataRecord> {
    let size: usize = fields.iter().map(|&(_, l)| usize::from(l)).sum();
    if size == 0 {
        return Vec::new();
    }
    body.chunks_exact(size)
        .map(|chunk| {
            let mut at = 0;
            let mut r = DataRecord::default();
            for &(id, len) in fields {
                let len = usize::from(len);
                r.fields.insert(id, chunk[at..at + len].to_vec());
                at += len;
            }
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_hand_written_message() {
        // A template (256: sourceIPv4Address/4, natEvent/1) and one record, in
        // one message of domain 3; then a record of an unknown template.
        #[rustfmt::skip]
        let m = [
            0, 10, 0, 43, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3,
            0, 2, 0, 16, 1, 0, 0, 2, 0, 8, 0, 4, 0, 230, 0, 1,
            1, 0, 0, 9, 100, 64, 1, 1, 16,
            1, 1,
        ];
        let mut r = Reader::default();
        assert_eq!(r.message(&m[..41]), None, "length field says 43");
        let mut fixed = m[..41].to_vec();
        fixed[3] = 41;
        let got = r.message(&fixed).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].uint(ie::NAT_EVENT), Some(16));
        assert_eq!(got[0].src(), Some("100.64.1.1".parse().unwrap()));
        assert_eq!(got[0].dst(), None);
    }

    #[test]
    fn reads_a_hand_written_nat64_session() {
        // Template 261 as RFC 8158 lists a NAT64 session event (time, event,
        // IPv6 source, post-NAT source, protocol, ports, IPv6 destination,
        // post-NAT destination, destination ports), then one natEvent 6.
        #[rustfmt::skip]
        let mut m = vec![
            0, 10, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,
            0, 2, 0, 52, 1, 5, 0, 11,
            1, 67, 0, 8, 0, 230, 0, 1, 0, 27, 0, 16, 0, 225, 0, 4,
            0, 4, 0, 1, 0, 7, 0, 2, 0, 227, 0, 2, 0, 28, 0, 16,
            0, 226, 0, 4, 0, 11, 0, 2, 0, 228, 0, 2,
            1, 5, 0, 62,
            0, 0, 1, 0x8b, 0xcf, 0xe5, 0x6d, 0xdc,
            6,
            0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,
            203, 0, 113, 7,
            17, 0x13, 0x88, 0x9d, 0x78,
            0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0, 0xc0, 0, 2, 0x50,
            192, 0, 2, 80, 0, 53, 0, 53,
        ];
        let len = m.len() as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        let got = Reader::default().message(&m).unwrap();
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(r.uint(ie::NAT_EVENT), Some(6));
        assert_eq!(r.src(), Some("2001:db8:1:2::2".parse().unwrap()));
        assert_eq!(r.dst(), Some("2001:db8:64::c000:250".parse().unwrap()));
        assert_eq!(
            r.addr(ie::POST_NAT_SOURCE_IPV4_ADDRESS),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            r.addr(ie::POST_NAT_DESTINATION_IPV4_ADDRESS),
            Some("192.0.2.80".parse().unwrap())
        );
        assert_eq!(
            (
                r.uint(ie::PROTOCOL_IDENTIFIER),
                r.uint(ie::SOURCE_TRANSPORT_PORT),
                r.uint(ie::POST_NAPT_SOURCE_TRANSPORT_PORT),
                r.uint(ie::DESTINATION_TRANSPORT_PORT),
            ),
            (Some(17), Some(5000), Some(40312), Some(53))
        );
        assert_eq!(
            r.uint(ie::OBSERVATION_TIME_MILLISECONDS),
            Some(1_700_000_001_500)
        );
    }
}
