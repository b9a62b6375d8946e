//! The in-kernel fast path (issue 27, cargo feature `fastpath`): loads the
//! program `bpf/fastpath.bpf.c` (compiled by build.rs with clang) with aya for
//! its hook — XDP (`sixfold_fastpath`) or TC clsact ingress
//! (`sixfold_fastpath_tc`): one C implementation, the same maps — attaches it
//! to the box's inside and outside interfaces, and is the router's hand on its
//! maps: installs and removes flows, reads their per-CPU counters and
//! last-seen times, and the program's pass/forward counters.
//!
//! Why aya: it is pure Rust (no libbpf to build or link, no C toolchain beyond
//! the clang that compiles the program), reads BTF map definitions from the
//! clang-built ELF, attaches both hooks through a `bpf_link` (XDP's, and TCX's
//! on kernels from 6.6) — so the program leaves the interfaces when the
//! process dies, even by SIGKILL, like the TUNs' routes — and has a safe
//! `BPF_PROG_TEST_RUN` for the hostile-input tests. Keys and values are byte
//! arrays ([`maps`]), so this module needs no `unsafe`.

pub mod attach;
pub mod maps;
pub mod sync;

use crate::config::FastPathHook;
use aya::maps::{Array, MapData, PerCpuArray, PerCpuHashMap, PerCpuValues};
use aya::programs::tc::SchedClassifierLinkId;
use aya::programs::{SchedClassifier, TcAttachType, TestRun, TestRunOptions, Xdp, XdpMode};
use aya::programs::{TestRunResult, xdp::XdpLinkId};
use aya::{Ebpf, EbpfLoader};
use maps::{
    COUNTER_NAMES, Flow4, Flow4KeyBytes, Flow4ValueBytes, Flow6, Flow6KeyBytes, Flow6ValueBytes,
    FlowCounts, Path,
};
use std::io;

/// The program as clang built it.
static OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/fastpath.bpf.o"));
const XDP_PROGRAM: &str = "sixfold_fastpath";
const TC_PROGRAM: &str = "sixfold_fastpath_tc";

/// XDP's verdicts, as `BPF_PROG_TEST_RUN` reports them.
pub const XDP_DROP: u32 = 1;
/// The packet goes on to the kernel unchanged.
pub const XDP_PASS: u32 = 2;
/// The packet was rewritten and leaves by another interface.
pub const XDP_REDIRECT: u32 = 4;
/// TC's verdicts: the packet goes on to the kernel unchanged.
pub const TC_ACT_OK: u32 = 0;
/// TC: rewritten, it leaves by another interface's egress.
pub const TC_ACT_REDIRECT: u32 = 7;

/// What a hook's program answers for a packet passed on unchanged and for one
/// it forwarded.
pub fn verdicts(hook: FastPathHook) -> (u32, u32) {
    match hook {
        FastPathHook::Xdp => (XDP_PASS, XDP_REDIRECT),
        FastPathHook::Tc => (TC_ACT_OK, TC_ACT_REDIRECT),
    }
}

/// Where the program is attached: one link per interface.
enum LinkId {
    Xdp(XdpLinkId),
    Tc(SchedClassifierLinkId),
}

/// How a TC test run presents a packet: as a GSO super-packet of `segs`
/// segments of `size` payload bytes (0, 0: a plain packet).
#[derive(Clone, Copy, Debug, Default)]
pub struct Gso {
    /// `skb_shinfo(skb)->gso_size`.
    pub size: u32,
    /// `skb_shinfo(skb)->gso_segs`.
    pub segs: u32,
}

fn err(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("fast path: {what}: {e}"))
}

/// The loaded program and its maps.
pub struct FastPath {
    ebpf: Ebpf,
    hook: FastPathHook,
    links: Vec<LinkId>,
    cpus: usize,
}

