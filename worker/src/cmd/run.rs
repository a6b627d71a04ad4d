//! `run`: the daemon, with the duties of a hashing node.
//!
//! Duties, in the order they run at each block: [`Heartbeat`] (first, so that a claim in the
//! same block finds the node serving), [`HashJobs`] (own subjobs first, then reclaims, then a
//! claim), [`Ledger`]. See [`crate::daemon`] for the loop.

use crate::{
	chain,
	cmd::{self, Global},
	daemon::Daemon,
	duty::{hashjobs::HashJobs, heartbeat::Heartbeat, ledger::Ledger},
	error::WorkerError,
	journal::Journal,
	keys::ss58,
};

/// `run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
	/// The hashing node to serve as, if the account has several.
	#[arg(long)]
	pub node: Option<u64>,
	/// Hashing threads [default: all cores].
	#[arg(long)]
	pub threads: Option<usize>,
}

/// Runs the worker until SIGINT/SIGTERM.
pub async fn run(global: &Global, args: RunArgs) -> Result<(), WorkerError> {
	let threads = cmd::threads(args.threads)?;
	let Some((signer, shutdown, chain)) = global.start_daemon().await? else {
		return Ok(());
	};
	let at = chain.finalized().await?;
	let node = chain::own_hashing_node(&at, signer.account(), args.node).await?;
	let journal = Journal::open(&global.base_path(), &chain.genesis_hash())?;
	let registry = chain::registry_constants(&at)?;
	let hash_jobs = chain::hash_job_constants(&at)?;
	tracing::info!(
		event = "serving",
		node,
		account = %ss58(signer.account()),
		threads,
		journal = %journal.dir().display(),
		"serving hash jobs as node {node} ({}) with {threads} threads; journal {}",
		ss58(signer.account()),
		journal.dir().display()
	);
	Daemon::new(chain, signer, shutdown)
		.with(Heartbeat::new(node, registry))
		.with(HashJobs::new(node, journal.clone(), threads, hash_jobs, registry))
		.with(Ledger::new(node, journal))
		.run()
		.await
}
