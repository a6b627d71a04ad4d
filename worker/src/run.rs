//! `appchain-worker run`: serve hash jobs until stopped.
//!
//! The worker is a loop over new best blocks. At each block it reads the chain and decides
//! what to do from the chain state alone, plus its journal:
//!
//! 1. for each of its own subjobs, by state:
//!    - `Claimed`, no result yet: hash it (in the background, on all cores);
//!    - `Claimed`, result journaled: submit the commitment;
//!    - `Committed`: reveal the journaled root, salt and nonces;
//!    - `Revealed` and its challenge seed exists: answer the spot checks from the journaled
//!      chunk digests;
//! 2. heartbeat when one is due, so the node stays *serving*;
//! 3. `reclaim` subjobs (its own included) whose deadline or answer window has passed, so
//!    that their ranges go back to their jobs;
//! 4. claim a new subjob when it is not hashing and the node may hold another claim;
//! 5. record the payments and penalties of newly finalized blocks in its ledger.
//!
//! Each of these is tried on its own: an error is logged and does not keep the others from
//! running. Every transaction is timed so that it lands in the next block: a commitment at
//! least one block before the deadline (so the reveal still fits), a reveal by the deadline,
//! answers within the answer window.
//!
//! Because every decision is taken from chain state, a restarted worker simply carries on:
//! what it already submitted shows up on chain, and what it committed to is in the journal.
//! A transaction in flight is not submitted twice (the `pending` map, cleared when the
//! transaction is in a block, lost, or has expired); after a restart or a reconnection the
//! worker first waits until the transactions it left in the node's pool have been included
//! or have expired.
//!
//! SIGINT or SIGTERM stops the loop, also in the middle of a step, and interrupts hashing;
//! nothing is lost, as the journal is written before every commitment.

use std::{
	collections::{BTreeMap, HashMap},
	path::PathBuf,
	sync::Arc,
	time::{Duration, Instant},
};

use appchain_hash_engine::{self as engine, Engine, Progress, SubjobOutput};
use appchain_primitives::pow::{self, Sha2};
use tokio::sync::mpsc;

use crate::{
	chain::{
		self, log, runtime, Account, AtBlock, Chain, NodeStatus, Outcome, SubjobOf, SubjobState,
	},
	client::format_amount,
	error::WorkerError,
	journal::{Journal, LedgerEntry, SubjobRecord},
};

/// What `run` needs besides the connection and the key.
#[derive(Debug, Clone)]
pub struct RunOptions {
	/// The node to serve as, if the account has several hashing nodes.
	pub node: Option<u64>,
	/// Hashing threads.
	pub threads: usize,
	/// Where the journal lives.
	pub base_path: PathBuf,
}

/// A transaction the worker may have in flight; at most one of each at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Action {
	Heartbeat,
	Claim,
	Commit(u64),
	Reveal(u64),
	Answer(u64),
	Reclaim(u64),
}

impl std::fmt::Display for Action {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Action::Heartbeat => write!(f, "heartbeat"),
			Action::Claim => write!(f, "claim"),
			Action::Commit(id) => write!(f, "commitment for subjob {id}"),
			Action::Reveal(id) => write!(f, "reveal of subjob {id} (from the journal)"),
			Action::Answer(id) => write!(f, "answers to the spot checks of subjob {id}"),
			Action::Reclaim(id) => write!(f, "reclaim of expired subjob {id}"),
		}
	}
}

/// A transaction in flight: the block it was signed at (it expires [`chain::MORTALITY`]
/// blocks later).
#[derive(Debug, Clone, Copy)]
struct Pending {
	signed_at: u64,
}

/// What the hashing task returns: the result and the time it took.
type HashingResult = (Result<SubjobOutput, engine::EngineError>, Duration);

/// A subjob being hashed in the background.
struct Hashing {
	subjob: u64,
	start: u64,
	end: u64,
	progress: Arc<Progress>,
	started: Instant,
	task: tokio::task::JoinHandle<HashingResult>,
}

/// Chain constants the loop uses.
struct Constants {
	chunk_size: u64,
	challenge_count: u32,
	max_nonces: usize,
	answer_window: u64,
	heartbeat_interval: u64,
	heartbeat_timeout: u64,
	max_open_subjobs: u32,
	min_collateral: u128,
	slash_penalty: u128,
}

