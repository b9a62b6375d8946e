//! The router's state as bytes, for a handover to a new process (`sixfold
//! upgrade`): versioned, checked, and refused whole when it is not what this
//! binary reads.
//!
//! A state document is a header and sections:
//!
//! ```text
//! offset  size  field
//!      0    16  magic: "sixfold state\r\n\0" (a text file, a truncated copy or a
//!               pcap is told apart at once)
//!     16     4  format version, big endian ([`VERSION`])
//!     20     4  number of sections that follow, big endian
//!     24     …  each section: its length (8 bytes, big endian), then its bytes
//! ```
//!
//! Section 0 is the [`Common`] part (postcard): the epoch, the process's
//! history, the IPFIX exporter's sequence number and template clock, the
//! shapers' state; then one section per worker, [`crate::Router::save_state`]'s
//! bytes (each worker writes its own, in parallel, while its loop waits). A
//! worker's section holds its NAT sessions and mappings, port blocks and
//! deterministic state, port bitmaps and quarantine, the IPv6 firewall's flows,
//! NAT64 aliases and the IPv6 fragment identification map, flow accounting,
//! ICMP rate limits, counters, the IPFIX records not yet handed over.
//!
//! Not handed over: the shared IPv4 fragment table (datagrams in pieces at
//! that moment are dropped; [`Common::fragment_flows_dropped`] counts them),
//! and what comes from the configuration: the new process runs the same file,
//! and the parts built from it are its own.
//!
//! Decoding never panics: a short, long or foreign document is an error that
//! says where it went wrong ([`StateError`]). Any change to a serialised type
//! changes [`VERSION`].

pub(crate) mod with;

use serde::{Deserialize, Serialize};
use std::fmt;

/// The first 16 bytes of every state document.
pub const MAGIC: [u8; 16] = *b"sixfold state\r\n\0";
/// The format this binary writes and reads. A document of another version is
/// refused: the old router keeps running.
pub const VERSION: u32 = 1;
/// Bytes before the first section.
pub const HEADER_LEN: usize = 24;

/// Why a state document was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// Fewer bytes than the header or a section says.
    Truncated {
        /// What was being read.
        what: String,
        /// Bytes needed.
        need: usize,
        /// Bytes there.
        got: usize,
    },
    /// Not a sixfold state (the first 16 bytes).
    BadMagic,
    /// Another format version.
    Version {
        /// The document's.
        found: u32,
        /// This binary's.
        supported: u32,
    },
    /// Bytes after the last section.
    Trailing(usize),
    /// A section does not decode.
    Section {
        /// Which section (0: common, 1 + k: worker k).
        index: usize,
        /// What postcard said.
        why: String,
    },
    /// The document does not fit this router (workers, shard).
    Mismatch(String),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Truncated { what, need, got } => {
                write!(f, "state truncated: {what} needs {need} bytes, {got} there")
            }
            StateError::BadMagic => f.write_str("not a sixfold state (wrong magic)"),
            StateError::Version { found, supported } => write!(
                f,
                "state format version {found}, this binary reads version {supported} only"
            ),
            StateError::Trailing(n) => write!(f, "state has {n} bytes after its last section"),
            StateError::Section { index, why } => write!(f, "state section {index}: {why}"),
            StateError::Mismatch(why) => write!(f, "state does not fit: {why}"),
        }
    }
}

impl std::error::Error for StateError {}

/// What the process had before it handed over: the part of the state that is
/// not a worker's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Common {
    /// The routers' epoch as `CLOCK_MONOTONIC` nanoseconds (the clock
    /// `Instant` reads on Linux, the same in every process of the machine):
    /// the new process counts time from the same instant.
    pub epoch_monotonic_ns: u64,
    /// When the state was first created (UNIX milliseconds): the first
    /// process's start.
    pub state_since_unix_ms: u64,
    /// Handovers before this one.
    pub upgrades: u64,
    /// The IPFIX exporter, if exporting.
    pub export: Option<ExportState>,
    /// Datagrams in pieces in the IPv4 fragment table, dropped.
    pub fragment_flows_dropped: u64,
    /// The shared egress shapers' state ([`crate::Router::save_shapers`]).
    pub shapers: Vec<u8>,
}

/// The IPFIX exporter's state: the encoder (observation domain, sequence
/// number, epoch) and how long ago it last sent the templates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportState {
    /// The encoder, with the next message's sequence number.
    pub encoder: crate::ipfix::encode::Encoder,
    /// Milliseconds since the templates were last sent.
    pub templates_age_ms: u64,
}

/// A decoded document: the common part and each worker's bytes (for
/// [`crate::Router::restore_state`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The common part.
    pub common: Common,
    /// Each worker's section, in worker order.
    pub workers: Vec<Vec<u8>>,
}

/// Writes `value` as postcard bytes (no failure for the state's types: every
/// one is a plain struct, enum, sequence or map).
pub(crate) fn to_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).unwrap_or_default()
}

/// Reads postcard bytes as a `T`, all of them.
pub(crate) fn from_bytes<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    index: usize,
) -> Result<T, StateError> {
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(|e| StateError::Section {
        index,
        why: e.to_string(),
    })?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(StateError::Section {
            index,
            why: format!("{} bytes left over", rest.len()),
        })
    }
}

impl Document {
    /// The document's bytes: header, common section, workers' sections.
    pub fn encode(&self) -> Vec<u8> {
        let common = to_bytes(&self.common);
        let sections: Vec<&[u8]> = std::iter::once(&common[..])
            .chain(self.workers.iter().map(|w| &w[..]))
            .collect();
        let len = HEADER_LEN + sections.iter().map(|s| 8 + s.len()).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&(sections.len() as u32).to_be_bytes());
        for s in sections {
            out.extend_from_slice(&(s.len() as u64).to_be_bytes());
            out.extend_from_slice(s);
        }
        out
    }

    /// Reads a document: the magic, this binary's version, every section
    /// whole, nothing after the last.
    pub fn decode(bytes: &[u8]) -> Result<Document, StateError> {
        let truncated = |what: &str, need: usize, got: usize| StateError::Truncated {
            what: what.into(),
            need,
            got,
        };
        if bytes.len() < MAGIC.len() {
            return Err(truncated("the magic", MAGIC.len(), bytes.len()));
        }
        if bytes[..16] != MAGIC {
            return Err(StateError::BadMagic);
        }
        if bytes.len() < HEADER_LEN {
            return Err(truncated("the header", HEADER_LEN, bytes.len()));
        }
        let word = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let version = word(16);
        if version != VERSION {
            return Err(StateError::Version {
                found: version,
                supported: VERSION,
            });
        }
        let count = word(20) as usize;
        let mut at = HEADER_LEN;
        let mut sections = Vec::new();
        for k in 0..count {
            let rest = &bytes[at..];
            let Some(len) = rest.get(..8) else {
                return Err(truncated(&format!("section {k}'s length"), 8, rest.len()));
            };
            let len = u64::from_be_bytes(len.try_into().unwrap_or_default());
            let body = &rest[8..];
            let len = usize::try_from(len)
                .ok()
                .filter(|&n| n <= body.len())
                .ok_or_else(|| truncated(&format!("section {k}"), len as usize, body.len()))?;
            sections.push(&body[..len]);
            at += 8 + len;
        }
        if at != bytes.len() {
            return Err(StateError::Trailing(bytes.len() - at));
        }
        let Some((first, workers)) = sections.split_first() else {
            return Err(truncated("the common section", 1, 0));
        };
        Ok(Document {
            common: from_bytes(first, 0)?,
            workers: workers.iter().map(|w| w.to_vec()).collect(),
        })
    }
}
