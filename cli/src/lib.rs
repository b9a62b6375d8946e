//! The parts of the `sixfold` command line that its tests and the cross-crate tests
//! share: reading and writing packet captures, writing an output file safely, and
//! the client side of a router's control socket. The subcommands themselves live
//! in the binary.

pub mod capture;
pub mod chunked;
pub mod control;
pub mod output;
