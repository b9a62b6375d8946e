//! A worker's spare packet buffers: its own pool, and those given back by
//! the workers it handed packets to ([`super::Doorbell::give_back`]), so
//! that buffers circulate instead of being made and freed per hand-off.

use super::{POOL, Worker};
use crate::PacketBuf;

impl Worker {
    /// A spare buffer: one of its own or given back, else a new one.
    pub(super) fn spare(&mut self) -> PacketBuf {
        if self.pool.is_empty() {
            self.take_returns();
        }
        self.pool.pop().unwrap_or_else(|| {
            self.buffers_made += 1;
            PacketBuf::new()
        })
    }

    /// The buffers given back, into the pool.
    fn take_returns(&mut self) {
        while let Ok(b) = self.mailbox.returns.try_recv() {
            self.pool.push(b);
        }
    }

    /// Before the worker sleeps: frees the spares beyond [`POOL`] and as many
    /// as it has in flight to the others (they are waiting in their channels:
    /// as many will be needed when they come back), so what a peak put in
    /// flight is not kept once the peak is over, while a worker that reads
    /// for an overloaded one keeps what it hands it, and makes and frees no
    /// buffer per packet.
    pub(super) fn trim_spares(&mut self) {
        self.take_returns();
        let me = usize::from(self.router.shard().index);
        let in_flight: usize = self
            .peers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != me)
            .map(|(_, p)| p.in_flight())
            .sum();
        self.pool.truncate(POOL + in_flight);
    }
}
