//! What the in-kernel fast path carried (issue 27), as the snapshot shows it.

use serde::{Deserialize, Serialize};

/// The in-kernel fast path (issue 27): what it carried, as the router took
/// it back, and the program's own counters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FastPathUse {
    /// The program is attached to `[fastpath] inside` and `outside`.
    pub attached: bool,
    /// The hook the program is attached on, `"xdp"` or `"tc"` (`[fastpath]
    /// hook`); none while it is not attached.
    pub hook: Option<String>,
    /// NAT44 sessions installed now.
    pub installed: u64,
    /// Sessions installed since the start.
    pub installs: u64,
    /// Sessions that could not be installed (a full map): they stay on the
    /// slow path.
    pub install_failed: u64,
    /// Packets and IP bytes the program forwarded for installed sessions
    /// (already counted in `ipv4` and the subscribers' traffic).
    pub packets: u64,
    /// See `packets`.
    pub bytes: u64,
    /// The program's counters: `forwarded_ipv4`, and every `pass_*` reason a
    /// packet went on to the slow path for.
    pub program: std::collections::BTreeMap<String, u64>,
}

impl FastPathUse {
    pub(super) fn merge(&mut self, other: &FastPathUse) {
        self.attached |= other.attached;
        if self.hook.is_none() {
            self.hook.clone_from(&other.hook);
        }
        self.installed += other.installed;
        self.installs += other.installs;
        self.install_failed += other.install_failed;
        self.packets += other.packets;
        self.bytes += other.bytes;
        for (name, n) in &other.program {
            *self.program.entry(name.clone()).or_default() += n;
        }
    }
}
