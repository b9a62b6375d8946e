//! A burst's TUN reads, and its writes, in one system call each (io_uring).
//!
//! A TUN moves one packet per `read` or `write`, and a system call is not
//! cheap: 0.5 µs on this project's 2-core KVM guest (`perf bench syscall
//! basic`, with its Spectre and SRSO mitigations), so at 60-byte UDP the two
//! calls per datagram were a quarter of the router thread's time. Here a
//! burst's reads are one `io_uring_enter`, and the writes its packets lead to
//! are another.
//!
//! The loop keeps its shape — read a burst, route each packet, write — and no
//! buffer is ever in the kernel's hands once a call here is over: the queues
//! are non-blocking, so every operation completes inside the call that
//! submits it (a read with nothing waiting completes with `EAGAIN` instead of
//! waiting; a TUN write never waits), and each call waits for every
//! completion before it returns. Buffers in the kernel's hands are the
//! batch's own (its read slots, the queued writes), never borrowed.
//!
//! Where io_uring is missing (an old kernel, `kernel.io_uring_disabled`, a
//! seccomp filter without it), [`Batch::new`] fails and the loop reads and
//! writes one packet per call, as before.
#![allow(unsafe_code)]

use crate::PacketBuf;
use crate::iface::Interface;
use io_uring::{IoUring, opcode, squeue, types};
use nix::errno::Errno;
use std::io;
use std::os::fd::RawFd;

/// Operations per call: the loop's burst (it checks that they agree).
pub(super) const ENTRIES: usize = 64;

/// `RWF_NOWAIT` (linux/fs.h): an operation that would wait completes with
/// `EAGAIN` instead. io_uring does not take the queue's `O_NONBLOCK` as that:
/// it would wait, in the ring, for a packet to read.
const RWF_NOWAIT: i32 = 0x0000_0008;

/// What one read of a batch brought.
#[derive(Debug)]
pub(super) enum ReadOutcome {
    /// A packet, in the slot.
    Packet,
    /// Nothing was waiting.
    Empty,
    /// A virtio-net header the router cannot act on: the slot is empty.
    Malformed,
    /// The read failed.
    Failed(io::Error),
}

/// A write waiting for the batch's call.
struct Queued {
    buf: PacketBuf,
    fd: RawFd,
    /// With its virtio-net header (an offload queue).
    header: bool,
    to: Interface,
    /// Packets on the wire it stands for (a super-packet's segments).
    segments: u64,
    result: i32,
}

/// One worker's io_uring, its read slots and its queued writes.
pub(super) struct Batch {
    ring: IoUring,
    /// The buffers a burst is read into: the worker takes them
    /// ([`Batch::take_slots`]) to route the packets and gives them back.
    slots: Vec<PacketBuf>,
    outcomes: Vec<ReadOutcome>,
    writes: Vec<Queued>,
    spare: Vec<PacketBuf>,
    /// `io_uring_enter` calls so far, not yet counted by the router.
    calls: u64,
    /// An operation io_uring could not do here: the worker stops batching.
    unsupported: Option<io::Error>,
}

/// A call failed with operations possibly still in the kernel's hands: the
/// batch cannot be used again (its buffers are leaked, not freed, for that
/// reason), and the loop goes back to a packet per call.
#[derive(Debug)]
pub(super) struct Broken(pub(super) io::Error);

impl Batch {
    /// A ring for a burst of operations.
    pub(super) fn new() -> io::Result<Batch> {
        Ok(Batch {
            ring: IoUring::new(ENTRIES as u32)?,
            // Made as reads first need them: a quiet worker never tries 64.
            slots: Vec::new(),
            outcomes: Vec::with_capacity(ENTRIES),
            writes: Vec::with_capacity(ENTRIES),
            spare: Vec::new(),
            calls: 0,
            unsupported: None,
        })
    }

    /// Why batching cannot go on here, once an operation said so.
    pub(super) fn unsupported(&mut self) -> Option<io::Error> {
        self.unsupported.take()
    }

    /// The calls made since the last time this was asked.
    pub(super) fn take_calls(&mut self) -> u64 {
        std::mem::take(&mut self.calls)
    }

