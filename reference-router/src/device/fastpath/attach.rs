//! The fast path of one router process: the loaded program, where it is
//! attached, and the interfaces a flow's [`Path`] names — the box's two
//! interfaces (`[fastpath] inside` / `outside`) and the TUNs the slow path
//! writes to (the WAN's for outbound flows, the subscriber's range's for
//! inbound ones), from which `bpf_fib_lookup` starts so that the box's own
//! policy rules and tables route the packet exactly as they route the slow
//! path's.

use super::FastPath;
use super::maps::{FlowCounts, Path};
use crate::config::{Config, FastPathHook};
use crate::device::in_netns;
use crate::fastpath::{Nat44, Routed6};
use std::io;
use std::sync::{Arc, Mutex};

/// The fast path, shared by the workers (map updates) and the supervisor
/// (attach and detach on reload).
pub type Shared = Arc<Mutex<Attached>>;

/// The program and the interfaces it works with.
pub struct Attached {
    fp: FastPath,
    inside: String,
    outside: String,
    netns: Option<String>,
    inside_ifindex: u32,
    outside_ifindex: u32,
    wan_tun: u32,
    range_tuns: Vec<u32>,
}

fn ifindex(netns: Option<&str>, name: &str) -> io::Result<u32> {
    let lookup = || {
        nix::net::if_::if_nametoindex(name)
            .map_err(|e| io::Error::other(format!("fast path: interface {name:?}: {e}")))
    };
    match netns {
        Some(ns) => in_netns(ns, lookup),
        None => lookup(),
    }
}

/// Loads the program for `config` when `[fastpath]` names its interfaces,
/// and attaches it when `mode = "ebpf"`; `None` when it names none.
pub fn open(config: &Config) -> io::Result<Option<Shared>> {
    let f = &config.fastpath;
    let (Some(inside), Some(outside)) = (&f.inside, &f.outside) else {
        return Ok(None);
    };
    let netns = f.netns.as_deref();
    let mut attached = Attached {
        fp: FastPath::load(f.max_flows, f.hook)?,
        inside: inside.clone(),
        outside: outside.clone(),
        netns: f.netns.clone(),
        inside_ifindex: ifindex(netns, inside)?,
        outside_ifindex: ifindex(netns, outside)?,
        wan_tun: 0,
        range_tuns: Vec::new(),
    };
    attached.tuns(config)?;
    attached.set_on(f.on())?;
    Ok(Some(Arc::new(Mutex::new(attached))))
}

impl Attached {
    /// Looks the TUNs of `config` up again (a reload may add ranges).
    pub fn tuns(&mut self, config: &Config) -> io::Result<()> {
        self.wan_tun = ifindex(config.wan.netns.as_deref(), &config.wan.name)?;
        self.range_tuns = config
            .subscriber_range
            .iter()
            .map(|r| ifindex(r.netns.as_deref(), &r.name))
            .collect::<io::Result<_>>()?;
        Ok(())
    }

    /// Attaches (`on`) or detaches the program; nothing if it already is so.
    pub fn set_on(&mut self, on: bool) -> io::Result<()> {
        match (on, self.fp.attached()) {
            (true, false) => {
                let (inside, outside) = (self.inside.clone(), self.outside.clone());
                let fp = &mut self.fp;
                match self.netns.as_deref() {
                    Some(ns) => in_netns(ns, || fp.attach(&inside, &outside)),
                    None => fp.attach(&inside, &outside),
                }
            }
            (false, true) => self.fp.detach(),
            _ => Ok(()),
        }
    }

    /// Whether the program is attached.
    pub fn is_on(&self) -> bool {
        self.fp.attached()
    }

    /// The hook the program is loaded for.
    pub fn hook(&self) -> FastPathHook {
        self.fp.hook()
    }

    /// The paths of a range's flows: outbound (in at `inside`, routed as
    /// from the WAN TUN) and inbound (in at `outside`, routed as from the
    /// range's TUN).
    fn paths(&self, range: usize) -> io::Result<(Path, Path)> {
        let range_tun = *self
            .range_tuns
            .get(range)
            .ok_or_else(|| io::Error::other(format!("fast path: no TUN for range {range}")))?;
        let outbound = Path {
            in_ifindex: self.inside_ifindex,
            fib_ifindex: self.wan_tun,
        };
        let inbound = Path {
            in_ifindex: self.outside_ifindex,
            fib_ifindex: range_tun,
        };
        Ok((outbound, inbound))
    }

    /// Installs both directions of `nat`.
    pub fn install(&mut self, nat: &Nat44) -> io::Result<()> {
        let (out_path, in_path) = self.paths(nat.range)?;
        self.fp
            .install4(&nat.outbound.0, &nat.outbound.1, out_path)?;
        if let Err(e) = self.fp.install4(&nat.inbound.0, &nat.inbound.1, in_path) {
            let _ = self.fp.remove4(&nat.outbound.0);
            return Err(e);
        }
        Ok(())
    }

    /// Removes both directions of `nat`: their last counts.
    pub fn remove(&mut self, nat: &Nat44) -> io::Result<(FlowCounts, FlowCounts)> {
        let out = self.fp.remove4(&nat.outbound.0)?.unwrap_or_default();
        let inb = self.fp.remove4(&nat.inbound.0)?.unwrap_or_default();
        Ok((out, inb))
    }

    /// Both directions' counts now.
    pub fn counts(&mut self, nat: &Nat44) -> io::Result<(FlowCounts, FlowCounts)> {
        let out = self.fp.counts4(&nat.outbound.0)?.unwrap_or_default();
        let inb = self.fp.counts4(&nat.inbound.0)?.unwrap_or_default();
        Ok((out, inb))
    }

    /// Installs both directions of IPv6 flow `flow`.
    pub fn install6(&mut self, flow: &Routed6) -> io::Result<()> {
        let (out_path, in_path) = self.paths(flow.range)?;
        self.fp.install6(&flow.outbound, out_path)?;
        if let Err(e) = self.fp.install6(&flow.inbound, in_path) {
            let _ = self.fp.remove6(&flow.outbound);
            return Err(e);
        }
        Ok(())
    }

    /// Removes both directions of `flow`: their last counts.
    pub fn remove6(&mut self, flow: &Routed6) -> io::Result<(FlowCounts, FlowCounts)> {
        let out = self.fp.remove6(&flow.outbound)?.unwrap_or_default();
        let inb = self.fp.remove6(&flow.inbound)?.unwrap_or_default();
        Ok((out, inb))
    }

    /// Both directions' counts now.
    pub fn counts6(&mut self, flow: &Routed6) -> io::Result<(FlowCounts, FlowCounts)> {
        let out = self.fp.counts6(&flow.outbound)?.unwrap_or_default();
        let inb = self.fp.counts6(&flow.inbound)?.unwrap_or_default();
        Ok((out, inb))
    }

    /// The program's counters.
    pub fn counters(&mut self) -> io::Result<Vec<(&'static str, u64)>> {
        self.fp.counters()
    }
}
