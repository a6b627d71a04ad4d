//! `appchain-worker run`: serve hash jobs until stopped.
//!
//! The worker is a loop over new best blocks. At each block it reads the chain and decides
//! what to do from the chain state alone, plus its journal:
//!
//! 1. heartbeat when one is due, so the node stays *serving*;
//! 2. for each of its own subjobs, by state:
//!    - `Claimed`, no result yet: hash it (in the background, on all cores);
//!    - `Claimed`, result journaled: submit the commitment;
//!    - `Committed`: reveal the journaled root, salt and nonces;
//!    - `Revealed` and its challenge seed exists: answer the spot checks from the journaled
//!      chunk digests;
//! 3. `reclaim` other workers' subjobs whose deadline or answer window has passed, so that
//!    their ranges go back to the job;
//! 4. claim a new subjob when it is not hashing and the node may hold another claim.
//!
//! Because every decision is taken from chain state, a restarted worker simply carries on:
//! what it already submitted shows up on chain, and what it committed to is in the journal.
//! A transaction in flight is not submitted twice (the `pending` set, cleared when the
//! transaction is finalized or lost); after a restart the worker first waits until the
//! transactions it left in the node's pool have been included or have expired.
//!
//! SIGINT or SIGTERM stops the loop between blocks and interrupts hashing; nothing is lost, as
//! the journal is written before every commitment.

use std::{
	collections::{BTreeMap, HashSet},
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

/// What the hashing task returns: the result and the time it took.
type HashingResult = (Result<SubjobOutput, engine::EngineError>, Duration);

/// A subjob being hashed in the background.
struct Hashing {
	subjob: u64,
	job: u64,
	start: u64,
	end: u64,
	progress: Arc<Progress>,
	started: Instant,
	task: tokio::task::JoinHandle<HashingResult>,
}

/// A subjob whose hashing has finished.
struct Finished {
	job: u64,
	start: u64,
	end: u64,
	took: Duration,
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
}

/// The running worker.
struct Worker {
	chain: Chain,
	account: Account,
	node: u64,
	journal: Journal,
	threads: usize,
	consts: Constants,
	pending: HashSet<Action>,
	outcomes_tx: mpsc::UnboundedSender<(Action, Outcome)>,
	outcomes: mpsc::UnboundedReceiver<(Action, Outcome)>,
	hashing: Option<Hashing>,
	/// Subjobs of ours seen open, to notice when they settle.
	open: BTreeMap<u64, ()>,
	last_block: u64,
}

/// Runs the worker until SIGINT/SIGTERM.
pub async fn run(url: &str, account: Account, options: RunOptions) -> Result<(), WorkerError> {
	let chain = Chain::connect(url, 5).await?;
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
		pending: HashSet::new(),
		outcomes_tx,
		outcomes,
		hashing: None,
		open: BTreeMap::new(),
		last_block: 0,
	};

	// Blocks up to the finalized one at start are history.
	worker.last_block = at.block_number();
	let stop = stop_signal();
	tokio::pin!(stop);
	worker.wait_for_own_pool_transactions(&mut stop).await?;

	loop {
		let mut blocks = match worker.chain.api.stream_best_blocks().await {
			Ok(blocks) => blocks,
			Err(e) => {
				log(&format!("cannot follow blocks ({e}); reconnecting"));
				worker.reconnect(&mut stop).await?;
				continue;
			},
		};
		loop {
			tokio::select! {
				_ = &mut stop => return worker.shut_down().await,
				next = blocks.next() => match next {
					Some(Ok(block)) => {
						let number = block.number();
						if number <= worker.last_block {
							continue;
						}
						match block.at().await {
							Ok(at) => {
								if let Err(e) = worker.step(&at).await {
									log(&format!("block {number}: {e}"));
								}
								worker.last_block = number;
							},
							Err(e) => log(&format!("block {number}: cannot read it ({e})")),
						}
					},
					Some(Err(e)) => {
						log(&format!("block stream error ({e}); reconnecting"));
						break;
					},
					None => {
						log("block stream ended; reconnecting");
						break;
					},
				},
			}
		}
		worker.reconnect(&mut stop).await?;
	}
}

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