impl FastPath {
    /// Loads the program for `hook` into the kernel (the verifier checks it
    /// here) with room for `max_flows` flows per family. Needs CAP_BPF and
    /// CAP_NET_ADMIN.
    pub fn load(max_flows: u32, hook: FastPathHook) -> io::Result<FastPath> {
        let mut ebpf = EbpfLoader::new()
            .map_max_entries("flows4", max_flows)
            .map_max_entries("flows6", max_flows)
            .load(OBJECT)
            .map_err(|e| err("loading the fast path's object", e))?;
        let refused = |e| err("the kernel refused the program", verifier_detail(e));
        match hook {
            FastPathHook::Xdp => xdp_mut(&mut ebpf)?.load().map_err(refused)?,
            FastPathHook::Tc => tc_mut(&mut ebpf)?.load().map_err(refused)?,
        }
        let cpus = aya::util::nr_cpus().map_err(|(what, e)| err(what, e))?;
        Ok(FastPath {
            ebpf,
            hook,
            links: Vec::new(),
            cpus,
        })
    }

    /// Attaches the program to `inside` and `outside` (names in the calling
    /// thread's network namespace) — XDP in native mode, TC on the clsact
    /// ingress through a TCX link — and lets it redirect to them, and only
    /// them.
    pub fn attach(&mut self, inside: &str, outside: &str) -> io::Result<()> {
        let mut ifindexes = [0; 2];
        for (slot, name) in [inside, outside].into_iter().enumerate() {
            let link = match self.hook {
                FastPathHook::Xdp => xdp_mut(&mut self.ebpf)?
                    .attach(name, XdpMode::Driver)
                    .map(LinkId::Xdp)
                    .map_err(|e| err(&format!("attaching XDP to {name}"), e)),
                FastPathHook::Tc => attach_tc(&mut self.ebpf, name)
                    .map(LinkId::Tc)
                    .map_err(|e| err(&format!("attaching TC (ingress) to {name}"), e)),
            };
            self.links.push(link?);
            ifindexes[slot] = nix::net::if_::if_nametoindex(name)
                .map_err(|e| err(&format!("interface {name}"), e))?;
        }
        self.set_egress(ifindexes)
    }

    /// The interfaces the program may redirect to (0: none).
    pub fn set_egress(&mut self, ifindexes: [u32; 2]) -> io::Result<()> {
        let mut egress: Array<&mut MapData, u32> = map(&mut self.ebpf, "egress")?;
        for (slot, ifindex) in ifindexes.into_iter().enumerate() {
            egress
                .set(slot as u32, ifindex, 0)
                .map_err(|e| err("writing the egress map", e))?;
        }
        Ok(())
    }

    /// Detaches the program from every interface it was attached to: from
    /// here on every packet takes the slow path. The maps stay.
    pub fn detach(&mut self) -> io::Result<()> {
        for link in std::mem::take(&mut self.links) {
            match link {
                LinkId::Xdp(id) => xdp_mut(&mut self.ebpf)?.detach(id),
                LinkId::Tc(id) => tc_mut(&mut self.ebpf)?.detach(id),
            }
            .map_err(|e| err("detaching the program", e))?;
        }
        Ok(())
    }

    /// The hook the program is loaded for.
    pub fn hook(&self) -> FastPathHook {
        self.hook
    }

    /// Whether the program is attached.
    pub fn attached(&self) -> bool {
        !self.links.is_empty()
    }

    /// Installs IPv4 flow `from`: its packets become `to` and take `path`.
    /// Counters start at zero (an existing entry's are replaced).
    pub fn install4(&mut self, from: &Flow4, to: &Flow4, path: Path) -> io::Result<()> {
        let value = Flow4::value(to, path);
        let mut flows: PerCpuHashMap<&mut MapData, Flow4KeyBytes, Flow4ValueBytes> =
            map(&mut self.ebpf, "flows4")?;
        let values =
            PerCpuValues::try_from(vec![value; self.cpus]).map_err(|e| err("per-CPU values", e))?;
        flows
            .insert(from.key(), values, 0)
            .map_err(|e| err(&format!("installing {from:?}"), e))
    }

    /// Installs IPv6 flow `flow` on `path`.
    pub fn install6(&mut self, flow: &Flow6, path: Path) -> io::Result<()> {
        let value = Flow6::value(path);
        let mut flows: PerCpuHashMap<&mut MapData, Flow6KeyBytes, Flow6ValueBytes> =
            map(&mut self.ebpf, "flows6")?;
        let values =
            PerCpuValues::try_from(vec![value; self.cpus]).map_err(|e| err("per-CPU values", e))?;
        flows
            .insert(flow.key(), values, 0)
            .map_err(|e| err(&format!("installing {flow:?}"), e))
    }

