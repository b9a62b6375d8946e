//! Giving up root once the devices, routes and sockets exist (`[router] user`
//! / `group`, outside systemd): the process becomes that user and keeps only
//! the capabilities it still needs — `CAP_NET_ADMIN` (announce routes, TUNs
//! of subscribers a reload adds) and, when the configuration names a network
//! namespace, `CAP_SYS_ADMIN` (entering one for a new subscriber, the metrics
//! endpoint or the IPFIX export). `/proc/PID/status` shows the result.
//!
//! Capabilities are per thread, so this runs before the router starts any
//! thread: every thread it starts inherits the reduced set. Under systemd
//! the unit's `User=` and `AmbientCapabilities=` do the same before the
//! process starts, and nothing here runs (a hardened unit forbids `setuid`
//! and `capset`).

use crate::config::Config;
use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{Gid, Group, Uid, User};
use std::io;

fn error(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, format!("{what}: {e}"))
}

/// The capabilities a router of `config` keeps: `CAP_NET_ADMIN`,
/// `CAP_SYS_ADMIN` when it names a network namespace, and `CAP_BPF` when
/// `[fastpath]` names its interfaces (a reload attaches the program again).
pub fn needed(config: &Config) -> CapsHashSet {
    let mut keep = CapsHashSet::new();
    keep.insert(Capability::CAP_NET_ADMIN);
    let named = config.wan.netns.is_some()
        || config.subscriber.iter().any(|s| s.netns.is_some())
        || config.subscriber_range.iter().any(|r| r.netns.is_some())
        || config.metrics.netns.is_some()
        || config.ipfix.netns.is_some()
        || config.fastpath.netns.is_some();
    if named {
        keep.insert(Capability::CAP_SYS_ADMIN);
    }
    if config.fastpath.inside.is_some() {
        keep.insert(Capability::CAP_BPF);
    }
    keep
}

/// Becomes `[router] user` (and `group`, else the user's primary group)
/// keeping only [`needed`] — if the configuration names a user and this
/// process is not that user already. Returns the user it became. Call it
/// before any thread starts.
pub fn drop_privileges(config: &Config) -> io::Result<Option<String>> {
    let Some(name) = &config.router.user else {
        return Ok(None);
    };
    let user = User::from_name(name)
        .map_err(|e| error(&format!("router.user {name:?}"), e))?
        .ok_or_else(|| error(&format!("router.user {name:?}"), "no such user"))?;
    let gid = match &config.router.group {
        Some(g) => {
            Group::from_name(g)
                .map_err(|e| error(&format!("router.group {g:?}"), e))?
                .ok_or_else(|| error(&format!("router.group {g:?}"), "no such group"))?
                .gid
        }
        None => user.gid,
    };
    if Uid::effective() == user.uid && Gid::effective() == gid {
        return Ok(None);
    }
    if !Uid::effective().is_root() {
        return Err(error(
            &format!("router.user {name:?}"),
            "only root can become another user (under systemd, the unit's User= does it)",
        ));
    }
    let keep = needed(config);
    nix::sys::prctl::set_keepcaps(true).map_err(|e| error("keeping capabilities", e))?;
    nix::unistd::setgroups(&[gid]).map_err(|e| error("setgroups", e))?;
    nix::unistd::setgid(gid).map_err(|e| error("setgid", e))?;
    nix::unistd::setuid(user.uid).map_err(|e| error("setuid", e))?;
    // After setuid the effective set is empty and the permitted set kept:
    // raise what is needed to trim the bounding set, then keep only `keep`.
    let mut trimming = keep.clone();
    trimming.insert(Capability::CAP_SETPCAP);
    caps::set(None, CapSet::Effective, &trimming).map_err(|e| error("capset", e))?;
    for cap in caps::all() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| error("dropping a capability", e))?;
        }
    }
    caps::set(None, CapSet::Effective, &keep).map_err(|e| error("capset", e))?;
    caps::set(None, CapSet::Permitted, &keep).map_err(|e| error("capset", e))?;
    // Ambient, as the unit's AmbientCapabilities= make them: the process
    // `sixfold upgrade` starts (the only one this router starts) keeps them
    // across exec, as this user.
    caps::set(None, CapSet::Inheritable, &keep).map_err(|e| error("capset", e))?;
    for &cap in &keep {
        caps::raise(None, CapSet::Ambient, cap).map_err(|e| error("ambient capability", e))?;
    }
    nix::sys::prctl::set_keepcaps(false).map_err(|e| error("keeping capabilities", e))?;
    Ok(Some(name.clone()))
}
