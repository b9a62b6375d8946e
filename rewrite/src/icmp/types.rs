//! ICMPv4 and ICMPv6 message types and the codes of the error types, by name
//! (RFC 792, RFC 1122 §3.2.2, RFC 1812 §5.2.7.1, RFC 1191; RFC 4443, RFC 4861).
//!
//! Every type and code converts losslessly from and to its byte; values without a
//! name are `Other(u8)`.

use crate::numbered::numbered;

numbered! {
    /// An ICMPv4 message type.
    pub enum Icmpv4Type {
        /// Echo reply.
        EchoReply = 0, "echo_reply";
        /// Destination unreachable (codes: [`Icmpv4Unreachable`]).
        DestUnreachable = 3, "destination_unreachable";
        /// Source quench (deprecated by RFC 6633).
        SourceQuench = 4, "source_quench";
        /// Redirect.
        Redirect = 5, "redirect";
        /// Echo request.
        EchoRequest = 8, "echo_request";
        /// Router advertisement (RFC 1256).
        RouterAdvertisement = 9, "router_advertisement";
        /// Router solicitation (RFC 1256).
        RouterSolicitation = 10, "router_solicitation";
        /// Time exceeded (codes: [`Icmpv4TimeExceeded`]).
        TimeExceeded = 11, "time_exceeded";
        /// Parameter problem.
        ParameterProblem = 12, "parameter_problem";
        /// Timestamp request.
        Timestamp = 13, "timestamp";
        /// Timestamp reply.
        TimestampReply = 14, "timestamp_reply";
        /// Information request (obsolete).
        InfoRequest = 15, "info_request";
        /// Information reply (obsolete).
        InfoReply = 16, "info_reply";
        /// Address mask request (RFC 950).
        AddressMaskRequest = 17, "address_mask_request";
        /// Address mask reply (RFC 950).
        AddressMaskReply = 18, "address_mask_reply";
    }
}

impl Icmpv4Type {
    /// Error messages, which quote the packet that caused them (RFC 792):
    /// destination unreachable, source quench, redirect, time exceeded, parameter
    /// problem.
    pub const fn is_error(self) -> bool {
        matches!(
            self,
            Icmpv4Type::DestUnreachable
                | Icmpv4Type::SourceQuench
                | Icmpv4Type::Redirect
                | Icmpv4Type::TimeExceeded
                | Icmpv4Type::ParameterProblem
        )
    }

    /// Queries and replies that carry an identifier: echo, timestamp, information,
    /// address mask.
    pub const fn is_query(self) -> bool {
        matches!(
            self,
            Icmpv4Type::EchoReply
                | Icmpv4Type::EchoRequest
                | Icmpv4Type::Timestamp
                | Icmpv4Type::TimestampReply
                | Icmpv4Type::InfoRequest
                | Icmpv4Type::InfoReply
                | Icmpv4Type::AddressMaskRequest
                | Icmpv4Type::AddressMaskReply
        )
    }
}

numbered! {
    /// The code of an ICMPv4 destination unreachable (RFC 792, RFC 1812 §5.2.7.1).
    pub enum Icmpv4Unreachable {
        /// Network unreachable.
        Net = 0, "net_unreachable";
        /// Host unreachable.
        Host = 1, "host_unreachable";
        /// Protocol unreachable.
        Protocol = 2, "protocol_unreachable";
        /// Port unreachable.
        Port = 3, "port_unreachable";
        /// Fragmentation needed and DF set; the next-hop MTU follows (RFC 1191).
        FragmentationNeeded = 4, "fragmentation_needed";
        /// Source route failed.
        SourceRouteFailed = 5, "source_route_failed";
        /// Destination network unknown.
        NetUnknown = 6, "net_unknown";
        /// Destination host unknown.
        HostUnknown = 7, "host_unknown";
        /// Source host isolated.
        SourceHostIsolated = 8, "source_host_isolated";
        /// Communication with the destination network administratively prohibited.
        NetProhibited = 9, "net_prohibited";
        /// Communication with the destination host administratively prohibited.
        HostProhibited = 10, "host_prohibited";
        /// Network unreachable for the type of service.
        NetUnreachableForTos = 11, "net_unreachable_for_tos";
        /// Host unreachable for the type of service.
        HostUnreachableForTos = 12, "host_unreachable_for_tos";
        /// Communication administratively prohibited (RFC 1812).
        AdminProhibited = 13, "admin_prohibited";
        /// Host precedence violation.
        HostPrecedenceViolation = 14, "host_precedence_violation";
        /// Precedence cutoff in effect.
        PrecedenceCutoff = 15, "precedence_cutoff";
    }
}

numbered! {
    /// The code of an ICMPv4 time exceeded.
    pub enum Icmpv4TimeExceeded {
        /// TTL exceeded in transit.
        Ttl = 0, "ttl_exceeded";
        /// Fragment reassembly time exceeded.
        FragmentReassembly = 1, "fragment_reassembly";
    }
}

numbered! {
    /// The code of an ICMPv4 parameter problem.
    pub enum Icmpv4ParameterProblem {
        /// The pointer indicates the error.
        Pointer = 0, "pointer";
        /// A required option is missing.
        MissingOption = 1, "missing_option";
        /// Bad length.
        BadLength = 2, "bad_length";
    }
}

