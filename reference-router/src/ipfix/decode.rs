//! Reading IPFIX messages (RFC 7011) as a collector does: templates and options
//! templates are learnt from sets 2 and 3 per Transport Session and observation
//! domain (§8), and data records are decoded field by field by the information
//! element each template names — nothing here assumes the router's own
//! templates ([`super::encode`]), so it reads what the router sends only if
//! that follows the standard. Used by `sixfold lab --ipfix` (its report), the
//! record (`sixfold nat lookup` / `nat events`) and a takeover backup reading
//! its predecessor's NAT44 BIB events (`[takeover]`).
//!
//! What a collector must survive is survived, and said: every set is skipped by
//! its own length (§3.3.2), so a set this reader cannot use costs nothing else;
//! enterprise-specific fields (their 4-byte enterprise number, §3.2) and
//! variable-length fields (a 1- or 3-byte length prefix, §7) are stepped over
//! by their encoded length; a set whose length overruns the message, or a
//! record that overruns its set, ends the reading of that set and of the
//! message after it — every record before it is kept. What could not be read
//! is reported per message ([`Message::problems`]) and the records whose
//! sequence position is still known are counted ([`Message::counted`]), so a
//! reader of the sequence numbers (§3.1 counts data records) can tell what is
//! missing. Nothing here panics on any input.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use super::ie;

/// One data record: each IANA field's bytes by information element
/// (enterprise-specific fields are skipped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataRecord {
    /// Field bytes by IANA information element.
    pub fields: HashMap<u16, Vec<u8>>,
}

impl DataRecord {
    /// An unsigned field of any length up to 8 bytes.
    pub fn uint(&self, id: u16) -> Option<u64> {
        let b = self.fields.get(&id)?;
        (b.len() <= 8).then(|| b.iter().fold(0u64, |n, &x| n << 8 | u64::from(x)))
    }

    /// An address field (4 or 16 bytes).
    pub fn addr(&self, id: u16) -> Option<IpAddr> {
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
    pub fn src(&self) -> Option<IpAddr> {
        self.addr(ie::SOURCE_IPV4_ADDRESS)
            .or_else(|| self.addr(ie::SOURCE_IPV6_ADDRESS))
    }

    /// The destination address, IPv4 or IPv6.
    pub fn dst(&self) -> Option<IpAddr> {
        self.addr(ie::DESTINATION_IPV4_ADDRESS)
            .or_else(|| self.addr(ie::DESTINATION_IPV6_ADDRESS))
    }
}

/// The message header (§3.1) a reader of the record needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Export time, UNIX seconds.
    pub export_secs: u32,
    /// Data records sent before this message in its stream, modulo 2^32.
    pub sequence: u32,
    /// Observation domain ID.
    pub domain: u32,
}

/// What one message held.
#[derive(Debug, Default)]
pub struct Message {
    /// Its header.
    pub header: Header,
    /// The data records, in order, each with its byte offset in the message.
    pub records: Vec<(usize, DataRecord)>,
    /// Data records whose sequence position is known: those before the first
    /// set whose records could not be counted. They are data records
    /// `sequence .. sequence + counted`.
    pub counted: u32,
    /// What could not be read, one line each.
    pub problems: Vec<String>,
}

/// Why a datagram is not an IPFIX message this reader can use at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Shorter than the 16-byte message header.
    Short(usize),
    /// The version field is not 10.
    Version(u16),
    /// The header's length is below the header's own 16 bytes.
    Length(u16),
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::Short(n) => write!(f, "{n} bytes, shorter than an IPFIX header"),
            Unreadable::Version(v) => write!(f, "version {v}, not IPFIX (10)"),
            Unreadable::Length(n) => write!(f, "message length {n} is below 16"),
        }
    }
}

/// A field specifier (§3.2): the IANA element (`None`: enterprise-specific,
/// skipped) and its length (65535: variable, §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field {
    id: Option<u16>,
    len: u16,
}

const VARIABLE: u16 = 65535;