/// How the worker loop ended.
enum Ended {
	/// SIGINT or SIGTERM.
	Stopped,
}

/// The running worker.
struct Worker {
	chain: Chain,
	account: Account,
	node: u64,
	journal: Journal,
	threads: usize,
	consts: Constants,
	pending: HashMap<Action, Pending>,
	generation: u64,
	outcomes_tx: mpsc::UnboundedSender<(Action, u64, Outcome)>,
	outcomes: mpsc::UnboundedReceiver<(Action, u64, Outcome)>,
	hashing: Option<Hashing>,
	last_block: u64,
}

/// Runs the worker until SIGINT/SIGTERM.
pub async fn run(url: &str, account: Account, options: RunOptions) -> Result<(), WorkerError> {
	let chain = Chain::connect(url, 6).await?;
	let at = chain.finalized().await?;
	let node = own_hashing_node(&at, &account, options.node).await?;
	let journal = Journal::open(&options.base_path, chain.api.genesis_hash().as_ref())?;
	let consts = constants(&at)?;
	log(&format!(
		"serving hash jobs as node {node} ({}) with {} threads; journal {}",
		crate::keys::ss58(&account.id),
		options.threads,
		journal.dir().display()
	));
	let (outcomes_tx, outcomes) = mpsc::unbounded_channel();
	let mut worker = Worker {
		chain,
		account,
		node,
		journal,
		threads: options.threads.max(1),
		consts,
		pending: HashMap::new(),
		generation: 0,
		outcomes_tx,
		outcomes,
		hashing: None,
		// Blocks up to the finalized one at start are history.
		last_block: at.block_number(),
	};

	let stop = stop_signal();
	tokio::pin!(stop);
	let mut stop: Stop<'_> = stop;
	let Ended::Stopped = worker.serve(&mut stop).await?;
	worker.shut_down().await;
	Ok(())
}

type Stop<'a> = std::pin::Pin<&'a mut (dyn std::future::Future<Output = ()> + Send)>;

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
	#[cfg(unix)]
	{
		use tokio::signal::unix::{signal, SignalKind};
		match signal(SignalKind::terminate()) {
			Ok(mut term) => {
				tokio::select! {
					_ = tokio::signal::ctrl_c() => {},
					_ = term.recv() => {},
				}
			},
			Err(_) => {
				let _ = tokio::signal::ctrl_c().await;
			},
		}
	}
	#[cfg(not(unix))]
	{
		let _ = tokio::signal::ctrl_c().await;
	}
}

/// The account's registered hashing node: `wanted`, or its only one.
pub async fn own_hashing_node(
	at: &AtBlock,
	account: &Account,
	wanted: Option<u64>,
) -> Result<u64, WorkerError> {
	let who = crate::keys::ss58(&account.id);
	let hashing = chain::hashing_nodes(at, &account.id).await?;
	match (wanted, hashing.as_slice()) {
		(Some(id), _) if hashing.contains(&id) => Ok(id),
		(Some(id), _) => {
			Err(WorkerError::NoNode(format!("node {id} is not a registered hashing node of {who}")))
		},
		(None, [only]) => Ok(*only),
		(None, []) => Err(WorkerError::NoNode(format!(
			"{who} has no registered hashing node; run `appchain-worker register` first"
		))),
		(None, many) => Err(WorkerError::NoNode(format!(
			"{who} has several hashing nodes ({many:?}); pick one with --node"
		))),
	}
}

fn constants(at: &AtBlock) -> Result<Constants, WorkerError> {
	let c = at.constants();
	let hj = runtime::constants().hash_jobs();
	let reg = runtime::constants().registry();
	let get = |e: subxt::error::ConstantError| chain::chain_error(e);
	Ok(Constants {
		chunk_size: u64::from(c.entry(hj.chunk_size()).map_err(get)?),
		challenge_count: c.entry(hj.challenge_count()).map_err(get)?,
		max_nonces: usize::try_from(c.entry(hj.max_nonces_per_result()).map_err(get)?)
			.unwrap_or(usize::MAX),
		answer_window: u64::from(c.entry(hj.answer_window()).map_err(get)?),
		heartbeat_interval: u64::from(c.entry(reg.heartbeat_interval()).map_err(get)?),
		heartbeat_timeout: u64::from(c.entry(reg.heartbeat_timeout()).map_err(get)?),
		max_open_subjobs: c.entry(hj.max_open_subjobs()).map_err(get)?,
		min_collateral: c.entry(reg.min_collateral()).map_err(get)?,
		slash_penalty: c.entry(hj.slash_penalty()).map_err(get)?,
	})
}

