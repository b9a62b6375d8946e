//! The log on standard error: text with colours only when standard error is
//! a terminal (never escape codes in a file or the journal), or one JSON
//! object per line (`[router] log_format = "json"`). The level comes from
//! `SIXFOLD_LOG` (`info` by default).

use sixfold_router::config::LogFormat;
use std::io::IsTerminal;

/// Starts the log in `format`.
pub(crate) fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIXFOLD_LOG")
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second start (tests) keeps the first.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}
