//! The batched side of the loop ([`super::super::batch`]): packets queued
//! for one write call per burst, reads in calls that grow while the queue
//! keeps them full.

use super::super::batch::{self, Broken, ReadOutcome};
use super::super::sources::{Source, source_queue};
use super::super::tun::Devices;
use super::{BURST, Worker, one_write, send, write_failed};
use crate::iface::Interface;
use crate::{DropReason, PacketBuf};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Instant;

/// Bytes a batched read call aims at: 64 small packets, or a few
/// super-packets ([`Worker::burst`]).
const BATCH_BYTES: usize = 256 * 1024;

/// How many reads the next batched call on a queue tries, after one that
/// tried `tried` (asked for `want`) and brought `got` packets of `bytes`: twice
/// what it brought when it came back short, twice `want` when full — up to a
/// burst of small packets, but only [`BATCH_BYTES`] worth of large ones
/// (a call saves the same 0.5 µs whatever it reads, and every buffer a 64 KiB
/// super-packet filled stays resident); never fewer than 2.
pub(super) fn next_want(want: usize, tried: usize, got: usize, bytes: usize) -> usize {
    let cap = (BATCH_BYTES / (bytes / got.max(1)).max(1)).clamp(2, BURST);
    if got < tried {
        (2 * got).clamp(2, cap)
    } else {
        (2 * want).clamp(2, cap)
    }
}

impl Worker {
    /// Sends the packet in `buf` to `to`: queued for the batch's next write
    /// call where it leaves in one write (the queue takes the buffer and
    /// leaves a spare in `buf`), else written at once ([`send`]) after what
    /// is queued, so packets leave in the order they were routed.
    pub(super) fn emit(&mut self, devices: &Devices, to: Interface, buf: &mut PacketBuf) {
        let shard = self.router.shard();
        if let (Some(batch), Some(q)) = (&mut self.batch, devices.queue(to, shard))
            && let Some(segments) = one_write(q, buf, &mut self.router)
        {
            let fd = q.dev.as_fd().as_raw_fd();
            if batch.queue(fd, q.offload, to, segments, buf) {
                self.flush();
            }
            return;
        }
        self.flush();
        send(devices, shard, to, buf, &mut self.router);
    }

    /// Writes what the batch holds, in one call; the kernel's refusals are
    /// counted as [`send`] counts them.
    pub(super) fn flush(&mut self) {
        let Some(batch) = &mut self.batch else {
            return;
        };
        let router = &mut self.router;
        let flushed = batch.flush(|to, lost, result| {
            if let Err(e) = result {
                write_failed(router, to, e, lost);
            }
        });
        self.router.count_io_calls(batch.take_calls());
        let unsupported = batch.unsupported();
        if let Some(e) = flushed.err().map(|Broken(e)| e).or(unsupported) {
            self.batch_broken(e);
        }
    }

    /// A batch call failed: the loop goes on a packet per call.
    fn batch_broken(&mut self, e: io::Error) {
        tracing::error!(error = %e, "io_uring failed: a system call per packet from now on");
        self.batch = None;
    }

    /// [`Worker::burst`] with the batch: reads in calls of `want[k]`
    /// reads, doubling while they come back full (to a burst of small
    /// packets, or [`BATCH_BYTES`] of large ones), until [`BURST`] packets
    /// or a short call; each call's packets are routed before the next.
    pub(super) fn burst_batched(
        &mut self,
        devices: &Devices,
        k: usize,
        from: Source,
    ) -> io::Result<bool> {
        let q = source_queue(devices, from, self.router.shard());
        let (fd, header) = (q.dev.as_fd().as_raw_fd(), q.offload);
        if self.want.len() <= k {
            self.want.resize(k + 1, 2);
        }
        let now = Instant::now();
        let mut total = 0;
        while total < BURST {
            let want = self.want[k];
            let Some(batch) = &mut self.batch else {
                break;
            };
            let read = batch.read(fd, header, want.min(BURST - total));
            self.router.count_io_calls(batch.take_calls());
            if let Err(Broken(e)) = read {
                self.batch_broken(e);
                break;
            }
            let (mut slots, mut outcomes) = batch.take_read();
            let (tried, mut got, mut bytes, mut failed) = (outcomes.len(), 0, 0, None);
            for (slot, outcome) in slots.iter_mut().zip(outcomes.drain(..)) {
                match outcome {
                    ReadOutcome::Packet => {
                        got += 1;
                        bytes += slot.len();
                        self.route(devices, from, slot, now);
                    }
                    ReadOutcome::Malformed => {
                        got += 1;
                        self.router.count_drop(DropReason::Malformed);
                    }
                    ReadOutcome::Empty => {}
                    ReadOutcome::Failed(e) => failed = failed.or(Some(e)),
                }
            }
            if let Some(batch) = &mut self.batch {
                batch.put_read(slots, outcomes);
            }
            self.flush();
            self.router.count_reads(got as u64);
            total += got;
            match failed {
                // The kernel takes no RWF_NOWAIT read here: a read per call.
                Some(e) if batch::unsupported(&e) => {
                    self.batch_broken(e);
                    return Ok(true);
                }
                Some(e) => return Err(e),
                None => {}
            }
            self.want[k] = next_want(want, tried, got, bytes);
            if got < tried {
                return Ok(false);
            }
        }
        Ok(total >= BURST)
    }
}
