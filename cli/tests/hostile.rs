//! What a careless or hostile user of `sixfold rewrite` and `sixfold teredo
//! scan-pcap` can throw at them: output paths that are the input, captures cut
//! short by a snapshot length or in the middle of a record, huge files, values
//! no packet can carry. Each test here failed on the version before the
//! hardening issue.

use sixfold::capture::{self, LINKTYPE_RAW, PcapWriter};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const SIXFOLD: &str = env!("CARGO_BIN_EXE_sixfold");

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sixfold-hostile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A UDP/IPv4 packet 10.0.0.`host` → 198.51.100.7:53 with correct checksums.
fn udp(host: u8, payload: usize) -> Vec<u8> {
    let total = 28 + payload;
    let mut p = vec![
        0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, host, 198, 51, 100, 7,
    ];
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    let c = sixfold_checksum::checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&[0x9c, 0x40, 0, 53]);
    p.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend((0..payload).map(|i| i as u8));
    let sum = sixfold_checksum::pseudo::ipv4(
        [10, 0, 0, host].into(),
        [198, 51, 100, 7].into(),
        17,
        (8 + payload) as u16,
    ) + sixfold_checksum::sum(&p[20..]);
    let c = sixfold_checksum::udp::finish(sum);
    p[26..28].copy_from_slice(&c.to_be_bytes());
    p
}

/// A raw-IP pcap of `packets`.
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let w = PcapWriter::start(&mut out, LINKTYPE_RAW, false).unwrap();
    for (i, p) in packets.iter().enumerate() {
        w.write(
            &mut out,
            Duration::from_secs(1 + i as u64),
            p.len() as u32,
            p,
        )
        .unwrap();
    }
    out
}

fn sixfold(args: &[&str]) -> Output {
    Command::new(SIXFOLD).args(args).output().unwrap()
}

