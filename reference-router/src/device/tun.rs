//! TUN devices, opened (created) inside a network namespace.
//!
//! A TUN is attached in a namespace by entering it, opening `/dev/net/tun` there
//! and returning (`TUNSETIFF` always acts in the caller's namespace; the fd keeps
//! working after the thread goes back). The device lives as long as the fd: when
//! the router exits, its TUNs disappear with their addresses and routes.

use super::netns::in_netns;
use crate::config::Config;
use crate::iface::Interface;
use std::io;
use tun_rs::{DeviceBuilder, SyncDevice};

/// Opens (creates) TUN `name` with `mtu`, up, in `netns` or the current namespace.
/// A permission error says that root (CAP_NET_ADMIN) is needed.
pub fn open_tun(name: &str, netns: Option<&str>, mtu: u16) -> io::Result<SyncDevice> {
    let build = || {
        let dev = DeviceBuilder::new()
            .name(name)
            .mtu(mtu)
            .enable(true)
            .build_sync()?;
        dev.set_nonblocking(true)?;
        Ok(dev)
    };
    let dev = match netns {
        Some(ns) => in_netns(ns, build),
        None => build(),
    };
    dev.map_err(|e: io::Error| {
        let hint = match e.kind() {
            io::ErrorKind::PermissionDenied => " (root or CAP_NET_ADMIN needed)",
            _ => "",
        };
        io::Error::new(e.kind(), format!("TUN {name:?}: {e}{hint}"))
    })
}

/// The router's devices: the WAN and one per subscriber, in configuration order.
pub struct Devices {
    /// The uplink.
    pub wan: SyncDevice,
    /// Subscriber TUNs; index = subscriber id.
    pub subscribers: Vec<SyncDevice>,
}

impl Devices {
    /// Opens every TUN the configuration names.
    pub fn open(config: &Config) -> io::Result<Devices> {
        let wan = open_tun(
            &config.wan.name,
            config.wan.netns.as_deref(),
            config.wan.mtu,
        )?;
        let subscribers = config
            .subscriber
            .iter()
            .map(|s| open_tun(&s.name, s.netns.as_deref(), s.mtu))
            .collect::<io::Result<_>>()?;
        Ok(Devices { wan, subscribers })
    }

    pub(super) fn device(&self, i: Interface) -> &SyncDevice {
        match i {
            Interface::Wan => &self.wan,
            Interface::Subscriber(s) => &self.subscribers[usize::from(s)],
        }
    }
}
