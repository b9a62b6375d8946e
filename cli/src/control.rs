//! The client side of a running router's control socket (`router.control_socket`):
//! one request line, one answer.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

/// Sends control request `line` (`stats`, or `mapping <tcp|udp|icmp> <addr:port>`)
/// to the router at `path` and returns its answer.
pub fn request(path: &str, line: &str) -> io::Result<String> {
    let mut stream = UnixStream::connect(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{path}: {e} (is a router running with this control socket?)"),
        )
    })?;
    stream.write_all(line.as_bytes())?;
    stream.write_all(b"\n")?;
    let mut out = String::new();
    stream.read_to_string(&mut out)?;
    Ok(out)
}