    /// Removes IPv4 flow `from`, returning its last counts (`None`: it was
    /// not installed).
    pub fn remove4(&mut self, from: &Flow4) -> io::Result<Option<FlowCounts>> {
        let counts = self.counts4(from)?;
        if counts.is_some() {
            let mut flows: PerCpuHashMap<&mut MapData, Flow4KeyBytes, Flow4ValueBytes> =
                map(&mut self.ebpf, "flows4")?;
            flows
                .remove(&from.key())
                .map_err(|e| err(&format!("removing {from:?}"), e))?;
        }
        Ok(counts)
    }

    /// Removes IPv6 flow `flow`, returning its last counts.
    pub fn remove6(&mut self, flow: &Flow6) -> io::Result<Option<FlowCounts>> {
        let counts = self.counts6(flow)?;
        if counts.is_some() {
            let mut flows: PerCpuHashMap<&mut MapData, Flow6KeyBytes, Flow6ValueBytes> =
                map(&mut self.ebpf, "flows6")?;
            flows
                .remove(&flow.key())
                .map_err(|e| err(&format!("removing {flow:?}"), e))?;
        }
        Ok(counts)
    }

    /// IPv4 flow `from`'s counts over all CPUs (`None`: not installed).
    pub fn counts4(&mut self, from: &Flow4) -> io::Result<Option<FlowCounts>> {
        let flows: PerCpuHashMap<&mut MapData, Flow4KeyBytes, Flow4ValueBytes> =
            map(&mut self.ebpf, "flows4")?;
        match flows.get(&from.key(), 0) {
            Ok(values) => Ok(Some(FlowCounts::sum(values.iter().map(Flow4::counts)))),
            Err(aya::maps::MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(err(&format!("reading {from:?}"), e)),
        }
    }

    /// IPv6 flow `flow`'s counts over all CPUs (`None`: not installed).
    pub fn counts6(&mut self, flow: &Flow6) -> io::Result<Option<FlowCounts>> {
        let flows: PerCpuHashMap<&mut MapData, Flow6KeyBytes, Flow6ValueBytes> =
            map(&mut self.ebpf, "flows6")?;
        match flows.get(&flow.key(), 0) {
            Ok(values) => Ok(Some(FlowCounts::sum(values.iter().map(Flow6::counts)))),
            Err(aya::maps::MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(err(&format!("reading {flow:?}"), e)),
        }
    }

    /// The program's counters summed over CPUs, named as [`COUNTER_NAMES`].
    pub fn counters(&mut self) -> io::Result<Vec<(&'static str, u64)>> {
        let counters: PerCpuArray<&mut MapData, u64> = map(&mut self.ebpf, "counters")?;
        COUNTER_NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let values = counters
                    .get(&(i as u32), 0)
                    .map_err(|e| err("reading the counters", e))?;
                Ok((*name, values.iter().sum()))
            })
            .collect()
    }

    /// Runs the program once on `frame` (an Ethernet frame) as if it came in
    /// on `ingress_ifindex` (0: the loopback device), without attaching it
    /// (`BPF_PROG_TEST_RUN`): the verdict and the frame as the program left it.
    pub fn test_run(&self, frame: &[u8], ingress_ifindex: u32) -> io::Result<(u32, Vec<u8>)> {
        self.test_run_gso(frame, ingress_ifindex, Gso::default())
    }

