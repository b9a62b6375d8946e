//! The in-kernel fast path's families (issue 27): whether it is attached, the
//! sessions it holds and took, the packets and bytes it forwarded (already in
//! the traffic families), and the program's own counters by name.

use super::Kind;
use super::builder::Builder;
use crate::stats::Snapshot;

pub(super) fn fastpath(b: &mut Builder, s: &Snapshot) {
    let f = &s.fastpath;
    b.single(
        "sixfold_fastpath_attached",
        "1 if the program is attached to [fastpath] inside and outside.",
        Kind::Gauge,
        "fastpath.attached",
        u64::from(f.attached),
    );
    b.family(
        "sixfold_fastpath_hook",
        "The hook the program is attached on ([fastpath] hook: xdp or tc), while attached.",
        Kind::Info,
    );
    if let Some(hook) = &f.hook {
        b.sample(&[("hook", hook)], 1, "fastpath.hook".into());
    }
    b.single(
        "sixfold_fastpath_installed",
        "Sessions and IPv6 flows installed in the fast path now.",
        Kind::Gauge,
        "fastpath.installed",
        f.installed,
    );
    for (name, help, path, value) in [
        (
            "sixfold_fastpath_installs",
            "Sessions and IPv6 flows installed in the fast path since the start.",
            "fastpath.installs",
            f.installs,
        ),
        (
            "sixfold_fastpath_install_failed",
            "Sessions and IPv6 flows that could not be installed (a full map): they stay on the slow path.",
            "fastpath.install_failed",
            f.install_failed,
        ),
        (
            "sixfold_fastpath_packets",
            "Packets the fast path forwarded (also counted in sixfold_packets).",
            "fastpath.packets",
            f.packets,
        ),
        (
            "sixfold_fastpath_bytes",
            "IP bytes the fast path forwarded (also counted in sixfold_bytes).",
            "fastpath.bytes",
            f.bytes,
        ),
    ] {
        b.single(name, help, Kind::Counter, path, value);
    }
    b.family(
        "sixfold_fastpath_program_packets",
        "The program's counters: packets forwarded, and passed to the slow path by reason.",
        Kind::Counter,
    );
    for (counter, value) in &f.program {
        b.sample(
            &[("counter", counter)],
            *value,
            format!("fastpath.program.{counter}"),
        );
    }
}
