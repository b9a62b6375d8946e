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
use crate::layout::Layout;
use crate::stats::Datapath;
use foldhash::fast::RandomState;
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use tun_rs::{DeviceBuilder, SyncDevice};

/// One queue of a TUN, and whether it carries virtio-net headers.
pub struct Queue {
    /// The device (queue).
    pub dev: Dev,
    /// Opened with offload: every read and write carries a virtio-net header.
    pub offload: bool,
}

/// A TUN queue's descriptor: opened here, or handed over by the process that
/// ran before (`sixfold upgrade`; tun-rs adopts no descriptor with virtio-net
/// headers, and the loops only read and write whole packets).
pub enum Dev {
    /// Opened by this process.
    Opened(SyncDevice),
    /// Handed over, with what it was opened with.
    Adopted {
        /// The queue's descriptor (non-blocking, as it was opened).
        fd: std::os::fd::OwnedFd,
        /// UDP segmentation offload granted.
        udp_gso: bool,
    },
}

impl Dev {
    /// Reads one packet (with its virtio-net header on an offload queue).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Dev::Opened(d) => d.recv(buf),
            Dev::Adopted { fd, .. } => nix::unistd::read(fd, buf).map_err(io::Error::from),
        }
    }

    /// Writes one packet.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Dev::Opened(d) => d.send(buf),
            Dev::Adopted { fd, .. } => nix::unistd::write(fd, buf).map_err(io::Error::from),
        }
    }

    /// Whether UDP segmentation offload was granted.
    pub fn udp_gso(&self) -> bool {
        match self {
            Dev::Opened(d) => d.udp_gso(),
            Dev::Adopted { udp_gso, .. } => *udp_gso,
        }
    }
}

impl std::os::fd::AsFd for Dev {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Dev::Opened(d) => d.as_fd(),
            Dev::Adopted { fd, .. } => fd.as_fd(),
        }
    }
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
            dev: Dev::Opened(dev),
        })
        .collect();
    Ok((queues, refused))
}

/// The router's devices: the uplink with a queue per worker, one queue per
/// subscriber TUN (read by the worker that owns the subscriber; any worker may
/// write to it), and each range's TUN with a queue per worker (read by every
/// worker; a packet goes to its subscriber's owner). Routes the configuration
/// asks for are on the TUNs once they are up.
///
/// Queues are shared (`Arc`): a reload makes the next `Devices` with the
/// queues of the devices that stay and new ones for subscribers added
/// ([`Devices::reopened`]); a device removed closes when the last worker lets
/// go of the old `Devices`.
#[derive(Clone)]
pub struct Devices {
    /// The uplink's queues, one per worker.
    pub wan: Arc<[Queue]>,
    /// Subscriber TUNs by subscriber id ([`Layout`]).
    pub subscribers: HashMap<SubscriberId, Arc<Queue>, RandomState>,
    /// `[[subscriber_range]]` TUNs, in configuration order: each with a
    /// queue per worker.
    pub ranges: Vec<Arc<[Queue]>>,
    /// Each range's first subscriber id and its number of subscribers.
    range_ids: Vec<(SubscriberId, u32)>,
    /// Each range's TUN name, for the next reload.
    range_names: Vec<String>,
    /// Routes through the uplink (its `routes` are in; announce routes come and
    /// go), when the configuration asks for any.
    wan_routes: Option<Arc<Mutex<RouteSocket>>>,
    /// What the kernel granted.
    pub datapath: Datapath,
    /// The in-kernel fast path, when `[fastpath]` names its interfaces.
    #[cfg(feature = "fastpath")]
    pub fastpath: Option<super::fastpath::attach::Shared>,
}