/// Logs a failed part of a step and carries on.
fn logged(what: &str, result: Result<(), WorkerError>) {
	if let Err(e) = result {
		log(&format!("{what}: {e}"));
	}
}

impl Worker {
	/// Follows the best blocks, stepping at each, and reconnects when the connection drops;
	/// returns when stopped.
	async fn serve(&mut self, stop: &mut Stop<'_>) -> Result<Ended, WorkerError> {
		if self.wait_for_own_pool_transactions(stop).await? {
			return Ok(Ended::Stopped);
		}
		loop {
			let mut blocks = match self.chain.api.stream_best_blocks().await {
				Ok(blocks) => blocks,
				Err(e) => {
					log(&format!("cannot follow blocks ({e}); reconnecting"));
					if self.reconnect(stop).await? {
						return Ok(Ended::Stopped);
					}
					continue;
				},
			};
			loop {
				let next = tokio::select! {
					_ = stop.as_mut() => return Ok(Ended::Stopped),
					next = blocks.next() => next,
				};
				let block = match next {
					Some(Ok(block)) => block,
					Some(Err(e)) => {
						log(&format!("block stream error ({e}); reconnecting"));
						break;
					},
					None => {
						log("block stream ended; reconnecting");
						break;
					},
				};
				let number = block.number();
				if number <= self.last_block {
					continue;
				}
				let stepped = tokio::select! {
					_ = stop.as_mut() => return Ok(Ended::Stopped),
					stepped = async {
						let at = block.at().await.map_err(chain::chain_error)?;
						self.step(&at).await
					} => stepped,
				};
				match stepped {
					Ok(()) => self.last_block = number,
					Err(e) => log(&format!("block {number}: {e}")),
				}
			}
			if self.reconnect(stop).await? {
				return Ok(Ended::Stopped);
			}
		}
	}

	/// Reconnects with backoff until it works (`Ok(false)`) or the worker is stopped
	/// (`Ok(true)`).
	async fn reconnect(&mut self, stop: &mut Stop<'_>) -> Result<bool, WorkerError> {
		let url = self.chain.url.clone();
		tokio::select! {
			_ = stop.as_mut() => Ok(true),
			chain = Chain::connect(&url, u32::MAX) => {
				self.chain = chain?;
				self.account.reset_nonce();
				// Outcomes of the old connection's transactions no longer count.
				self.pending.clear();
				self.generation = self.generation.saturating_add(1);
				log(&format!("reconnected to {url}"));
				self.wait_for_own_pool_transactions(stop).await
			},
		}
	}

	/// After a restart or a reconnection: transactions this account left in the node's pool
	/// are either included soon or expire (they are mortal). Wait for that, at most
	/// [`chain::MORTALITY`] blocks, instead of submitting the same steps twice. `Ok(true)` if
	/// stopped meanwhile.
	async fn wait_for_own_pool_transactions(
		&mut self,
		stop: &mut Stop<'_>,
	) -> Result<bool, WorkerError> {
		let mut first_block = None;
		loop {
			let best = self.chain.best().await?;
			let first = *first_block.get_or_insert(best.block_number());
			let pool = self.chain.next_nonce(&self.account.id).await?;
			let done = self.chain.nonce_at(&best, &self.account.id).await?;
			if pool <= done || best.block_number() > first.saturating_add(chain::MORTALITY) {
				return Ok(false);
			}
			log(&format!(
				"{} transaction(s) submitted before are still in the node's pool; waiting for them",
				pool.saturating_sub(done)
			));
			tokio::select! {
				_ = stop.as_mut() => return Ok(true),
				_ = tokio::time::sleep(Duration::from_secs(3)) => {},
			}
		}
	}

