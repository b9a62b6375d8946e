//! The metrics endpoint against the programs that read it: `promtool check
//! metrics` lints the Prometheus text format, `prometheus_client`'s strict
//! OpenMetrics parser reads the OpenMetrics answer, and a real Prometheus
//! (Debian's, started by `sixfold lab --metrics`) scrapes the lab's router and
//! holds every value `sixfold stats` reports. Hostile HTTP clients do not move
//! ping latency through the router. Needs root; skipped loudly without it.

mod common;

use common::{Lab, can_run, exec, have, ok, ping_rtts, rss_kib};
use sixfold_router::Snapshot;
use sixfold_router::stats::exposition;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const METRICS: &str = "127.0.0.1:9108";

fn oracles_present(test: &str) -> bool {
    let python_client = Command::new("/usr/bin/python3")
        .args(["-c", "import prometheus_client"])
        .status()
        .is_ok_and(|s| s.success());
    let present = have("prometheus") && have("promtool") && have("curl") && python_client;
    if !present {
        assert!(
            std::env::var_os("SIXFOLD_REQUIRE_ORACLES").is_none(),
            "{test}: needs prometheus, promtool, curl and python3-prometheus-client"
        );
        eprintln!(
            "SKIPPED {test}: prometheus, promtool, curl or python3-prometheus-client missing"
        );
    }
    present
}

fn stats(socket: &str) -> Snapshot {
    serde_json::from_str(&sixfold::control::request(socket, "stats").unwrap()).unwrap()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Evaluates `promql` at `at` (Unix seconds) through Prometheus's API in `ns`:
/// every series with its labels (without `job` and `instance`) and value.
fn prometheus(ns: &str, promql: &str, at: f64) -> Vec<(BTreeMap<String, String>, f64)> {
    let body = ok(
        ns,
        &[
            "curl",
            "-sS",
            "--fail",
            "-G",
            "http://127.0.0.1:9090/api/v1/query",
            "--data-urlencode",
            &format!("query={promql}"),
            "--data-urlencode",
            &format!("time={at:.3}"),
        ],
    );
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["status"], "success", "{body}");
    answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let labels = r["metric"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k != "job" && *k != "instance")
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let value = r["value"][1].as_str().unwrap().parse::<f64>().unwrap();
            (labels, value)
        })
        .collect()
}

/// Every sample of a snapshot as Prometheus stores it: name and labels as one
/// map (`__name__` included), and the value.
fn samples(s: &Snapshot) -> BTreeMap<BTreeMap<String, String>, f64> {
    let mut out = BTreeMap::new();
    for family in exposition::families(s, true) {
        for sample in &family.samples {
            let mut key: BTreeMap<String, String> = sample
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            key.insert("__name__".into(), family.sample_name());
            out.insert(key, sample.value as f64);
        }
    }
    out
}

