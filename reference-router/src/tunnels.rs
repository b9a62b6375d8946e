//! Detection of IPv6 transition tunnels (issue "router policy"): the holes clients
//! dig through a firewall when the network gives them no IPv6.
//!
//! IPv4: protocol 41 (named 6in4, 6to4, ISATAP or 6rd by its inner addresses),
//! the 6to4 relay anycast 192.88.99.0/24, Teredo on UDP 3544 *and* on any port
//! (sixfold-teredo's strict recogniser: authentication, origin indication, bubbles,
//! IPv6-in-UDP; no false positives on DNS, QUIC or RTP), AYIYA (UDP 5072 or by
//! header shape), TSP (3653), GRE carrying IPv6 (protocol 47, type 0x86DD).
//! IPv6: IPv4-in-IPv6 and IPv6-in-IPv6 from subscribers, and sources or
//! destinations in 2001::/32 (Teredo) or 2002::/16 (6to4) — the relays' side.
//!
//! Detectors read only the packet's own bytes (up to its IP length): bytes beyond
//! cannot change a verdict. Non-first IPv4 fragments carry no ports and are not
//! inspected.

use crate::config::Tunnels;
use crate::stats::DropReason;
use sixfold_rewrite::{IpProtocol, Ipv4Packet, L4Header};
use sixfold_teredo::exposure::{Knowledge, exposure};
use sixfold_teredo::packet::{Proto41Kind, classify_proto41, recognize, recognize_ayiya};
use sixfold_teredo::{SixRd, Teredo};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

/// A transition mechanism found in a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tunnel {
    /// IPv4 protocol 41, named by its inner addresses.
    Proto41(Proto41Kind),
    /// To or from the 6to4 relay anycast prefix 192.88.99.0/24.
    RelayAnycast,
    /// Teredo: UDP port 3544, or recognised on another port.
    Teredo,
    /// AYIYA.
    Ayiya,
    /// TSP (tunnel setup protocol, port 3653).
    Tsp,
    /// GRE carrying IPv6.
    GreIpv6,
    /// IPv4 inside IPv6 from a subscriber.
    Ipv4InIpv6,
    /// IPv6 inside IPv6 from a subscriber.
    Ipv6InIpv6,
    /// An IPv6 source or destination in 2001::/32 (or the legacy 3ffe:831f::/32).
    TeredoPrefix,
    /// An IPv6 source or destination in 2002::/16.
    SixToFourPrefix,
}

impl Tunnel {
    /// The drop reason (one counter per mechanism).
    pub fn reason(self) -> DropReason {
        match self {
            Tunnel::Proto41(Proto41Kind::SixInFour) => DropReason::Tunnel6in4,
            Tunnel::Proto41(Proto41Kind::SixToFour) => DropReason::Tunnel6to4,
            Tunnel::Proto41(Proto41Kind::Isatap) => DropReason::TunnelIsatap,
            Tunnel::Proto41(Proto41Kind::SixRd) => DropReason::Tunnel6rd,
            Tunnel::RelayAnycast => DropReason::Tunnel6to4Relay,
            Tunnel::Teredo => DropReason::TunnelTeredo,
            Tunnel::Ayiya => DropReason::TunnelAyiya,
            Tunnel::Tsp => DropReason::TunnelTsp,
            Tunnel::GreIpv6 => DropReason::TunnelGreIpv6,
            Tunnel::Ipv4InIpv6 => DropReason::Tunnel4in6,
            Tunnel::Ipv6InIpv6 => DropReason::Tunnel6in6,
            Tunnel::TeredoPrefix => DropReason::TunnelTeredoPrefix,
            Tunnel::SixToFourPrefix => DropReason::Tunnel6to4Prefix,
        }
    }
}

/// What a Teredo packet would have exposed, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TeredoExposure {
    /// The client's public IPv4 address and NAT port, from a Teredo address in the
    /// packet or its origin indication.
    pub client: Option<SocketAddrV4>,
    /// Bits an attacker who knows the NAT's address must guess to reach the client.
    pub bits: Option<u32>,
}

const TEREDO_PORT: u16 = 3544;
const AYIYA_PORT: u16 = 5072;
const TSP_PORT: u16 = 3653;

/// GRE's protocol type for IPv6 (an EtherType, RFC 2784).
const GRE_IPV6: u16 = 0x86dd;

/// Which ports of a TCP or UDP packet say what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ports {
    /// Both: either end may be the tunnel's well-known port.
    Both,
    /// The source only: the destination port is one the NAT chose (a packet to
    /// a pool address), which says nothing about the traffic — a session that
    /// was given external port 3544 or 3653 is not Teredo or TSP.
    SourceOnly,
}

/// The tunnel an IPv4 packet (`packet` cut to its total length) belongs to, if
/// blocking is on for it. A packet whose header does not check is none.
pub fn ipv4(packet: &[u8], on: &Tunnels, six_rd: Option<&SixRd>) -> Option<Tunnel> {
    ipv4_by(packet, on, six_rd, Ports::Both)
}

/// [`ipv4`], with the well-known ports looked for where `ports` says.
pub fn ipv4_by(
    packet: &[u8],
    on: &Tunnels,
    six_rd: Option<&SixRd>,
    ports: Ports,
) -> Option<Tunnel> {
    ipv4_checked(&Ipv4Packet::new_checked(packet).ok()?, on, six_rd, ports)
}