	async fn shut_down(&mut self) {
		if let Some(hashing) = self.hashing.take() {
			hashing.progress.stop();
			let _ = hashing.task.await;
			log(&format!(
				"stopped while hashing subjob {}; it is hashed again after a restart",
				hashing.subjob
			));
		}
		log("stopped; every committed result is in the journal");
	}

	/// Submits `call` for `action`, signed at block `at`, unless one is already in flight;
	/// its outcome comes back through the outcomes channel.
	async fn submit<Call: subxt::tx::Payload>(
		&mut self,
		at: &AtBlock,
		action: Action,
		call: Call,
	) -> Result<(), WorkerError> {
		if self.pending.contains_key(&action) {
			return Ok(());
		}
		let done = self.account.submit(&self.chain, at, &call).await?;
		if action != Action::Heartbeat {
			log(&format!("{action} submitted"));
		}
		let generation = self.generation;
		self.pending.insert(action, Pending { signed_at: at.block_number() });
		let tx = self.outcomes_tx.clone();
		tokio::spawn(async move {
			let outcome = done.await;
			let _ = tx.send((action, generation, outcome));
		});
		Ok(())
	}

	/// Clears the pending actions that are in a block, lost, or too old to still be valid.
	fn collect_outcomes(&mut self, now: u64) {
		while let Ok((action, generation, outcome)) = self.outcomes.try_recv() {
			if generation != self.generation {
				continue;
			}
			self.pending.remove(&action);
			match outcome {
				Outcome::Success => {},
				Outcome::Failed(e) => log(&format!("{action} failed: {e}")),
				Outcome::Lost(e) => {
					log(&format!("{action} was not included ({e}); will retry"));
					self.account.reset_nonce();
				},
			}
		}
		self.pending.retain(|_, pending| now <= pending.signed_at.saturating_add(chain::MORTALITY));
	}

	/// One block's worth of decisions.
	async fn step(&mut self, at: &AtBlock) -> Result<(), WorkerError> {
		let now = at.block_number();
		self.collect_outcomes(now);
		let node = chain::node(at, self.node)
			.await?
			.ok_or_else(|| WorkerError::NoNode(format!("node {} is gone", self.node)))?;
		let subjobs = chain::subjobs(at).await?;
		let ours: BTreeMap<u64, SubjobOf> =
			subjobs.iter().filter(|(_, s)| s.node == self.node).cloned().collect();
		self.drop_stale_hashing(&ours, now);

		// 1. Our subjobs first: they are what can be slashed.
		let mut busy = false;
		for (id, subjob) in &ours {
			match self.advance(at, now, *id, subjob).await {
				Ok(needs_hashing) => busy |= needs_hashing,
				Err(e) => log(&format!("subjob {id}: {e}")),
			}
		}

		// 2. Heartbeat.
		let registered = matches!(node.status, NodeStatus::Registered);
		let last_heartbeat = u64::from(node.last_heartbeat);
		if registered && now >= last_heartbeat.saturating_add(self.consts.heartbeat_interval) {
			let call = runtime::transactions().registry().heartbeat(self.node);
			logged("heartbeat", self.submit(at, Action::Heartbeat, call).await);
		}
		let serving = registered
			&& node.collateral >= self.consts.min_collateral
			&& now.saturating_sub(last_heartbeat) <= self.consts.heartbeat_timeout;

		// 3. Reclaim expired subjobs, ours included: the penalty is the same whoever asks,
		//    and the range goes back to the job.
		for (id, subjob) in &subjobs {
			if self.expired(subjob, now) {
				let call = runtime::transactions().hash_jobs().reclaim(*id);
				logged("reclaim", self.submit(at, Action::Reclaim(*id), call).await);
			}
		}

		// 4. Claim.
		if serving && !busy && self.hashing.is_none() {
			logged("claim", self.claim(at, &node).await);
		}

		// 5. Housekeeping from finalized blocks.
		logged("journal", self.forget_settled(&ours).await);
		logged("ledger", self.record_payments().await);
		Ok(())
	}

