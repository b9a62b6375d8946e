//! File descriptors between two processes over a Unix socket pair
//! (`SOCK_SEQPACKET`: one message, one read): a text line with up to
//! [`MAX_FDS`] descriptors attached (`SCM_RIGHTS`), and a sealed-free memfd to
//! carry a state of any size in one descriptor. The receiver gets new
//! descriptors to the same open files: a TUN queue stays the same queue.

use nix::sys::socket::{
    self, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Descriptors sent with one message at most (the kernel's limit is 253).
pub(super) const MAX_FDS: usize = 200;
/// The longest text of one message.
const MAX_TEXT: usize = 64 * 1024;

/// One end of the handover's socket pair.
pub(super) struct Channel {
    fd: OwnedFd,
}

/// A socket pair of two channels; both close on exec (the child's end is
/// made inheritable by [`Channel::inheritable`]).
pub(super) fn pair() -> io::Result<(Channel, Channel)> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// The channel on descriptor `raw`, inherited from the process that
    /// started this one (`--handover-fd`): refused unless it is an open
    /// Unix socket.
    pub(super) fn inherited(raw: RawFd) -> io::Result<Channel> {
        // SAFETY: only borrowed for this one query; a number that is not
        // open makes getsockopt fail with EBADF and nothing else.
        let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
        let domain = socket::getsockopt(&borrowed, socket::sockopt::SockType);
        if domain != Ok(SockType::SeqPacket) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("--handover-fd {raw}: not the socket an upgrading router opens"),
            ));
        }
        // SAFETY: `raw` is open (the query above succeeded) and is the end
        // of the socket pair the old router left open across exec for this
        // process alone; it is taken here once, and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Channel { fd })
    }

    /// Its descriptor number, kept open across `exec` (for the child).
    pub(super) fn inheritable(&self) -> io::Result<RawFd> {
        use nix::fcntl::{FcntlArg, FdFlag, fcntl};
        fcntl(&self.fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
        Ok(self.fd.as_raw_fd())
    }

    /// Waits at most `timeout` for each message (none: forever).
    pub(super) fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        let tv = nix::sys::time::TimeVal::new(
            timeout.map_or(0, |t| t.as_secs() as i64),
            timeout.map_or(0, |t| i64::from(t.subsec_micros()).max(1)),
        );
        socket::setsockopt(&self.fd, socket::sockopt::ReceiveTimeout, &tv)?;
        Ok(())
    }

    /// Sends `text` with `fds` attached (at most [`MAX_FDS`]).
    pub(super) fn send(&self, text: &str, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        let cmsgs: Vec<ControlMessage<'_>> = if raw.is_empty() {
            Vec::new()
        } else {
            vec![ControlMessage::ScmRights(&raw)]
        };
        socket::sendmsg::<()>(
            self.fd.as_raw_fd(),
            &[IoSlice::new(text.as_bytes())],
            &cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        Ok(())
    }

    /// The next message: its text and the descriptors that came with it. The
    /// other end closed: `UnexpectedEof`; no message within the timeout:
    /// `WouldBlock`.
    pub(super) fn recv(&self) -> io::Result<(String, Vec<OwnedFd>)> {
        let mut text = vec![0u8; MAX_TEXT];
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let (n, raw) = loop {
            let mut iov = [IoSliceMut::new(&mut text)];
            match socket::recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => {
                    let mut raw = Vec::new();
                    for c in m.cmsgs()? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            raw.extend(fds);
                        }
                    }
                    break (m.bytes, raw);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "no answer in time",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let fds = raw
            .into_iter()
            // SAFETY: each descriptor was just installed in this process by
            // the kernel for this SCM_RIGHTS message; nothing else owns it.
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
            .collect();
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the other process closed the channel",
            ));
        }
        text.truncate(n);
        let text = String::from_utf8(text)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a message not in UTF-8"))?;
        Ok((text, fds))
    }
}

/// A memfd holding `bytes`, read from its start.
pub(super) fn memfd_with(bytes: &[u8]) -> io::Result<OwnedFd> {
    let fd =
        nix::sys::memfd::memfd_create(c"sixfold-state", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    file.rewind()?;
    Ok(OwnedFd::from(file))
}

/// Everything in the file `fd` (a memfd from [`memfd_with`]), `len` bytes.
pub(super) fn read_all(fd: OwnedFd, len: usize) -> io::Result<Vec<u8>> {
    let mut file = std::fs::File::from(fd);
    file.rewind()?;
    let mut bytes = Vec::with_capacity(len);
    file.read_to_end(&mut bytes)?;
    if bytes.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the state file holds {} bytes, {len} announced",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}
