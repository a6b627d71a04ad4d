//! Command-line interface of `appchain-node`.

/// Subcommands of `appchain-node`. Without a subcommand the node runs.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management utilities (generate, inspect, insert keys, node keys).
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Build a chain specification (legacy; see `export-chain-spec`).
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Export a built-in chain specification to JSON.
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a given block into a chain spec.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Sub-commands concerned with benchmarking (`pallet`, `storage`, `overhead`, `block`,
	/// `machine`, `extrinsic`).
	#[command(subcommand)]
	Benchmark(frame_benchmarking_cli::BenchmarkCmd),

	/// Print information about the chain database (best/finalized block, genesis hash).
	ChainInfo(sc_cli::ChainInfoCmd),
}

/// The top-level command line of `appchain-node`.
#[derive(Debug, clap::Parser)]
pub struct Cli {
	/// The subcommand to run, if any.
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	/// Parameters of the node itself (used when no subcommand is given).
	#[clap(flatten)]
	pub run: sc_cli::RunCmd,
}