	/// Stops hashing a subjob that is no longer ours to commit: settled, reclaimed, already
	/// committed, or too close to its deadline for a commitment to land in time.
	fn drop_stale_hashing(&mut self, ours: &BTreeMap<u64, SubjobOf>, now: u64) {
		let Some(hashing) = &self.hashing else { return };
		let still_useful = ours.get(&hashing.subjob).is_some_and(|s| {
			matches!(s.state, SubjobState::Claimed) && commit_lands_in_time(now, s.deadline)
		});
		if !still_useful {
			log(&format!(
				"subjob {}: no longer committable (deadline passed or settled); dropping its hashing",
				hashing.subjob
			));
			hashing.progress.stop();
			self.hashing = None;
		}
	}

	/// Whether anyone may `reclaim` the subjob in the next block: its deadline passed without
	/// a reveal, or its answer window closed without an answer.
	fn expired(&self, subjob: &SubjobOf, now: u64) -> bool {
		let next = now.saturating_add(1);
		match &subjob.state {
			SubjobState::Claimed | SubjobState::Committed { .. } => {
				next > u64::from(subjob.deadline)
			},
			SubjobState::Revealed { challenge_at, .. } => {
				next > u64::from(*challenge_at).saturating_add(self.consts.answer_window)
			},
		}
	}

	/// Moves one of our subjobs forward. Returns whether it still needs hashing or a
	/// commitment (so no new claim should be made yet).
	async fn advance(
		&mut self,
		at: &AtBlock,
		now: u64,
		id: u64,
		subjob: &SubjobOf,
	) -> Result<bool, WorkerError> {
		let deadline = u64::from(subjob.deadline);
		// A transaction submitted now lands in block `now + 1` at the earliest.
		let next = now.saturating_add(1);
		match &subjob.state {
			SubjobState::Claimed => {
				if !commit_lands_in_time(now, subjob.deadline) {
					return Ok(false);
				}
				match self.journal.load(id)? {
					Some(record) if record_matches(&record, id, subjob) => {
						let call =
							runtime::transactions().hash_jobs().commit(id, record.commitment);
						self.submit(at, Action::Commit(id), call).await?;
					},
					Some(_) => {
						log(&format!(
							"subjob {id}: the journal holds a result for another range; hashing again"
						));
						self.journal.forget(id)?;
					},
					None => self.hash(at, id, subjob).await?,
				}
				Ok(true)
			},
			SubjobState::Committed { commitment, at: committed } => {
				if next > deadline || next <= u64::from(*committed) {
					return Ok(false);
				}
				match self.journal.load(id)? {
					Some(record) if record.commitment == *commitment => {
						let call = runtime::transactions().hash_jobs().reveal(
							id,
							record.root,
							record.salt,
							chain::Bounded(record.nonces),
						);
						self.submit(at, Action::Reveal(id), call).await?;
					},
					Some(_) => log(&format!(
						"subjob {id}: the journaled result is not the one committed; cannot reveal"
					)),
					None => log(&format!(
						"subjob {id} is committed but its journal record is missing: cannot reveal"
					)),
				}
				Ok(false)
			},
			SubjobState::Revealed { challenge_at, root, .. } => {
				let challenge_at = u64::from(*challenge_at);
				let closes = challenge_at.saturating_add(self.consts.answer_window);
				if now < challenge_at
					|| next > closes
					|| self.pending.contains_key(&Action::Answer(id))
				{
					return Ok(false);
				}
				let Some(seed) = at
					.storage()
					.try_fetch(
						runtime::storage().hash_jobs().challenge_seeds(),
						(u32::try_from(challenge_at).unwrap_or(u32::MAX),),
					)
					.await
					.map_err(chain::chain_error)?
				else {
					return Ok(false);
				};
				let seed = seed.decode().map_err(chain::chain_error)?;
				let chunks = subjob
					.range
					.end
					.saturating_sub(subjob.range.start)
					.div_ceil(self.consts.chunk_size);
				let indices =
					pow::challenge_indices::<Sha2>(&seed, id, chunks, self.consts.challenge_count);
				let journal = self.journal.clone();
				let revealed_root = *root;
				let answers = tokio::task::spawn_blocking(move || {
					answers_from_journal(&journal, id, &indices, &revealed_root)
				})
				.await
				.map_err(|e| WorkerError::Engine(e.to_string()))??;
				let call = runtime::transactions()
					.hash_jobs()
					.answer_challenge(id, chain::Bounded(answers));
				self.submit(at, Action::Answer(id), call).await?;
				Ok(false)
			},
		}
	}

