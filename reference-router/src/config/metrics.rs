//! `[metrics]`: the HTTP endpoint a monitoring system scrapes.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Where and what the metrics endpoint serves (off unless `listen` is set).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// `ADDR:PORT` to serve `/metrics` on (`"[::1]:9108"`); none: no endpoint.
    pub listen: Option<SocketAddr>,
    /// Network namespace to listen in (none: the router's own).
    pub netns: Option<String>,
    /// List each subscriber's port use, sessions and flows, and subscriber
    /// links' shapers: a label value per subscriber, too many series for a
    /// large deployment, so off by default.
    pub per_subscriber: bool,
}
