//! The NAT's side of the fast path (issue 27): which sessions may be
//! installed, their refresh from the program's last-seen times, and the
//! sessions removed while installed.
//!
//! A session is offered once, when it is TCP and established in both
//! directions (its SYN, FIN and RST always reach the slow path, which keeps
//! its state from them) or UDP at its second packet: a flow of one packet (a
//! DNS query unanswered, a scan, RFC 4814 test traffic) would cost a map
//! update and its removal, and every second a read of its counters, for no
//! packet forwarded — with a new session per datagram that made the first-packet
//! rate a quarter of the slow path's alone. While installed, the program forwards its
//! packets without the router seeing them: the I/O loop reads the program's
//! per-flow last-seen time at least every [`SYNC_SLACK`] seconds and refreshes
//! the session from it, so its idle timeout counts from its last packet on
//! either path. Because that reading can be up to [`SYNC_SLACK`] seconds old,
//! an installed session's timeout is that much longer: never shorter than the
//! configured one (RFC 4787 REQ-5, RFC 5382 REQ-5).

use super::table::{Key, Session};
use super::{Nat, TCP, UDP, tcp};

/// Seconds between two readings of the program's counters, at most; added
/// to an installed session's timeout.
const SYNC_SLACK: u32 = crate::fastpath::SYNC_SECONDS;

impl Nat {
    /// Marks session `s` installed and returns it, if it may use the fast
    /// path now and is not installed yet.
    pub(crate) fn fast_offer(&mut self, s: u32) -> Option<Session> {
        let session = self.table.session_mut(s);
        let ready = match session.protocol {
            TCP => tcp::established(session.tcp()),
            UDP => session.repeat(),
            _ => false,
        };
        if session.fast() || !ready {
            return None;
        }
        session.set_fast(true);
        Some(*session)
    }

    /// The session of inside flow `key` (protocol, subscriber's endpoint,
    /// remote endpoint), refreshed as if its last packet passed at second
    /// `last_seen`; `None` if it is gone.
    pub(crate) fn fast_seen(&mut self, key: &Key, last_seen: u32, now: u32) -> Option<u32> {
        let s = self.table.find_inside(key, now)?;
        let session = *self.table.session(s);
        let expires = last_seen + self.timeout(session.protocol, session.tcp()) + SYNC_SLACK;
        if expires > session.expires {
            self.table.set_expiry(s, expires);
        }
        Some(s)
    }

    /// Session of inside flow `key` is no longer installed (the fast path was
    /// turned off): it may be offered again later.
    pub(crate) fn fast_forget(&mut self, key: &Key, now: u32) {
        if let Some(s) = self.table.find_inside(key, now) {
            self.table.session_mut(s).set_fast(false);
        }
    }

    /// The subscriber of session `s`.
    pub(crate) fn session_subscriber(&self, s: u32) -> crate::iface::SubscriberId {
        self.table.session_subscriber(s)
    }

    /// The sessions removed (expired, or replaced) while installed.
    pub(crate) fn fast_removed(&mut self) -> Vec<Session> {
        self.table.take_fast_removed()
    }
}