	/// Starts hashing subjob `id`, or reports progress / finishes it if already started.
	async fn hash(&mut self, at: &AtBlock, id: u64, subjob: &SubjobOf) -> Result<(), WorkerError> {
		if let Some(hashing) = &self.hashing {
			if hashing.subjob != id {
				return Ok(());
			}
			if !hashing.task.is_finished() {
				let done = hashing.progress.hashed();
				let total = hashing.end.saturating_sub(hashing.start).max(1);
				let secs = hashing.started.elapsed().as_secs_f64().max(1e-9);
				log(&format!(
					"subjob {id}: {:.0}% of {total} nonces, {:.2} MH/s",
					done as f64 * 100.0 / total as f64,
					done as f64 / secs / 1e6
				));
				return Ok(());
			}
			let Some(hashing) = self.hashing.take() else { return Ok(()) };
			let (output, took) =
				hashing.task.await.map_err(|e| WorkerError::Engine(e.to_string()))?;
			let output = output.map_err(|e| WorkerError::Engine(e.to_string()))?;
			let record = self.journal_result(id, subjob, output, took).await?;
			let call = runtime::transactions().hash_jobs().commit(id, record.commitment);
			return self.submit(at, Action::Commit(id), call).await;
		}
		let job = chain::job(at, subjob.job).await?.ok_or_else(|| {
			WorkerError::Chain(format!("job {} of subjob {id} is gone", subjob.job))
		})?;
		let (start, end) = (subjob.range.start, subjob.range.end);
		let engine = Engine::new(&job.payload.0, &job.spec.0, start, end)
			.map_err(|e| WorkerError::Engine(format!("job {}: {e:?}", subjob.job)))?;
		let progress = Arc::new(Progress::new());
		let (threads, chunk_size, keep) =
			(self.threads, self.consts.chunk_size, self.consts.max_nonces);
		let task_progress = progress.clone();
		let task = tokio::task::spawn_blocking(move || {
			let started = Instant::now();
			let result = engine::run_subjob_keeping(
				&engine,
				start,
				end,
				chunk_size,
				threads,
				keep,
				&task_progress,
			);
			(result, started.elapsed())
		});
		log(&format!(
			"subjob {id} of job {}: hashing nonces {start}..{end} on {threads} threads",
			subjob.job
		));
		self.hashing =
			Some(Hashing { subjob: id, start, end, progress, started: Instant::now(), task });
		Ok(())
	}

	/// Journals a finished subjob's result with a fresh secret salt (synced to disk before the
	/// commitment is submitted) and returns the record.
	async fn journal_result(
		&mut self,
		id: u64,
		subjob: &SubjobOf,
		output: SubjobOutput,
		took: Duration,
	) -> Result<SubjobRecord, WorkerError> {
		let mut salt = [0u8; 32];
		getrandom::getrandom(&mut salt)
			.map_err(|e| WorkerError::Engine(format!("no randomness: {e}")))?;
		let nonces = output.winners;
		let commitment = pow::commitment::<Sha2>(id, &output.root, &salt, &nonces);
		let record = SubjobRecord {
			subjob: id,
			job: subjob.job,
			start: subjob.range.start,
			end: subjob.range.end,
			root: output.root,
			salt,
			nonces,
			commitment,
		};
		let journal = self.journal.clone();
		let (to_write, digests) = (record.clone(), output.digests);
		tokio::task::spawn_blocking(move || journal.record(&to_write, &digests))
			.await
			.map_err(|e| WorkerError::Engine(e.to_string()))??;
		let len = record.end.saturating_sub(record.start);
		let secs = took.as_secs_f64().max(1e-9);
		log(&format!(
			"subjob {id}: hashed {len} nonces in {secs:.3} s ({:.2} MH/s), {} winning; journaled",
			len as f64 / secs / 1e6,
			output.found
		));
		Ok(record)
	}