    /// [`FastPath::test_run`] with the skb marked as a GSO super-packet (TC
    /// only: an XDP frame is never one).
    pub fn test_run_gso(
        &self,
        frame: &[u8],
        ingress_ifindex: u32,
        gso: Gso,
    ) -> io::Result<(u32, Vec<u8>)> {
        let len = u32::to_ne_bytes(u32::try_from(frame.len()).map_err(|e| err("frame length", e))?);
        let ifindex = ingress_ifindex.to_ne_bytes();
        // XDP: struct xdp_md { data, data_end, data_meta, ingress_ifindex,
        // rx_queue_index, egress_ifindex }; the kernel takes data_end as the
        // length of the linear part: all of the frame. TC: struct __sk_buff
        // (192 bytes); the kernel takes ifindex (the device, 0: loopback),
        // ingress_ifindex, gso_segs and gso_size from it and wants every
        // other field zero.
        let mut ctx = vec![
            0u8;
            if self.hook == FastPathHook::Xdp {
                24
            } else {
                192
            }
        ];
        let plain = ingress_ifindex == 0 && gso.size == 0;
        if self.hook == FastPathHook::Xdp {
            ctx[4..8].copy_from_slice(&len);
            ctx[12..16].copy_from_slice(&ifindex);
        } else {
            ctx[36..40].copy_from_slice(&ifindex);
            ctx[40..44].copy_from_slice(&ifindex);
            ctx[164..168].copy_from_slice(&gso.segs.to_ne_bytes());
            ctx[176..180].copy_from_slice(&gso.size.to_ne_bytes());
        }
        let mut out = vec![0u8; frame.len() + 256];
        let opts = TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            ctx_in: (!plain).then_some(&ctx[..]),
            ..TestRunOptions::new()
        };
        let result: TestRunResult = match self.hook {
            FastPathHook::Xdp => xdp_ref(&self.ebpf)?.test_run(opts),
            FastPathHook::Tc => tc_ref(&self.ebpf)?.test_run(opts),
        }
        .map_err(|e| err("BPF_PROG_TEST_RUN", e))?;
        out.truncate(result.data_size_out as usize);
        Ok((result.return_value, out))
    }
}

/// Attaches the TC program to `name`'s clsact ingress: a TCX link from
/// Linux 6.6, which leaves with the process as XDP's does. Before 6.6 aya
/// attaches through netlink, to a clsact qdisc that must exist (one already
/// there is fine); such a filter is removed on drop but stays when the
/// process is killed.
fn attach_tc(
    ebpf: &mut Ebpf,
    name: &str,
) -> Result<SchedClassifierLinkId, aya::programs::ProgramError> {
    let before_tcx = aya::util::KernelVersion::current()
        .is_ok_and(|v| v < aya::util::KernelVersion::new(6, 6, 0));
    if before_tcx {
        let _ = aya::programs::tc::qdisc_add_clsact(name);
    }
    let tc = ebpf
        .program_mut(TC_PROGRAM)
        .ok_or(aya::programs::ProgramError::NotLoaded)?;
    let tc: &mut SchedClassifier = tc.try_into()?;
    tc.attach(name, TcAttachType::Ingress)
}

fn xdp_mut(ebpf: &mut Ebpf) -> io::Result<&mut Xdp> {
    program_mut(ebpf, XDP_PROGRAM)
}

fn tc_mut(ebpf: &mut Ebpf) -> io::Result<&mut SchedClassifier> {
    program_mut(ebpf, TC_PROGRAM)
}

fn xdp_ref(ebpf: &Ebpf) -> io::Result<&Xdp> {
    program_ref(ebpf, XDP_PROGRAM)
}

fn tc_ref(ebpf: &Ebpf) -> io::Result<&SchedClassifier> {
    program_ref(ebpf, TC_PROGRAM)
}

fn program_mut<'a, P>(ebpf: &'a mut Ebpf, name: &str) -> io::Result<&'a mut P>
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let p = ebpf
        .program_mut(name)
        .ok_or_else(|| err("the object", format!("no program {name}")))?;
    p.try_into().map_err(|e| err("the program", e))
}

fn program_ref<'a, P>(ebpf: &'a Ebpf, name: &str) -> io::Result<&'a P>
where
    &'a P: TryFrom<&'a aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let p = ebpf
        .program(name)
        .ok_or_else(|| err("the object", format!("no program {name}")))?;
    p.try_into().map_err(|e| err("the program", e))
}

fn map<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> io::Result<T>
where
    T: TryFrom<&'a mut aya::maps::Map, Error = aya::maps::MapError>,
{
    let m = ebpf
        .map_mut(name)
        .ok_or_else(|| err("the object", format!("no map {name}")))?;
    T::try_from(m).map_err(|e| err(&format!("map {name}"), e))
}

/// The verifier's log, when that is why the program was refused.
fn verifier_detail(e: aya::programs::ProgramError) -> String {
    match e {
        aya::programs::ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            format!("{io_error}; verifier log:\n{verifier_log}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
