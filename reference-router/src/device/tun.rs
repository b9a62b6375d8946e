//! TUN devices, opened (created) inside a network namespace, with offload and
//! one queue per worker where asked.
//!
//! A TUN is attached in a namespace by entering it, opening `/dev/net/tun` there
//! and returning (`TUNSETIFF` always acts in the caller's namespace; the fd keeps
//! working after the thread goes back). The device lives as long as its fds: when
//! the router exits, its TUNs disappear with their addresses and routes.
//!
//! Offload (`IFF_VNET_HDR` and `TUNSETOFFLOAD` with checksum, TSO4/6 and, on
//! Linux ≥ 6.2, USO4/6) is asked for when configured; a kernel that refuses it
//! gets a plain device, and the refusal is logged and reported in `sixfold
//! stats` (`datapath.offload_refused`).

use super::netns::in_netns;
use super::routes::{self, RouteSocket};
use crate::config::Config;
use crate::iface::{Interface, RouteChange, Shard, SubscriberId};
use crate::stats::Datapath;
use std::io;
use std::sync::Mutex;
use tun_rs::{DeviceBuilder, SyncDevice};

/// One queue of a TUN, and whether it carries virtio-net headers.
pub struct Queue {
    /// The device (queue).
    pub dev: SyncDevice,
    /// Opened with offload: every read and write carries a virtio-net header.
    pub offload: bool,
}

fn annotate(name: &str, e: io::Error) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::PermissionDenied => " (root or CAP_NET_ADMIN needed)",
        _ => "",
    };
    io::Error::new(e.kind(), format!("TUN {name:?}: {e}{hint}"))
}

/// Opens (creates) TUN `name` with `mtu`, up, in `netns` or the current
/// namespace, with `queues` queues (multi-queue when more than one) and offload
/// if `offload` (falling back to none, with the reason, where the kernel
/// refuses). A permission error says that root (CAP_NET_ADMIN) is needed.
pub fn open_tun(
    name: &str,
    netns: Option<&str>,
    mtu: u16,
    queues: u16,
    offload: bool,
) -> io::Result<(Vec<Queue>, Option<String>)> {
    let build = |offload: bool| {
        let dev = DeviceBuilder::new()
            .name(name)
            .mtu(mtu)
            .offload(offload)
            .multi_queue(queues > 1)
            .enable(true)
            .build_sync()?;
        dev.set_nonblocking(true)?;
        let mut all = vec![dev];
        for _ in 1..queues {
            let q = all[0].try_clone()?;
            q.set_nonblocking(true)?;
            all.push(q);
        }
        Ok(all)
    };
    let open = |offload: bool| match netns {
        Some(ns) => in_netns(ns, || build(offload)),
        None => build(offload),
    };
    let (devs, refused) = match open(offload) {
        Ok(d) => (d, None),
        Err(e) if offload && e.kind() != io::ErrorKind::PermissionDenied => {
            let why = format!("TUN {name:?}: offload refused ({e})");
            tracing::warn!("{why}; running without");
            (open(false).map_err(|e| annotate(name, e))?, Some(why))
        }
        Err(e) => return Err(annotate(name, e)),
    };
    let queues = devs
        .into_iter()
        .map(|dev| Queue {
            offload: dev.tcp_gso(),
            dev,
        })
        .collect();
    Ok((queues, refused))
}

/// The router's devices: the uplink with a queue per worker, one queue per
/// subscriber TUN (read by the worker that owns the subscriber; any worker may
/// write to it), and each range's TUN with a queue per worker (read by every
/// worker; a packet goes to its subscriber's owner). Routes the configuration
/// asks for are on the TUNs once they are up.
pub struct Devices {
    /// The uplink's queues, one per worker.
    pub wan: Vec<Queue>,
    /// Subscriber TUNs; index = subscriber id.
    pub subscribers: Vec<Queue>,
    /// `[[subscriber_range]]` TUNs, in order: each with a queue per worker.
    pub ranges: Vec<Vec<Queue>>,
    /// Each range's first subscriber id and its number of subscribers.
    range_ids: Vec<(SubscriberId, u32)>,
    /// Routes through the uplink (its `routes` are in; announce routes come and
    /// go), when the configuration asks for any.
    wan_routes: Option<Mutex<RouteSocket>>,
    /// What the kernel granted.
    pub datapath: Datapath,
}

