//! The IPFIX exporter: a thread of its own that takes the workers' records
//! from a bounded channel (a worker never waits: when the channel is full the
//! record is dropped and counted, `ipfix.records_dropped`), encodes them
//! ([`crate::ipfix::encode`]) and sends them over UDP to `[ipfix] collector`,
//! from `source` and inside `netns` if configured. The start message goes first
//! (sequence number 0, the templates and the start record with this process's
//! start time: the restart signal, [`Encoder::start`]), then the templates every
//! `template_refresh` seconds (RFC 7011 §8.4). Records are sent within
//! [`FLUSH`] of their arrival, several to a message. A message the kernel
//! refuses to send (the collector unreachable, a full buffer) is counted,
//! `ipfix.messages_unsent`: UDP export is best effort (RFC 7011 §10.3), but
//! what was lost is never silent.

use super::netns::in_netns;
use crate::config::Ipfix;
use crate::ipfix::Record;
use crate::ipfix::encode::Encoder;
use crate::state::ExportState;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest a record waits for others to share its message.
pub const FLUSH: Duration = Duration::from_millis(200);
/// Records encoded at once at most.
const BATCH: usize = 256;

/// The running exporter: the workers' side of its channel, and its thread.
pub struct Exporter {
    sender: Option<SyncSender<Record>>,
    thread: Option<JoinHandle<Ended>>,
    /// Messages (templates or records) the socket refused to send.
    unsent: Arc<AtomicU64>,
    /// Seconds between templates (a reload changes it in place).
    refresh: Arc<AtomicU32>,
}

/// UNIX time in milliseconds of `instant` (an instant of the recent past).
pub fn unix_ms(instant: Instant) -> u64 {
    let ago = instant.elapsed();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.saturating_sub(ago).as_millis() as u64
}

fn unix_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