/// A collector's state: the templates it has seen, per Transport Session (a
/// number the caller gives) and observation domain.
#[derive(Default)]
pub struct Reader {
    templates: HashMap<(u64, u32, u16), Vec<Field>>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl Reader {
    /// Templates known, over every Transport Session and domain.
    pub fn templates(&self) -> usize {
        self.templates.len()
    }

    /// The data records of one message of session 0 (learning its
    /// templates); `None` for a datagram that is not IPFIX.
    pub fn message(&mut self, m: &[u8]) -> Option<Vec<DataRecord>> {
        let m = self.decode(0, m).ok()?;
        Some(m.records.into_iter().map(|(_, r)| r).collect())
    }

    /// Decodes one message of Transport Session `session`: its header, its data
    /// records, and what could not be read.
    pub fn decode(&mut self, session: u64, m: &[u8]) -> Result<Message, Unreadable> {
        if m.len() < 16 {
            return Err(Unreadable::Short(m.len()));
        }
        let version = u16_at(m, 0).unwrap_or(0);
        if version != 10 {
            return Err(Unreadable::Version(version));
        }
        let says = u16_at(m, 2).unwrap_or(0);
        if says < 16 {
            return Err(Unreadable::Length(says));
        }
        let header = Header {
            export_secs: u32_at(m, 4).unwrap_or(0),
            sequence: u32_at(m, 8).unwrap_or(0),
            domain: u32_at(m, 12).unwrap_or(0),
        };
        let mut out = Message {
            header,
            ..Message::default()
        };
        let end = usize::from(says).min(m.len());
        if usize::from(says) > m.len() {
            out.problems.push(format!(
                "the message says {says} bytes, {} arrived: read up to there",
                m.len()
            ));
        }
        let mut counting = true;
        let mut at = 16;
        while at + 4 <= end {
            let (id, len) = (
                u16_at(m, at).unwrap_or(0),
                usize::from(u16_at(m, at + 2).unwrap_or(0)),
            );
            if len < 4 || at + len > end {
                out.problems.push(format!(
                    "set {id} at byte {at} says {len} bytes, {} remain: the rest of the message is skipped",
                    end - at
                ));
                break;
            }
            let body = &m[at + 4..at + len];
            let key = (session, header.domain, id);
            match id {
                2 | 3 => {
                    self.templates_in(session, header.domain, id == 3, body, &mut out.problems)
                }
                256.. => match self.templates.get(&key) {
                    Some(fields) => {
                        let before = out.records.len();
                        let whole = data_in(fields, body, at + 4, &mut out);
                        if counting {
                            out.counted += (out.records.len() - before) as u32;
                        }
                        counting &= whole;
                    }
                    None => {
                        out.problems.push(format!(
                            "set {id} at byte {at}: no template {id} seen before in this session"
                        ));
                        counting = false;
                    }
                },
                _ => out
                    .problems
                    .push(format!("set {id} at byte {at}: a reserved set ID, skipped")),
            }
            at += len;
        }
        Ok(out)
    }

    /// Learns the templates of a template (`options`: options template) set;
    /// a template cut short ends the set.
    fn templates_in(
        &mut self,
        session: u64,
        domain: u32,
        options: bool,
        mut body: &[u8],
        problems: &mut Vec<String>,
    ) {
        let head = if options { 6 } else { 4 };
        while body.len() >= head {
            let (id, count) = (
                u16_at(body, 0).unwrap_or(0),
                usize::from(u16_at(body, 2).unwrap_or(0)),
            );
            if count == 0 {
                // A template withdrawal (§8.1).
                self.templates.remove(&(session, domain, id));
                body = &body[4..];
                continue;
            }
            let mut at = head;
            let mut fields = Vec::with_capacity(count);
            for _ in 0..count {
                let (Some(ie), Some(len)) = (u16_at(body, at), u16_at(body, at + 2)) else {
                    problems.push(format!("template {id} is cut short: skipped"));
                    return;
                };
                at += 4;
                let id = if ie & 0x8000 != 0 {
                    // An enterprise number follows (§3.2): skip it, and the field.
                    at += 4;
                    None
                } else {
                    Some(ie)
                };
                fields.push(Field { id, len });
            }
            if at > body.len() {
                problems.push(format!("template {id} is cut short: skipped"));
                return;
            }
            if id < 256 {
                problems.push(format!("template ID {id} is below 256: skipped"));
            } else {
                self.templates.insert((session, domain, id), fields);
            }
            body = &body[at..];
        }
    }
}

/// One record of `fields` from the front of `b`: the record and its length, or
/// `None` if it overruns `b`.
fn record_at(fields: &[Field], b: &[u8]) -> Option<(DataRecord, usize)> {
    let mut at = 0;
    let mut r = DataRecord::default();
    for f in fields {
        let len = if f.len == VARIABLE {
            // §7: one length byte, or 255 and a two-byte length.
            let first = *b.get(at)?;
            at += 1;
            if first == 255 {
                let long = u16_at(b, at)?;
                at += 2;
                usize::from(long)
            } else {
                usize::from(first)
            }
        } else {
            usize::from(f.len)
        };
        let bytes = b.get(at..at + len)?;
        if let Some(id) = f.id {
            r.fields.insert(id, bytes.to_vec());
        }
        at += len;
    }
    Some((r, at))
}

/// The records of a data set whose template has `fields` into `out`, their
/// offsets counted from `base`; `true` if the set was read whole (what is left
/// after the last record is shorter than any record: padding).
fn data_in(fields: &[Field], body: &[u8], base: usize, out: &mut Message) -> bool {
    let least: usize = fields
        .iter()
        .map(|f| {
            if f.len == VARIABLE {
                1
            } else {
                usize::from(f.len)
            }
        })
        .sum();
    if least == 0 {
        out.problems
            .push("a template whose records have no length: its set is skipped".into());
        return false;
    }
    let mut at = 0;
    while body.len() - at >= least {
        match record_at(fields, &body[at..]) {
            Some((r, len)) => {
                out.records.push((base + at, r));
                at += len;
            }
            None => {
                out.problems.push(format!(
                    "a record at byte {} overruns its set: the rest of the set is skipped",
                    base + at
                ));
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message of `domain` with sequence `seq` and these sets (ID, body).
    fn message(seq: u32, domain: u32, sets: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut m = vec![0, 10, 0, 0, 0x65, 0x53, 0xf1, 0x00];
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&domain.to_be_bytes());
        for (id, body) in sets {
            m.extend_from_slice(&id.to_be_bytes());
            m.extend_from_slice(&(body.len() as u16 + 4).to_be_bytes());
            m.extend_from_slice(body);
        }
        let len = m.len() as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        m
    }

    /// Template 256: sourceIPv4Address/4, natEvent/1.
    fn template_256() -> (u16, Vec<u8>) {
        (2, vec![1, 0, 0, 2, 0, 8, 0, 4, 0, 230, 0, 1])
    }

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
        // Cut after the first data set: what arrived is read, and said.
        let got = r.decode(0, &m[..41]).unwrap();
        assert_eq!(got.records.len(), 1);
        assert_eq!(
            got.problems,
            ["the message says 43 bytes, 41 arrived: read up to there"]
        );
        let mut fixed = m[..41].to_vec();
        fixed[3] = 41;
        let got = r.message(&fixed).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].uint(ie::NAT_EVENT), Some(16));
        assert_eq!(got[0].src(), Some("100.64.1.1".parse().unwrap()));
        assert_eq!(got[0].dst(), None);
        // Not IPFIX at all.
        assert_eq!(r.decode(0, &m[..10]).unwrap_err(), Unreadable::Short(10));
        let mut v9 = fixed.clone();
        v9[1] = 9;
        assert_eq!(r.decode(0, &v9).unwrap_err(), Unreadable::Version(9));
    }