/// [`ipv4_by`] for a packet whose header was checked already (the router's
/// path: every IPv4 packet comes here, and a second check is not free).
pub(crate) fn ipv4_checked(
    ip: &Ipv4Packet<&[u8]>,
    on: &Tunnels,
    six_rd: Option<&SixRd>,
    ports: Ports,
) -> Option<Tunnel> {
    let relay = |a: Ipv4Addr| a.octets()[..3] == [192, 88, 99];
    if on.relay_anycast && (relay(ip.src_addr()) || relay(ip.dst_addr())) {
        return Some(Tunnel::RelayAnycast);
    }
    // The payload up to the total length: bytes beyond are not the packet's.
    let payload = ip.payload();
    let first = ip.frag_offset() == 0;
    match ip.ip_protocol() {
        IpProtocol::Ipv6 if on.proto41 => {
            let kind =
                classify_proto41(payload, six_rd).map_or(Proto41Kind::SixInFour, |(k, _, _)| k);
            Some(Tunnel::Proto41(kind))
        }
        IpProtocol::Gre
            if on.gre && first && payload.get(2..4) == Some(GRE_IPV6.to_be_bytes().as_slice()) =>
        {
            Some(Tunnel::GreIpv6)
        }
        IpProtocol::Udp if first && payload.len() >= 8 => udp(payload, on, ports),
        IpProtocol::Tcp if on.tsp && first => {
            let (sport, dport) = L4Header::new(IpProtocol::Tcp, payload).ok()?.ports()?;
            is_port(sport, dport, TSP_PORT, ports).then_some(Tunnel::Tsp)
        }
        _ => None,
    }
}

/// The data of a UDP datagram (`segment` ≥ 8 bytes), cut at the UDP length (a
/// first fragment's data ends with the fragment).
fn udp_data(segment: &[u8]) -> &[u8] {
    let len = usize::from(u16::from_be_bytes([segment[4], segment[5]]));
    &segment[8..len.clamp(8, segment.len())]
}

/// Whether `well_known` is the source port, or the destination port where
/// `ports` counts it.
fn is_port(sport: u16, dport: u16, well_known: u16, ports: Ports) -> bool {
    sport == well_known || (ports == Ports::Both && dport == well_known)
}

/// `segment`: at least the 8 bytes of a UDP header.
fn udp(segment: &[u8], on: &Tunnels, ports: Ports) -> Option<Tunnel> {
    let port_at = |at: usize| u16::from_be_bytes([segment[at], segment[at + 1]]);
    let (sport, dport) = (port_at(0), port_at(2));
    let data = udp_data(segment);
    let port = |p: u16| is_port(sport, dport, p, ports);
    if on.teredo && (port(TEREDO_PORT) || recognize(data).is_ok()) {
        return Some(Tunnel::Teredo);
    }
    if on.ayiya && (port(AYIYA_PORT) || recognize_ayiya(data).is_some()) {
        return Some(Tunnel::Ayiya);
    }
    if on.tsp && port(TSP_PORT) {
        return Some(Tunnel::Tsp);
    }
    None
}

/// What a Teredo-carrying IPv4 packet exposes: the client's public endpoint from a
/// Teredo address (source or destination of the inner packet) or from an origin
/// indication, and the bits an attacker knowing the NAT's address must guess.
pub fn teredo_exposure(packet: &[u8]) -> TeredoExposure {
    let none = TeredoExposure {
        client: None,
        bits: None,
    };
    let Some(data) = Ipv4Packet::new_checked(packet)
        .ok()
        .map(|ip| ip.payload())
        .filter(|s| s.len() >= 8)
        .map(udp_data)
    else {
        return none;
    };
    let Ok(t) = recognize(data) else {
        return none;
    };
    for addr in [t.inner.src, t.inner.dst] {
        if let Some(teredo) = Teredo::decode(addr) {
            return TeredoExposure {
                client: Some(SocketAddrV4::new(teredo.client, teredo.port)),
                bits: Some(exposure(&teredo, Knowledge::NatAddress).bits()),
            };
        }
    }
    TeredoExposure {
        client: t.origin.map(|o| SocketAddrV4::new(o.address, o.port)),
        bits: None,
    }
}

fn in_prefix(a: Ipv6Addr, prefix: u128, len: u32) -> bool {
    (u128::from(a) ^ prefix) >> (128 - len) == 0
}

/// The tunnel an IPv6 packet belongs to; `protocol` is the upper-layer protocol
/// after the extension headers.
pub fn ipv6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    protocol: IpProtocol,
    from_subscriber: bool,
    on: &Tunnels,
) -> Option<Tunnel> {
    if on.relay_prefixes {
        // 2001::/32, and the pre-RFC 4380 Teredo prefix 3ffe:831f::/32 that old
        // clients still use.
        let teredo = [0x2001_0000_u128 << 96, 0x3ffe_831f_u128 << 96];
        let six_to_four = 0x2002_u128 << 112;
        if teredo
            .iter()
            .any(|&t| in_prefix(src, t, 32) || in_prefix(dst, t, 32))
        {
            return Some(Tunnel::TeredoPrefix);
        }
        if in_prefix(src, six_to_four, 16) || in_prefix(dst, six_to_four, 16) {
            return Some(Tunnel::SixToFourPrefix);
        }
    }
    if from_subscriber && on.ip_in_ipv6 {
        match protocol {
            IpProtocol::Ipv4 => return Some(Tunnel::Ipv4InIpv6),
            IpProtocol::Ipv6 => return Some(Tunnel::Ipv6InIpv6),
            _ => {}
        }
    }
    None
}