impl Devices {
    /// Opens every TUN `config` names (its subscribers with the ids of
    /// `layout`), for `workers` workers.
    pub fn open(config: &Config, layout: &Layout, workers: u16) -> io::Result<Devices> {
        let offload = config.router.offload;
        let (wan, refused) = open_tun(
            &config.wan.name,
            config.wan.netns.as_deref(),
            config.wan.mtu,
            workers.max(1),
            offload,
        )?;
        let empty = Devices {
            wan: wan.into(),
            subscribers: HashMap::default(),
            ranges: Vec::new(),
            range_ids: Vec::new(),
            range_names: Vec::new(),
            wan_routes: None,
            #[cfg(feature = "fastpath")]
            fastpath: None,
            datapath: Datapath {
                offload_refused: refused,
                workers: u32::from(workers.max(1)),
                ..Datapath::default()
            },
        };
        let w = &config.wan;
        let wan_routes = if w.routes.is_empty() {
            None
        } else {
            let socket = routes::install(&w.name, w.netns.as_deref(), w.route_table, &w.routes)?;
            Some(Arc::new(Mutex::new(socket)))
        };
        #[cfg_attr(not(feature = "fastpath"), allow(unused_mut))]
        let mut devices = Devices {
            wan_routes,
            ..empty
        }
        .reopened(config, layout, workers)?;
        // After the TUNs: the program's flows name them.
        #[cfg(feature = "fastpath")]
        {
            devices.fastpath = super::fastpath::attach::open(config)?;
        }
        #[cfg(not(feature = "fastpath"))]
        if config.fastpath.on() {
            return Err(io::Error::other(
                "fastpath.mode = \"ebpf\": this sixfold was built without the `fastpath` feature",
            ));
        }
        let d = &devices.datapath;
        if offload && d.tso {
            tracing::info!(uso = d.uso, "TUN offload on");
        }
        Ok(devices)
    }

    /// The devices of `config` (a reload; its subscribers with the ids of
    /// `layout`): the uplink and every subscriber or range TUN that stays are
    /// these, those added are opened now (with their routes). Nothing here
    /// changes: on an error the new TUNs close again.
    pub fn reopened(&self, config: &Config, layout: &Layout, workers: u16) -> io::Result<Devices> {
        let offload = config.router.offload;
        let mut refused = self.datapath.offload_refused.clone();
        let mut subscribers = HashMap::default();
        for (i, id) in layout.subscribers() {
            let queue = match self.subscribers.get(&id) {
                Some(q) => Arc::clone(q),
                None => {
                    let s = &config.subscriber[i];
                    let (mut q, r) = open_tun(&s.name, s.netns.as_deref(), s.mtu, 1, offload)?;
                    refused = refused.or(r);
                    Arc::new(q.remove(0))
                }
            };
            subscribers.insert(id, queue);
        }
        let mut ranges = Vec::with_capacity(config.subscriber_range.len());
        for (ids, range) in layout.ranges().zip(&config.subscriber_range) {
            let kept = self
                .range_ids
                .iter()
                .zip(&self.range_names)
                .position(|(&have, name)| have == ids && *name == range.name);
            let queues = match kept {
                Some(k) => Arc::clone(&self.ranges[k]),
                None => {
                    let netns = range.netns.as_deref();
                    let (q, r) = open_tun(&range.name, netns, range.mtu, workers.max(1), offload)?;
                    refused = refused.or(r);
                    routes::install(&range.name, netns, range.route_table, &range.routes)?;
                    q.into()
                }
            };
            ranges.push(queues);
        }
        let w = &config.wan;
        let announces = config.subscriber_range.iter().any(|r| r.announce);
        let wan_routes = match &self.wan_routes {
            Some(s) => Some(Arc::clone(s)),
            None if announces => {
                let socket = routes::install(&w.name, w.netns.as_deref(), w.route_table, &[])?;
                Some(Arc::new(Mutex::new(socket)))
            }
            None => None,
        };
        let inside = || {
            subscribers
                .values()
                .map(|q| &**q)
                .chain(ranges.iter().flat_map(|r| r.iter()))
        };
        let udp = self.wan.iter().all(|q| q.dev.udp_gso());
        let tcp = self.wan.iter().chain(inside()).all(|q| q.offload);
        let datapath = Datapath {
            offload: tcp,
            tso: tcp,
            uso: tcp && udp && inside().all(|q| q.dev.udp_gso()),
            offload_refused: refused,
            workers: u32::from(workers.max(1)),
            ..Datapath::default()
        };
        Ok(Devices {
            #[cfg(feature = "fastpath")]
            fastpath: self.fastpath.clone(),
            wan: Arc::clone(&self.wan),
            range_ids: layout.ranges().collect(),
            range_names: config
                .subscriber_range
                .iter()
                .map(|r| r.name.clone())
                .collect(),
            subscribers,
            ranges,
            wan_routes,
            datapath,
        })
    }