    #[test]
    fn a_set_whose_length_overruns_the_message_keeps_the_sets_before_it() {
        let mut m = message(
            7,
            1,
            &[
                template_256(),
                (256, vec![100, 64, 1, 1, 16]),
                (256, vec![100, 64, 1, 2, 17]),
            ],
        );
        // The last set says 40 bytes; 9 remain.
        let last = m.len() - 9;
        m[last + 3] = 40;
        let got = Reader::default().decode(0, &m).unwrap();
        assert_eq!(got.records.len(), 1);
        assert_eq!(got.records[0].1.uint(ie::NAT_EVENT), Some(16));
        assert_eq!(got.records[0].0, 16 + 16 + 4);
        assert_eq!(got.counted, 1);
        assert_eq!(got.header.sequence, 7);
        assert_eq!(
            got.problems,
            ["set 256 at byte 41 says 40 bytes, 9 remain: the rest of the message is skipped"]
        );
    }

    #[test]
    fn enterprise_and_variable_length_fields_are_stepped_over() {
        // Template 300: an enterprise field (PEN 9, element 5, 2 bytes), a
        // variable-length field (IE 82, interfaceName), natEvent/1, then
        // another variable-length one, sourceIPv4Address/4.
        #[rustfmt::skip]
        let template = vec![
            1, 44, 0, 5,
            0x80, 5, 0, 2, 0, 0, 0, 9,
            0, 82, 0xff, 0xff,
            0, 230, 0, 1,
            0, 96, 0xff, 0xff,
            0, 8, 0, 4,
        ];
        let mut long = vec![255, 1, 44];
        long.extend(std::iter::repeat_n(b'x', 300));
        let mut data = vec![0xaa, 0xbb, 3, b'e', b't', b'h', 16];
        data.extend_from_slice(&long);
        data.extend_from_slice(&[100, 64, 1, 9]);
        // A second record with empty variable fields, and 2 bytes of padding.
        data.extend_from_slice(&[0xaa, 0xbb, 0, 17, 0, 100, 64, 1, 10, 0, 0]);
        let m = message(0, 1, &[(2, template), (300, data)]);
        let got = Reader::default().decode(0, &m).unwrap();
        assert!(got.problems.is_empty(), "{:?}", got.problems);
        let r: Vec<&DataRecord> = got.records.iter().map(|(_, r)| r).collect();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].uint(ie::NAT_EVENT), Some(16));
        assert_eq!(r[0].src(), Some("100.64.1.9".parse().unwrap()));
        assert_eq!(r[0].fields[&82], b"eth");
        assert_eq!(r[0].fields[&96].len(), 300);
        assert_eq!(r[1].uint(ie::NAT_EVENT), Some(17));
        assert_eq!(r[1].src(), Some("100.64.1.10".parse().unwrap()));
        assert_eq!(got.counted, 2);
        // The enterprise element is not taken for IANA element 5.
        assert!(!r[0].fields.contains_key(&5));
    }

    #[test]
    fn an_unknown_template_stops_the_count_but_not_the_reading() {
        let m = message(
            0,
            1,
            &[
                template_256(),
                (256, vec![100, 64, 1, 1, 16]),
                (400, vec![1, 2, 3, 4]),
                (1, vec![0; 4]),
                (256, vec![100, 64, 1, 2, 16]),
            ],
        );
        let got = Reader::default().decode(0, &m).unwrap();
        assert_eq!(got.records.len(), 2);
        assert_eq!(
            got.counted, 1,
            "after set 400 the records' positions are unknown"
        );
        assert_eq!(
            got.problems,
            [
                "set 400 at byte 41: no template 400 seen before in this session",
                "set 1 at byte 49: a reserved set ID, skipped"
            ]
        );
        // Templates belong to their session: another one has not seen 256.
        let mut r = Reader::default();
        r.decode(1, &m).unwrap();
        let again = message(1, 1, &[(256, vec![100, 64, 1, 1, 16])]);
        assert_eq!(r.decode(1, &again).unwrap().records.len(), 1);
        assert_eq!(r.decode(2, &again).unwrap().records.len(), 0);
    }

    #[test]
    fn options_templates_and_the_routers_start_record() {
        use crate::ipfix::encode::Encoder;
        let mut e = Encoder::new(5, 1_764_000_000_000);
        let got = Reader::default()
            .decode(0, &e.start(1_764_000_000))
            .unwrap();
        assert!(got.problems.is_empty(), "{:?}", got.problems);
        assert_eq!(
            (got.header.sequence, got.header.domain, got.counted),
            (0, 5, 1)
        );
        let r = &got.records[0].1;
        assert_eq!(r.uint(ie::OBSERVATION_DOMAIN_ID), Some(5));
        assert_eq!(
            r.uint(ie::SYSTEM_INIT_TIME_MILLISECONDS),
            Some(1_764_000_000_000)
        );
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