/// The export socket of `config`, connected to its collector.
fn open_socket(config: &Ipfix, collector: SocketAddr) -> io::Result<UdpSocket> {
    let source = config.source.unwrap_or(match collector {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    let open = || {
        let s = UdpSocket::bind((source, 0))?;
        s.connect(collector)?;
        Ok(s)
    };
    match &config.netns {
        Some(ns) => in_netns(ns, open),
        None => open(),
    }
    .map_err(|e: io::Error| io::Error::new(e.kind(), format!("IPFIX export to {collector}: {e}")))
}

impl Exporter {
    /// Starts exporting per `config` (none without a collector), with record
    /// times counted from `epoch` (the instant the routers were built with).
    pub fn start(config: &Ipfix, epoch: Instant) -> io::Result<Option<Exporter>> {
        Exporter::start_counting(config, epoch, Arc::new(AtomicU64::new(0)))
    }

    /// [`Exporter::start`], counting refused messages in `unsent` (shared by
    /// the exporters a reload starts one after the other).
    pub fn start_counting(
        config: &Ipfix,
        epoch: Instant,
        unsent: Arc<AtomicU64>,
    ) -> io::Result<Option<Exporter>> {
        let Some(collector) = config.collector else {
            return Ok(None);
        };
        let socket = open_socket(config, collector)?;
        let encoder = Encoder::new(config.observation_domain, unix_ms(epoch));
        Exporter::spawn(config, socket, encoder, None, unsent).map(Some)
    }

    /// Goes on where a stopped exporter ([`Exporter::hand_over`]) left:
    /// the same socket (the same Transport Session), the same encoder (the
    /// next sequence number), templates when they are due; no start message.
    pub fn resume(
        config: &Ipfix,
        socket: UdpSocket,
        state: ExportState,
        unsent: Arc<AtomicU64>,
    ) -> io::Result<Exporter> {
        let age = Duration::from_millis(state.templates_age_ms);
        let sent = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        Exporter::spawn(config, socket, state.encoder, Some(sent), unsent)
    }

    fn spawn(
        config: &Ipfix,
        socket: UdpSocket,
        encoder: Encoder,
        templates_sent: Option<Instant>,
        unsent: Arc<AtomicU64>,
    ) -> io::Result<Exporter> {
        let (sender, records) = mpsc::sync_channel(config.queue as usize);
        let refresh = Arc::new(AtomicU32::new(config.template_refresh));
        let every = Arc::clone(&refresh);
        let out = Out {
            socket,
            unsent: Arc::clone(&unsent),
        };
        let thread = std::thread::Builder::new()
            .name("sixfold-ipfix".into())
            .spawn(move || export_loop(out, encoder, templates_sent, &records, &every))?;
        Ok(Exporter {
            sender: Some(sender),
            thread: Some(thread),
            unsent,
            refresh,
        })
    }

    /// Stops once every record sent so far is out (every worker must have
    /// let go of its sender first) and gives what goes on elsewhere: the
    /// encoder with the next sequence number, the template clock, the socket.
    pub fn hand_over(mut self) -> Option<(ExportState, UdpSocket)> {
        self.sender = None;
        let ended = self.thread.take()?.join().ok()?;
        let state = ExportState {
            encoder: ended.encoder,
            templates_age_ms: ended.templates_sent.elapsed().as_millis() as u64,
        };
        Some((state, ended.out.socket))
    }

    /// The count of messages the socket refused, as it grows.
    pub fn unsent(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.unsent)
    }

    /// Sends the templates every `seconds` from now on (a reload: the
    /// export goes on in the same transport session).
    pub fn set_template_refresh(&self, seconds: u32) {
        self.refresh.store(seconds, Ordering::Relaxed);
    }

    /// A sender for a worker.
    pub fn sender(&self) -> Option<SyncSender<Record>> {
        self.sender.clone()
    }
}

impl Drop for Exporter {
    /// Sends what is left once every worker's sender is gone, then stops.
    fn drop(&mut self) {
        self.sender = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The exporter's socket and its count of refused messages.
struct Out {
    socket: UdpSocket,
    unsent: Arc<AtomicU64>,
}

impl Out {
    fn send(&self, message: &[u8]) {
        if let Err(e) = self.socket.send(message) {
            // UDP export is best effort (RFC 7011 §10.3): counted, logged once
            // in a while, never retried (interim records repair the state).
            let unsent = self.unsent.fetch_add(1, Ordering::Relaxed) + 1;
            if unsent.is_power_of_two() {
                tracing::warn!(error = %e, unsent, "IPFIX message not sent");
            }
        }
    }
}

/// What an exporter thread leaves when its channel closes.
struct Ended {
    out: Out,
    encoder: Encoder,
    templates_sent: Instant,
}

/// Exports until every sender is gone; `templates_sent`: it goes on from a
/// handover (else it starts: the start message first).
fn export_loop(
    out: Out,
    mut encoder: Encoder,
    templates_sent: Option<Instant>,
    records: &Receiver<Record>,
    refresh: &AtomicU32,
) -> Ended {
    let mut templates_sent = templates_sent.unwrap_or_else(|| {
        // Sequence number 0, the templates and the start record: a reader
        // closes what an earlier run of this exporter left open.
        out.send(&encoder.start(unix_secs()));
        Instant::now()
    });
    let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
    let mut oldest: Option<Instant> = None;
    loop {
        let wait = oldest.map_or(FLUSH, |t| FLUSH.saturating_sub(t.elapsed()));
        let done = match records.recv_timeout(wait) {
            Ok(r) => {
                batch.push(r);
                oldest.get_or_insert_with(Instant::now);
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        let every = Duration::from_secs(u64::from(refresh.load(Ordering::Relaxed)));
        if templates_sent.elapsed() >= every {
            out.send(&encoder.templates(unix_secs()));
            templates_sent = Instant::now();
        }
        let due = oldest.is_some_and(|t| t.elapsed() >= FLUSH);
        if batch.len() >= BATCH || due || done {
            for m in encoder.data(&batch, unix_secs()) {
                out.send(&m);
            }
            batch.clear();
            oldest = None;
        }
        if done {
            return Ended {
                out,
                encoder,
                templates_sent,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfix::{FlowEnd, FlowRecord};

    fn flow() -> Record {
        Record::Flow(FlowRecord {
            src: Ipv4Addr::new(100, 64, 1, 1).into(),
            dst: Ipv4Addr::new(192, 0, 2, 80).into(),
            src_port: 40000,
            dst_port: 80,
            protocol: 17,
            packets: 1,
            bytes: 60,
            start_ms: 0,
            end_ms: 0,
            end: FlowEnd::Idle,
        })
    }

    /// Everything sent to a collector that listens is read there, and nothing is
    /// counted unsent; to a port nobody listens on, the kernel's port
    /// unreachable makes the connected socket refuse the next message, and each
    /// refusal is counted.
    #[test]
    fn refused_messages_are_counted_and_delivered_ones_are_not() {
        let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
        collector
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let config = Ipfix {
            collector: Some(collector.local_addr().unwrap()),
            ..Ipfix::default()
        };
        let exporter = Exporter::start(&config, Instant::now()).unwrap().unwrap();
        let unsent = exporter.unsent();
        exporter.sender().unwrap().send(flow()).unwrap();
        drop(exporter);
        let mut buf = [0u8; 2048];
        let mut messages = 0;
        while collector.recv(&mut buf).is_ok() {
            messages += 1;
            collector
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
        }
        assert_eq!(messages, 2, "the templates, then one data message");
        assert_eq!(unsent.load(Ordering::Relaxed), 0);

        // Nobody at this port any more.
        let gone = collector.local_addr().unwrap();
        drop(collector);
        let config = Ipfix {
            collector: Some(gone),
            ..Ipfix::default()
        };
        let exporter = Exporter::start(&config, Instant::now()).unwrap().unwrap();
        let unsent = exporter.unsent();
        exporter.sender().unwrap().send(flow()).unwrap();
        drop(exporter);
        // The templates went out first and drew the port unreachable (on
        // loopback, within that send); Linux reports it to the next send on the
        // connected socket, the record's message, which fails and is counted.
        assert_eq!(unsent.load(Ordering::Relaxed), 1);
    }
}
