//! One-shot commands: `register`, `status`, `job post`, `job watch`.

use std::collections::BTreeMap;

use appchain_primitives::pow::{Difficulty, HashFunction, PowSpec, SpecError};

use crate::{
	chain::{self, log, runtime, Account, Chain, NodeKind, NodeStatus, SubjobState},
	error::WorkerError,
	journal::Journal,
	keys::ss58,
};

/// Decimals of the chain's token (`TOKEN_DECIMALS` of the runtime).
pub const DECIMALS: u32 = 12;
/// The token's symbol.
pub const SYMBOL: &str = "CPU";

/// Parses a token amount such as `100` or `2.5` into planck.
pub fn parse_amount(text: &str) -> Result<u128, WorkerError> {
	let bad =
		|| WorkerError::Usage(format!("`{text}` is not an amount of {SYMBOL} (e.g. 100 or 2.5)"));
	let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
	if whole.is_empty() && fraction.is_empty()
		|| fraction.len() > DECIMALS as usize
		|| !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit())
	{
		return Err(bad());
	}
	let unit = 10u128.pow(DECIMALS);
	let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
	let padded = format!("{fraction:0<width$}", width = DECIMALS as usize);
	let fraction: u128 = padded.parse().map_err(|_| bad())?;
	whole.checked_mul(unit).and_then(|w| w.checked_add(fraction)).ok_or_else(bad)
}