/// The account's hashing node: `wanted`, or its only one.
pub async fn own_hashing_node(
	at: &AtBlock,
	account: &Account,
	wanted: Option<u64>,
) -> Result<u64, WorkerError> {
	let who = crate::keys::ss58(&account.id);
	let owned = at
		.storage()
		.fetch(runtime::storage().registry().nodes_by_owner(), (account.id,))
		.await
		.map_err(chain::chain_error)?
		.decode()
		.map_err(chain::chain_error)?
		.0;
	let mut hashing = Vec::new();
	for id in owned {
		let node = at
			.storage()
			.try_fetch(runtime::storage().registry().nodes(), (id,))
			.await
			.map_err(chain::chain_error)?;
		if let Some(node) = node {
			let node = node.decode().map_err(chain::chain_error)?;
			if matches!(node.kind, chain::NodeKind::Hashing { .. }) {
				hashing.push(id);
			}
		}
	}
	match (wanted, hashing.as_slice()) {
		(Some(id), _) if hashing.contains(&id) => Ok(id),
		(Some(id), _) => {
			Err(WorkerError::NoNode(format!("node {id} is not a hashing node of {who}")))
		},
		(None, [only]) => Ok(*only),
		(None, []) => Err(WorkerError::NoNode(format!(
			"{who} has no hashing node; run `appchain-worker register` first"
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
		max_nonces: c.entry(hj.max_nonces_per_result()).map_err(get)? as usize,
		answer_window: u64::from(c.entry(hj.answer_window()).map_err(get)?),
		heartbeat_interval: u64::from(c.entry(reg.heartbeat_interval()).map_err(get)?),
		heartbeat_timeout: u64::from(c.entry(reg.heartbeat_timeout()).map_err(get)?),
		max_open_subjobs: c.entry(hj.max_open_subjobs()).map_err(get)?,
		min_collateral: c.entry(reg.min_collateral()).map_err(get)?,
	})
}

impl Worker {
	/// Reconnects with backoff until it works or the worker is stopped.
	async fn reconnect(
		&mut self,
		stop: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
	) -> Result<(), WorkerError> {
		let url = self.chain.url.clone();
		tokio::select! {
			_ = stop => {
				self.shut_down().await?;
				Err(WorkerError::Usage("stopped while reconnecting".into()))
			},
			chain = Chain::connect(&url, u32::MAX) => {
				self.chain = chain?;
				self.account.reset_nonce();
				self.pending.clear();
				log(&format!("reconnected to {url}"));
				Ok(())
			},
		}
	}

	/// After a restart: transactions this account left in the node's pool are either
	/// included soon or expire (they are mortal). Wait for that instead of submitting the
	/// same steps twice.
	async fn wait_for_own_pool_transactions(
		&mut self,
		stop: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
	) -> Result<(), WorkerError> {
		let deadline = Instant::now() + Duration::from_secs(chain::MORTALITY.saturating_mul(6));
		loop {
			let pool = self.chain.next_nonce(&self.account.id).await?;
			let done = self.chain.finalized_nonce(&self.account.id).await?;
			if pool <= done || Instant::now() > deadline {
				return Ok(());
			}
			log(&format!(
				"{} transaction(s) from before the restart still pending; waiting for them",
				pool.saturating_sub(done)
			));
			tokio::select! {
				_ = &mut *stop => return Err(WorkerError::Usage("stopped".into())),
				_ = tokio::time::sleep(Duration::from_secs(3)) => {},
			}
		}
	}

	async fn shut_down(&mut self) -> Result<(), WorkerError> {
		if let Some(hashing) = self.hashing.take() {
			hashing.progress.stop();
			let _ = hashing.task.await;
			log(&format!(
				"stopped while hashing subjob {}; it is hashed again after a restart",
				hashing.subjob
			));
		}
		log("stopped; every committed result is in the journal");
		Ok(())
	}

	/// Submits `call` for `action` unless one is already in flight; its outcome comes back
	/// through the outcomes channel.
	async fn submit<Call: subxt::tx::Payload>(
		&mut self,
		action: Action,
		call: Call,
	) -> Result<(), WorkerError> {
		if self.pending.contains(&action) {
			return Ok(());
		}
		let done = self.account.submit(&self.chain, &call).await?;
		if action != Action::Heartbeat {
			log(&format!("{action} submitted"));
		}
		self.pending.insert(action);
		let tx = self.outcomes_tx.clone();
		tokio::spawn(async move {
			let outcome = done.await;
			let _ = tx.send((action, outcome));
		});
		Ok(())
	}

	fn collect_outcomes(&mut self) {
		while let Ok((action, outcome)) = self.outcomes.try_recv() {
			self.pending.remove(&action);
			match outcome {
				Outcome::Success => {},
				Outcome::Failed(e) => log(&format!("{action:?} failed: {e}")),
				Outcome::Lost(e) => {
					log(&format!("{action:?} was not included ({e}); will retry"));
					self.account.reset_nonce();
				},
			}
		}
	}

	/// One block's worth of decisions.
	async fn step(&mut self, at: &AtBlock) -> Result<(), WorkerError> {
		self.collect_outcomes();
		let now = at.block_number();
		self.record_payments(at, now).await?;

		// 1. Heartbeat.
		let node = at
			.storage()
			.try_fetch(runtime::storage().registry().nodes(), (self.node,))
			.await
			.map_err(chain::chain_error)?
			.ok_or_else(|| WorkerError::NoNode(format!("node {} is gone", self.node)))?
			.decode()
			.map_err(chain::chain_error)?;
		let registered = matches!(node.status, NodeStatus::Registered);
		if registered
			&& now >= u64::from(node.last_heartbeat).saturating_add(self.consts.heartbeat_interval)
		{
			self.submit(Action::Heartbeat, runtime::transactions().registry().heartbeat(self.node))
				.await?;
		}
		let serving = registered
			&& node.collateral >= self.consts.min_collateral
			&& now.saturating_sub(u64::from(node.last_heartbeat)) <= self.consts.heartbeat_timeout;

		// 2 and 3. Subjobs: ours by state; others' if expired.
		let mut ours = BTreeMap::new();
		for (id, subjob) in chain::subjobs(at).await? {
			if subjob.node == self.node {
				ours.insert(id, subjob);
			} else if self.expired(&subjob, now) {
				self.submit(Action::Reclaim(id), runtime::transactions().hash_jobs().reclaim(id))
					.await?;
			}
		}
		let mut busy = false;
		for (id, subjob) in &ours {
			busy |= self.advance(at, now, *id, subjob).await?;
		}
		self.forget_settled(&ours)?;

		// 4. Claim.
		if serving && !busy && self.hashing.is_none() {
			let claims = at
				.storage()
				.fetch(runtime::storage().hash_jobs().claims_of(), (self.node,))
				.await
				.map_err(chain::chain_error)?
				.decode()
				.map_err(chain::chain_error)?;
			let limit = node.collateral / runtime_penalty(at)?.max(1);
			if u128::from(claims) < limit {
				if let Some(job) = self.claimable_job(at).await? {
					self.submit(
						Action::Claim,
						runtime::transactions().hash_jobs().claim(job, self.node),
					)
					.await?;
				}
			}
		}
		Ok(())
	}

	/// Whether anyone may `reclaim` the subjob now: its deadline passed without a reveal, or
	/// its answer window closed without an answer.
	fn expired(&self, subjob: &SubjobOf, now: u64) -> bool {
		match &subjob.state {
			SubjobState::Claimed | SubjobState::Committed { .. } => {
				now > u64::from(subjob.deadline)
			},
			SubjobState::Revealed { challenge_at, .. } => {
				now > u64::from(*challenge_at).saturating_add(self.consts.answer_window)
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
		self.open.insert(id, ());
		let deadline = u64::from(subjob.deadline);
		match &subjob.state {
			SubjobState::Claimed => {
				if now >= deadline {
					log(&format!("subjob {id}: too late to commit (deadline {deadline})"));
					return Ok(false);
				}
				if let Some(record) = self.journal.load(id)? {
					self.submit(
						Action::Commit(id),
						runtime::transactions().hash_jobs().commit(id, record.commitment),
					)
					.await?;
					return Ok(true);
				}
				self.hash(at, id, subjob).await?;
				Ok(true)
			},
			SubjobState::Committed { at: committed, .. } => {
				if now > deadline {
					return Ok(false);
				}
				match self.journal.load(id)? {
					Some(record) if now >= u64::from(*committed) => {
						let nonces = chain::Bounded(record.nonces.clone());
						self.submit(
							Action::Reveal(id),
							runtime::transactions().hash_jobs().reveal(
								id,
								record.root,
								record.salt,
								nonces,
							),
						)
						.await?;
					},
					Some(_) => {},
					None => log(&format!(
						"subjob {id} is committed but its journal record is missing: cannot reveal"
					)),
				}
				Ok(false)
			},
			SubjobState::Revealed { challenge_at, root: revealed_root, .. } => {
				let challenge_at = u64::from(*challenge_at);
				if self.pending.contains(&Action::Answer(id)) {
					return Ok(false);
				}
				if now < challenge_at
					|| now > challenge_at.saturating_add(self.consts.answer_window)
				{
					return Ok(false);
				}
				let Some(seed) = at
					.storage()
					.try_fetch(
						runtime::storage().hash_jobs().challenge_seeds(),
						(challenge_at as u32,),
					)
					.await
					.map_err(chain::chain_error)?
				else {
					return Ok(false);
				};
				let seed = seed.decode().map_err(chain::chain_error)?;
				let digests = self.journal.load_digests(id)?;
				let chunks = subjob
					.range
					.end
					.saturating_sub(subjob.range.start)
					.div_ceil(self.consts.chunk_size);
				let indices =
					pow::challenge_indices::<Sha2>(&seed, id, chunks, self.consts.challenge_count);
				let positions: Vec<usize> =
					indices.iter().map(|&i| usize::try_from(i).unwrap_or(usize::MAX)).collect();
				let (root, proofs) = engine::merkle::root_and_proofs(&digests, &positions);
				if root != *revealed_root {
					return Err(WorkerError::Engine(format!(
						"subjob {id}: the journaled digests do not give the revealed root"
					)));
				}
				let mut answers = Vec::with_capacity(positions.len());
				for (index, proof) in positions.iter().zip(proofs) {
					let Some(digest) = digests.get(*index) else {
						return Err(WorkerError::Engine(format!(
							"subjob {id}: chunk {index} missing from the journal"
						)));
					};
					answers
						.push(chain::ChunkAnswer { digest: *digest, proof: chain::Bounded(proof) });
				}
				self.submit(
					Action::Answer(id),
					runtime::transactions()
						.hash_jobs()
						.answer_challenge(id, chain::Bounded(answers)),
				)
				.await?;
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
			let Hashing { task, job, start, end, .. } = hashing;
			let (output, took) = task.await.map_err(|e| WorkerError::Engine(e.to_string()))?;
			let output = output.map_err(|e| WorkerError::Engine(e.to_string()))?;
			let finished = Finished { job, start, end, took };
			return self.journal_and_commit(id, finished, output).await;
		}
		let job = chain::job(at, subjob.job).await?.ok_or_else(|| {
			WorkerError::Chain(format!("job {} of subjob {id} is gone", subjob.job))
		})?;
		let (start, end) = (subjob.range.start, subjob.range.end);
		let engine = Engine::new(&job.payload.0, &job.spec.0, start, end)
			.map_err(|e| WorkerError::Engine(format!("job {}: {e:?}", subjob.job)))?;
		let progress = Arc::new(Progress::new());
		let (threads, chunk_size) = (self.threads, self.consts.chunk_size);
		let task_progress = progress.clone();
		let task = tokio::task::spawn_blocking(move || {
			let started = Instant::now();
			let result =
				engine::run_subjob(&engine, start, end, chunk_size, threads, &task_progress);
			(result, started.elapsed())
		});
		log(&format!(
			"subjob {id} of job {}: hashing nonces {start}..{end} on {threads} threads",
			subjob.job
		));
		self.hashing = Some(Hashing {
			subjob: id,
			job: subjob.job,
			start,
			end,
			progress,
			started: Instant::now(),
			task,
		});
		Ok(())
	}

	/// Journals the result with a fresh salt, then submits the commitment.
	async fn journal_and_commit(
		&mut self,
		id: u64,
		hashing: Finished,
		output: SubjobOutput,
	) -> Result<(), WorkerError> {
		let mut salt = [0u8; 32];
		getrandom::getrandom(&mut salt)
			.map_err(|e| WorkerError::Engine(format!("no randomness: {e}")))?;
		let mut nonces = output.winners.clone();
		nonces.truncate(self.consts.max_nonces);
		let commitment = pow::commitment::<Sha2>(id, &output.root, &salt, &nonces);
		let record = SubjobRecord {
			subjob: id,
			job: hashing.job,
			start: hashing.start,
			end: hashing.end,
			root: output.root,
			salt,
			nonces,
			commitment,
		};
		self.journal.record(&record, &output.digests)?;
		let secs = hashing.took.as_secs_f64().max(1e-9);
		log(&format!(
			"subjob {id}: hashed {} nonces in {secs:.3} s ({:.2} MH/s), {} winning; journaled",
			hashing.end.saturating_sub(hashing.start),
			hashing.end.saturating_sub(hashing.start) as f64 / secs / 1e6,
			output.winners.len()
		));
		self.submit(Action::Commit(id), runtime::transactions().hash_jobs().commit(id, commitment))
			.await
	}

	/// Deletes journal records of our subjobs that are no longer on chain (settled).
	fn forget_settled(&mut self, ours: &BTreeMap<u64, SubjobOf>) -> Result<(), WorkerError> {
		for id in self.journal.subjobs()? {
			if !ours.contains_key(&id) {
				self.journal.forget(id)?;
			}
		}
		self.open.retain(|id, _| ours.contains_key(id));
		Ok(())
	}

	/// The first job with nonces left to hand out.
	async fn claimable_job(&self, at: &AtBlock) -> Result<Option<u64>, WorkerError> {
		let claimable = chain::jobs(at).await?.into_iter().filter(|(_, job)| {
			let open = job.open_subjobs.saturating_add(job.returned.0.len() as u32);
			!job.returned.0.is_empty()
				|| (job.next < job.range.end && open < self.consts.max_open_subjobs)
		});
		Ok(claimable.map(|(id, _)| id).min())
	}

	/// Records the rewards, bonuses and penalties of this block that concern our node.
	async fn record_payments(&mut self, at: &AtBlock, now: u64) -> Result<(), WorkerError> {
		let events = at.events().fetch().await.map_err(chain::chain_error)?;
		for event in events.find::<runtime::hash_jobs::events::SubjobVerified>() {
			let e = event.map_err(chain::chain_error)?;
			if e.node == self.node {
				log(&format!("subjob {} verified: paid {}", e.subjob, format_amount(e.reward)));
				self.ledger(now, e.subjob, "reward", e.reward)?;
			}
		}
		for event in events.find::<runtime::hash_jobs::events::FinderRewarded>() {
			let e = event.map_err(chain::chain_error)?;
			if e.to == self.account.id {
				log(&format!(
					"subjob {}: finder's bonus of {} for nonce {}",
					e.subjob,
					format_amount(e.bonus),
					e.nonce
				));
				self.ledger(now, e.subjob, "bonus", e.bonus)?;
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
				self.ledger(now, e.subjob, "penalty", e.penalty)?;
			}
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

fn runtime_penalty(at: &AtBlock) -> Result<u128, WorkerError> {
	at.constants()
		.entry(runtime::constants().hash_jobs().slash_penalty())
		.map_err(chain::chain_error)
}
