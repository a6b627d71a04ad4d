//! `appchain-worker`: earn tokens on the compute-marketplace appchain by hashing SHA-256
//! subjobs, and post and follow hash jobs as a client. See `appchain-worker --help`; the
//! library's crate docs map the modules.

use std::process::ExitCode;

use appchain_worker::{cli::Cli, logging};
use clap::Parser;

fn main() -> ExitCode {
	let cli = Cli::parse();
	logging::init(cli.global.log_format);
	let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
		Ok(runtime) => runtime,
		Err(e) => {
			eprintln!("error: cannot start the async runtime: {e}");
			return ExitCode::FAILURE;
		},
	};
	match runtime.block_on(cli.dispatch()) {
		Ok(()) => ExitCode::SUCCESS,
		Err(e) => {
			eprintln!("error: {e}");
			ExitCode::FAILURE
		},
	}
}
