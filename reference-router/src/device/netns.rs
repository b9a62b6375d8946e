//! Network namespaces: run code inside one (by name, as `ip netns` keeps them
//! under `/run/netns`) and come back.

use nix::sched::{CloneFlags, setns};
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// Runs `f` inside network namespace `netns` (a name under `/run/netns`), then
/// returns the thread to the namespace it was in, also when `f` fails. A missing
/// namespace is an error that says so.
pub fn in_netns<T>(netns: &str, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let home = File::open("/proc/thread-self/ns/net")?;
    let target = File::open(Path::new("/run/netns").join(netns)).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => io::Error::new(
            e.kind(),
            format!("network namespace {netns:?} does not exist (ip netns add {netns})"),
        ),
        _ => io::Error::new(e.kind(), format!("network namespace {netns:?}: {e}")),
    })?;
    setns(target.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("entering network namespace {netns:?}: {e}"),
        )
    })?;
    let result = f();
    setns(home.as_fd(), CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
    result
}