    /// Reads up to `want` (at most a burst) packets from `fd`, with their
    /// virtio-net headers where `header`, in one call, in the order the queue
    /// holds them: [`Batch::outcomes`] says what each slot got.
    pub(super) fn read(&mut self, fd: RawFd, header: bool, want: usize) -> Result<(), Broken> {
        let n = want.clamp(1, ENTRIES);
        if self.slots.len() < n {
            self.slots.resize_with(n, PacketBuf::new);
        }
        let entries = self.slots[..n].iter_mut().map(|slot| {
            let room = if header {
                slot.io_mut()
            } else {
                slot.storage_mut()
            };
            opcode::Read::new(types::Fd(fd), room.as_mut_ptr(), room.len() as u32)
        });
        // SAFETY: each entry reads into a slot's heap storage, at most its
        // length; the slots are this batch's own, and neither freed nor
        // touched until `complete` below has reaped every completion, or,
        // if it fails, never (`Broken` leaks them).
        let pushed = unsafe {
            push_each(
                &mut self.ring,
                entries.map(|e| e.rw_flags(RWF_NOWAIT).build()),
            )
        };
        let mut results = [0i32; ENTRIES];
        let called = complete(&mut self.ring, &mut self.calls, pushed, |i, res| {
            results[i] = res
        });
        if let Err(e) = called {
            return Err(self.broken(e));
        }
        self.outcomes.clear();
        for (i, &res) in results[..pushed].iter().enumerate() {
            let slot = &mut self.slots[i];
            let outcome = match res {
                n if n >= 0 && header => match slot.set_io_len(n as usize) {
                    Ok(()) => ReadOutcome::Packet,
                    Err(_) => ReadOutcome::Malformed,
                },
                n if n >= 0 => {
                    slot.set_len(n as usize);
                    ReadOutcome::Packet
                }
                n if n == -(Errno::EAGAIN as i32) || n == -(Errno::EINTR as i32) => {
                    ReadOutcome::Empty
                }
                n => ReadOutcome::Failed(io::Error::from_raw_os_error(-n)),
            };
            self.outcomes.push(outcome);
        }
        Ok(())
    }

    /// The read slots and what each got in the last [`Batch::read`], in
    /// order, to route the packets in place (give them back with
    /// [`Batch::put_read`]; a slot may come back holding another buffer).
    pub(super) fn take_read(&mut self) -> (Vec<PacketBuf>, Vec<ReadOutcome>) {
        (
            std::mem::take(&mut self.slots),
            std::mem::take(&mut self.outcomes),
        )
    }

    /// The read slots back (and the outcomes' room).
    pub(super) fn put_read(&mut self, slots: Vec<PacketBuf>, mut outcomes: Vec<ReadOutcome>) {
        outcomes.clear();
        self.slots = slots;
        self.outcomes = outcomes;
    }

    /// Queues the packet in `buf` for `fd` (with its virtio-net header where
    /// `header`), taking a spare buffer in its place; whether the queue is
    /// full now (then [`Batch::flush`] before queueing more).
    pub(super) fn queue(
        &mut self,
        fd: RawFd,
        header: bool,
        to: Interface,
        segments: u64,
        buf: &mut PacketBuf,
    ) -> bool {
        let spare = self.spare.pop().unwrap_or_default();
        self.writes.push(Queued {
            buf: std::mem::replace(buf, spare),
            fd,
            header,
            to,
            segments,
            result: 0,
        });
        self.writes.len() >= ENTRIES
    }

