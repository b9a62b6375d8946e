//! A [`Snapshot`](crate::Snapshot) as metrics a monitoring system scrapes: the Prometheus text
//! format (0.0.4, what `promtool` and most scrapers read) and OpenMetrics 1.0
//! (what Prometheus asks for first), from one list of [`Family`]s.
//!
//! Names follow the Prometheus conventions: `sixfold_` first, counters end in
//! `_total`, base units (bytes, bytes per second), every family with `# HELP`
//! and `# TYPE`. Every sample says which value of `sixfold stats`'s JSON it
//! shows ([`Sample::source`]), so a test can hold the two against each other.
//!
//! Labels stay bounded: per-subscriber families (and subscriber links' shapers)
//! are only listed when asked for (`[metrics] per_subscriber`).
//!
//! ```
//! use sixfold_router::stats::exposition::{self, Format};
//! let mut s = sixfold_router::Snapshot::default();
//! s.sessions = 3;
//! let text = exposition::render(&exposition::families(&s, false), Format::Prometheus);
//! assert!(text.contains("# TYPE sixfold_nat_sessions gauge\nsixfold_nat_sessions 3\n"));
//! ```

mod cgn;
mod families;
mod fastpath;

pub use families::families;
use std::fmt::Write;

/// What a family's samples are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (until the router restarts); the samples end in `_total`.
    Counter,
    /// A level that goes up and down.
    Gauge,
    /// A fact told by labels, value 1; the samples end in `_info`.
    Info,
}

/// Where a sample's value comes from in `sixfold stats`'s JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The JSON path: `drops.filtered`, `ipv4.outbound.tcp.bytes`,
    /// `subscribers[0].ports.udp`.
    pub path: String,
    /// The sample is the JSON value times this (1 but for unit changes:
    /// Mbit/s to bytes/s). For booleans, true is 1. For [`Kind::Info`], the
    /// JSON value is the sample's last label's value.
    pub scale: u64,
}

/// One sample of a family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Label names and values.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: u64,
    /// The JSON value it shows, if any (`sixfold_build_info` has none).
    pub source: Option<Source>,
}

/// A metric family: a name, what it means, and its samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Family {
    /// The name without the `_total` or `_info` suffix.
    pub name: &'static str,
    /// `# HELP`.
    pub help: &'static str,
    /// `# TYPE`.
    pub kind: Kind,
    /// The OpenMetrics unit, which the name ends with (`bytes`).
    pub unit: Option<&'static str>,
    /// The samples (a family may have none, e.g. no shaper configured).
    pub samples: Vec<Sample>,
}

impl Family {
    /// The samples' metric name: the family name, plus `_total` for counters
    /// and `_info` for infos.
    pub fn sample_name(&self) -> String {
        match self.kind {
            Kind::Counter => format!("{}_total", self.name),
            Kind::Info => format!("{}_info", self.name),
            Kind::Gauge => self.name.to_string(),
        }
    }
}

/// A text format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format an HTTP `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text` (version 1.0.0 or none) with a non-zero
    /// quality, else the Prometheus text format, which every scraper reads.
    pub fn from_accept(accept: &str) -> Format {
        let wants_openmetrics = accept.split(',').any(|range| {
            let mut params = range.split(';').map(str::trim);
            if !params
                .next()
                .is_some_and(|t| t.eq_ignore_ascii_case("application/openmetrics-text"))
            {
                return false;
            }
            params.all(|p| match p.split_once('=') {
                Some(("version", v)) => v == "1.0.0",
                Some(("q", q)) => q.parse::<f32>().is_ok_and(|q| q > 0.0),
                _ => true,
            })
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

/// The families as text in `format`.
pub fn render(families: &[Family], format: Format) -> String {
    let mut out = String::with_capacity(families.len() * 256);
    for f in families {
        let sample_name = f.sample_name();
        // Prometheus 0.0.4 names a family by its samples' name and has no info
        // type; OpenMetrics names it without the suffix.
        let (family_name, kind) = match format {
            Format::Prometheus => (
                sample_name.as_str(),
                match f.kind {
                    Kind::Counter => "counter",
                    Kind::Gauge | Kind::Info => "gauge",
                },
            ),
            Format::OpenMetrics => (
                f.name,
                match f.kind {
                    Kind::Counter => "counter",
                    Kind::Gauge => "gauge",
                    Kind::Info => "info",
                },
            ),
        };
        let _ = writeln!(out, "# HELP {family_name} {}", escape_help(f.help));
        let _ = writeln!(out, "# TYPE {family_name} {kind}");
        if let (Format::OpenMetrics, Some(unit)) = (format, f.unit) {
            let _ = writeln!(out, "# UNIT {family_name} {unit}");
        }
        for sample in &f.samples {
            out.push_str(&sample_name);
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape_label(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", sample.value);
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{DropReason, Snapshot};

    #[test]
    fn both_formats_in_exact_text() {
        let mut s = Snapshot::default();
        s.drops.add(DropReason::TunnelTeredo, 2);
        s.sessions = 5;
        s.ipv6.outbound.tcp.bytes = 1500;
        s.datapath.offload_refused = Some("a \"b\"\nc\\".into());
        let f = families(&s, false);
        let prom = render(&f, Format::Prometheus);
        for line in [
            "# HELP sixfold_dropped_packets_total Packets dropped, by reason (every reason listed).\n\
             # TYPE sixfold_dropped_packets_total counter\n\
             sixfold_dropped_packets_total{reason=\"malformed\"} 0\n",
            "sixfold_dropped_packets_total{reason=\"tunnel_teredo\"} 2\n",
            "sixfold_tunnel_blocked_packets_total{mechanism=\"teredo\"} 2\n",
            "# TYPE sixfold_nat_sessions gauge\nsixfold_nat_sessions 5\n",
            "sixfold_forwarded_bytes_total{family=\"ipv6\",direction=\"outbound\",protocol=\"tcp\"} 1500\n",
            "# TYPE sixfold_datapath_offload_refused_info gauge\n\
             sixfold_datapath_offload_refused_info{reason=\"a \\\"b\\\"\\nc\\\\\"} 1\n",
        ] {
            assert!(prom.contains(line), "{line} not in\n{prom}");
        }
        assert!(!prom.contains("# EOF") && !prom.contains("# UNIT"));
        let om = render(&f, Format::OpenMetrics);
        for line in [
            "# HELP sixfold_dropped_packets Packets dropped, by reason (every reason listed).\n\
             # TYPE sixfold_dropped_packets counter\n\
             sixfold_dropped_packets_total{reason=\"malformed\"} 0\n",
            "# TYPE sixfold_forwarded_bytes counter\n# UNIT sixfold_forwarded_bytes bytes\n",
            "# TYPE sixfold_datapath_offload_refused info\n",
            "# TYPE sixfold_shaper_rate_bytes_per_second gauge\n\
             # UNIT sixfold_shaper_rate_bytes_per_second bytes_per_second\n",
        ] {
            assert!(om.contains(line), "{line} not in\n{om}");
        }
        assert!(om.ends_with("\n# EOF\n"));
    }

    #[test]
    fn accept_header_chooses_the_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(prometheus), Format::OpenMetrics);
        assert_eq!(
            Format::from_accept("application/openmetrics-text"),
            Format::OpenMetrics
        );
        for other in [
            "",
            "*/*",
            "text/plain",
            "application/openmetrics-text; version=0.0.1",
            "application/openmetrics-text;q=0",
            "application/openmetrics-textual",
        ] {
            assert_eq!(Format::from_accept(other), Format::Prometheus, "{other}");
        }
    }
}
