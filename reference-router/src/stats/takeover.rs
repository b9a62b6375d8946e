//! What a takeover backup (`[takeover]`) was fed and what it adopted.

use serde::{Deserialize, Serialize};

/// The feed of the predecessor's mappings (IPFIX natEvent 8/9) and the
/// sessions created on them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TakeoverUse {
    /// Fed mappings kept now (never used until adopted).
    pub fed: u64,
    /// IPFIX messages read from the configured predecessor.
    pub feed_messages: u64,
    /// Datagrams from any other source address: ignored.
    pub feed_foreign: u64,
    /// Datagrams from the predecessor that are no IPFIX message, and sets
    /// that could not be read (their messages' other sets are kept).
    pub feed_unreadable: u64,
    /// BIB creates (natEvent 8) kept.
    pub feed_created: u64,
    /// BIB deletes (natEvent 9) that ended a fed mapping.
    pub feed_deleted: u64,
    /// Records refused: another event, a protocol without ports, an inside
    /// address or a public endpoint outside the predecessor's ranges, a BIB
    /// delete of nothing fed.
    pub feed_refused: u64,
    /// BIB creates refused because the fed mappings are at their limit.
    pub feed_overflow: u64,
    /// Fed mappings that ended by their timer, unadopted.
    pub feed_expired: u64,
    /// Sessions created on a fed mapping (the first packet of an
    /// established flow, either way).
    pub adopted: u64,
    /// TCP segments without SYN from a subscriber with neither a session nor
    /// a fed mapping: a flow the feed did not carry (it breaks).
    pub unfed: u64,
    /// Datagrams the listener could not hand to a worker (its queue full):
    /// counted by the listener, not the workers.
    #[serde(default)]
    pub feed_dropped: u64,
}

impl TakeoverUse {
    pub(crate) fn merge(&mut self, o: &TakeoverUse) {
        self.fed += o.fed;
        self.feed_messages += o.feed_messages;
        self.feed_foreign += o.feed_foreign;
        self.feed_unreadable += o.feed_unreadable;
        self.feed_created += o.feed_created;
        self.feed_deleted += o.feed_deleted;
        self.feed_refused += o.feed_refused;
        self.feed_overflow += o.feed_overflow;
        self.feed_expired += o.feed_expired;
        self.adopted += o.adopted;
        self.unfed += o.unfed;
        self.feed_dropped += o.feed_dropped;
    }

    /// Every counter: its field, its metric's name, help, and value.
    pub fn fields(&self) -> [(&'static str, &'static str, &'static str, u64); 12] {
        [
            (
                "fed",
                "sixfold_takeover_fed",
                "Fed mappings kept now.",
                self.fed,
            ),
            (
                "feed_messages",
                "sixfold_takeover_feed_messages",
                "IPFIX messages read from the predecessor.",
                self.feed_messages,
            ),
            (
                "feed_foreign",
                "sixfold_takeover_feed_foreign",
                "Datagrams to the takeover listener from any other source: ignored.",
                self.feed_foreign,
            ),
            (
                "feed_unreadable",
                "sixfold_takeover_feed_unreadable",
                "Feed datagrams or sets that could not be read.",
                self.feed_unreadable,
            ),
            (
                "feed_created",
                "sixfold_takeover_feed_created",
                "BIB creates (natEvent 8) kept.",
                self.feed_created,
            ),
            (
                "feed_deleted",
                "sixfold_takeover_feed_deleted",
                "BIB deletes (natEvent 9) that ended a fed mapping.",
                self.feed_deleted,
            ),
            (
                "feed_refused",
                "sixfold_takeover_feed_refused",
                "Feed records refused (outside the predecessor's ranges, another event).",
                self.feed_refused,
            ),
            (
                "feed_overflow",
                "sixfold_takeover_feed_overflow",
                "BIB creates refused: the fed mappings at their limit.",
                self.feed_overflow,
            ),
            (
                "feed_expired",
                "sixfold_takeover_feed_expired",
                "Fed mappings ended by their timer, unadopted.",
                self.feed_expired,
            ),
            (
                "adopted",
                "sixfold_takeover_adopted",
                "Sessions created on a fed mapping.",
                self.adopted,
            ),
            (
                "feed_dropped",
                "sixfold_takeover_feed_dropped",
                "Takeover datagrams a full worker queue refused (lost).",
                self.feed_dropped,
            ),
            (
                "unfed",
                "sixfold_takeover_unfed",
                "TCP segments without SYN from a subscriber with no session and no fed mapping.",
                self.unfed,
            ),
        ]
    }
}