	/// Claims a subjob of the first job with nonces left, if the node's collateral covers
	/// another claim.
	async fn claim(&mut self, at: &AtBlock, node: &chain::NodeOf) -> Result<(), WorkerError> {
		let claims = at
			.storage()
			.fetch(runtime::storage().hash_jobs().claims_of(), (self.node,))
			.await
			.map_err(chain::chain_error)?
			.decode()
			.map_err(chain::chain_error)?;
		let limit = node.collateral / self.consts.slash_penalty.max(1);
		if u128::from(claims) >= limit {
			return Ok(());
		}
		let claimable = chain::jobs(at).await?.into_iter().filter(|(_, job)| {
			let open = job.open_subjobs.saturating_add(job.returned.0.len() as u32);
			!job.returned.0.is_empty()
				|| (job.next < job.range.end && open < self.consts.max_open_subjobs)
		});
		if let Some(job) = claimable.map(|(id, _)| id).min() {
			let call = runtime::transactions().hash_jobs().claim(job, self.node);
			self.submit(at, Action::Claim, call).await?;
		}
		Ok(())
	}

	/// Deletes the journal records of our subjobs that are settled: gone from the finalized
	/// state, so that a reorganisation cannot bring them back.
	async fn forget_settled(&mut self, ours: &BTreeMap<u64, SubjobOf>) -> Result<(), WorkerError> {
		let candidates: Vec<u64> =
			self.journal.subjobs()?.into_iter().filter(|id| !ours.contains_key(id)).collect();
		if candidates.is_empty() {
			return Ok(());
		}
		let finalized = self.chain.finalized().await?;
		for id in candidates {
			let open = finalized
				.storage()
				.try_fetch(runtime::storage().hash_jobs().subjobs(), (id,))
				.await
				.map_err(chain::chain_error)?;
			if open.is_none() {
				self.journal.forget(id)?;
			}
		}
		Ok(())
	}

	/// Records the rewards, bonuses and penalties of our node in the blocks finalized since
	/// the last call (at most 32 blocks per call), and remembers how far it got on disk.
	async fn record_payments(&mut self) -> Result<(), WorkerError> {
		let finalized = self.chain.finalized().await?.block_number();
		let Some(cursor) = self.journal.ledger_cursor()? else {
			// A new journal starts with the chain as it is now.
			return self.journal.set_ledger_cursor(finalized);
		};
		for number in cursor.saturating_add(1)..=finalized.min(cursor.saturating_add(32)) {
			let at = self.chain.api.at_block(number).await.map_err(chain::chain_error)?;
			let events = at.events().fetch().await.map_err(chain::chain_error)?;
			// The bonus event names the subjob, not the node: it is ours if the subjob's
			// verification in the same block is.
			let mut verified = Vec::new();
			for event in events.find::<runtime::hash_jobs::events::SubjobVerified>() {
				let e = event.map_err(chain::chain_error)?;
				if e.node == self.node {
					log(&format!("subjob {} verified: paid {}", e.subjob, format_amount(e.reward)));
					self.ledger(number, e.subjob, "reward", e.reward)?;
					verified.push(e.subjob);
				}
			}
			for event in events.find::<runtime::hash_jobs::events::FinderRewarded>() {
				let e = event.map_err(chain::chain_error)?;
				if verified.contains(&e.subjob) {
					log(&format!(
						"subjob {}: finder's bonus of {} for nonce {}",
						e.subjob,
						format_amount(e.bonus),
						e.nonce
					));
					self.ledger(number, e.subjob, "bonus", e.bonus)?;
				}
			}
			for event in events.find::<runtime::hash_jobs::events::SubjobFailed>() {
				let e = event.map_err(chain::chain_error)?;
				if e.node == self.node {
					log(&format!(
						"subjob {} failed ({:?}): slashed {}",
						e.subjob,
						e.reason,
						format_amount(e.penalty)
					));
					self.ledger(number, e.subjob, "penalty", e.penalty)?;
				}
			}
			self.journal.set_ledger_cursor(number)?;
		}
		Ok(())
	}