numbered! {
    /// An ICMPv6 message type (RFC 4443 §2.1, RFC 4861).
    pub enum Icmpv6Type {
        /// Destination unreachable (codes: [`Icmpv6Unreachable`]).
        DestUnreachable = 1, "destination_unreachable";
        /// Packet too big; the MTU follows.
        PacketTooBig = 2, "packet_too_big";
        /// Time exceeded (codes: [`Icmpv6TimeExceeded`]).
        TimeExceeded = 3, "time_exceeded";
        /// Parameter problem (codes: [`Icmpv6ParameterProblem`]); a pointer follows.
        ParameterProblem = 4, "parameter_problem";
        /// Echo request.
        EchoRequest = 128, "echo_request";
        /// Echo reply.
        EchoReply = 129, "echo_reply";
        /// Multicast listener query (RFC 2710).
        MulticastListenerQuery = 130, "multicast_listener_query";
        /// Multicast listener report (RFC 2710).
        MulticastListenerReport = 131, "multicast_listener_report";
        /// Multicast listener done (RFC 2710).
        MulticastListenerDone = 132, "multicast_listener_done";
        /// Router solicitation (RFC 4861 §4.1).
        RouterSolicitation = 133, "router_solicitation";
        /// Router advertisement (RFC 4861 §4.2).
        RouterAdvertisement = 134, "router_advertisement";
        /// Neighbor solicitation (RFC 4861 §4.3).
        NeighborSolicitation = 135, "neighbor_solicitation";
        /// Neighbor advertisement (RFC 4861 §4.4).
        NeighborAdvertisement = 136, "neighbor_advertisement";
        /// Redirect (RFC 4861 §4.5).
        Redirect = 137, "redirect";
        /// Multicast listener report version 2 (RFC 3810).
        MulticastListenerReportV2 = 143, "multicast_listener_report_v2";
    }
}

impl Icmpv6Type {
    /// Error messages: types 0–127 (RFC 4443 §2.1); they quote the packet that
    /// caused them.
    pub fn is_error(self) -> bool {
        u8::from(self) < 128
    }

    /// Echo request and reply, which carry an identifier.
    pub const fn is_query(self) -> bool {
        matches!(self, Icmpv6Type::EchoRequest | Icmpv6Type::EchoReply)
    }
}

numbered! {
    /// The code of an ICMPv6 destination unreachable (RFC 4443 §3.1).
    pub enum Icmpv6Unreachable {
        /// No route to destination.
        NoRoute = 0, "no_route";
        /// Communication with destination administratively prohibited.
        AdminProhibited = 1, "admin_prohibited";
        /// Beyond scope of source address.
        BeyondScope = 2, "beyond_scope";
        /// Address unreachable.
        Address = 3, "address_unreachable";
        /// Port unreachable.
        Port = 4, "port_unreachable";
        /// Source address failed ingress/egress policy.
        SourcePolicy = 5, "source_policy";
        /// Reject route to destination.
        RejectRoute = 6, "reject_route";
    }
}

numbered! {
    /// The code of an ICMPv6 time exceeded (RFC 4443 §3.3).
    pub enum Icmpv6TimeExceeded {
        /// Hop limit exceeded in transit.
        HopLimit = 0, "hop_limit_exceeded";
        /// Fragment reassembly time exceeded.
        FragmentReassembly = 1, "fragment_reassembly";
    }
}

numbered! {
    /// The code of an ICMPv6 parameter problem (RFC 4443 §3.4).
    pub enum Icmpv6ParameterProblem {
        /// Erroneous header field encountered.
        ErroneousHeaderField = 0, "erroneous_header_field";
        /// Unrecognized next header type encountered.
        UnrecognizedNextHeader = 1, "unrecognized_next_header";
        /// Unrecognized IPv6 option encountered.
        UnrecognizedOption = 2, "unrecognized_option";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        for n in 0..=255u8 {
            assert_eq!(u8::from(Icmpv4Type::from(n)), n);
            assert_eq!(u8::from(Icmpv6Type::from(n)), n);
            assert_eq!(u8::from(Icmpv4Unreachable::from(n)), n);
            assert_eq!(u8::from(Icmpv6Unreachable::from(n)), n);
            assert_eq!(u8::from(Icmpv4TimeExceeded::from(n)), n);
            assert_eq!(u8::from(Icmpv6TimeExceeded::from(n)), n);
            assert_eq!(u8::from(Icmpv4ParameterProblem::from(n)), n);
            assert_eq!(u8::from(Icmpv6ParameterProblem::from(n)), n);
        }
    }

    #[test]
    fn classification_matches_the_byte_predicates() {
        for n in 0..=255u8 {
            assert_eq!(
                Icmpv4Type::from(n).is_error(),
                super::super::is_icmpv4_error(n)
            );
            assert_eq!(
                Icmpv4Type::from(n).is_query(),
                super::super::is_icmpv4_query(n)
            );
            assert_eq!(
                Icmpv6Type::from(n).is_error(),
                super::super::is_icmpv6_error(n)
            );
            assert_eq!(
                Icmpv6Type::from(n).is_query(),
                super::super::is_icmpv6_query(n)
            );
        }
    }

    #[test]
    fn named_values_are_the_rfc_ones() {
        assert_eq!(u8::from(Icmpv4Unreachable::FragmentationNeeded), 4);
        assert_eq!(u8::from(Icmpv4Unreachable::AdminProhibited), 13);
        assert_eq!(u8::from(Icmpv6Type::PacketTooBig), 2);
        assert_eq!(u8::from(Icmpv6Unreachable::AdminProhibited), 1);
        assert_eq!(Icmpv6Type::from(134), Icmpv6Type::RouterAdvertisement);
        assert_eq!(Icmpv4Type::TimeExceeded.name(), Some("time_exceeded"));
        assert_eq!(Icmpv4Type::Other(99).name(), None);
    }
}
