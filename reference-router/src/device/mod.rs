//! The only module with OS calls (cargo feature `device`): TUN devices opened in
//! network namespaces with offload and a queue per worker ([`Devices`]), the
//! worker threads ([`run`]), and the control socket ([`control`]) and metrics
//! endpoint ([`metrics`]), served off the data path ([`Endpoints`]).

pub mod control;
pub mod exporter;
mod io;
pub mod loops;
pub mod metrics;
mod netns;
pub mod routes;
mod tun;

pub use io::BURST;
pub use netns::in_netns;
pub use tun::{Devices, Queue, open_tun};

use crate::config::Config;
use crate::{Router, Snapshot};
use std::net::{SocketAddr, TcpListener};
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

/// The sockets a router answers on besides its TUNs: the control socket and,
/// if configured, the metrics endpoint. Bound before any TUN is opened, so a
/// clash stops the router before it touches a device.
pub struct Endpoints {
    control: UnixListener,
    control_path: String,
    metrics: Option<TcpListener>,
}

impl Endpoints {
    /// Binds `router.control_socket` ([`control::bind`]) and `metrics.listen`
    /// ([`metrics::bind`]); on failure nothing stays bound.
    pub fn bind(config: &Config) -> std::io::Result<Endpoints> {
        let control_path = config.router.control_socket.clone();
        let control = control::bind(&control_path)?;
        let endpoints = Endpoints {
            control,
            control_path,
            metrics: None,
        };
        match metrics::bind(&config.metrics) {
            Ok(m) => Ok(Endpoints {
                metrics: m,
                ..endpoints
            }),
            Err(e) => {
                endpoints.close();
                Err(e)
            }
        }
    }

    /// Where the control socket is.
    pub fn control_path(&self) -> &str {
        &self.control_path
    }

    /// Where the metrics endpoint listens, if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Unbinds without serving: removes the control socket (when the router
    /// cannot start after all).
    pub fn close(self) {
        let _ = std::fs::remove_file(&self.control_path);
    }
}

/// Runs the router of `config` (seeded with `seed`) over `devices` — opened for
/// [`worker_count`] workers — until `stop` is set, serving `endpoints` from
/// threads of their own; the control socket is removed when this returns.
/// Returns the counters of all workers, merged, for a last look.
pub fn run(
    config: Config,
    seed: u64,
    devices: &Devices,
    endpoints: Endpoints,
    stop: &AtomicBool,
) -> std::io::Result<Snapshot> {
    let per_subscriber = config.metrics.per_subscriber;
    let count = devices.wan.len() as u16;
    let epoch = Instant::now();
    let exporter = exporter::Exporter::start(&config.ipfix, epoch)?;
    let routers = Router::workers(config, seed, epoch, count)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let mut mailboxes = Vec::new();
    let mut doorbells = Vec::new();
    let mut outboxes = Vec::new();
    for _ in 0..count {
        let (mailbox, doorbell, requests) = io::mailbox()?;
        outboxes.push(loops::OutboxHandle::new(
            requests,
            Arc::clone(&doorbell.wake),
        ));
        mailboxes.push(mailbox);
        doorbells.push(doorbell);
    }
    let unsent = exporter.as_ref().map(exporter::Exporter::unsent);
    let loops = Arc::new(loops::Loops::new(outboxes).with_export_unsent(unsent.clone()));
    let server = control::Server::start(
        endpoints.control,
        &endpoints.control_path,
        Arc::clone(&loops),
    );
    let metrics_server = endpoints
        .metrics
        .map(|l| metrics::Server::start(l, Arc::clone(&loops), per_subscriber));
    // One worker failing stops the others.
    let failed = AtomicBool::new(false);
    let results: Vec<std::io::Result<Snapshot>> = std::thread::scope(|scope| {
        let handles: Vec<_> = routers
            .into_iter()
            .zip(mailboxes)
            .map(|(mut router, mailbox)| {
                router.set_datapath(devices.datapath.clone());
                let mut worker = io::Worker::new(router, mailbox, doorbells.clone());
                worker.export_to(exporter.as_ref().and_then(|e| e.sender()));
                let (failed, stop) = (&failed, stop);
                scope.spawn(move || {
                    let halt = || stop.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed);
                    let result = worker.run_until(devices, &halt);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    worker.finish_export();
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
    drop(metrics_server);
    drop(server);
    // Sends what the workers left, then stops.
    drop(exporter);
    let mut merged: Option<Snapshot> = None;
    for r in results {
        let s = r?;
        match &mut merged {
            Some(m) => m.merge(&s),
            None => merged = Some(s),
        }
    }
    let mut s = merged.unwrap_or_default();
    if let Some(n) = unsent {
        s.ipfix.messages_unsent = n.load(std::sync::atomic::Ordering::Relaxed);
    }
    Ok(s)
}
