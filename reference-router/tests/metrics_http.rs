//! The metrics endpoint's HTTP (RFC 9112) against a running server on
//! 127.0.0.1, its counters from a stand-in packet loop (no TUN, no root):
//! absolute-form targets, `Host`, the header-block and body limits with the
//! answer arriving whole, and idle reconnecting clients beside a scraper.
//! The end-to-end twin, with Prometheus scraping the lab's router, is in
//! cli/tests/metrics_e2e.rs.

use sixfold_router::Snapshot;
use sixfold_router::config::Metrics;
use sixfold_router::device::loops::{Loops, OutboxHandle, Request};
use sixfold_router::device::metrics::{self, Server};
use sixfold_router::stats::SubscriberUse;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A server on a free port of 127.0.0.1, answering from a loop that always
/// has (empty) counters.
fn serve() -> (Server, SocketAddr) {
    serve_with(0)
}

/// As [`serve`], with `subscribers` subscribers listed one by one: a large
/// answer (per-subscriber metrics on).
fn serve_with(subscribers: usize) -> (Server, SocketAddr) {
    let snapshot = Snapshot {
        subscribers: (0..subscribers)
            .map(|i| SubscriberUse {
                name: format!("subscriber-{i}"),
                ..SubscriberUse::default()
            })
            .collect(),
        ..Snapshot::default()
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Request>(64);
    let (wake, _keep) = UnixStream::pair().unwrap();
    wake.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let _keep = _keep;
        while let Ok(r) = rx.recv() {
            match r {
                Request::Snapshot(answer) => {
                    let _ = answer.send(snapshot.clone());
                }
                Request::Mapping(_, _, answer) => {
                    let _ = answer.send(None);
                }
                // Reloads (and the test hook) never come to this fake loop.
                _ => {}
            }
        }
    });
    let loops = Arc::new(Loops::new(vec![OutboxHandle::new(tx, Arc::new(wake))]));
    let config = Metrics {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Metrics::default()
    };
    let listener = metrics::bind(&config).unwrap().unwrap();
    let addr = listener.local_addr().unwrap();
    (Server::start(listener, loops, subscribers > 0), addr)
}

/// Sends `request` and reads until the server closes: the whole answer.
/// `slowly` reads 16 KiB every 10 ms.
fn ask(addr: SocketAddr, request: &[u8], slowly: bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("after {} bytes: {e}", out.len()),
        }
        if slowly {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn status(answer: &[u8]) -> &str {
    let text = std::str::from_utf8(&answer[..answer.len().min(64)]).unwrap_or("");
    text.lines().next().unwrap_or("")
}

/// Whether `answer` is a complete HTTP message: its body as long as its
/// Content-Length says.
fn whole(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|n| n.parse::<usize>().ok())
        == Some(body.len())
}

#[test]
fn absolute_form_host_and_the_header_block_limit() {
    let (_server, addr) = serve();
    let a = ask(
        addr,
        format!("GET http://{addr}/metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
        false,
    );
    assert_eq!(status(&a), "HTTP/1.1 200 OK");
    assert!(whole(&a) && String::from_utf8_lossy(&a).contains("sixfold_build_info"));
    let a = ask(addr, b"GET /metrics HTTP/1.1\r\n\r\n", false);
    assert_eq!(status(&a), "HTTP/1.1 400 Bad Request");
    let a = ask(addr, b"GET /metrics HTTP/1.0\r\n\r\n", false);
    assert_eq!(status(&a), "HTTP/1.1 200 OK");
    let big = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(9000)
    );
    let a = ask(addr, big.as_bytes(), false);
    assert_eq!(status(&a), "HTTP/1.1 431 Request Header Fields Too Large");
    assert!(whole(&a));
}

#[test]
fn a_body_up_to_64_kib_is_read_and_the_answer_arrives_whole() {
    // An answer larger than the sockets' buffers hold, read slowly: the server
    // is still sending when it is done with the request.
    let (_server, addr) = serve_with(1200);
    let mut request = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        metrics::MAX_BODY
    )
    .into_bytes();
    request.extend(std::iter::repeat_n(b'x', metrics::MAX_BODY));
    for round in 0..5 {
        let a = ask(addr, &request, true);
        assert_eq!(status(&a), "HTTP/1.1 200 OK", "round {round}");
        assert!(whole(&a), "round {round}: {} bytes", a.len());
        assert!(a.len() > 1 << 19, "{} bytes is not large", a.len());
    }
}

#[test]
fn a_larger_body_gets_413_whole_and_then_the_connection_closes() {
    let (_server, addr) = serve();
    let body = 1 << 20;
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: {body}\r\n\r\n").as_bytes(),
    )
    .unwrap();
    // The body keeps coming while the answer is read: the server drops it.
    let mut sender = s.try_clone().unwrap();
    let feeding = std::thread::spawn(move || {
        let chunk = [b'y'; 8192];
        for _ in 0..body / chunk.len() {
            if sender.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = sender.shutdown(Shutdown::Write);
    });
    let mut a = Vec::new();
    s.read_to_end(&mut a).expect("closed, not reset");
    feeding.join().unwrap();
    assert_eq!(status(&a), "HTTP/1.1 413 Content Too Large");
    assert!(whole(&a));
}

#[test]
fn sixty_four_idle_reconnecting_clients_do_not_fail_a_scrape() {
    let (_server, addr) = serve();
    let stop = Arc::new(AtomicBool::new(false));
    // Each connects, says nothing, and reconnects as soon as it is dropped.
    let idle: Vec<_> = (0..64)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut s) = TcpStream::connect(addr) else {
                        continue;
                    };
                    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                    let mut b = [0u8; 256];
                    while !stop.load(Ordering::Relaxed) {
                        match s.read(&mut b) {
                            Ok(0) => break,
                            Ok(_) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(_) => break,
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // A scraper (every half second for five seconds) is answered every time,
    // within a Prometheus scrape timeout of a second.
    let until = Instant::now() + Duration::from_secs(5);
    let mut scrapes = 0;
    while Instant::now() < until {
        let started = Instant::now();
        let a = ask(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", false);
        assert_eq!(status(&a), "HTTP/1.1 200 OK", "scrape {scrapes}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "scrape {scrapes}"
        );
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::Relaxed);
    for t in idle {
        t.join().unwrap();
    }
    assert!(scrapes >= 8);
}
