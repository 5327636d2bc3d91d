//! Logging: human-readable text or JSON lines, filtered by `log.level`
//! (overridable with `RUST_LOG`). Requests are logged by the middleware in
//! `crate::api` inside a span carrying the request id. Tokens,
//! `Authorization` headers and keys are never logged.
use crate::config::LogSettings;
use tracing_subscriber::EnvFilter;

pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = if settings.format == "json" {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    // A second initialization (tests) keeps the first subscriber.
    let _ = result;
}
