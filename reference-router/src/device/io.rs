//! The packet loop: `poll(2)` over every TUN and the control channel, then up to
//! [`BURST`] packets per readable device, each through [`Router::process`] and
//! straight out of the egress device; packets the router made itself follow from
//! [`Router::poll_transmit`]. Questions from the control server are answered
//! between bursts; the loop never waits for a control client.

use super::control::{Inbox, Request};
use super::tun::Devices;
use crate::{Interface, PacketBuf, Router, Verdict};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Packets read from one device before the loop looks at the others.
pub const BURST: usize = 64;

fn send(devices: &Devices, to: Interface, packet: &[u8]) {
    match devices.device(to).send(packet) {
        Ok(_) => {}
        // A full TUN queue drops, as a full link would.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => tracing::warn!(?to, error = %e, "TUN write failed"),
    }
}

/// Answers what the control server asked (never blocks: answers go to bounded
/// channels whose reader may have given up).
fn answer(router: &Router, inbox: &Inbox) {
    inbox.drain_wake();
    while let Ok(request) = inbox.requests.try_recv() {
        match request {
            Request::Snapshot(reply) => {
                let _ = reply.try_send(router.snapshot());
            }
            Request::Mapping(protocol, inside, reply) => {
                let _ = reply.try_send(router.mapping_of(protocol, inside));
            }
        }
    }
}

/// Reads up to [`BURST`] packets from `from` through the router.
fn burst(
    router: &mut Router,
    devices: &Devices,
    from: Interface,
    buf: &mut PacketBuf,
) -> io::Result<()> {
    let direction = from.direction();
    for _ in 0..BURST {
        let n = match devices.device(from).recv(buf.storage_mut()) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        buf.set_len(n);
        match router.process(direction, buf, Instant::now()) {
            Verdict::Forward(to) | Verdict::Reply(to) => send(devices, to, buf.packet()),
            Verdict::Drop(reason) => tracing::trace!(?from, reason = reason.name(), "drop"),
            Verdict::Held | Verdict::Queued(_) => {}
        }
        while let Some(to) = router.poll_transmit(buf) {
            send(devices, to, buf.packet());
        }
    }
    Ok(())
}

/// Runs `router` over `devices` until `stop` is set, answering `inbox`.
pub(super) fn run_loop(
    router: &mut Router,
    devices: &Devices,
    inbox: &Inbox,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut buf = PacketBuf::new();
    let order: Vec<Interface> = std::iter::once(Interface::Wan)
        .chain((0..devices.subscribers.len()).map(|s| Interface::Subscriber(s as u16)))
        .collect();
    while !stop.load(Ordering::Relaxed) {
        let mut fds: Vec<PollFd<'_>> = order
            .iter()
            .map(|&i| PollFd::new(devices.device(i).as_fd(), PollFlags::POLLIN))
            .collect();
        fds.push(PollFd::new(inbox.wake.as_fd(), PollFlags::POLLIN));
        // A shaped packet due sooner than the idle tick wakes the loop (1 ms
        // granularity: the shaper's bucket holds 4 ms, so the line stays full).
        let wait = router
            .next_wakeup(Instant::now())
            .map_or(100, |d| d.as_micros().div_ceil(1000).min(100) as u16);
        match poll(&mut fds, PollTimeout::from(wait)) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        for (k, &from) in order.iter().enumerate() {
            if ready[k] {
                burst(router, devices, from, &mut buf)?;
            }
        }
        router.tick(Instant::now());
        while let Some(to) = router.poll_transmit(&mut buf) {
            send(devices, to, buf.packet());
        }
        answer(router, inbox);
    }
    Ok(())
}
