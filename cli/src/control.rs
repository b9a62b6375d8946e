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
    let mut stream = UnixStream::connect(path).map_err(|e| not_connected(path, e))?;
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

/// Why `path` could not be connected to, said plainly: something that is not
/// a socket at all (a file, a directory) is named as such rather than as
/// `Connection refused`.
fn not_connected(path: &str, e: io::Error) -> io::Error {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            let kind = if meta.is_dir() {
                "a directory"
            } else if meta.is_file() {
                "a regular file"
            } else {
                "a device or pipe"
            };
            io::Error::new(
                e.kind(),
                format!("{path} is {kind}, not a socket: no router's control socket"),
            )
        }
        _ => io::Error::new(
            e.kind(),
            format!("{path}: {e} (is a router running with this control socket?)"),
        ),
    }
}
