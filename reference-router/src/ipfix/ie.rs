//! Information elements the router writes and reads (IANA "IPFIX Information
//! Elements"): one list for the encoder and the decoder.

/// octetDeltaCount (1).
pub const OCTET_DELTA_COUNT: u16 = 1;
/// packetDeltaCount (2).
pub const PACKET_DELTA_COUNT: u16 = 2;
/// protocolIdentifier (4).
pub const PROTOCOL_IDENTIFIER: u16 = 4;
/// sourceTransportPort (7).
pub const SOURCE_TRANSPORT_PORT: u16 = 7;
/// sourceIPv4Address (8).
pub const SOURCE_IPV4_ADDRESS: u16 = 8;
/// destinationTransportPort (11).
pub const DESTINATION_TRANSPORT_PORT: u16 = 11;
/// destinationIPv4Address (12).
pub const DESTINATION_IPV4_ADDRESS: u16 = 12;
/// sourceIPv6Address (27).
pub const SOURCE_IPV6_ADDRESS: u16 = 27;
/// destinationIPv6Address (28).
pub const DESTINATION_IPV6_ADDRESS: u16 = 28;
/// flowEndReason (136).
pub const FLOW_END_REASON: u16 = 136;
/// observationDomainId (149).
pub const OBSERVATION_DOMAIN_ID: u16 = 149;
/// systemInitTimeMilliseconds (160).
pub const SYSTEM_INIT_TIME_MILLISECONDS: u16 = 160;
/// flowStartMilliseconds (152).
pub const FLOW_START_MILLISECONDS: u16 = 152;
/// flowEndMilliseconds (153).
pub const FLOW_END_MILLISECONDS: u16 = 153;
/// postNATSourceIPv4Address (225).
pub const POST_NAT_SOURCE_IPV4_ADDRESS: u16 = 225;
/// postNATDestinationIPv4Address (226).
pub const POST_NAT_DESTINATION_IPV4_ADDRESS: u16 = 226;
/// postNAPTSourceTransportPort (227).
pub const POST_NAPT_SOURCE_TRANSPORT_PORT: u16 = 227;
/// postNAPTDestinationTransportPort (228).
pub const POST_NAPT_DESTINATION_TRANSPORT_PORT: u16 = 228;
/// natEvent (230).
pub const NAT_EVENT: u16 = 230;
/// natPoolId (283).
pub const NAT_POOL_ID: u16 = 283;
/// observationTimeMilliseconds (323).
pub const OBSERVATION_TIME_MILLISECONDS: u16 = 323;
/// portRangeStart (361).
pub const PORT_RANGE_START: u16 = 361;
/// portRangeEnd (362).
pub const PORT_RANGE_END: u16 = 362;
/// portRangeStepSize (363).
pub const PORT_RANGE_STEP_SIZE: u16 = 363;
/// portRangeNumPorts (364).
pub const PORT_RANGE_NUM_PORTS: u16 = 364;
