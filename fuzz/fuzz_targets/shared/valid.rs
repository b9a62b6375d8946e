//! Shared by the fuzz targets that check checksums after a rewrite.

use sixfold_rewrite::{ChecksumState, Ipv4Packet, transport_checksum_state};

/// Whether every checksum the packet carries is valid (the IPv4 header's, and the
/// transport checksum where the packet holds all it covers).
pub(crate) fn valid(p: &[u8]) -> bool {
    let header_ok =
        p[0] >> 4 != 4 || Ipv4Packet::new_checked(p).is_ok_and(|ip| ip.verify_checksum());
    header_ok
        && matches!(
            transport_checksum_state(p),
            Ok(ChecksumState::Valid | ChecksumState::Unknown)
        )
}
