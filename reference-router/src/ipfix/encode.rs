//! IPFIX messages (RFC 7011) for the records the router produces: a 16-byte
//! message header (§3.1), template sets (set ID 2, §3.4.1) and data sets (set ID
//! = template ID, §3.3.2), fields in network byte order.
//!
//! Eight templates: NAT44 session events, port-block events and limit events
//! (RFC 8158 §4 — what each event carries, less the destination, which RFC 6888
//! REQ-12 asks a CGN not to log), IPv4 and IPv6 flow records with the
//! subscriber's own addresses (flow accounting before the NAT), and for
//! IPv6-only subscribers NAT64 session events (natEvent 6/7, RFC 8158's NAT64
//! session template in its order, its optional destination fields included:
//! the synthesised IPv6 destination and the IPv4 one it stands for) and limit
//! events with the subscriber's IPv6 address instead of the NAT's internal
//! alias, and NAT44 BIB events (natEvent 8/9: one endpoint-independent
//! mapping's inside and public endpoint, what a takeover backup is fed
//! with). Every NAT record carries observationTimeMilliseconds, natEvent, the
//! inside address and the post-NAT address. Templates are sent at start and re-sent every
//! `template_refresh` seconds (§8.4, over UDP); the sequence number counts the
//! data records sent before the message in this observation domain, modulo 2^32
//! (§3.1).
//!
//! A restart is told the RFC 7011 way, by a new Transport Session whose first
//! message has sequence number 0 and carries, beside the templates, one options
//! record (options template 263, scope observationDomainId) with
//! systemInitTimeMilliseconds: when this exporting process began. A reader
//! takes every earlier run of the same exporter and domain as ended by then, so
//! what that run left without a release is closed at the last time it was
//! seen, and is uncertain from there to this time ([`Encoder::start`]). A message never exceeds [`MAX_MESSAGE`] bytes, so it is never
//! fragmented on a 1500-byte path (§10.3.3).

use super::{FlowRecord, NatRecord, Record, ie};
use crate::stats::NatEvent;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// IPFIX version number (RFC 7011 §3.1).
pub const VERSION: u16 = 10;
/// The set ID of template sets.
pub const TEMPLATE_SET: u16 = 2;
/// The set ID of options template sets (§3.4.2.2).
pub const OPTIONS_TEMPLATE_SET: u16 = 3;
/// The options template of the exporter's start record (see [`Encoder::start`]).
pub const START_TEMPLATE: u16 = 263;
/// Its fields: the scope, observationDomainId (149), then
/// systemInitTimeMilliseconds (160): when this exporting process started.
pub const START_FIELDS: [(u16, u16); 2] = [
    (ie::OBSERVATION_DOMAIN_ID, 4),
    (ie::SYSTEM_INIT_TIME_MILLISECONDS, 8),
];
/// The largest message this encoder writes, in bytes.
pub const MAX_MESSAGE: usize = 1400;
/// The IANA port for IPFIX over UDP (RFC 7011 §10.3.1).
pub const PORT: u16 = 4739;

/// An accounted flow's fields: its addresses (`src`, `dst` of `len` bytes),
/// then ports, protocol, counters, times and why it ended.
const fn flow(src: u16, dst: u16, len: u16) -> [(u16, u16); 10] {
    use ie::*;
    [
        (src, len),
        (dst, len),
        (SOURCE_TRANSPORT_PORT, 2),
        (DESTINATION_TRANSPORT_PORT, 2),
        (PROTOCOL_IDENTIFIER, 1),
        (PACKET_DELTA_COUNT, 8),
        (OCTET_DELTA_COUNT, 8),
        (FLOW_START_MILLISECONDS, 8),
        (FLOW_END_MILLISECONDS, 8),
        (FLOW_END_REASON, 1),
    ]
}

const FLOW_V4: [(u16, u16); 10] = flow(ie::SOURCE_IPV4_ADDRESS, ie::DESTINATION_IPV4_ADDRESS, 4);
const FLOW_V6: [(u16, u16); 10] = flow(ie::SOURCE_IPV6_ADDRESS, ie::DESTINATION_IPV6_ADDRESS, 16);

