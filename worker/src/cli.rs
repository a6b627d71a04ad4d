//! The command line: the global options and the commands. Each command's arguments and work
//! are in its own module under [`crate::cmd`], which also holds what they share.

use clap::{Parser, Subcommand};

use crate::{
	cmd::{self, Global},
	error::WorkerError,
};

/// Worker and client of the compute-marketplace appchain.
///
/// An inference worker `serve`s a range of a model's layers over HTTP; a client `infer`s text
/// through the chain's route of such nodes.
///
/// A hashing worker registers a hashing node with collateral and its measured hash rate, then `run`s:
/// it claims subjobs of posted hash jobs, hashes them on all cores, commits to and reveals
/// the winning nonces, answers the chain's spot checks and is paid per verified subjob.
/// Clients `job post` nonce-search jobs with an escrowed budget and `job watch` them.
///
/// The signing key comes from $APPCHAIN_SURI (a secret URI such as a phrase or `//Alice`) or
/// else from the keystore file (`key generate` creates one). Logs go to standard error
/// (`RUST_LOG` sets the level, `--log-format json` makes them one JSON object per line);
/// standard output carries only what a command produces.
#[derive(Debug, Parser)]
#[command(name = "appchain-worker", version, about, long_about)]
pub struct Cli {
	/// Options every command takes.
	#[command(flatten)]
	pub global: Global,

	/// The command.
	#[command(subcommand)]
	pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
	/// Create or show the signing key.
	#[command(subcommand)]
	Key(cmd::key::KeyCommand),
	/// Register this machine as a hashing node, holding collateral, with its hash rate
	/// (measured now unless --hash-rate is given). Does nothing if the account already has one.
	Register(cmd::register::RegisterArgs),
	/// Measure the hashing engine: nonces per second per core, the raw SHA-256 compression
	/// rate of this machine and their ratio, scaling over cores, and peak memory.
	Bench(cmd::bench::BenchArgs),
	/// Serve hash jobs until stopped (SIGINT/SIGTERM): heartbeats, claims subjobs, hashes
	/// them, commits, reveals, answers spot checks, reclaims expired subjobs of others.
	Run(cmd::run::RunArgs),
	/// Show the node's state, collateral, open subjobs and earnings.
	Status(cmd::status::StatusArgs),
	/// Client side: post and follow hash jobs.
	#[command(subcommand)]
	Job(cmd::job::JobCommand),
	/// Inspect model files, register models on chain, list them.
	#[command(subcommand)]
	Model(cmd::model::ModelCommand),
	/// Serve a range of a model's layers until stopped: checks the file against the chain's
	/// digest, registers the inference node with collateral, heartbeats, and serves the
	/// activation API over HTTP.
	Serve(cmd::serve::ServeArgs),
	/// Generate text through the network: the chain's route for --alpha, the model's ends run
	/// here, its layers on the route's nodes, with failover.
	Infer(cmd::infer::InferArgs),
	/// Audit the receipts nodes signed for this client (`infer --receipts FILE`): commit them
	/// on chain with a small bond so the chain samples them as if the nodes had committed,
	/// and follow each audit to its verdict (reveal a challenged step with the node's
	/// signature; a node proven to have cheated is slashed to this client).
	Audit(cmd::audit::AuditArgs),
	/// An OpenAI-compatible API (/v1/models, /v1/completions, /v1/chat/completions with
	/// streaming) that generates through the network and pays with payment channels.
	Gateway(cmd::gateway::GatewayArgs),
	/// Payment channels: open, top up, sign and claim vouchers, close, finalize.
	#[command(subcommand)]
	Channel(cmd::channel::ChannelCommand),
	/// Simulate the P2P-LLM market off line (paper §5–6): nodes re-price by gradient ascent
	/// and move to the layers where their share is largest; prints the rows of Table 1, writes
	/// a CSV and an SVG plot, and checks the end state for an equilibrium.
	Simulate(cmd::simulate::SimulateArgs),
}

impl Cli {
	/// Runs the command.
	pub async fn dispatch(self) -> Result<(), WorkerError> {
		let global = self.global;
		match self.command {
			Command::Key(command) => cmd::key::run(&global, command),
			Command::Register(args) => cmd::register::run(&global, args).await,
			Command::Bench(args) => cmd::bench::run(args).await,
			Command::Run(args) => cmd::run::run(&global, args).await,
			Command::Status(args) => cmd::status::run(&global, args).await,
			Command::Job(command) => cmd::job::run(&global, command).await,
			Command::Model(command) => cmd::model::run(&global, command).await,
			Command::Serve(args) => cmd::serve::run(&global, args).await,
			Command::Infer(args) => cmd::infer::run(&global, args).await,
			Command::Audit(args) => cmd::audit::run(&global, args).await,
			Command::Gateway(args) => cmd::gateway::run(&global, args).await,
			Command::Channel(command) => cmd::channel::run(&global, command).await,
			Command::Simulate(args) => cmd::simulate::run(args).await,
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::logging::LogFormat;

	#[test]
	fn the_command_line_is_consistent() {
		use clap::CommandFactory;
		Cli::command().debug_assert();
	}

	#[test]
	fn log_format_is_global() {
		let cli =
			Cli::try_parse_from(["appchain-worker", "status", "--log-format", "json"]).unwrap();
		assert_eq!(cli.global.log_format, LogFormat::Json);
		assert!(Cli::try_parse_from(["appchain-worker", "--log-format", "xml", "status"]).is_err());
	}
}
