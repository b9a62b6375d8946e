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
use crate::config::Config;
use crate::iface::{Interface, Shard};
use crate::stats::Datapath;
use std::io;
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

/// The router's devices: the uplink with a queue per worker, and one queue per
/// subscriber TUN (read by the worker that owns the subscriber; any worker may
/// write to it).
pub struct Devices {
    /// The uplink's queues, one per worker.
    pub wan: Vec<Queue>,
    /// Subscriber TUNs; index = subscriber id.
    pub subscribers: Vec<Queue>,
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
        let udp = wan.iter().all(|q| q.dev.udp_gso());
        let tcp = wan.iter().chain(&subscribers).all(|q| q.offload);
        let datapath = Datapath {
            offload: tcp,
            tso: tcp,
            uso: tcp && udp && subscribers.iter().all(|q| q.dev.udp_gso()),
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
            datapath,
        })
    }

    /// The queue worker `shard` writes `i` through.
    pub(super) fn queue(&self, i: Interface, shard: Shard) -> &Queue {
        match i {
            Interface::Wan => &self.wan[usize::from(shard.index) % self.wan.len()],
            Interface::Subscriber(s) => &self.subscribers[usize::from(s)],
        }
    }
}
