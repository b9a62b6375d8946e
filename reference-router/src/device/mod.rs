//! The only module with OS calls (cargo feature `device`): TUN devices opened in
//! network namespaces with offload and a queue per worker ([`Devices`]), the
//! worker threads and their supervisor ([`run`]: reloads, the systemd
//! protocol, a graceful stop), and the control socket ([`control`]) and metrics
//! endpoint ([`metrics`]), served off the data path ([`Endpoints`]); what a
//! configuration needs of the machine ([`host`]), and giving up root once
//! the devices exist ([`privileges`]).

#[allow(unsafe_code)]
mod allocator;
mod batch;
pub mod control;
pub mod exporter;
#[cfg(feature = "fastpath")]
pub mod fastpath;
#[allow(unsafe_code)]
mod fdpass;
pub mod feed;
pub mod handover;
pub mod host;
mod io;
pub mod loops;
pub mod metrics;
mod netns;
pub mod notify;
pub mod privileges;
mod reload;
pub mod routes;
mod service;
mod sources;
mod tun;

pub use io::BURST;
pub use netns::in_netns;
pub use notify::Notifier;
pub use service::{Control, run, run_taken_over};
pub use tun::{Dev, Devices, Handed, Queue, Role, open_tun};

use crate::config::Config;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;

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
    /// `[takeover] listen`, bound.
    takeover: Option<std::net::UdpSocket>,
}

impl Endpoints {
    /// Binds `router.control_socket` ([`control::bind`]) and `metrics.listen`
    /// ([`metrics::bind`]); on failure nothing stays bound.
    pub fn bind(config: &Config) -> std::io::Result<Endpoints> {
        let control_path = config.router.control_socket.clone();
        // The default is under /run/sixfold, which systemd makes for the unit
        // (RuntimeDirectory); outside systemd it is made here.
        if let Some(dir) = std::path::Path::new(&control_path).parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "router.control_socket {control_path}: making {}: {e}",
                        dir.display()
                    ),
                )
            })?;
        }
        let control = control::bind(&control_path)?;
        let endpoints = Endpoints {
            control,
            control_path,
            metrics: None,
            takeover: None,
        };
        let listen = config.takeover.as_ref().and_then(|t| t.listen);
        let bound = metrics::bind(&config.metrics)
            .and_then(|m| Ok((m, listen.map(feed::bind).transpose()?)));
        match bound {
            Ok((m, takeover)) => Ok(Endpoints {
                metrics: m,
                takeover,
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

    /// The sockets a process that ran before handed over: the control
    /// socket at `config`'s path, the metrics listener if any.
    pub fn adopted(
        config: &Config,
        control: UnixListener,
        metrics: Option<TcpListener>,
    ) -> Endpoints {
        Endpoints {
            control,
            control_path: config.router.control_socket.clone(),
            metrics,
            // Not handed over: an upgrade is refused while `[takeover]` is configured.
            takeover: None,
        }
    }

    /// Second descriptors of the control socket and the metrics listener
    /// (the servers take the first; a handover sends these).
    pub(crate) fn clones(&self) -> std::io::Result<(UnixListener, Option<TcpListener>)> {
        let metrics = self.metrics.as_ref().map(TcpListener::try_clone);
        Ok((self.control.try_clone()?, metrics.transpose()?))
    }

    /// Unbinds without serving: removes the control socket (when the router
    /// cannot start after all).
    pub fn close(self) {
        let _ = std::fs::remove_file(&self.control_path);
    }
}
