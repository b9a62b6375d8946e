//! Compiles the fast path's XDP program (bpf/fastpath.bpf.c) with clang when
//! the `fastpath` feature is on; without it, does nothing, so the core and the
//! TUN router build on a machine without clang.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=bpf/fastpath.bpf.c");
    println!("cargo:rerun-if-changed=bpf/fastpath.h");
    println!("cargo:rerun-if-env-changed=CLANG");
    if env::var_os("CARGO_FEATURE_FASTPATH").is_none() {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out.join("fastpath.bpf.o");
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    // linux/*.h include asm/types.h, which Debian keeps under the multiarch
    // directory; clang -target bpf does not look there by itself.
    let multiarch = format!(
        "/usr/include/{}-linux-gnu",
        env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into())
    );
    let status = Command::new(&clang)
        .args(["-O2", "-g", "-Wall", "-Werror", "-target", "bpf"])
        .arg(format!("-I{multiarch}"))
        .args(["-c", "bpf/fastpath.bpf.c", "-o"])
        .arg(&object)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "the fast path's XDP program (reference-router/bpf/fastpath.bpf.c) did not compile: \
             {clang} exited with {s}. It needs clang's BPF target and libbpf's headers: \
             apt-get install clang libbpf-dev linux-libc-dev (Debian), or build without the \
             `fastpath` feature"
        ),
        Err(e) => panic!(
            "the `fastpath` feature compiles an XDP program with clang, but `{clang}` could not \
             be run ({e}): apt-get install clang libbpf-dev linux-libc-dev (Debian), set CLANG \
             to its path, or build without the `fastpath` feature"
        ),
    }
}