    /// Writes what is queued, in order, in one call; `done(to, segments,
    /// result)` for each write.
    pub(super) fn flush(
        &mut self,
        mut done: impl FnMut(Interface, u64, io::Result<()>),
    ) -> Result<(), Broken> {
        let n = self.writes.len();
        if n == 0 {
            return Ok(());
        }
        let entries = self.writes.iter_mut().map(|w| {
            let bytes = w.buf.wire(w.header);
            opcode::Write::new(types::Fd(w.fd), bytes.as_ptr(), bytes.len() as u32)
        });
        // SAFETY: each entry reads a queued buffer's heap storage, its
        // packet's length; the buffers are this batch's own, and neither
        // freed nor changed until `complete` below has reaped every
        // completion, or, if it fails, never (`Broken` leaks them). The queue
        // holds at most ENTRIES: all are pushed, and any that were not are
        // counted as failed below.
        let pushed = unsafe {
            push_each(
                &mut self.ring,
                entries.map(|e| e.rw_flags(RWF_NOWAIT).build()),
            )
        };
        let writes = &mut self.writes;
        let called = complete(&mut self.ring, &mut self.calls, pushed, |i, res| {
            writes[i].result = res
        });
        if let Err(e) = called {
            return Err(self.broken(e));
        }
        for (i, mut w) in self.writes.drain(..).enumerate() {
            let mut result = match w.result {
                _ if i >= pushed => Err(io::Error::other("io_uring submission queue full")),
                n if n >= 0 => Ok(()),
                n => Err(io::Error::from_raw_os_error(-n)),
            };
            let refused = result.as_ref().err().filter(|e| unsupported(e));
            if let Some(e) = refused.and_then(io::Error::raw_os_error) {
                // Written the plain way; the worker stops batching.
                let bytes = w.buf.wire(w.header);
                // SAFETY: `w.fd` is the queue's descriptor, open while the
                // worker holds its devices (a flush comes before any change).
                let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(w.fd) };
                result = nix::unistd::write(fd, bytes)
                    .map(drop)
                    .map_err(io::Error::from);
                self.unsupported
                    .get_or_insert(io::Error::from_raw_os_error(e));
            }
            done(w.to, w.segments, result);
            if self.spare.len() < ENTRIES {
                self.spare.push(w.buf);
            }
        }
        Ok(())
    }

    /// After a failed call: every buffer the kernel may still hold is leaked,
    /// never freed.
    fn broken(&mut self, e: io::Error) -> Broken {
        std::mem::forget(std::mem::take(&mut self.slots));
        std::mem::forget(std::mem::take(&mut self.writes));
        Broken(e)
    }
}

/// Pushes `entries` (numbered from 0 in their `user_data`) until the
/// submission queue is full; how many were pushed.
///
/// # Safety
///
/// Every buffer an entry names must stay valid, and untouched by anything
/// else, until [`complete`] has reaped the entry's completion; if it fails,
/// for ever.
unsafe fn push_each(ring: &mut IoUring, entries: impl Iterator<Item = squeue::Entry>) -> usize {
    let mut sq = ring.submission();
    let mut pushed = 0;
    for (i, entry) in entries.enumerate() {
        // SAFETY: the caller keeps the entry's buffer valid until its
        // completion is reaped (this function's contract).
        if unsafe { sq.push(&entry.user_data(i as u64)) }.is_err() {
            break;
        }
        pushed += 1;
    }
    pushed
}

/// Submits what is pushed and waits until `n` completions are reaped,
/// `each(index, result)` for each. An error leaves operations possibly in
/// flight.
fn complete(
    ring: &mut IoUring,
    calls: &mut u64,
    n: usize,
    mut each: impl FnMut(usize, i32),
) -> io::Result<()> {
    // Every operation here completes as it is submitted; the bound only keeps
    // a kernel that would make one wait from stopping the loop.
    let bound = types::Timespec::new().sec(1);
    let args = types::SubmitArgs::new().timespec(&bound);
    let mut reaped = 0;
    while reaped < n {
        *calls += 1;
        let waited = ring.submitter().submit_with_args(n - reaped, &args);
        for cqe in ring.completion() {
            let i = cqe.user_data() as usize;
            if i < n {
                each(i, cqe.result());
                reaped += 1;
            }
        }
        match waited.map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0))) {
            Ok(_) | Err(Errno::EINTR | Errno::EAGAIN | Errno::EBUSY) => {}
            Err(Errno::ETIME) if reaped < n => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "a TUN read or write in io_uring did not complete at once",
                ));
            }
            Err(Errno::ETIME) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Whether an operation's error says io_uring cannot do it this way here
/// (`RWF_NOWAIT` unknown to the kernel or the device).
pub(super) fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EOPNOTSUPP | Errno::EINVAL)
    )
}
