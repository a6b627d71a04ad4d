//! `appchain-worker`: the binary a worker runs to earn tokens on the compute-marketplace
//! appchain, and the client side (route finding, posting jobs, opening SLAs).
//!
//! This is the skeleton the worker issue fills in: the command-line surface is here so that
//! `--help` documents what is coming; every command that is not built yet says so and exits
//! with a non-zero status instead of pretending to work.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Worker and client of the compute-marketplace appchain.
#[derive(Debug, Parser)]
#[command(name = "appchain-worker", version, about, long_about = None)]
struct Cli {
	/// WebSocket URL of an appchain node's RPC.
	#[arg(long, global = true, default_value = "ws://127.0.0.1:9944")]
	url: String,

	#[command(subcommand)]
	command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
	/// Register this machine as a compute node (with collateral and measured capacity).
	Register,
	/// Measure this machine's capacity (hash rate).
	Bench,
	/// Serve work until stopped: heartbeats, claims, hashing, commit/reveal, spot checks.
	Run,
	/// Show this node's state, collateral and earnings.
	Status,
}

fn main() -> ExitCode {
	let cli = Cli::parse();
	let name = match cli.command {
		Command::Register => "register",
		Command::Bench => "bench",
		Command::Run => "run",
		Command::Status => "status",
	};
	eprintln!(
		"error: `appchain-worker {name}` is not implemented yet (node: {}); \
		 see the worker issue",
		cli.url
	);
	ExitCode::from(2)
}
