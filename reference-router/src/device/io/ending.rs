//! How a worker's run ends, once [`Worker::run_until`] returned or a handover
//! was asked between bursts: its state handed to a new process, or everything
//! it holds released and logged.

use super::super::loops::{AfterHandover, HandoverAsk, Saved};
use super::{RELEASE_BUDGET, Worker};
use std::sync::Arc;
use std::sync::mpsc::TrySendError;
use std::time::{Duration, Instant};

impl Worker {
    /// A handover asked between bursts: what the router holds goes to the
    /// exporter, the exporter's channel is let go (so the exporter can
    /// finish), the state is saved and sent; then the loop waits for the
    /// decision — ending without a release, or going on as before.
    pub(super) fn hand_over(&mut self, ask: HandoverAsk) {
        self.export();
        // Let go now: the exporter ends only once every sender is gone.
        self.exporter = None;
        let index = self.router.shard().index;
        let saved = Saved {
            index,
            state: self.router.save_state(),
            shapers: self.router.save_shapers(Instant::now()),
            fragments: self.router.fragment_flows(),
        };
        let answered = ask.answer.send(saved).is_ok();
        let decision = if answered {
            // The supervisor always decides: it waits for the new process
            // for less than this.
            ask.decision.recv_timeout(Duration::from_secs(120)).ok()
        } else {
            None
        };
        match decision {
            Some(AfterHandover::Exit) => self.handed_over = true,
            Some(AfterHandover::Resume(sender)) => self.exporter = sender,
            // No decision (the supervisor always sends one): going on
            // without the exporter, whose records are counted as dropped.
            None => tracing::error!(worker = index, "no decision after a handover; going on"),
        }
    }

    /// The second step of a stop, once [`Worker::run_until`] returned: every
    /// session, block and accounted flow ended and logged
    /// ([`Router::release_all`]), the records handed to the exporter (waiting
    /// for room until `deadline`, then counted as dropped), the announce
    /// routes withdrawn.
    pub(in crate::device) fn release(&mut self, deadline: Instant) {
        // The fast path's last counts first, so that the sessions' last
        // records and the final counters include them.
        #[cfg(feature = "fastpath")]
        if let Some(fast) = &mut self.fast {
            fast.release_all(&mut self.router);
        }
        loop {
            let done = self.router.release_all(Instant::now(), RELEASE_BUDGET);
            self.export_waiting(deadline);
            if done {
                break;
            }
        }
        self.exporter = None;
        let devices = Arc::clone(&self.devices);
        for change in self.router.withdraw_routes() {
            self.apply_route(&devices, change);
        }
    }

    /// The router's records to the exporter, waiting for room until
    /// `deadline` (the router is stopping: no packet waits for this).
    fn export_waiting(&mut self, deadline: Instant) {
        let Some(tx) = self.exporter.clone() else {
            while self.router.poll_ipfix().is_some() {}
            return;
        };
        while let Some(mut r) = self.router.poll_ipfix() {
            loop {
                match tx.try_send(r) {
                    Ok(()) => break,
                    Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                        r = back;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => {
                        self.router.count_ipfix_drop();
                        break;
                    }
                }
            }
        }
    }
}
