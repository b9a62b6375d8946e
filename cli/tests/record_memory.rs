//! `sixfold nat lookup` reads a capture as a stream: its peak memory does not
//! grow with the capture. Two captures of the same busy export, 4 MiB and
//! 24 MiB, are read; the peak resident memory (`VmHWM`, sampled while the
//! command runs) of the second may exceed the first's by less than 6 MiB (a
//! reader that held the capture would need 20 MiB more). The 1 GB figure
//! under `prlimit --as=300MB` is `scripts/record-memory.sh`'s (README).

mod common;
use common::frames::{Link, frames, write_pcap};
use sixfold_router::ipfix::encode::Encoder;
use sixfold_router::ipfix::{NatRecord, Record};
use sixfold_router::stats::NatEvent;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// 2026-03-03T14:00:00Z in UNIX milliseconds.
const T0: u64 = 1_772_546_400_000;

/// Messages of an export with UDP sessions of many subscribers until `bytes`,
/// and alice (100.64.1.1) holding 203.0.113.7:40000 from 14:00:01 on.
fn export(bytes: usize) -> Vec<(u64, Vec<u8>)> {
    let mut encoder = Encoder::new(1, T0);
    let mut out = vec![(T0, encoder.start((T0 / 1000) as u32))];
    let mut size = 0;
    let mut k = 0u32;
    while size < bytes {
        let batch: Vec<Record> = (0..30)
            .map(|i| {
                k += 1;
                let alice = k == 1;
                Record::Nat(NatRecord {
                    event: NatEvent::SessionCreate,
                    time_ms: 1000 + u64::from(k),
                    inside: if alice {
                        Ipv4Addr::new(100, 64, 1, 1)
                    } else {
                        Ipv4Addr::from(0x6440_1000 + k % 20_000)
                    },
                    outside: Ipv4Addr::new(203, 0, 113, 7),
                    protocol: 17,
                    inside_port: 5000,
                    outside_port: if alice {
                        40000
                    } else {
                        1024 + (i + k % 3000) as u16
                    },
                    first_port: 0,
                    last_port: 0,
                    remote: Ipv4Addr::new(192, 0, 2, 80),
                    remote_port: 53,
                    inside6: Ipv6Addr::UNSPECIFIED,
                    remote6: Ipv6Addr::UNSPECIFIED,
                })
            })
            .collect();
        let ms = T0 + 1000 + u64::from(k);
        for m in encoder.data(&batch, (ms / 1000) as u32) {
            size += m.len() + 60;
            out.push((ms, m));
        }
    }
    out
}

/// The peak resident memory (KiB) of `sixfold nat lookup` on `pcap`, and its
/// exit code.
fn peak_kib(config: &Path, pcap: &Path) -> (u64, Option<i32>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sixfold"))
        .args(["nat", "lookup", "--config", config.to_str().unwrap()])
        .args(["--ipfix-pcap", pcap.to_str().unwrap()])
        .args(["--at", "2026-03-03T14:00:02Z", "203.0.113.7:40000"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, status.code());
        }
        let hwm = std::fs::read_to_string(&status_path)
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
        peak = peak.max(hwm.unwrap_or(0));
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn reading_a_larger_capture_needs_no_more_memory() {
    let dir = std::env::temp_dir().join(format!("sixfold-record-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("router.toml");
    std::fs::write(
        &config,
        "[nat]\npool = [\"203.0.113.0/24\"]\n[[subscriber]]\nname = \"alice\"\nipv4 = [\"100.64.1.1\"]\n",
    )
    .unwrap();
    let mut peaks = Vec::new();
    for mib in [4, 24] {
        let pcap = dir.join(format!("{mib}.pcap"));
        write_pcap(
            &pcap,
            Link::Ethernet(0).linktype(),
            &frames(&export(mib << 20), Link::Ethernet(0), false),
        );
        let (peak, code) = peak_kib(&config, &pcap);
        assert_eq!(code, Some(0), "{mib} MiB: alice, for certain");
        peaks.push(peak);
    }
    assert!(peaks[0] > 0, "VmHWM was read");
    assert!(
        peaks[1] < peaks[0] + 6 * 1024,
        "peak resident memory grew from {} KiB (4 MiB capture) to {} KiB (24 MiB)",
        peaks[0],
        peaks[1]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
