//! `register`: register this machine as a hashing node.

use appchain_primitives::{
	pow::{Difficulty, HashFunction, PowSpec},
	token::format_amount,
};

use crate::{
	chain::{self, calls, Chain, Signer},
	cmd::{self, Global},
	error::WorkerError,
	keys::ss58,
};

/// `register` arguments.
#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
	/// Collateral to hold, in CPU (e.g. 100 or 2.5).
	#[arg(long)]
	pub collateral: String,
	/// Hash rate to declare, in hashes per second, instead of measuring it.
	#[arg(long)]
	pub hash_rate: Option<u64>,
	/// Hashing threads to measure with [default: all cores].
	#[arg(long)]
	pub threads: Option<usize>,
}

/// Runs `register`.
pub async fn run(global: &Global, args: RegisterArgs) -> Result<(), WorkerError> {
	let collateral = cmd::parse_amount(&args.collateral)?;
	let signer = global.signer()?;
	let chain = global.connect().await?;
	let rate = match args.hash_rate {
		Some(rate) => rate,
		None => {
			let threads = cmd::threads(args.threads)?;
			tracing::info!(
				event = "measuring",
				threads,
				"measuring the hash rate on {threads} threads for 3 s"
			);
			let rate = tokio::task::spawn_blocking(move || {
				measure_hash_rate(std::time::Duration::from_secs(3), threads)
			})
			.await
			.map_err(|e| WorkerError::Engine(e.to_string()))??;
			tracing::info!(event = "measured", rate, "measured {rate} H/s");
			rate
		},
	};
	register(&chain, &signer, collateral, rate).await.map(|_| ())
}

/// Measures this machine's hash rate, in nonces per second, the way `run` hashes: a
/// double-SHA-256 job over a 76-byte payload with chunk digests and Merkle root, on `threads`
/// threads, for about `duration`. This is the rate declared on chain, from which the chain
/// sizes subjobs to about 30 seconds.
pub fn measure_hash_rate(
	duration: std::time::Duration,
	threads: usize,
) -> Result<u64, WorkerError> {
	use appchain_hash_engine::{run_subjob, Engine, Progress};
	let spec = PowSpec::Generic {
		hash: HashFunction::DoubleSha256,
		difficulty: Difficulty::LeadingZeroBits(32),
	};
	let batch: u64 = 1 << 18;
	let started = std::time::Instant::now();
	let mut hashed = 0u64;
	while started.elapsed() < duration || hashed == 0 {
		let engine = Engine::new(&[0x5a; 76], &spec, hashed, hashed.saturating_add(batch))
			.map_err(|e| WorkerError::Engine(format!("{e:?}")))?;
		run_subjob(&engine, hashed, hashed.saturating_add(batch), 64, threads, &Progress::new())
			.map_err(|e| WorkerError::Engine(e.to_string()))?;
		hashed = hashed.saturating_add(batch);
	}
	Ok((hashed as f64 / started.elapsed().as_secs_f64()) as u64)
}

/// Registers a hashing node with `collateral` and `hash_rate`, unless the account already has
/// one (then it says so and succeeds, so the command can be re-run). Returns the node.
pub async fn register(
	chain: &Chain,
	signer: &Signer,
	collateral: u128,
	hash_rate: u64,
) -> Result<u64, WorkerError> {
	let at = chain.finalized().await?;
	let who = ss58(signer.account());
	if let Some(node) = chain::hashing_nodes(&at, signer.account()).await?.first() {
		println!("{who} already has hashing node {node}");
		return Ok(*node);
	}
	let min = chain::registry_constants(&at)?.min_collateral;
	if collateral < min {
		return Err(WorkerError::Usage(format!(
			"collateral {} is below the minimum of {}",
			format_amount(collateral),
			format_amount(min)
		)));
	}
	if hash_rate == 0 {
		return Err(WorkerError::Usage("a hash rate of 0 cannot serve any subjob".into()));
	}
	tracing::info!(
		event = "registering",
		hash_rate,
		collateral = %collateral,
		"registering a hashing node at {hash_rate} H/s with {} collateral",
		format_amount(collateral)
	);
	let events =
		signer.submit_and_wait(chain, &calls::register_hashing_node(hash_rate, collateral)).await?;
	let node = chain::registered_hashing_node(&events)?;
	println!("registered hashing node {node} for {who}");
	Ok(node)
}
