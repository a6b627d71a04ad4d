//! Logs: `tracing`, filtered by `RUST_LOG` (default `info`), as text or as JSON lines.
//!
//! Logs go to standard error; standard output is reserved for what a command produces (an
//! address, a job id, a status table). With `--log-format json` every log is one JSON object
//! per line with the fields flattened, so a script follows a worker by its `event` field:
//!
//! ```text
//! {"timestamp":"…","level":"INFO","event":"tx_submitted","tx":"commit","subjob":7,"message":"…"}
//! ```
//!
//! Events worth following carry an `event` field with a stable name (see each module's docs);
//! `RUST_LOG=debug` adds the hash-job planner's decisions (`event = "plan"`).

use tracing_subscriber::EnvFilter;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
	/// One human-readable line per event.
	#[default]
	Text,
	/// One JSON object per line, fields flattened.
	Json,
}

/// Installs the global subscriber. `RUST_LOG` overrides the default level (`info`).
pub fn init(format: LogFormat) {
	let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
	let builder = tracing_subscriber::fmt()
		.with_env_filter(filter)
		.with_writer(std::io::stderr)
		.with_target(false);
	// A second initialisation (tests) keeps the first subscriber.
	let _ = match format {
		LogFormat::Text => builder.with_ansi(false).try_init(),
		LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
	};
}
