//! The parts of an IPv4 packet the NAT looks at, read once per packet.

use crate::stats::DropReason;
use sixfold_rewrite::{Icmpv4Type, IpProtocol, Ipv4Packet, L4Header};

/// The parts of an IPv4 packet the NAT looks at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flow {
    pub(crate) protocol: IpProtocol,
    pub(crate) src: u32,
    pub(crate) dst: u32,
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    pub(crate) tcp_flags: u8,
    pub(crate) icmp_type: Icmpv4Type,
}

impl Flow {
    /// The flow of a TCP, UDP or ICMP query packet `ip` (a first fragment or a
    /// whole packet): ports, or the identifier as the port of the side that sent
    /// the query (`outbound`: the subscriber). Other protocols have no ports or
    /// identifiers to translate.
    #[inline(always)]
    pub(crate) fn of(ip: &Ipv4Packet<&[u8]>, outbound: bool) -> Result<Flow, DropReason> {
        let protocol = ip.ip_protocol();
        if !matches!(
            protocol,
            IpProtocol::Tcp | IpProtocol::Udp | IpProtocol::Icmp
        ) {
            return Err(DropReason::UnsupportedProtocol);
        }
        let l4 = L4Header::new(protocol, ip.payload()).map_err(|_| DropReason::Malformed)?;
        // The rewrite needs the whole fixed header: no state for less.
        if !l4.header_complete() {
            return Err(DropReason::Malformed);
        }
        let src = u32::from(ip.src_addr());
        let mut f = Flow::from_l4(protocol, src, u32::from(ip.dst_addr()), &l4);
        if let (Some((kind, _)), Some(id)) = (l4.icmp_type_code(), l4.icmp_ident()) {
            f.icmp_type = Icmpv4Type::from(kind);
            if outbound {
                f.sport = id;
            } else {
                f.dport = id;
            }
        }
        Ok(f)
    }

    /// The flow of the complete transport header `l4` from `src` to `dst`: its
    /// ports and TCP flags. An ICMP query's type and identifier are the
    /// caller's to read: which port the identifier is, and which family its
    /// type comes from, depend on the direction and the family.
    #[inline(always)]
    pub(crate) fn from_l4(protocol: IpProtocol, src: u32, dst: u32, l4: &L4Header<'_>) -> Flow {
        let (sport, dport) = l4.ports().unwrap_or((0, 0));
        Flow {
            protocol,
            src,
            dst,
            sport,
            dport,
            tcp_flags: l4.tcp_flags().unwrap_or(0),
            icmp_type: Icmpv4Type::Other(0),
        }
    }

    pub(super) fn key_byte(&self) -> u8 {
        u8::from(self.protocol)
    }
}
