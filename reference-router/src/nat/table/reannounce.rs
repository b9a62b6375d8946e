//! Re-announcing live mappings (natEvent 8 again, every `[ipfix] interim`
//! seconds, with `[ipfix] mappings`): a takeover backup that (re)started after
//! a mapping was made, or lost the datagram with its create, is fed it within
//! that time, and its fed mapping's timer starts again.

use super::{Key, Table};
use crate::stats::NatEvent;

impl Table {
    /// Re-announces up to `budget` live mappings (natEvent 8 again) once a
    /// round is due: one round every `interim` seconds, in record order.
    pub(crate) fn reannounce_mappings(&mut self, budget: usize) {
        let (cursor, due) = self.log.reannounce;
        if !self.log.mappings || self.log.interim == 0 || self.now < due {
            return;
        }
        let end = (cursor + budget).min(self.mappings.len());
        for i in cursor..end {
            let m = self.mappings[i];
            // Free records chain through `sessions`; a live one is in the index.
            if self.map_outside.get(
                &Key::endpoint(m.protocol, m.out_addr, m.out_port),
                &self.mappings,
            ) == Some(i as u32)
                && m.sessions > 0
            {
                self.log_mapping(&m, NatEvent::BibCreate);
            }
        }
        self.log.reannounce = if end >= self.mappings.len() {
            (0, self.now.saturating_add(self.log.interim))
        } else {
            (end, due)
        };
    }
}