/// Formats planck as a token amount.
pub fn format_amount(planck: u128) -> String {
	let unit = 10u128.pow(DECIMALS);
	let fraction = format!("{:012}", planck % unit);
	let fraction = fraction.trim_end_matches('0');
	if fraction.is_empty() {
		format!("{} {SYMBOL}", planck / unit)
	} else {
		format!("{}.{fraction} {SYMBOL}", planck / unit)
	}
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

/// `register`: registers a hashing node with `collateral` and `hash_rate`, unless the account
/// already has one (then it says so and succeeds, so the command can be re-run).
pub async fn register(
	chain: &Chain,
	account: &mut Account,
	collateral: u128,
	hash_rate: u64,
) -> Result<u64, WorkerError> {
	let at = chain.finalized().await?;
	if let Some(node) = chain::hashing_nodes(&at, &account.id).await?.first() {
		println!("{} already has hashing node {node}", ss58(&account.id));
		return Ok(*node);
	}
	let min = at
		.constants()
		.entry(runtime::constants().registry().min_collateral())
		.map_err(chain::chain_error)?;
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
	log(&format!(
		"registering a hashing node at {hash_rate} H/s with {} collateral",
		format_amount(collateral)
	));
	let events = account
		.submit_and_wait(
			chain,
			&runtime::transactions().registry().register_hashing_node(hash_rate, collateral),
		)
		.await?;
	let registered = events
		.find_first::<runtime::registry::events::HashingNodeRegistered>()
		.ok_or_else(|| WorkerError::Chain("no HashingNodeRegistered event".into()))?
		.map_err(chain::chain_error)?;
	println!("registered hashing node {} for {}", registered.node, ss58(&account.id));
	Ok(registered.node)
}

/// `status`: the node's registry entry, its open subjobs, and what it earned.
pub async fn status(
	chain: &Chain,
	account: &Account,
	node: Option<u64>,
	journal_base: &std::path::Path,
) -> Result<(), WorkerError> {
	let at = chain.finalized().await?;
	let now = at.block_number();
	let balance = at
		.storage()
		.fetch(runtime::storage().system().account(), (account.id,))
		.await
		.map_err(chain::chain_error)?
		.decode()
		.map_err(chain::chain_error)?;
	println!("account       {}", ss58(&account.id));
	println!("free balance  {}", format_amount(balance.data.free));
	println!("held          {}", format_amount(balance.data.reserved));
	let id = crate::run::own_hashing_node(&at, account, node).await?;
	let info = at
		.storage()
		.fetch(runtime::storage().registry().nodes(), (id,))
		.await
		.map_err(chain::chain_error)?
		.decode()
		.map_err(chain::chain_error)?;
	let registry = runtime::constants().registry();
	let timeout =
		u64::from(at.constants().entry(registry.heartbeat_timeout()).map_err(chain::chain_error)?);
	let min_collateral =
		at.constants().entry(registry.min_collateral()).map_err(chain::chain_error)?;
	let rate = match info.kind {
		NodeKind::Hashing { hash_rate } => hash_rate,
		_ => 0,
	};
	let state = match info.status {
		NodeStatus::Registered if info.collateral < min_collateral => format!(
			"registered, not serving (collateral below the minimum of {})",
			format_amount(min_collateral)
		),
		NodeStatus::Registered if now.saturating_sub(u64::from(info.last_heartbeat)) <= timeout => {
			"registered, serving".to_string()
		},
		NodeStatus::Registered => "registered, not serving (no recent heartbeat)".to_string(),
		NodeStatus::Unbonding { unlocks_at } => format!("unbonding until block {unlocks_at}"),
	};
	println!("node          {id} (hashing, {rate} H/s)");
	println!("state         {state} at block {now}; last heartbeat {}", info.last_heartbeat);
	println!("collateral    {}", format_amount(info.collateral));
	println!(
		"work          {} verified, {} failed, {} slashed",
		info.stats.completed, info.stats.failed, info.stats.slashed
	);
	let mut open = Vec::new();
	for (sid, subjob) in chain::subjobs(&at).await? {
		if subjob.node == id {
			let state = match subjob.state {
				SubjobState::Claimed => "claimed".to_string(),
				SubjobState::Committed { at, .. } => format!("committed at {at}"),
				SubjobState::Revealed { challenge_at, .. } => {
					format!("revealed, spot checks at {challenge_at}")
				},
			};
			open.push(format!(
				"subjob {sid} (job {}, nonces {}..{}, deadline {}): {state}",
				subjob.job, subjob.range.start, subjob.range.end, subjob.deadline
			));
		}
	}
	println!("open subjobs  {}", open.len());
	for line in open {
		println!("  {line}");
	}
	let journal = Journal::open(journal_base, chain.api.genesis_hash().as_ref())?;
	let (mut earned, mut bonus, mut slashed) = (0u128, 0u128, 0u128);
	for entry in journal.ledger()? {
		let amount: u128 = entry.amount.parse().unwrap_or_default();
		match entry.kind.as_str() {
			"reward" => earned = earned.saturating_add(amount),
			"bonus" => bonus = bonus.saturating_add(amount),
			_ => slashed = slashed.saturating_add(amount),
		}
	}
	println!(
		"earnings      {} in rewards, {} in finder's bonuses, {} slashed (seen by `run`)",
		format_amount(earned),
		format_amount(bonus),
		format_amount(slashed)
	);
	Ok(())
}

/// What to hash, as given on the command line.
#[derive(Debug, Clone)]
pub struct JobRequest {
	/// The payload (or 76-byte Bitcoin header prefix).
	pub payload: Vec<u8>,
	/// Bitcoin header mining instead of a generic job.
	pub bitcoin_header: bool,
	/// Double SHA-256 (generic jobs).
	pub double: bool,
	/// Leading zero bits.
	pub zeros: Option<u32>,
	/// Big-endian target, instead of `zeros`.
	pub target: Option<[u8; 32]>,
	/// First nonce.
	pub start: u64,
	/// One past the last nonce.
	pub end: u64,
	/// Budget in planck.
	pub budget: u128,
}

impl JobRequest {
	/// The job's specification, checked exactly as the chain checks it.
	pub fn spec(&self) -> Result<PowSpec, WorkerError> {
		let spec = if self.bitcoin_header {
			PowSpec::BitcoinHeader
		} else {
			let difficulty = match (self.zeros, self.target) {
				(Some(_), Some(_)) => {
					return Err(WorkerError::Job(
						"give either --zeros or --target, not both".into(),
					))
				},
				(_, Some(target)) => Difficulty::Target(target),
				(Some(zeros), None) => match u16::try_from(zeros) {
					Ok(z) if z <= 256 => Difficulty::LeadingZeroBits(z),
					_ => {
						return Err(WorkerError::Job(format!(
							"a difficulty of {zeros} leading zero bits is above the 256 bits of SHA-256"
						)))
					},
				},
				(None, None) => {
					return Err(WorkerError::Job(
						"give the difficulty with --zeros or --target".into(),
					))
				},
			};
			let hash = if self.double { HashFunction::DoubleSha256 } else { HashFunction::Sha256 };
			PowSpec::Generic { hash, difficulty }
		};
		spec.check(&self.payload, self.start, self.end).map_err(|e| {
			WorkerError::Job(match e {
				SpecError::BadRange if self.end <= self.start => format!(
					"the nonce range {}..{} is empty (--end must be above --start)",
					self.start, self.end
				),
				SpecError::BadRange => "a Bitcoin header nonce range must end by 2^32".into(),
				SpecError::DifficultyTooHigh => "difficulty above 256 bits".into(),
				SpecError::BadHeaderLength => {
					format!("a Bitcoin header prefix is 76 bytes, not {}", self.payload.len())
				},
				SpecError::BadCompactTarget => {
					"the header's compact `bits` target is invalid".into()
				},
			})
		})?;
		Ok(spec)
	}
}

/// `job post`: checks the job locally (so a bad one never reaches the chain), posts it, and
/// returns its id.
pub async fn post_job(
	chain: &Chain,
	account: &mut Account,
	request: &JobRequest,
) -> Result<u64, WorkerError> {
	let spec = request.spec()?;
	let at = chain.finalized().await?;
	let max_payload = at
		.constants()
		.entry(runtime::constants().hash_jobs().max_payload_len())
		.map_err(chain::chain_error)?;
	if request.payload.len() > max_payload as usize {
		return Err(WorkerError::Job(format!(
			"the payload is {} bytes; the chain takes at most {max_payload}",
			request.payload.len()
		)));
	}
	let min_budget = at
		.constants()
		.entry(runtime::constants().hash_jobs().min_budget())
		.map_err(chain::chain_error)?;
	if request.budget < min_budget {
		return Err(WorkerError::Job(format!(
			"a budget of {} is below the minimum of {}",
			format_amount(request.budget),
			format_amount(min_budget)
		)));
	}
	let call = runtime::transactions().hash_jobs().post_job(
		chain::Bounded(request.payload.clone()),
		subxt::utils::Static(spec),
		request.start,
		request.end,
		request.budget,
	);
	let events = account.submit_and_wait(chain, &call).await?;
	let posted = events
		.find_first::<runtime::hash_jobs::events::JobPosted>()
		.ok_or_else(|| WorkerError::Chain("no JobPosted event".into()))?
		.map_err(chain::chain_error)?;
	println!(
		"posted job {} over nonces {}..{} with a budget of {}",
		posted.job,
		posted.start,
		posted.end,
		format_amount(posted.budget)
	);
	Ok(posted.job)
}

/// `job watch`: follows a job block by block, printing its progress and events, until it
/// completes or is cancelled. Prints the verified winning nonces at the end.
pub async fn watch_job(chain: &Chain, job: u64) -> Result<(), WorkerError> {
	let at = chain.api.at_current_block().await.map_err(chain::chain_error)?;
	let Some(info) = chain::job(&at, job).await? else {
		return Err(WorkerError::Job(format!(
			"job {job} does not exist (or has already completed)"
		)));
	};
	let total = info.range.end.saturating_sub(info.range.start);
	println!(
		"job {job}: {total} nonces {}..{}, budget {}",
		info.range.start,
		info.range.end,
		format_amount(info.budget)
	);
	// Subjobs of this job and the nonces each revealed.
	let mut subjobs: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
	for (sid, subjob) in chain::subjobs(&at).await? {
		if subjob.job == job {
			let nonces = match subjob.state {
				SubjobState::Revealed { nonces, .. } => nonces.0,
				_ => Vec::new(),
			};
			subjobs.insert(sid, nonces);
		}
	}
	// Winners are known from the subjobs verified while watching: a job watched from its
	// start gets all of them.
	let complete = info.hashed == 0;
	let snapshot = at.block_number();
	let mut found: Vec<u64> = Vec::new();
	let mut blocks = chain.api.stream_blocks().await.map_err(chain::chain_error)?;
	let mut last_hashed = None;
	while let Some(block) = blocks.next().await {
		let block = block.map_err(chain::chain_error)?;
		if block.number() <= snapshot {
			// Already in the snapshot above.
			continue;
		}
		let at = block.at().await.map_err(chain::chain_error)?;
		let number = at.block_number();
		let events = at.events().fetch().await.map_err(chain::chain_error)?;
		for e in events.find::<runtime::hash_jobs::events::SubjobClaimed>() {
			let e = e.map_err(chain::chain_error)?;
			if e.job == job {
				subjobs.insert(e.subjob, Vec::new());
				println!(
					"#{number} subjob {} claimed by node {}: nonces {}..{}",
					e.subjob, e.node, e.start, e.end
				);
			}
		}
		for e in events.find::<runtime::hash_jobs::events::ResultRevealed>() {
			let e = e.map_err(chain::chain_error)?;
			if let Some(nonces) = subjobs.get_mut(&e.subjob) {
				*nonces = e.nonces.0.clone();
				println!(
					"#{number} subjob {} revealed {} winning nonce(s)",
					e.subjob,
					e.nonces.0.len()
				);
			}
		}
		for e in events.find::<runtime::hash_jobs::events::SubjobVerified>() {
			let e = e.map_err(chain::chain_error)?;
			if e.job == job {
				let nonces = subjobs.remove(&e.subjob).unwrap_or_default();
				println!(
					"#{number} subjob {} verified: node {} paid {} for {} nonces",
					e.subjob,
					e.node,
					format_amount(e.reward),
					e.hashed
				);
				found.extend(nonces);
			}
		}
		for e in events.find::<runtime::hash_jobs::events::SubjobFailed>() {
			let e = e.map_err(chain::chain_error)?;
			if e.job == job {
				subjobs.remove(&e.subjob);
				println!(
					"#{number} subjob {} failed ({:?}): node {} slashed {}; its range is handed out again",
					e.subjob, e.reason, e.node, format_amount(e.penalty)
				);
			}
		}
		if let Some(e) = events
			.find::<runtime::hash_jobs::events::JobCompleted>()
			.filter_map(Result::ok)
			.find(|e| e.job == job)
		{
			found.sort_unstable();
			println!(
				"#{number} job {job} completed: {} nonces hashed, {} winning, {} refunded",
				e.hashed,
				e.found,
				format_amount(e.refunded)
			);
			if complete {
				println!("winning nonces: {found:?}");
			} else {
				println!(
					"winning nonces of the subjobs verified while watching (the job had started): {found:?}"
				);
			}
			return Ok(());
		}
		if events
			.find::<runtime::hash_jobs::events::JobCancelled>()
			.filter_map(Result::ok)
			.any(|e| e.job == job)
		{
			println!("#{number} job {job} cancelled");
			return Ok(());
		}
		if let Some(info) = chain::job(&at, job).await? {
			if last_hashed != Some(info.hashed) {
				last_hashed = Some(info.hashed);
				println!(
					"#{number} job {job}: {}/{total} nonces verified ({:.0}%), {} open subjob(s), {} winning so far",
					info.hashed,
					info.hashed as f64 * 100.0 / total.max(1) as f64,
					info.open_subjobs,
					info.found
				);
			}
		}
	}
	Err(WorkerError::Chain("the node stopped sending blocks".into()))
}

#[cfg(test)]
mod tests {
	use super::*;

	fn request(zeros: Option<u32>, start: u64, end: u64) -> JobRequest {
		JobRequest {
			payload: b"hello".to_vec(),
			bitcoin_header: false,
			double: true,
			zeros,
			target: None,
			start,
			end,
			budget: 10u128.pow(13),
		}
	}

	#[test]
	fn amounts_parse_and_print() {
		assert_eq!(parse_amount("100").unwrap(), 100_000_000_000_000);
		assert_eq!(parse_amount("2.5").unwrap(), 2_500_000_000_000);
		assert_eq!(parse_amount(".000000000001").unwrap(), 1);
		for bad in ["", ".", "1.2.3", "-1", "1e3", "0.0000000000001", "abc"] {
			assert!(parse_amount(bad).is_err(), "{bad}");
		}
		assert_eq!(format_amount(2_500_000_000_000), "2.5 CPU");
		assert_eq!(format_amount(100_000_000_000_000), "100 CPU");
	}

	#[test]
	fn bad_jobs_are_refused_with_a_clear_reason() {
		let empty = request(Some(8), 10, 10).spec().unwrap_err().to_string();
		assert!(empty.contains("empty"), "{empty}");
		let hard = request(Some(300), 0, 10).spec().unwrap_err().to_string();
		assert!(hard.contains("above the 256 bits"), "{hard}");
		assert!(request(None, 0, 10).spec().is_err());
		assert_eq!(
			request(Some(256), 0, 10).spec().unwrap(),
			PowSpec::Generic {
				hash: HashFunction::DoubleSha256,
				difficulty: Difficulty::LeadingZeroBits(256)
			}
		);
		let mut header = request(None, 0, 10);
		header.bitcoin_header = true;
		assert!(header.spec().unwrap_err().to_string().contains("76 bytes"));
	}
}
