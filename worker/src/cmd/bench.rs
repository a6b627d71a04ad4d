//! `bench`: measure the hashing engine.

use appchain_hash_engine as engine;

use crate::{cmd, error::WorkerError};

/// `bench` arguments.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
	/// Seconds per measurement.
	#[arg(long, default_value_t = 3.0)]
	pub seconds: f64,
	/// Thread counts to measure, comma-separated [default: 1 and all cores].
	#[arg(long, value_delimiter = ',')]
	pub threads: Vec<usize>,
}

/// Runs `bench`: prints the engine's report.
pub async fn run(args: BenchArgs) -> Result<(), WorkerError> {
	if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0) {
		return Err(WorkerError::Usage("--seconds must be above 0 and at most 3600".into()));
	}
	let list = if args.threads.is_empty() {
		let all = engine::available_threads();
		if all > 1 {
			vec![1, all]
		} else {
			vec![1]
		}
	} else {
		args.threads
	};
	for &count in &list {
		cmd::threads(Some(count))?;
	}
	let duration = std::time::Duration::from_secs_f64(args.seconds);
	let report = tokio::task::spawn_blocking(move || {
		engine::bench::run(duration, &list, |line| tracing::info!(event = "bench", "{line}"))
	})
	.await
	.map_err(|e| WorkerError::Engine(e.to_string()))?;
	println!("{report}");
	Ok(())
}
