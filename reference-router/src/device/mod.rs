//! The only module with OS calls (cargo feature `device`): TUN devices opened in
//! network namespaces with offload and a queue per worker ([`Devices`]), the
//! worker threads ([`run`]) and the control socket ([`control`]), served off the
//! data path.

pub mod control;
mod io;
mod netns;
mod tun;

pub use io::BURST;
pub use netns::in_netns;
pub use tun::{Devices, Queue, open_tun};

use crate::config::Config;
use crate::{Router, Snapshot};
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The worker threads `config` asks for: `router.workers`, or one per CPU.
pub fn worker_count(config: &Config) -> u16 {
    match config.router.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(64) as u16),
        n => n.min(64) as u16,
    }
}

/// Runs the router of `config` (seeded with `seed`) over `devices` — opened for
/// [`worker_count`] workers — until `stop` is set, serving the control socket
/// `listener` (bound at `path` with [`control::bind`]) from a thread of its own;
/// the socket is removed when this returns. Returns the counters of all workers,
/// merged, for a last look.
pub fn run(
    config: Config,
    seed: u64,
    devices: &Devices,
    listener: UnixListener,
    path: &str,
    stop: &AtomicBool,
) -> std::io::Result<Snapshot> {
    let count = devices.wan.len() as u16;
    let routers = Router::workers(config, seed, Instant::now(), count)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let mut mailboxes = Vec::new();
    let mut doorbells = Vec::new();
    let mut outboxes = Vec::new();
    for _ in 0..count {
        let (mailbox, doorbell, requests) = io::mailbox()?;
        outboxes.push(control::OutboxHandle::new(
            requests,
            Arc::clone(&doorbell.wake),
        ));
        mailboxes.push(mailbox);
        doorbells.push(doorbell);
    }
    let server = control::Server::start(listener, path, outboxes);
    // One worker failing stops the others.
    let failed = AtomicBool::new(false);
    let results: Vec<std::io::Result<Snapshot>> = std::thread::scope(|scope| {
        let handles: Vec<_> = routers
            .into_iter()
            .zip(mailboxes)
            .map(|(mut router, mailbox)| {
                router.set_datapath(devices.datapath.clone());
                let mut worker = io::Worker::new(router, mailbox, doorbells.clone());
                let (failed, stop) = (&failed, stop);
                scope.spawn(move || {
                    let halt = || stop.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed);
                    let result = worker.run_until(devices, &halt);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    result.map(|()| worker.router.snapshot())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a worker panicked")))
            })
            .collect()
    });
    drop(server);
    let mut merged: Option<Snapshot> = None;
    for r in results {
        let s = r?;
        match &mut merged {
            Some(m) => m.merge(&s),
            None => merged = Some(s),
        }
    }
    Ok(merged.unwrap_or_default())
}