/// The templates this encoder uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    /// NAT44 session create/delete (natEvent 4/5).
    Session = 256,
    /// Port block allocation/de-allocation (natEvent 16/17).
    Block = 257,
    /// Addresses exhausted, ports exhausted, quota exceeded (natEvent 3/12/13).
    Limit = 258,
    /// An accounted IPv4 flow.
    FlowV4 = 259,
    /// An accounted IPv6 flow.
    FlowV6 = 260,
    /// NAT64 session create/delete (natEvent 6/7).
    Nat64Session = 261,
    /// Limit events (natEvent 3/12/13) of an IPv6-only subscriber.
    Nat64Limit = 262,
    /// NAT44 BIB create/delete (natEvent 8/9): one endpoint-independent
    /// mapping, inside endpoint to public endpoint (RFC 8158 §4.4.3's
    /// template in its order, without the optional VRF). 264: 263 is the
    /// start record's options template.
    Bib = 264,
}

impl Template {
    /// Every template, in ID order.
    pub const ALL: [Template; 8] = [
        Template::Session,
        Template::Block,
        Template::Limit,
        Template::FlowV4,
        Template::FlowV6,
        Template::Nat64Session,
        Template::Nat64Limit,
        Template::Bib,
    ];

    /// Its fields: (information element, length in bytes).
    pub fn fields(self) -> &'static [(u16, u16)] {
        use ie::*;
        match self {
            Template::Session => &[
                (OBSERVATION_TIME_MILLISECONDS, 8),
                (NAT_EVENT, 1),
                (PROTOCOL_IDENTIFIER, 1),
                (SOURCE_IPV4_ADDRESS, 4),
                (SOURCE_TRANSPORT_PORT, 2),
                (POST_NAT_SOURCE_IPV4_ADDRESS, 4),
                (POST_NAPT_SOURCE_TRANSPORT_PORT, 2),
            ],
            Template::Block => &[
                (OBSERVATION_TIME_MILLISECONDS, 8),
                (NAT_EVENT, 1),
                (SOURCE_IPV4_ADDRESS, 4),
                (POST_NAT_SOURCE_IPV4_ADDRESS, 4),
                (PORT_RANGE_START, 2),
                (PORT_RANGE_END, 2),
                (PORT_RANGE_STEP_SIZE, 2),
                (PORT_RANGE_NUM_PORTS, 2),
            ],
            Template::Limit => &[
                (OBSERVATION_TIME_MILLISECONDS, 8),
                (NAT_EVENT, 1),
                (PROTOCOL_IDENTIFIER, 1),
                (SOURCE_IPV4_ADDRESS, 4),
                (POST_NAT_SOURCE_IPV4_ADDRESS, 4),
                (NAT_POOL_ID, 4),
            ],
            Template::FlowV4 => &FLOW_V4,
            Template::FlowV6 => &FLOW_V6,
            // RFC 8158 §4.4.2's NAT64 session event, in its order.
            Template::Nat64Session => &[
                (OBSERVATION_TIME_MILLISECONDS, 8),
                (NAT_EVENT, 1),
                (SOURCE_IPV6_ADDRESS, 16),
                (POST_NAT_SOURCE_IPV4_ADDRESS, 4),
                (PROTOCOL_IDENTIFIER, 1),
                (SOURCE_TRANSPORT_PORT, 2),
                (POST_NAPT_SOURCE_TRANSPORT_PORT, 2),
                (DESTINATION_IPV6_ADDRESS, 16),
                (POST_NAT_DESTINATION_IPV4_ADDRESS, 4),
                (DESTINATION_TRANSPORT_PORT, 2),
                (POST_NAPT_DESTINATION_TRANSPORT_PORT, 2),
            ],
            Template::Nat64Limit => &[
                (OBSERVATION_TIME_MILLISECONDS, 8),
                (NAT_EVENT, 1),
                (PROTOCOL_IDENTIFIER, 1),
                (SOURCE_IPV6_ADDRESS, 16),
                (POST_NAT_SOURCE_IPV4_ADDRESS, 4),
                (NAT_POOL_ID, 4),
            ],
            Template::Bib => &[
                (OBSERVATION_TIME_MILLISECONDS, 8),
                (NAT_EVENT, 1),
                (SOURCE_IPV4_ADDRESS, 4),
                (POST_NAT_SOURCE_IPV4_ADDRESS, 4),
                (PROTOCOL_IDENTIFIER, 1),
                (SOURCE_TRANSPORT_PORT, 2),
                (POST_NAPT_SOURCE_TRANSPORT_PORT, 2),
            ],
        }
    }

    /// Bytes of one data record.
    pub fn record_len(self) -> usize {
        self.fields().iter().map(|&(_, len)| usize::from(len)).sum()
    }

    /// The template a record is sent with.
    pub fn of(record: &Record) -> Template {
        match record {
            Record::Nat(r) => match r.event {
                NatEvent::SessionCreate | NatEvent::SessionDelete => Template::Session,
                NatEvent::BlockAllocation | NatEvent::BlockDeallocation => Template::Block,
                NatEvent::BibCreate | NatEvent::BibDelete => Template::Bib,
                NatEvent::Nat64SessionCreate | NatEvent::Nat64SessionDelete => {
                    Template::Nat64Session
                }
                _ if !r.inside6.is_unspecified() => Template::Nat64Limit,
                _ => Template::Limit,
            },
            Record::Flow(f) if f.src.is_ipv6() => Template::FlowV6,
            Record::Flow(_) => Template::FlowV4,
        }
    }
}