	fn ledger(&self, block: u64, subjob: u64, kind: &str, amount: u128) -> Result<(), WorkerError> {
		self.journal.append_ledger(&LedgerEntry {
			block,
			subjob,
			kind: kind.into(),
			amount: amount.to_string(),
		})
	}
}

/// Whether a commitment submitted after block `now` lands before `deadline` with a block to
/// spare for the reveal (commit at most `deadline - 1`, reveal at most `deadline`).
fn commit_lands_in_time(now: u64, deadline: u32) -> bool {
	now.saturating_add(2) <= u64::from(deadline)
}

/// Whether a journaled record is the result of this very subjob.
fn record_matches(record: &SubjobRecord, id: u64, subjob: &SubjobOf) -> bool {
	record.subjob == id
		&& record.job == subjob.job
		&& record.start == subjob.range.start
		&& record.end == subjob.range.end
}

/// The spot-check answers for the challenged chunk `indices` of subjob `id`, streamed from its
/// journaled digests (at most half of them in memory), checked against the revealed root.
fn answers_from_journal(
	journal: &Journal,
	id: u64,
	indices: &[u64],
	revealed_root: &[u8; 32],
) -> Result<Vec<chain::ChunkAnswer<chain::Bounded<[u8; 32]>>>, WorkerError> {
	let positions: Vec<usize> =
		indices.iter().map(|&i| usize::try_from(i).unwrap_or(usize::MAX)).collect();
	let (count, mut next) = journal.digest_reader(id)?;
	if positions.iter().any(|&p| p >= count) {
		return Err(WorkerError::Engine(format!(
			"subjob {id}: a challenged chunk is missing from the journal"
		)));
	}
	let proven = engine::merkle::root_and_proofs_streamed(count, &positions, &mut next)?;
	if proven.root != *revealed_root {
		return Err(WorkerError::Engine(format!(
			"subjob {id}: the journaled digests do not give the revealed root"
		)));
	}
	Ok(proven
		.leaves
		.into_iter()
		.zip(proven.proofs)
		.map(|(digest, proof)| chain::ChunkAnswer { digest, proof: chain::Bounded(proof) })
		.collect())
}

#[cfg(test)]
mod tests {
	use super::*;
	use appchain_primitives::pow::{merkle_root, verify_merkle_proof};

	#[test]
	fn spot_check_answers_stream_from_the_journal_and_verify() {
		let base = std::env::temp_dir().join(format!("appchain-answers-{}", std::process::id()));
		let _ = std::fs::remove_dir_all(&base);
		let journal = Journal::open(&base, &[1u8; 32]).unwrap();
		let digests: Vec<[u8; 32]> =
			(0u64..37).map(|i| <Sha2 as pow::Sha256>::hash(&i.to_le_bytes())).collect();
		let root = merkle_root::<Sha2>(&digests);
		let record = SubjobRecord {
			subjob: 3,
			job: 0,
			start: 0,
			end: 37 * 64,
			root,
			salt: [0; 32],
			nonces: vec![],
			commitment: [0; 32],
		};
		journal.record(&record, &digests).unwrap();

		let indices = [0u64, 36, 17, 17, 5];
		let answers = answers_from_journal(&journal, 3, &indices, &root).unwrap();
		assert_eq!(answers.len(), indices.len());
		for (index, answer) in indices.iter().zip(&answers) {
			assert_eq!(answer.digest, digests[*index as usize]);
			assert!(verify_merkle_proof::<Sha2>(
				&root,
				&answer.digest,
				*index,
				37,
				&answer.proof.0
			));
		}
		// A root that is not the journaled one, or a chunk past the end, is refused.
		assert!(answers_from_journal(&journal, 3, &[1], &[9; 32]).is_err());
		assert!(answers_from_journal(&journal, 3, &[37], &root).is_err());
		std::fs::remove_dir_all(&base).unwrap();
	}

	#[test]
	fn a_commitment_is_sent_only_when_it_and_the_reveal_still_fit() {
		// The commitment lands at `now + 1` and must leave the deadline block for the reveal.
		assert!(commit_lands_in_time(18, 20));
		assert!(!commit_lands_in_time(19, 20));
		assert!(!commit_lands_in_time(20, 20));
		assert!(!commit_lands_in_time(u64::MAX, 20));
	}
}
