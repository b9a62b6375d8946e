//! What `sixfold rewrite` did, told on standard error (standard output may be the
//! capture itself): counts by outcome, and packets it could not parse grouped by
//! the kind of problem, each with one example.

use sixfold_rewrite::Error;
use std::collections::BTreeMap;
use std::fmt;

/// A kind of problem, without the numbers that make each message unique.
fn kind(e: &Error) -> String {
    match e {
        Error::Truncated { layer, .. } => format!("truncated {} header", layer.name()),
        Error::BadVersion(_) => "not IPv4 or IPv6".into(),
        Error::BadHeaderLen(_) => "bad IPv4 header length".into(),
        Error::BadTotalLen { .. } => "bad IPv4 total length".into(),
        Error::BadTcpHeaderLen(_) => "bad TCP data offset".into(),
        Error::BadUdpLen(_) => "bad UDP length".into(),
        Error::ExtensionChainTooLong { .. } => "IPv6 extension chain too long".into(),
        Error::FamilyMismatch => "address family mismatch".into(),
        other => other.to_string(),
    }
}

/// The counts of one run.
#[derive(Default)]
pub(super) struct Summary {
    pub(super) packets: u64,
    pub(super) rewritten: u64,
    pub(super) unchanged: u64,
    pub(super) fragments: u64,
    pub(super) partial: u64,
    pub(super) bad: u64,
    /// Frames the snapshot length cut short, and of those, how many had their
    /// transport checksum outside what was captured.
    pub(super) truncated: u64,
    pub(super) truncated_l4_missing: u64,
    pub(super) fixcsum: bool,
    /// Copied unparsed: per kind, the count and the first frame's message.
    copied: BTreeMap<String, (u64, String)>,
}

impl Summary {
    /// Frame `frame` (1-based) was copied as it was because of `why`.
    pub(super) fn copied(&mut self, frame: u64, why: &Error) {
        let e = self
            .copied
            .entry(kind(why))
            .or_insert_with(|| (0, format!("frame {frame}: {why}")));
        e.0 += 1;
    }

    /// Frame `frame` was copied: not IPv4/IPv6 on its link type.
    pub(super) fn not_ip(&mut self, frame: u64, linktype: u32) {
        let e = self
            .copied
            .entry(format!("not IPv4/IPv6 on LINKTYPE {linktype}"))
            .or_insert_with(|| (0, format!("frame {frame}")));
        e.0 += 1;
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let copied: u64 = self.copied.values().map(|(n, _)| n).sum();
        write!(
            f,
            "{} packets: {} rewritten, {} unchanged, {} copied unparsed",
            self.packets, self.rewritten, self.unchanged, copied
        )?;
        for (kind, (n, example)) in &self.copied {
            write!(f, "\n  copied: {n} {kind} (first: {example})")?;
        }
        if self.fragments > 0 {
            write!(
                f,
                "\n  {} non-first fragments (IP header only)",
                self.fragments
            )?;
        }
        if self.truncated > 0 {
            write!(
                f,
                "\n  {} cut short by the capture's snapshot length: rewritten in what was captured \
                 (IP header checksums exact; transport checksums updated incrementally, exact, \
                 where captured; {} without their transport checksum, left as captured{})",
                self.truncated,
                self.truncated_l4_missing,
                if self.fixcsum {
                    "; --fixcsum cannot recompute what was not captured"
                } else {
                    ""
                }
            )?;
        }
        if self.partial > 0 {
            write!(
                f,
                "\n  {} had offload partial checksums (updated as partial sums{})",
                self.partial,
                if self.fixcsum {
                    ", then recomputed"
                } else {
                    "; --fixcsum recomputes"
                }
            )?;
        }
        if self.bad > 0 {
            write!(
                f,
                "\n  {} had bad L4 checksums on input ({})",
                self.bad,
                if self.fixcsum {
                    "recomputed"
                } else {
                    "kept as wrong as they were; --fixcsum recomputes"
                }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sixfold_rewrite::Layer;

    #[test]
    fn problems_are_grouped_by_kind_with_one_example() {
        let mut s = Summary::default();
        for n in 0..3000u64 {
            let got = (n % 19) as usize;
            s.copied(
                n + 1,
                &Error::Truncated {
                    layer: Layer::Tcp,
                    need: 20,
                    got,
                },
            );
        }
        s.copied(3001, &Error::BadVersion(5));
        s.packets = 3001;
        assert_eq!(
            s.to_string(),
            "3001 packets: 0 rewritten, 0 unchanged, 3001 copied unparsed\n  \
             copied: 1 not IPv4 or IPv6 (first: frame 3001: bad IP version 5)\n  \
             copied: 3000 truncated tcp header (first: frame 1: truncated tcp header: need 20 bytes, got 0)"
        );
    }
}