    /// Devices of an uplink and subscriber TUNs opened by a test, no ranges,
    /// no routes.
    #[cfg(test)]
    pub(super) fn of_queues(wan: Vec<Queue>, subscribers: Vec<Queue>) -> Devices {
        Devices {
            wan: wan.into(),
            subscribers: (0..)
                .zip(subscribers)
                .map(|(id, q)| (id, Arc::new(q)))
                .collect(),
            ranges: Vec::new(),
            range_ids: Vec::new(),
            range_names: Vec::new(),
            wan_routes: None,
            datapath: Datapath::default(),
            #[cfg(feature = "fastpath")]
            fastpath: None,
        }
    }

    /// The queue worker `shard` writes `i` through: a range subscriber's is
    /// the worker's queue of its range's TUN; none for a subscriber a reload
    /// removed (what was still queued for it is dropped).
    pub(super) fn queue(&self, i: Interface, shard: Shard) -> Option<&Queue> {
        match i {
            Interface::Wan => Some(&self.wan[usize::from(shard.index) % self.wan.len()]),
            Interface::Subscriber(s) => match self.subscribers.get(&s) {
                Some(q) => Some(q),
                None => {
                    let r = self
                        .range_ids
                        .iter()
                        .position(|&(first, count)| s >= first && s - first < count)?;
                    Some(self.range_queue(r, shard))
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

/// Where a handed-over queue belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// The uplink's queue of worker `k`.
    Wan(u16),
    /// A `[[subscriber]]`'s TUN.
    Subscriber(SubscriberId),
    /// Range `r`'s queue of worker `k`.
    Range(u32, u16),
}

/// One queue in a handover: where it belongs and how it was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Handed {
    /// Where it belongs.
    pub role: Role,
    /// With virtio-net headers.
    pub offload: bool,
    /// UDP segmentation offload granted.
    pub udp_gso: bool,
}

impl Devices {
    /// Every queue, described, with its descriptor: what a handover sends.
    pub fn handed(&self) -> Vec<(Handed, std::os::fd::BorrowedFd<'_>)> {
        use std::os::fd::AsFd;
        fn one(role: Role, q: &Queue) -> (Handed, std::os::fd::BorrowedFd<'_>) {
            let h = Handed {
                role,
                offload: q.offload,
                udp_gso: q.dev.udp_gso(),
            };
            (h, q.dev.as_fd())
        }
        let mut all: Vec<_> = self
            .wan
            .iter()
            .enumerate()
            .map(|(k, q)| one(Role::Wan(k as u16), q))
            .collect();
        let mut subs: Vec<_> = self.subscribers.iter().collect();
        subs.sort_by_key(|(id, _)| **id);
        all.extend(
            subs.into_iter()
                .map(|(&id, q)| one(Role::Subscriber(id), q)),
        );
        for (r, queues) in self.ranges.iter().enumerate() {
            all.extend(
                queues
                    .iter()
                    .enumerate()
                    .map(|(k, q)| one(Role::Range(r as u32, k as u16), q)),
            );
        }
        all
    }

    /// The devices of `config` (its subscribers with the ids of `layout`)
    /// from queues handed over (`handed`, in order with `fds`): every device
    /// the configuration names must be there, for `workers` workers; the
    /// uplink's routes socket is opened again (its routes are in place).
    pub fn adopt(
        config: &Config,
        layout: &Layout,
        workers: u16,
        handed: &[Handed],
        fds: Vec<std::os::fd::OwnedFd>,
    ) -> io::Result<Devices> {
        if handed.len() != fds.len() {
            return Err(io::Error::other(format!(
                "{} queues described, {} descriptors received",
                handed.len(),
                fds.len()
            )));
        }
        let (wan, subscribers, ranges) = place(config, workers, handed, fds)?;
        let missing = |what: String| io::Error::other(format!("no queue handed over for {what}"));
        let wan: Vec<Queue> = wan
            .into_iter()
            .enumerate()
            .map(|(k, q)| q.ok_or_else(|| missing(format!("the uplink's worker {k}"))))
            .collect::<io::Result<_>>()?;
        for (i, id) in layout.subscribers() {
            if !subscribers.contains_key(&id) {
                return Err(missing(format!(
                    "subscriber {:?}",
                    config.subscriber[i].name
                )));
            }
        }
        let ranges: Vec<Arc<[Queue]>> = ranges
            .into_iter()
            .enumerate()
            .map(|(r, qs)| {
                qs.into_iter()
                    .collect::<Option<Vec<Queue>>>()
                    .map(Arc::from)
                    .ok_or_else(|| missing(format!("range {r}")))
            })
            .collect::<io::Result<_>>()?;
        let w = &config.wan;
        let announces = config.subscriber_range.iter().any(|r| r.announce);
        let wan_routes = if w.routes.is_empty() && !announces {
            None
        } else {
            let socket = routes::install(&w.name, w.netns.as_deref(), w.route_table, &w.routes)?;
            Some(Arc::new(Mutex::new(socket)))
        };
        let devices = Devices {
            wan: wan.into(),
            subscribers: HashMap::default(),
            ranges: Vec::new(),
            range_ids: Vec::new(),
            range_names: Vec::new(),
            wan_routes,
            datapath: Datapath::default(),
            // Refused before a handover starts ([`super::handover`]).
            #[cfg(feature = "fastpath")]
            fastpath: None,
        };
        // The same bookkeeping as a reload that keeps every device.
        let kept = Devices {
            subscribers,
            ranges,
            range_ids: layout.ranges().collect(),
            range_names: config
                .subscriber_range
                .iter()
                .map(|r| r.name.clone())
                .collect(),
            ..devices
        };
        kept.reopened(config, layout, workers)
    }
}

/// Each handed-over queue in its place: the uplink's and each range's by
/// worker, subscribers' by id (a place this configuration does not have is
/// an error).
#[allow(clippy::type_complexity)]
fn place(
    config: &Config,
    workers: u16,
    handed: &[Handed],
    fds: Vec<std::os::fd::OwnedFd>,
) -> io::Result<(
    Vec<Option<Queue>>,
    HashMap<SubscriberId, Arc<Queue>, RandomState>,
    Vec<Vec<Option<Queue>>>,
)> {
    let mut wan: Vec<Option<Queue>> = (0..workers.max(1)).map(|_| None).collect();
    let mut subscribers: HashMap<SubscriberId, Arc<Queue>, RandomState> = HashMap::default();
    let mut ranges: Vec<Vec<Option<Queue>>> = (0..config.subscriber_range.len())
        .map(|_| (0..workers.max(1)).map(|_| None).collect())
        .collect();
    for (h, fd) in handed.iter().zip(fds) {
        let q = Queue {
            dev: Dev::Adopted {
                fd,
                udp_gso: h.udp_gso,
            },
            offload: h.offload,
        };
        let slot = match h.role {
            Role::Wan(k) => wan.get_mut(usize::from(k)),
            Role::Range(r, k) => ranges
                .get_mut(r as usize)
                .and_then(|qs| qs.get_mut(usize::from(k))),
            Role::Subscriber(id) => {
                subscribers.insert(id, Arc::new(q));
                continue;
            }
        };
        match slot {
            Some(s) => *s = Some(q),
            None => {
                return Err(io::Error::other(format!(
                    "a queue for {:?}, which this configuration with {workers} workers does not have",
                    h.role
                )));
            }
        }
    }
    Ok((wan, subscribers, ranges))
}