fn rewrite(input: &Path, output: &Path, extra: &[&str]) -> Output {
    Command::new(SIXFOLD)
        .arg("rewrite")
        .arg("--in")
        .arg(input)
        .arg("--out")
        .arg(output)
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_output_never_destroys_the_input() {
    let d = dir("same");
    let x = d.join("x.pcap");
    let bytes = pcap(&[udp(2, 10)]);
    std::fs::write(&x, &bytes).unwrap();
    std::os::unix::fs::symlink(&x, d.join("link.pcap")).unwrap();
    for out in [x.clone(), d.join(".").join("x.pcap"), d.join("link.pcap")] {
        let o = rewrite(&x, &out, &["--ttl", "9"]);
        assert!(!o.status.success(), "{}", out.display());
        assert!(stderr(&o).contains("same file"), "{}", stderr(&o));
        assert_eq!(std::fs::read(&x).unwrap(), bytes, "{}", out.display());
    }
    // An input that cannot be read leaves an existing output as it was.
    let out = d.join("out.pcap");
    std::fs::write(&out, b"precious").unwrap();
    for bad in [d.join("missing.pcap"), d.clone()] {
        let o = rewrite(&bad, &out, &[]);
        assert!(!o.status.success());
        assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    }
    // Nothing else is left in the directory: no temporary file.
    let names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_capture_cut_mid_record_says_how_many_frames_were_written() {
    let d = dir("cut");
    let whole = pcap(&[udp(2, 10), udp(3, 10), udp(4, 10)]);
    let input = d.join("cut.pcap");
    std::fs::write(&input, &whole[..whole.len() - 5]).unwrap();
    let out = d.join("out.pcap");
    let o = rewrite(&input, &out, &["--ttl", "9"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "the file ends inside a record, after 2 whole frames; the 2 frames before it were written to"
        ),
        "{}",
        stderr(&o)
    );
    let frames = capture::read(&out).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1].data[8], 9);
    // A capture with a header and no frame gives a valid, empty pcap.
    std::fs::write(&input, &whole[..24]).unwrap();
    let o = rewrite(&input, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap().len(), 24);
    assert_eq!(capture::read(&out).unwrap(), Vec::new());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_summary_goes_to_stderr_so_the_capture_can_go_to_stdout() {
    let d = dir("stdout");
    let input = d.join("in.pcap");
    std::fs::write(&input, pcap(&[udp(2, 10), udp(3, 0)])).unwrap();
    let o = rewrite(&input, Path::new("/dev/stdout"), &["--ttl", "-1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let frames = capture::read_bytes(&o.stdout).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].data[8], 63);
    assert!(
        stderr(&o).starts_with("2 packets: 2 rewritten"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn values_no_packet_can_carry_are_refused() {
    let d = dir("values");
    let input = d.join("in.pcap");
    std::fs::write(&input, pcap(&[udp(2, 10)])).unwrap();
    let out = d.join("out.pcap");
    for (args, says) in [
        (&["--ttl", "0"][..], "--ttl 0"),
        (&["--mss", "0"][..], "--mss 0"),
        (&["--portmap", "53:0"][..], "port 0"),
        (
            &["--portmap", "1-100:7", "--portmap", "53:8"][..],
            "port 53",
        ),
        (
            &[
                "--srcipmap",
                "10.0.0.0/8:192.0.2.0/24,10.0.0.2/32:198.51.100.1/32",
            ][..],
            "both map",
        ),
    ] {
        let o = rewrite(&input, &out, args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(!out.exists(), "{args:?} created the output");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// A capture of `frames` UDP packets of 1400 bytes, written straight to `path`.
fn big_capture(path: &Path, frames: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let w = PcapWriter::start(&mut out, LINKTYPE_RAW, false).unwrap();
    let p = udp(2, 1372);
    for i in 0..frames {
        w.write(
            &mut out,
            Duration::from_millis(i as u64),
            p.len() as u32,
            &p,
        )
        .unwrap();
    }
}

#[test]
fn scan_pcap_streams_a_capture_larger_than_its_memory() {
    let d = dir("big");
    let path = d.join("big.pcap");
    // 300 MB of capture under a 200 MB address-space limit.
    big_capture(&path, 210_000);
    let o = Command::new("prlimit")
        .arg(format!("--as={}", 200 << 20))
        .args([SIXFOLD, "teredo", "scan-pcap"])
        .arg(&path)
        .output()
        .expect("prlimit (util-linux)");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "210000 frames; no transition traffic found\n"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// Runs editcap (wireshark-common, with tshark) if present.
fn editcap(args: &[&str], input: &Path, output: &Path) -> bool {
    let ok = Command::new("editcap")
        .args(args)
        .arg(input)
        .arg(output)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("SIXFOLD_REQUIRE_ORACLES").is_none(),
            "editcap (tshark's wireshark-common) is missing"
        );
        eprintln!("SKIPPED: needs editcap (apt install tshark)");
    }
    ok
}

/// A capture taken with `-s 64` is rewritten in what was captured: each frame is
/// the first 64 bytes of the same frame rewritten whole (every header field and
/// every checksum present is exact), and scan-pcap reads it.
#[test]
fn snaplen_limited_captures_are_rewritten_in_what_was_captured() {
    let d = dir("snaplen");
    let whole = d.join("whole.pcap");
    let packets: Vec<Vec<u8>> = (0..40)
        .map(|i| udp(2 + (i % 7) as u8, 30 + 37 * i))
        .collect();
    std::fs::write(&whole, pcap(&packets)).unwrap();
    let short = d.join("short.pcap");
    if !editcap(&["-F", "pcap", "-s", "64"], &whole, &short) {
        return;
    }
    let frames = capture::read(&short).unwrap();
    assert!(frames.iter().any(|f| f.data.len() < f.orig_len as usize));
    let args = [
        "--srcipmap",
        "10.0.0.0/8:172.16.0.0/12",
        "--portmap",
        "53:5353",
        "--ttl",
        "-1",
    ];
    let (whole_out, short_out) = (d.join("whole.out.pcap"), d.join("short.out.pcap"));
    for (input, out) in [(&whole, &whole_out), (&short, &short_out)] {
        let o = rewrite(input, out, &args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).starts_with("40 packets: 40 rewritten"),
            "{}",
            stderr(&o)
        );
    }
    let full = capture::read(&whole_out).unwrap();
    let cut = capture::read(&short_out).unwrap();
    assert_eq!(full.len(), cut.len());
    for (i, (f, c)) in full.iter().zip(&cut).enumerate() {
        assert_eq!(c.orig_len, f.orig_len, "frame {i}");
        assert_eq!(c.data[..], f.data[..c.data.len()], "frame {i}");
        assert!(sixfold_checksum::verify(&c.data[..20]), "frame {i}");
    }
    let o = sixfold(&["teredo", "scan-pcap", short.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&d);
}