/// The exporter's state for one observation domain: sequence number and clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encoder {
    domain: u32,
    sequence: u32,
    epoch_unix_ms: u64,
}

fn put_addr(out: &mut Vec<u8>, a: IpAddr) {
    match a {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
    }
}

impl Encoder {
    /// An encoder for observation domain `domain`, whose records' times count
    /// from `epoch_unix_ms` (the router's epoch, in milliseconds since 1970).
    pub fn new(domain: u32, epoch_unix_ms: u64) -> Encoder {
        Encoder {
            domain,
            sequence: 0,
            epoch_unix_ms,
        }
    }

    /// Data records sent so far (modulo 2^32): the next message's sequence number.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    fn header(&self, out: &mut Vec<u8>, export_secs: u32) {
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&[0, 0]); // length, set at the end
        out.extend_from_slice(&export_secs.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.domain.to_be_bytes());
    }

    fn finish(out: &mut [u8]) {
        let len = out.len() as u16;
        out[2..4].copy_from_slice(&len.to_be_bytes());
    }

    /// One message with every template (sent at start and every
    /// `template_refresh` seconds); `export_secs` is the export time (UNIX
    /// seconds).
    pub fn templates(&self, export_secs: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.header(&mut out, export_secs);
        let set = out.len();
        out.extend_from_slice(&TEMPLATE_SET.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        for t in Template::ALL {
            out.extend_from_slice(&(t as u16).to_be_bytes());
            out.extend_from_slice(&(t.fields().len() as u16).to_be_bytes());
            for &(id, len) in t.fields() {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        let set_len = (out.len() - set) as u16;
        out[set + 2..set + 4].copy_from_slice(&set_len.to_be_bytes());
        // The start record's options template: one scope field (§3.4.2.2).
        out.extend_from_slice(&OPTIONS_TEMPLATE_SET.to_be_bytes());
        out.extend_from_slice(&(4 + 6 + 4 * START_FIELDS.len() as u16).to_be_bytes());
        out.extend_from_slice(&START_TEMPLATE.to_be_bytes());
        out.extend_from_slice(&(START_FIELDS.len() as u16).to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        for (id, len) in START_FIELDS {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
        }
        Encoder::finish(&mut out);
        out
    }

    /// The first message of an exporting process: sequence number 0, every
    /// template, and the start record (observation domain, then
    /// systemInitTimeMilliseconds = the router's epoch), which is data record 0
    /// of this Transport Session. Readers take it as the exporter's restart.
    pub fn start(&mut self, export_secs: u32) -> Vec<u8> {
        let mut out = self.templates(export_secs);
        out.extend_from_slice(&START_TEMPLATE.to_be_bytes());
        out.extend_from_slice(&(4 + 4 + 8u16).to_be_bytes());
        out.extend_from_slice(&self.domain.to_be_bytes());
        out.extend_from_slice(&self.epoch_unix_ms.to_be_bytes());
        Encoder::finish(&mut out);
        self.sequence = self.sequence.wrapping_add(1);
        out
    }

    /// Messages carrying `records` in order, each at most [`MAX_MESSAGE`] bytes;
    /// the sequence number advances by each message's records.
    pub fn data(&mut self, records: &[Record], export_secs: u32) -> Vec<Vec<u8>> {
        let mut messages = Vec::new();
        let mut out: Vec<u8> = Vec::new();
        let mut set: Option<(Template, usize)> = None;
        let mut in_message = 0u32;
        for r in records {
            let t = Template::of(r);
            let open_new_set = set.is_none_or(|(cur, _)| cur != t);
            let need = t.record_len() + if open_new_set { 4 } else { 0 };
            if !out.is_empty() && out.len() + need > MAX_MESSAGE {
                close_set(&mut out, set.take());
                Encoder::finish(&mut out);
                messages.push(std::mem::take(&mut out));
                self.sequence = self.sequence.wrapping_add(in_message);
                in_message = 0;
            }
            if out.is_empty() {
                self.header(&mut out, export_secs);
            }
            if set.is_none_or(|(cur, _)| cur != t) {
                close_set(&mut out, set.take());
                set = Some((t, out.len()));
                out.extend_from_slice(&(t as u16).to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            self.record(&mut out, r);
            in_message += 1;
        }
        if !out.is_empty() {
            close_set(&mut out, set.take());
            Encoder::finish(&mut out);
            messages.push(out);
            self.sequence = self.sequence.wrapping_add(in_message);
        }
        messages
    }

    fn record(&self, out: &mut Vec<u8>, r: &Record) {
        match r {
            Record::Nat(n) => self.nat(out, n),
            Record::Flow(f) => self.flow(out, f),
        }
    }

    fn nat(&self, out: &mut Vec<u8>, n: &NatRecord) {
        out.extend_from_slice(&(self.epoch_unix_ms + n.time_ms).to_be_bytes());
        out.push(n.event.value());
        match Template::of(&Record::Nat(*n)) {
            Template::Session => {
                out.push(n.protocol);
                out.extend_from_slice(&n.inside.octets());
                out.extend_from_slice(&n.inside_port.to_be_bytes());
                out.extend_from_slice(&n.outside.octets());
                out.extend_from_slice(&n.outside_port.to_be_bytes());
            }
            Template::Block => {
                out.extend_from_slice(&n.inside.octets());
                out.extend_from_slice(&n.outside.octets());
                out.extend_from_slice(&n.first_port.to_be_bytes());
                out.extend_from_slice(&n.last_port.to_be_bytes());
                // Contiguous ports (RFC 8158 §4.1.16: step size 1).
                out.extend_from_slice(&1u16.to_be_bytes());
                let ports = n.last_port.wrapping_sub(n.first_port).wrapping_add(1);
                out.extend_from_slice(&ports.to_be_bytes());
            }
            Template::Nat64Session => {
                out.extend_from_slice(&n.inside6.octets());
                out.extend_from_slice(&n.outside.octets());
                out.push(n.protocol);
                out.extend_from_slice(&n.inside_port.to_be_bytes());
                out.extend_from_slice(&n.outside_port.to_be_bytes());
                out.extend_from_slice(&n.remote6.octets());
                out.extend_from_slice(&n.remote.octets());
                // NAT64 translates the destination's address, never its port.
                out.extend_from_slice(&n.remote_port.to_be_bytes());
                out.extend_from_slice(&n.remote_port.to_be_bytes());
            }
            Template::Bib => {
                out.extend_from_slice(&n.inside.octets());
                out.extend_from_slice(&n.outside.octets());
                out.push(n.protocol);
                out.extend_from_slice(&n.inside_port.to_be_bytes());
                out.extend_from_slice(&n.outside_port.to_be_bytes());
            }
            Template::Nat64Limit => {
                out.push(n.protocol);
                out.extend_from_slice(&n.inside6.octets());
                out.extend_from_slice(&n.outside.octets());
                out.extend_from_slice(&0u32.to_be_bytes());
            }
            _ => {
                out.push(n.protocol);
                out.extend_from_slice(&n.inside.octets());
                out.extend_from_slice(&n.outside.octets());
                // One pool.
                out.extend_from_slice(&0u32.to_be_bytes());
            }
        }
    }

    fn flow(&self, out: &mut Vec<u8>, f: &FlowRecord) {
        put_addr(out, f.src);
        put_addr(out, f.dst);
        out.extend_from_slice(&f.src_port.to_be_bytes());
        out.extend_from_slice(&f.dst_port.to_be_bytes());
        out.push(f.protocol);
        out.extend_from_slice(&f.packets.to_be_bytes());
        out.extend_from_slice(&f.bytes.to_be_bytes());
        out.extend_from_slice(&(self.epoch_unix_ms + f.start_ms).to_be_bytes());
        out.extend_from_slice(&(self.epoch_unix_ms + f.end_ms).to_be_bytes());
        out.push(f.end as u8);
    }
}

fn close_set(out: &mut [u8], set: Option<(Template, usize)>) {
    if let Some((_, at)) = set {
        let len = (out.len() - at) as u16;
        out[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfix::FlowEnd;

    fn block(event: NatEvent, first: u16) -> Record {
        Record::Nat(NatRecord {
            first_port: first,
            last_port: first + 127,
            time_ms: 1500,
            ..NatRecord::new(
                event,
                "100.64.1.1".parse().unwrap(),
                "203.0.113.7".parse().unwrap(),
            )
        })
    }

    #[test]
    fn a_block_message_byte_for_byte() {
        let mut e = Encoder::new(7, 1_700_000_000_000);
        let m = e.data(&[block(NatEvent::BlockAllocation, 40064)], 1_700_000_002);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0x00, 0x0a, 0x00, 0x2d,             // version 10, length 45
            0x65, 0x53, 0xf1, 0x02,             // export time 1700000002
            0x00, 0x00, 0x00, 0x00,             // sequence 0
            0x00, 0x00, 0x00, 0x07,             // observation domain 7
            0x01, 0x01, 0x00, 0x1d,             // set 257, length 29
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6d, 0xdc, // 1700000001500 ms
            16,                                 // natEvent: port block allocation
            100, 64, 1, 1,                      // sourceIPv4Address
            203, 0, 113, 7,                     // postNATSourceIPv4Address
            0x9c, 0x80, 0x9c, 0xff,             // portRangeStart 40064, End 40191
            0x00, 0x01, 0x00, 0x80,             // step 1, 128 ports
        ];
        assert_eq!(m, vec![want]);
        assert_eq!(e.sequence(), 1);
        let m = e.data(&[block(NatEvent::BlockDeallocation, 1024)], 0);
        assert_eq!(&m[0][8..12], &[0, 0, 0, 1], "one record sent before");
        assert_eq!(m[0][28], 17);
    }

    #[test]
    fn the_template_message_byte_for_byte_at_its_start() {
        let t = Encoder::new(1, 0).templates(5);
        assert_eq!(&t[..2], &[0, 10]);
        assert_eq!(usize::from(u16::from_be_bytes([t[2], t[3]])), t.len());
        // Set 2, then template 256 with 7 fields: 323/8, 230/1, 4/1, 8/4, ...
        assert_eq!(&t[16..18], &[0, 2]);
        assert_eq!(
            usize::from(u16::from_be_bytes([t[18], t[19]])),
            t.len() - 16 - 18,
            "the template set, then the options template set's 18 bytes"
        );
        #[rustfmt::skip]
        assert_eq!(&t[20..36], &[
            0x01, 0x00, 0x00, 0x07,
            0x01, 0x43, 0x00, 0x08,
            0x00, 0xe6, 0x00, 0x01,
            0x00, 0x04, 0x00, 0x01,
        ]);
        // 8 templates: 4 bytes each plus 4 per field (7 + 8 + 6 + 10 + 10 + 11 + 6
        // + 7), then the options template set (18 bytes).
        assert_eq!(t.len(), 16 + 4 + 8 * 4 + 65 * 4 + 18);
    }

    #[test]
    fn the_start_message_byte_for_byte_tells_the_restart() {
        let mut e = Encoder::new(7, 1_700_000_000_000);
        let m = e.start(1_700_000_002);
        let t = e.templates(1_700_000_002);
        // Sequence 0, and the same templates as a refresh.
        assert_eq!(&m[8..12], &[0, 0, 0, 0]);
        assert_eq!(
            &m[12..t.len()],
            &t[12..],
            "a refresh (sequence 1 by then) has the same sets"
        );
        #[rustfmt::skip]
        let options: Vec<u8> = vec![
            0x00, 0x03, 0x00, 0x12,             // options template set, length 18
            0x01, 0x07, 0x00, 0x02, 0x00, 0x01, // template 263, 2 fields, 1 scope field
            0x00, 0x95, 0x00, 0x04,             // observationDomainId (149), 4
            0x00, 0xa0, 0x00, 0x08,             // systemInitTimeMilliseconds (160), 8
        ];
        assert_eq!(&t[t.len() - 18..], &options[..]);
        #[rustfmt::skip]
        let record: Vec<u8> = vec![
            0x01, 0x07, 0x00, 0x10,             // set 263, length 16
            0x00, 0x00, 0x00, 0x07,             // observation domain 7
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // 1700000000000 ms
        ];
        assert_eq!(&m[t.len()..], &record[..]);
        assert_eq!(usize::from(u16::from_be_bytes([m[2], m[3]])), m.len());
        // The start record is data record 0: the next message says 1.
        assert_eq!(e.sequence(), 1);
        let d = e.data(&[block(NatEvent::BlockAllocation, 1024)], 0);
        assert_eq!(&d[0][8..12], &[0, 0, 0, 1]);
    }

    #[test]
    fn the_nat64_templates_byte_for_byte_after_the_others() {
        let t = Encoder::new(1, 0).templates(5);
        // After the set header and templates 256-260 (5 × 4 + 41 × 4 bytes).
        let at = 20 + 5 * 4 + 41 * 4;
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0x01, 0x05, 0x00, 0x0b, // template 261, 11 fields
            0x01, 0x43, 0x00, 0x08, // observationTimeMilliseconds (323), 8
            0x00, 0xe6, 0x00, 0x01, // natEvent (230), 1
            0x00, 0x1b, 0x00, 0x10, // sourceIPv6Address (27), 16
            0x00, 0xe1, 0x00, 0x04, // postNATSourceIPv4Address (225), 4
            0x00, 0x04, 0x00, 0x01, // protocolIdentifier (4), 1
            0x00, 0x07, 0x00, 0x02, // sourceTransportPort (7), 2
            0x00, 0xe3, 0x00, 0x02, // postNAPTSourceTransportPort (227), 2
            0x00, 0x1c, 0x00, 0x10, // destinationIPv6Address (28), 16
            0x00, 0xe2, 0x00, 0x04, // postNATDestinationIPv4Address (226), 4
            0x00, 0x0b, 0x00, 0x02, // destinationTransportPort (11), 2
            0x00, 0xe4, 0x00, 0x02, // postNAPTDestinationTransportPort (228), 2
            0x01, 0x06, 0x00, 0x06, // template 262, 6 fields
            0x01, 0x43, 0x00, 0x08, // observationTimeMilliseconds, 8
            0x00, 0xe6, 0x00, 0x01, // natEvent, 1
            0x00, 0x04, 0x00, 0x01, // protocolIdentifier, 1
            0x00, 0x1b, 0x00, 0x10, // sourceIPv6Address, 16
            0x00, 0xe1, 0x00, 0x04, // postNATSourceIPv4Address, 4
            0x01, 0x1b, 0x00, 0x04, // natPoolId (283), 4
        ];
        assert_eq!(&t[at..at + want.len()], &want[..]);
        assert_eq!(Template::Nat64Session.record_len(), 58);
        assert_eq!(Template::Nat64Limit.record_len(), 34);
    }

    fn nat64(event: NatEvent) -> NatRecord {
        NatRecord {
            time_ms: 1500,
            protocol: 17,
            inside_port: 5000,
            outside_port: 40312,
            remote: "192.0.2.80".parse().unwrap(),
            remote_port: 53,
            inside6: "2001:db8:1:2::2".parse().unwrap(),
            remote6: "2001:db8:64::c000:250".parse().unwrap(),
            ..NatRecord::new(
                event,
                std::net::Ipv4Addr::UNSPECIFIED,
                "203.0.113.7".parse().unwrap(),
            )
        }
    }

    #[test]
    fn a_nat64_session_message_byte_for_byte() {
        let mut e = Encoder::new(7, 1_700_000_000_000);
        let r = Record::Nat(nat64(NatEvent::Nat64SessionCreate));
        assert_eq!(Template::of(&r), Template::Nat64Session);
        let m = e.data(&[r], 1_700_000_002);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0x00, 0x0a, 0x00, 0x4e,             // version 10, length 78
            0x65, 0x53, 0xf1, 0x02,             // export time 1700000002
            0x00, 0x00, 0x00, 0x00,             // sequence 0
            0x00, 0x00, 0x00, 0x07,             // observation domain 7
            0x01, 0x05, 0x00, 0x3e,             // set 261, length 62
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6d, 0xdc, // 1700000001500 ms
            6,                                  // natEvent: NAT64 session create
            0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02, // sourceIPv6Address
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, // 2001:db8:1:2::2
            203, 0, 113, 7,                     // postNATSourceIPv4Address
            17,                                 // protocolIdentifier: UDP
            0x13, 0x88,                         // sourceTransportPort 5000
            0x9d, 0x78,                         // postNAPTSourceTransportPort 40312
            0x20, 0x01, 0x0d, 0xb8, 0x00, 0x64, 0x00, 0x00, // destinationIPv6Address
            0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x50, // 2001:db8:64::192.0.2.80
            192, 0, 2, 80,                      // postNATDestinationIPv4Address
            0x00, 0x35,                         // destinationTransportPort 53
            0x00, 0x35,                         // postNAPTDestinationTransportPort 53
        ];
        assert_eq!(m, vec![want]);
        let m = e.data(&[Record::Nat(nat64(NatEvent::Nat64SessionDelete))], 0);
        assert_eq!((m[0].len(), m[0][28]), (78, 7), "natEvent 7");
    }

    #[test]
    fn an_ipv6_subscribers_limit_names_its_ipv6_address() {
        let r = NatRecord {
            protocol: 6,
            inside6: "2001:db8:1:2::2".parse().unwrap(),
            ..NatRecord::new(
                NatEvent::QuotaExceeded,
                std::net::Ipv4Addr::UNSPECIFIED,
                "203.0.113.7".parse().unwrap(),
            )
        };
        let mut e = Encoder::new(1, 0);
        let m = e.data(&[Record::Nat(r)], 0);
        #[rustfmt::skip]
        let body: Vec<u8> = vec![
            0x01, 0x06, 0x00, 0x26,             // set 262, length 38
            0, 0, 0, 0, 0, 0, 0, 0,             // observationTimeMilliseconds 0
            13,                                 // natEvent: quota exceeded
            6,                                  // protocolIdentifier: TCP
            0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02, // sourceIPv6Address
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
            203, 0, 113, 7,                     // postNATSourceIPv4Address
            0, 0, 0, 0,                         // natPoolId 0
        ];
        assert_eq!(&m[0][16..], &body[..]);
        // The same event of a NAT44 subscriber keeps template 258.
        let v4 = Record::Nat(NatRecord::new(
            NatEvent::QuotaExceeded,
            "100.64.1.1".parse().unwrap(),
            "203.0.113.7".parse().unwrap(),
        ));
        assert_eq!(Template::of(&v4), Template::Limit);
    }

    #[test]
    fn the_bib_template_and_a_bib_message_byte_for_byte() {
        let t = Encoder::new(1, 0).templates(5);
        #[rustfmt::skip]
        let template: Vec<u8> = vec![
            0x01, 0x08, 0x00, 0x07, // template 264, 7 fields
            0x01, 0x43, 0x00, 0x08, // observationTimeMilliseconds (323), 8
            0x00, 0xe6, 0x00, 0x01, // natEvent (230), 1
            0x00, 0x08, 0x00, 0x04, // sourceIPv4Address (8), 4
            0x00, 0xe1, 0x00, 0x04, // postNATSourceIPv4Address (225), 4
            0x00, 0x04, 0x00, 0x01, // protocolIdentifier (4), 1
            0x00, 0x07, 0x00, 0x02, // sourceTransportPort (7), 2
            0x00, 0xe3, 0x00, 0x02, // postNAPTSourceTransportPort (227), 2
        ];
        // The last template of set 2, before the options template set.
        assert_eq!(
            &t[t.len() - 18 - template.len()..t.len() - 18],
            &template[..]
        );
        let r = NatRecord {
            time_ms: 1500,
            protocol: 6,
            inside_port: 40000,
            outside_port: 3071,
            ..NatRecord::new(
                NatEvent::BibCreate,
                "100.64.1.2".parse().unwrap(),
                "203.0.113.1".parse().unwrap(),
            )
        };
        let mut e = Encoder::new(7, 1_700_000_000_000);
        let m = e.data(&[Record::Nat(r)], 1_700_000_002);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0x00, 0x0a, 0x00, 0x2a,             // version 10, length 42
            0x65, 0x53, 0xf1, 0x02,             // export time 1700000002
            0x00, 0x00, 0x00, 0x00,             // sequence 0
            0x00, 0x00, 0x00, 0x07,             // observation domain 7
            0x01, 0x08, 0x00, 0x1a,             // set 264, length 26
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6d, 0xdc, // 1700000001500 ms
            8,                                  // natEvent: NAT44 BIB create
            100, 64, 1, 2,                      // sourceIPv4Address
            203, 0, 113, 1,                     // postNATSourceIPv4Address
            6,                                  // protocolIdentifier: TCP
            0x9c, 0x40,                         // sourceTransportPort 40000
            0x0b, 0xff,                         // postNAPTSourceTransportPort 3071
        ];
        assert_eq!(m, vec![want]);
        let gone = NatRecord {
            event: NatEvent::BibDelete,
            ..r
        };
        let m = e.data(&[Record::Nat(gone)], 0);
        assert_eq!((m[0].len(), m[0][28]), (42, 9), "natEvent 9");
    }

    #[test]
    fn messages_split_below_the_limit_and_sets_follow_templates() {
        let flow = Record::Flow(FlowRecord {
            src: "2001:db8:1:1::2".parse().unwrap(),
            dst: "2001:db8:ffff::80".parse().unwrap(),
            src_port: 5000,
            dst_port: 80,
            protocol: 6,
            packets: 3,
            bytes: 300,
            start_ms: 1,
            end_ms: 2,
            end: FlowEnd::Idle,
        });
        let mut records = vec![block(NatEvent::BlockAllocation, 1024); 3];
        records.extend(std::iter::repeat_n(flow, 40));
        let mut e = Encoder::new(1, 0);
        let ms = e.data(&records, 0);
        assert!(ms.iter().all(|m| m.len() <= MAX_MESSAGE));
        // 3 × 25 + 40 × 70 bytes of records: three messages.
        assert_eq!(ms.len(), 3);
        assert_eq!(e.sequence(), 43);
        // First message: a 257 set of three, then a 260 set.
        assert_eq!(&ms[0][16..20], &[0x01, 0x01, 0, 4 + 75]);
        assert_eq!(&ms[0][95..97], &[0x01, 0x04]);
        let second_seq = u32::from_be_bytes([ms[1][8], ms[1][9], ms[1][10], ms[1][11]]);
        let first_count = 3 + (ms[0].len() - 16 - 4 - 75 - 4) / 70;
        assert_eq!(second_seq as usize, first_count);
    }
}