impl Devices {
    /// Opens every TUN the configuration names, for `workers` workers.
    pub fn open(config: &Config, workers: u16) -> io::Result<Devices> {
        let offload = config.router.offload;
        let (wan, mut refused) = open_tun(
            &config.wan.name,
            config.wan.netns.as_deref(),
            config.wan.mtu,
            workers.max(1),
            offload,
        )?;
        let mut subscribers = Vec::with_capacity(config.subscriber.len());
        for s in &config.subscriber {
            let (mut q, r) = open_tun(&s.name, s.netns.as_deref(), s.mtu, 1, offload)?;
            refused = refused.or(r);
            subscribers.push(q.remove(0));
        }
        let mut ranges = Vec::with_capacity(config.subscriber_range.len());
        for range in &config.subscriber_range {
            let netns = range.netns.as_deref();
            let (q, r) = open_tun(&range.name, netns, range.mtu, workers.max(1), offload)?;
            refused = refused.or(r);
            routes::install(&range.name, netns, range.route_table, &range.routes)?;
            ranges.push(q);
        }
        let w = &config.wan;
        let announces = config.subscriber_range.iter().any(|r| r.announce);
        let wan_routes = if announces || !w.routes.is_empty() {
            let socket = routes::install(&w.name, w.netns.as_deref(), w.route_table, &w.routes)?;
            Some(Mutex::new(socket))
        } else {
            None
        };
        let range_ids = config.ranges().map(|(first, n, _)| (first, n)).collect();
        let inside = || subscribers.iter().chain(ranges.iter().flatten());
        let udp = wan.iter().all(|q| q.dev.udp_gso());
        let tcp = wan.iter().chain(inside()).all(|q| q.offload);
        let datapath = Datapath {
            offload: tcp,
            tso: tcp,
            uso: tcp && udp && inside().all(|q| q.dev.udp_gso()),
            offload_refused: refused,
            workers: u32::from(workers.max(1)),
            ..Datapath::default()
        };
        if offload && tcp {
            tracing::info!(uso = datapath.uso, "TUN offload on");
        }
        Ok(Devices {
            wan,
            subscribers,
            ranges,
            range_ids,
            wan_routes,
            datapath,
        })
    }

    /// Devices of an uplink and subscriber TUNs opened by a test, no ranges,
    /// no routes.
    #[cfg(test)]
    pub(super) fn of_queues(wan: Vec<Queue>, subscribers: Vec<Queue>) -> Devices {
        Devices {
            wan,
            subscribers,
            ranges: Vec::new(),
            range_ids: Vec::new(),
            wan_routes: None,
            datapath: Datapath::default(),
        }
    }

    /// The queue worker `shard` writes `i` through: a range subscriber's is
    /// the worker's queue of its range's TUN.
    pub(super) fn queue(&self, i: Interface, shard: Shard) -> &Queue {
        match i {
            Interface::Wan => &self.wan[usize::from(shard.index) % self.wan.len()],
            Interface::Subscriber(s) => match self.subscribers.get(s as usize) {
                Some(q) => q,
                None => {
                    let r = self
                        .range_ids
                        .iter()
                        .position(|&(first, count)| s >= first && s - first < count)
                        // The router only names subscribers of its configuration.
                        .unwrap_or(0);
                    self.range_queue(r, shard)
                }
            },
        }
    }

    /// Worker `shard`'s queue of range `r`'s TUN.
    pub(super) fn range_queue(&self, r: usize, shard: Shard) -> &Queue {
        let queues = &self.ranges[r];
        &queues[usize::from(shard.index) % queues.len()]
    }

    /// Applies an announce route change via the uplink, in `[wan]
    /// route_table`.
    pub(super) fn apply(&self, change: RouteChange) -> io::Result<()> {
        let Some(socket) = &self.wan_routes else {
            return Ok(());
        };
        let mut socket = socket.lock().unwrap_or_else(|e| e.into_inner());
        match change {
            RouteChange::Announce(net) => socket.replace(net.into()),
            RouteChange::Withdraw(net) => socket.delete(net.into()),
        }
    }
}
