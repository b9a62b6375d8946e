//! The only module with OS calls (cargo feature `device`): TUN devices opened in
//! network namespaces ([`tun`]), the packet loop ([`io`]) and the control socket
//! ([`control`]), served off the data path.

pub mod control;
mod io;
mod netns;
mod tun;

pub use io::BURST;
pub use netns::in_netns;
pub use tun::{Devices, open_tun};

use crate::Router;
use std::os::unix::net::UnixListener;
use std::sync::atomic::AtomicBool;

/// Runs `router` over `devices` until `stop` is set, serving the control socket
/// `listener` (bound at `path` with [`control::bind`]) from a thread of its own;
/// the socket is removed when this returns. Gives the router back for a last
/// look at its counters.
pub fn run(
    mut router: Router,
    devices: &Devices,
    listener: UnixListener,
    path: &str,
    stop: &AtomicBool,
) -> std::io::Result<Router> {
    let (inbox, outbox) = control::channel()?;
    let server = control::Server::start(listener, path, vec![outbox]);
    let result = io::run_loop(&mut router, devices, &inbox, stop);
    drop(server);
    result.map(|()| router)
}
