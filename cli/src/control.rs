//! The client side of a running router's control socket (`router.control_socket`):
//! one request line, one answer.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// How long a request may take, from sending to the end of the answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends control request `line` (`stats`, or `mapping <tcp|udp|icmp> <addr:port>`)
/// to the router at `path` and returns its answer; gives up after [`TIMEOUT`].
pub fn request(path: &str, line: &str) -> io::Result<String> {
    let mut stream = UnixStream::connect(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{path}: {e} (is a router running with this control socket?)"),
        )
    })?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let timed_out = |e: io::Error| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{path}: no answer within {} s", TIMEOUT.as_secs()),
        ),
        _ => io::Error::new(
            e.kind(),
            format!("{path}: {e} (is this a sixfold router's control socket?)"),
        ),
    };
    stream
        .write_all(format!("{line}\n").as_bytes())
        .map_err(timed_out)?;
    let mut out = String::new();
    stream.read_to_string(&mut out).map_err(timed_out)?;
    if let Some(error) = out.strip_prefix("error: ") {
        return Err(io::Error::other(format!("{path}: {}", error.trim_end())));
    }
    Ok(out)
}
