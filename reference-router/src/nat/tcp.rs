//! The TCP state a NAT keeps per session (RFC 5382 §5, RFC 7857 §2.2).
//!
//! A session is *established* once a SYN has passed in each direction (this covers
//! the normal three-way handshake and simultaneous open, RFC 5382 REQ-2) and no FIN or
//! RST has; every other state is *transitory*. A FIN in both directions or an RST puts
//! the session on the transitory timer (RFC 7857 §2.2: keep the state for 4 minutes
//! rather than drop it at once, so late segments and a re-opening still work).

use crate::config::Timeouts;
use sixfold_rewrite::IpProtocol;

/// A SYN went out (subscriber to WAN).
pub(crate) const SYN_OUT: u8 = 1;
/// A SYN came in.
pub(crate) const SYN_IN: u8 = 2;
/// A FIN went out.
pub(crate) const FIN_OUT: u8 = 4;
/// A FIN came in.
pub(crate) const FIN_IN: u8 = 8;
/// An RST passed.
pub(crate) const RST: u8 = 16;

/// TCP flag bits in the header's 14th byte.
pub(crate) const FLAG_FIN: u8 = 0x01;
pub(crate) const FLAG_SYN: u8 = 0x02;
pub(crate) const FLAG_RST: u8 = 0x04;
pub(crate) const FLAG_ACK: u8 = 0x10;

/// Whether a segment with `flags` opens a connection: SYN without ACK.
pub(crate) fn opens(flags: u8) -> bool {
    flags & (FLAG_SYN | FLAG_ACK) == FLAG_SYN
}

/// The state after a segment with `flags` passed `outbound` or not.
pub(crate) fn next(state: u8, flags: u8, outbound: bool) -> u8 {
    let mut s = state;
    if flags & FLAG_RST != 0 {
        return s | RST;
    }
    if flags & FLAG_SYN != 0 {
        // A new SYN after a close re-opens the flow (port reuse by the host).
        if s & (FIN_OUT | FIN_IN | RST) != 0 && flags & FLAG_ACK == 0 {
            s = 0;
        }
        s |= if outbound { SYN_OUT } else { SYN_IN };
    }
    if flags & FLAG_FIN != 0 {
        s |= if outbound { FIN_OUT } else { FIN_IN };
    }
    s
}

/// Whether `state` uses the established timer.
pub(crate) fn established(state: u8) -> bool {
    state & (SYN_OUT | SYN_IN) == SYN_OUT | SYN_IN && state & (FIN_OUT | FIN_IN | RST) == 0
}

// The idle timeouts are `[nat] timeouts` keys, but which one a flow gets is
// decided by the state machine above: the rule lives beside it.
impl Timeouts {
    /// The idle timeout of a flow of `protocol` whose TCP state is `tcp_state`
    /// (`crate::nat::tcp`). Protocols other than TCP, UDP and ICMP/ICMPv6 (ESP, AH,
    /// SCTP, ... through the IPv6 firewall) get the UDP timer: RFC 6092 asks at
    /// least two minutes for them, five by default.
    pub(crate) fn idle(&self, protocol: IpProtocol, tcp_state: u8) -> u32 {
        match protocol {
            IpProtocol::Tcp if crate::nat::tcp::established(tcp_state) => self.tcp_established,
            IpProtocol::Tcp => self.tcp_transitory,
            IpProtocol::Icmp | IpProtocol::Icmpv6 => self.icmp,
            _ => self.udp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshakes() {
        // Outbound open: SYN out, SYN-ACK in.
        let s = next(next(0, FLAG_SYN, true), FLAG_SYN | FLAG_ACK, false);
        assert!(established(s));
        // Simultaneous open: SYN each way, then SYN-ACKs.
        let s = next(next(0, FLAG_SYN, false), FLAG_SYN, true);
        assert!(established(s));
        // Only one side: transitory.
        assert!(!established(next(0, FLAG_SYN, true)));
    }

    #[test]
    fn closing_and_reset_are_transitory_and_a_new_syn_reopens() {
        let open = SYN_OUT | SYN_IN;
        assert!(!established(next(open, FLAG_FIN | FLAG_ACK, true)));
        assert!(!established(next(open, FLAG_RST, false)));
        let closed = next(next(open, FLAG_FIN, true), FLAG_FIN, false);
        assert_eq!(next(closed, FLAG_SYN, true), SYN_OUT);
        assert!(established(next(
            next(closed, FLAG_SYN, true),
            FLAG_SYN | FLAG_ACK,
            false
        )));
    }
}
