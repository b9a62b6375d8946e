//! The sixfold router: a sans-IO dual-stack router core (built by the router issue)
//! and the pieces the `sixfold` command line shares.
//!
//! - [`capture`]: pcap/pcapng reading down to IP packets.

pub mod capture;