#[test]
fn prometheus_holds_every_value_stats_reports() {
    if !can_run("prometheus_holds_every_value_stats_reports")
        || !oracles_present("prometheus_holds_every_value_stats_reports")
    {
        return;
    }
    let mut lab = Lab::start("sfmetr", &["--metrics", "--subscribers", "2"]);
    let (sub1, sub2, wan) = (lab.ns("sub1"), lab.ns("sub2"), lab.ns("wan"));
    let socket = format!("/run/sixfold-{}.sock", lab.prefix);
    // Traffic in both families, both subscribers, so that counters move.
    for ns in [&sub1, &sub2] {
        ok(ns, &["ping", "-c", "3", "-i", "0.2", "192.0.2.80"]);
        ok(
            ns,
            &["ping", "-6", "-c", "3", "-i", "0.2", "2001:db8:ffff::80"],
        );
    }
    let _ = exec(
        &sub1,
        &["ping", "-c", "1", "-W", "1", "-t", "1", "192.0.2.80"],
    );

    // The Prometheus text format: promtool accepts it with no lint at all.
    let text = ok(
        &wan,
        &[
            "curl",
            "-sS",
            "--fail",
            &format!("http://{METRICS}/metrics"),
        ],
    );
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // OpenMetrics when asked for, read by prometheus_client's strict parser;
    // the same families and samples as the text format.
    let om = ok(
        &wan,
        &[
            "curl",
            "-sS",
            "--fail",
            "-H",
            "Accept: application/openmetrics-text;version=1.0.0",
            &format!("http://{METRICS}/metrics"),
        ],
    );
    assert!(om.ends_with("# EOF\n"));
    let count = |module: &str, body: &str| -> String {
        let mut py = Command::new("/usr/bin/python3")
            .args([
                "-c",
                &format!(
                    "import sys\nfrom prometheus_client.{module} import text_string_to_metric_families as p\nf = list(p(sys.stdin.read()))\nprint(len(f), sum(len(x.samples) for x in f))"
                ),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        py.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
        let out = py.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "prometheus_client.{module} refused it"
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let (of_om, of_text) = (count("openmetrics.parser", &om), count("parser", &text));
    assert_eq!(of_om, of_text);

    // Every value of `sixfold stats`, in Prometheus, within one scrape's change:
    // s1, then a scrape that began after s1 (the endpoint answers from counters
    // at most a second old, hence the wait), then s2; Prometheus's values must
    // lie between s1's and s2's.
    let s1 = stats(&socket);
    std::thread::sleep(Duration::from_millis(1100));
    let after = now();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let last = prometheus(&wan, "timestamp(up{job=\"sixfold\"})", now());
        if last.first().is_some_and(|(_, t)| *t > after) {
            break;
        }
        assert!(Instant::now() < deadline, "no scrape for 10 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let at = now();
    let s2 = stats(&socket);
    let held: BTreeMap<BTreeMap<String, String>, f64> =
        prometheus(&wan, "{__name__=~\"sixfold_.+\",job=\"sixfold\"}", at)
            .into_iter()
            .collect();
    let (low, high) = (samples(&s1), samples(&s2));
    assert_eq!(
        held.keys().collect::<Vec<_>>(),
        low.keys().collect::<Vec<_>>(),
        "the series Prometheus holds are not the samples of sixfold stats"
    );
    for (series, value) in &held {
        let (a, b) = (low[series], high[series]);
        assert!(
            a.min(b) <= *value && *value <= a.max(b),
            "{series:?}: Prometheus {value}, stats {a} then {b}"
        );
    }
    // The traffic above is in it.
    assert!(s2.ipv6.outbound.icmp.packets >= 6 && s2.ipv4.inbound.icmp.packets >= 6);
    assert!(s2.drops[sixfold_router::DropReason::TtlExceeded] >= 1);
    let status = lab.stop();
    assert!(status.success());
}

/// Median round-trip time, ms, of `count` pings from `ns` to `to` 10 ms
/// apart, and how many were lost.
fn ping_rtt(ns: &str, to: &str, count: u32) -> (f64, usize) {
    let mut rtts = ping_rtts(ns, to, count, "0.01");
    rtts.sort_by(f64::total_cmp);
    let lost = count as usize - rtts.len();
    (rtts.get(rtts.len() / 2).copied().unwrap_or(f64::MAX), lost)
}

/// Runs `attack` in a loop on a thread inside `ns` until `stop`.
fn hostile(
    ns: &str,
    stop: &Arc<AtomicBool>,
    attack: fn(SocketAddr, &AtomicBool),
) -> std::thread::JoinHandle<()> {
    let (ns, stop) = (ns.to_string(), Arc::clone(stop));
    std::thread::spawn(move || {
        let addr: SocketAddr = METRICS.parse().unwrap();
        // The thread stays in the namespace: its sockets are made there.
        let _ = sixfold_router::device::in_netns(&ns, || {
            while !stop.load(Ordering::Relaxed) {
                attack(addr, &stop);
            }
            Ok(())
        });
    })
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.set_write_timeout(Some(Duration::from_millis(500))).ok()?;
    Some(s)
}

/// Sends a request one header line every 100 ms, never finishing.
fn slowloris(addr: SocketAddr, stop: &AtomicBool) {
    let Some(mut s) = connect(addr) else { return };
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n");
    while !stop.load(Ordering::Relaxed) && s.write_all(b"X-Slow: 1\r\n").is_ok() {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends 64 KiB of bytes that are not HTTP.
fn garbage(addr: SocketAddr, _: &AtomicBool) {
    let Some(mut s) = connect(addr) else { return };
    let junk: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let _ = s.write_all(&junk);
    let _ = s.read(&mut [0u8; 512]);
}

/// Scrapes as fast as it can, reading every answer.
fn flood(addr: SocketAddr, _: &AtomicBool) {
    let Some(mut s) = connect(addr) else { return };
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let _ = s.read_to_end(&mut Vec::new());
}

/// Asks and never reads the answer.
fn deaf(addr: SocketAddr, stop: &AtomicBool) {
    let Some(mut s) = connect(addr) else { return };
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
    let until = Instant::now() + Duration::from_secs(10);
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn hostile_metrics_clients_do_not_move_ping_latency() {
    if !can_run("hostile_metrics_clients_do_not_move_ping_latency")
        || !oracles_present("hostile_metrics_clients_do_not_move_ping_latency")
    {
        return;
    }
    let mut lab = Lab::start("sfmeth", &["--metrics", "--subscribers", "1"]);
    let (sub1, wan) = (lab.ns("sub1"), lab.ns("wan"));
    let _ = ping_rtt(&sub1, "192.0.2.80", 20); // warm: ARP, the NAT session
    let (before, lost_before) = ping_rtt(&sub1, "192.0.2.80", 300);
    let rss_before = rss_kib(lab.router_pid());
    let stop = Arc::new(AtomicBool::new(false));
    let mut attackers = Vec::new();
    for _ in 0..12 {
        attackers.push(hostile(&wan, &stop, slowloris));
    }
    for attack in [
        garbage, garbage, deaf, deaf, flood, flood, flood, flood, flood, flood,
    ] {
        attackers.push(hostile(&wan, &stop, attack));
    }
    std::thread::sleep(Duration::from_secs(1));
    let (during, lost_during) = ping_rtt(&sub1, "192.0.2.80", 300);
    let rss_during = rss_kib(lab.router_pid());
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.join().unwrap();
    }
    let (after, _) = ping_rtt(&sub1, "192.0.2.80", 300);
    eprintln!("ping median: {before:.3} ms before, {during:.3} during, {after:.3} after");
    assert_eq!((lost_before, lost_during), (0, 0));
    assert!(
        rss_during < rss_before + 50 * 1024,
        "memory grew from {rss_before} to {rss_during} KiB"
    );
    // Moved means beyond this shared machine's spread between quiet runs (medians
    // of 0.08 to 0.22 ms were seen): twice the quiet median, or 0.2 ms more,
    // whichever is more. A server that held up the packet loops costs
    // milliseconds.
    let quiet = before.max(after);
    assert!(
        during <= (2.0 * quiet).max(quiet + 0.2),
        "ping median {during:.3} ms under attack against {quiet:.3} ms without"
    );
    // The endpoint still serves once the attackers are gone (within the few
    // seconds the request timeout and accept budget take to drain).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = exec(
            &wan,
            &[
                "curl",
                "-sS",
                "--fail",
                "--max-time",
                "3",
                &format!("http://{METRICS}/metrics"),
            ],
        );
        if out.status.success() {
            assert!(String::from_utf8_lossy(&out.stdout).contains("sixfold_build_info"));
            break;
        }
        assert!(Instant::now() < deadline, "the endpoint did not recover");
        std::thread::sleep(Duration::from_millis(500));
    }
    let status = lab.stop();
    assert!(status.success());
}

/// Connects and says nothing; returns when the server drops it (or at stop).
fn idle(addr: SocketAddr, stop: &AtomicBool) {
    let Some(mut s) = connect(addr) else { return };
    let mut b = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        match s.read(&mut b) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// curl in `ns` against the endpoint with `args`: the status code it got and
/// whether the transfer was whole (curl's exit status: 18 is a cut answer,
/// 56 a reset).
fn curl_status(ns: &str, args: &[&str]) -> (String, bool) {
    let mut all = vec![
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
    ];
    all.extend_from_slice(args);
    let out = exec(ns, &all);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.success(),
    )
}

/// RFC 9112 at the running endpoint (issue 29): an absolute-form target is
/// answered, HTTP/1.1 without Host gets 400, a header block over 8 KiB 431, a
/// 64 KiB body is read and the answer arrives whole to a slow reader, a larger
/// one gets 413 whole; and Prometheus, scraping every second, never misses a
/// scrape while 64 idle clients reconnect as fast as they are dropped.
#[test]
fn http_corners_and_idle_clients_against_the_running_endpoint() {
    if !can_run("http_corners_and_idle_clients_against_the_running_endpoint")
        || !oracles_present("http_corners_and_idle_clients_against_the_running_endpoint")
    {
        return;
    }
    let mut lab = Lab::start("sfmetc", &["--metrics", "--subscribers", "1"]);
    let wan = lab.ns("wan");
    let url = format!("http://{METRICS}/metrics");
    let absolute = format!("http://{METRICS}/metrics");
    let dir = std::env::temp_dir().join(format!("sixfold-metrics-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (body64, body1m) = (dir.join("64k"), dir.join("1m"));
    std::fs::write(&body64, vec![b'x'; 65536]).unwrap();
    std::fs::write(&body1m, vec![b'x'; 1 << 20]).unwrap();
    let at = |p: &std::path::Path| format!("@{}", p.display());
    let big_header = format!("X-Big: {}", "b".repeat(9000));
    for (args, want) in [
        (
            vec!["--request-target", absolute.as_str(), url.as_str()],
            "200",
        ),
        (vec!["-H", "Host:", url.as_str()], "400"),
        (vec!["-H", big_header.as_str(), url.as_str()], "431"),
        (
            vec![
                "-X",
                "GET",
                "--data-binary",
                &at(&body64),
                "--limit-rate",
                "64k",
                url.as_str(),
            ],
            "200",
        ),
        (
            vec!["-X", "GET", "--data-binary", &at(&body1m), url.as_str()],
            "413",
        ),
    ] {
        let (code, whole) = curl_status(&wan, &args);
        assert_eq!((code.as_str(), whole), (want, true), "curl {args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..64).map(|_| hostile(&wan, &stop, idle)).collect();
    std::thread::sleep(Duration::from_secs(10));
    let end = now();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let value = |promql: &str| {
        prometheus(&wan, promql, end)
            .first()
            .map_or(f64::NAN, |(_, v)| *v)
    };
    // Scrapes every second: all of the last 8 s's succeeded.
    assert!(value("count_over_time(up{job=\"sixfold\"}[8s])") >= 6.0);
    assert_eq!(value("min_over_time(up{job=\"sixfold\"}[8s])"), 1.0);
    let status = lab.stop();
    assert!(status.success());
}

/// A metrics address that cannot be bound stops `sixfold run` with the key
/// named, before any device exists and without leaving its control socket.
#[test]
fn a_metrics_address_in_use_stops_the_router_before_any_device() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("sixfold-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("ctl.sock");
    let config = dir.join("router.toml");
    std::fs::write(
        &config,
        format!(
            "[router]\ncontrol_socket = \"{}\"\n[wan]\nname = \"sfmetr0\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n",
            socket.display()
        ),
    )
    .unwrap();
    let out = Command::new(common::SIXFOLD)
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "metrics.listen 127.0.0.1:{port}: Address already in use"
        )),
        "{err}"
    );
    assert!(!socket.exists(), "the control socket was left behind");
    assert!(!std::path::Path::new("/sys/class/net/sfmetr0").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
