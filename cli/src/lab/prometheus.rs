//! `sixfold lab --metrics`: Debian's Prometheus in the WAN namespace scraping
//! the router's metrics endpoint every second, and figures read back from
//! Prometheus's HTTP API — the router as an operator's monitoring sees it.

use super::checks::check;
use super::world::{World, netns_command};
use anyhow::{Context, bail};
use sixfold_router::device;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The router's metrics endpoint, on the WAN namespace's loopback.
pub(super) const METRICS_ADDR: &str = "127.0.0.1:9108";
/// Prometheus's web and API address, on the same loopback.
pub(super) const PROMETHEUS_ADDR: &str = "127.0.0.1:9090";

/// One series of a query's answer: its labels and value.
#[derive(Debug)]
pub(super) struct Series {
    pub(super) labels: BTreeMap<String, String>,
    pub(super) value: f64,
}

/// Starts Prometheus in `wan_ns`, scraping the router every second, and waits
/// (30 s at most) until it has scraped the router once.
pub(super) fn start(
    wan_ns: &str,
    prefix: &str,
    world: &mut World,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v prometheus"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        bail!(
            "--metrics needs Prometheus: apt-get install prometheus (scripts/lab.sh installs it)"
        );
    }
    let template = std::env::temp_dir().join(format!("sixfold-prometheus-{prefix}-XXXXXX"));
    let dir = nix::unistd::mkdtemp(&template)
        .with_context(|| format!("creating a private directory like {}", template.display()))?;
    world.files.push(dir.clone());
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sixfold\n    static_configs:\n      - targets: [\"{METRICS_ADDR}\"]\n"
    );
    std::fs::write(dir.join("prometheus.yml"), config).context("writing prometheus.yml")?;
    let log =
        std::fs::File::create(dir.join("prometheus.log")).context("creating prometheus.log")?;
    let child = netns_command(wan_ns, "prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={PROMETHEUS_ADDR}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting prometheus")?;
    world.children.push(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        if let Ok(up) = query(wan_ns, "up{job=\"sixfold\"}")
            && up.iter().any(|s| s.value == 1.0)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            let text = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            bail!(
                "Prometheus did not scrape the router within 30 s; its log ends: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits (5 s at most) until Prometheus has scraped the router after now, so
/// what it holds includes everything that happened before.
pub(super) fn wait_for_scrape(wan_ns: &str) -> anyhow::Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let last = query(wan_ns, "timestamp(up{job=\"sixfold\"})")?;
        if last.iter().any(|s| s.value > now) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("Prometheus has not scraped the router for 5 s")
}

/// Evaluates `promql` now through Prometheus's HTTP API.
pub(super) fn query(wan_ns: &str, promql: &str) -> anyhow::Result<Vec<Series>> {
    let body = get(
        wan_ns,
        &format!("/api/v1/query?query={}", percent_encode(promql)),
    )?;
    let answer: serde_json::Value =
        serde_json::from_str(&body).context("Prometheus's answer is not JSON")?;
    if answer["status"] != "success" {
        bail!("Prometheus: {}", answer["error"]);
    }
    let result = answer["data"]["result"]
        .as_array()
        .context("no result in Prometheus's answer")?;
    result
        .iter()
        .map(|r| {
            let labels = r["metric"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let value = r["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .context("a series without a value")?;
            Ok(Series { labels, value })
        })
        .collect()
}

/// `GET path` from Prometheus in `wan_ns` (HTTP/1.0: the answer ends when the
/// connection does); the body of a 200.
fn get(wan_ns: &str, path: &str) -> anyhow::Result<String> {
    let addr: SocketAddr = PROMETHEUS_ADDR.parse()?;
    let mut stream = device::in_netns(wan_ns, || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(2))
    })
    .with_context(|| format!("connecting to Prometheus at {PROMETHEUS_ADDR} in {wan_ns}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {PROMETHEUS_ADDR}\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.take(16 << 20).read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .context("no HTTP header end from Prometheus")?;
    let status = head.lines().next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("200") {
        bail!("Prometheus answered {status}: {}", body.trim());
    }
    Ok(body.to_string())
}

/// URL query encoding: every byte but the unreserved ones as `%XX`.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prints three figures queried back from Prometheus: whether its last scrape
/// of the router succeeded, the rate of IPv6 bytes, and the drop counters that
/// moved. Returns whether all three could be read.
pub(super) fn report(wan_ns: &str) -> bool {
    println!(
        "Prometheus (in {wan_ns}, scraping http://{METRICS_ADDR}/metrics every 1 s; API http://{PROMETHEUS_ADDR}):"
    );
    let mut ok = wait_for_scrape(wan_ns).is_ok();
    ok &= check(
        "up{job=\"sixfold\"}",
        query(wan_ns, "up{job=\"sixfold\"}").and_then(|up| {
            let samples = query(wan_ns, "scrape_samples_scraped{job=\"sixfold\"}")?;
            match (up.first(), samples.first()) {
                (Some(u), Some(n)) if u.value == 1.0 => {
                    Ok(format!("1: the last scrape succeeded, {} samples", n.value))
                }
                _ => bail!("the router is not up in Prometheus: {up:?}"),
            }
        }),
    );
    ok &= check(
        "rate of IPv6 bytes (and IPv4), last minute",
        (|| {
            let rate = |family: &str| -> anyhow::Result<f64> {
                let q =
                    format!("sum(rate(sixfold_forwarded_bytes_total{{family=\"{family}\"}}[1m]))");
                Ok(query(wan_ns, &q)?.first().map_or(0.0, |s| s.value))
            };
            let (v6, v4) = (rate("ipv6")?, rate("ipv4")?);
            if v6 <= 0.0 {
                bail!("no IPv6 bytes: {v6} B/s");
            }
            Ok(format!("IPv6 {v6:.0} B/s, IPv4 {v4:.0} B/s"))
        })(),
    );
    ok &= check(
        "drop counters that moved",
        query(wan_ns, "sixfold_dropped_packets_total > 0").map(|series| {
            let mut moved: Vec<String> = series
                .iter()
                .map(|s| {
                    format!(
                        "{} {}",
                        s.labels.get("reason").map_or("?", String::as_str),
                        s.value
                    )
                })
                .collect();
            moved.sort();
            if moved.is_empty() {
                "none".into()
            } else {
                moved.join(", ")
            }
        }),
    );
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            percent_encode("up{job=\"sixfold\"} > 0"),
            "up%7Bjob%3D%22sixfold%22%7D%20%3E%200"
        );
        assert_eq!(percent_encode("a-b_c.d~9"), "a-b_c.d~9");
    }
}
