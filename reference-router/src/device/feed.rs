//! The takeover listener (`[takeover] listen`): a thread of its own that
//! reads the UDP datagrams the predecessor's IPFIX exporter sends and hands
//! each, with its source, to every worker (each keeps the fed mappings of
//! the subscribers it owns, [`crate::Router::takeover_feed`]); the source
//! check and the decoding are the core's. A worker whose queue is full loses
//! the datagram, counted (`takeover.feed_dropped`): a worker never waits
//! for the feed, nor the feed for a worker.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

/// One datagram and where it came from.
pub type Datagram = Arc<(SocketAddr, Vec<u8>)>;

/// Datagrams waiting for a worker, at most.
pub const QUEUE: usize = 1024;

/// Binds `[takeover] listen` (before any device is opened: a clash stops
/// the router first).
pub fn bind(listen: SocketAddr) -> io::Result<UdpSocket> {
    let s = UdpSocket::bind(listen)
        .map_err(|e| io::Error::new(e.kind(), format!("takeover.listen {listen}: {e}")))?;
    // The thread looks at its stop flag this often.
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    Ok(s)
}

/// A worker's side: its queue and how to wake it.
pub(super) struct Inbox {
    pub(super) queue: SyncSender<Datagram>,
    pub(super) wake: Arc<UnixStream>,
}

/// A queue for one worker: its sending and receiving ends.
pub(super) fn queue() -> (SyncSender<Datagram>, Receiver<Datagram>) {
    mpsc::sync_channel(QUEUE)
}

/// The running listener.
pub(super) struct Listener {
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    /// Reads `socket` until dropped, handing every datagram to `workers`;
    /// what a full queue refuses is counted in `dropped`.
    pub(super) fn start(
        socket: UdpSocket,
        workers: Vec<Inbox>,
        dropped: Arc<AtomicU64>,
    ) -> io::Result<Listener> {
        let stop = Arc::new(AtomicBool::new(false));
        let halt = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("sixfold-takeover".into())
            .spawn(move || listen(&socket, &workers, &halt, &dropped))?;
        Ok(Listener {
            thread: Some(thread),
            stop,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn listen(socket: &UdpSocket, workers: &[Inbox], stop: &AtomicBool, dropped: &AtomicU64) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "takeover listener");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let datagram: Datagram = Arc::new((from, buf[..n].to_vec()));
        for w in workers {
            if w.queue.try_send(Arc::clone(&datagram)).is_err() {
                dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                let _ = (&*w.wake).write(&[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Every datagram reaches every worker with its source; one a full
    /// queue cannot take is counted, and the others still get it.
    #[test]
    fn datagrams_reach_every_worker_with_their_source_and_a_full_queue_counts() {
        let socket = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let at = socket.local_addr().unwrap();
        let (wake, woken) = UnixStream::pair().unwrap();
        let wake = Arc::new(wake);
        let (roomy, datagrams) = queue();
        let (tiny, stuck) = mpsc::sync_channel(1);
        let dropped = Arc::new(AtomicU64::new(0));
        let inboxes = vec![
            Inbox {
                queue: roomy,
                wake: Arc::clone(&wake),
            },
            Inbox {
                queue: tiny,
                wake: Arc::clone(&wake),
            },
        ];
        let listener = Listener::start(socket, inboxes, Arc::clone(&dropped)).unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        for m in [b"one".as_slice(), b"two"] {
            sender.send_to(m, at).unwrap();
        }
        let first = datagrams.recv_timeout(Duration::from_secs(5)).unwrap();
        let second = datagrams.recv_timeout(Duration::from_secs(5)).unwrap();
        drop(listener);
        assert_eq!(*first, (sender.local_addr().unwrap(), b"one".to_vec()));
        assert_eq!(second.1, b"two");
        assert_eq!(stuck.try_recv().unwrap().1, b"one");
        assert!(stuck.try_recv().is_err(), "the second did not fit");
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
        let mut byte = [0u8; 8];
        woken.set_nonblocking(true).unwrap();
        assert!(matches!((&woken).read(&mut byte), Ok(n) if n > 0), "woken");
    }
}
