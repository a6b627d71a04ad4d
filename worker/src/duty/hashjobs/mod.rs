//! The hash-job duty: serve SHA-256 subjobs.
//!
//! At each best block the executor reads a [`planner::ChainView`] (our node, every open
//! subjob and job, the challenge seeds our revealed subjobs wait for) and a
//! [`planner::LocalView`] (journal, hashing task, transactions in flight), asks the pure
//! [`planner::plan`] what to do, and carries the actions out one by one: an action that fails
//! is logged and does not keep the others from running. Then, from finalized state, it
//! forgets the journal records of settled subjobs.
//!
//! Because every decision is taken from chain state plus the journal, a restarted worker
//! simply carries on: what it submitted shows up on chain, and what it committed to is in the
//! journal, written and synced before every commitment. SIGINT/SIGTERM interrupt hashing;
//! a subjob being hashed is hashed again after a restart.
//!
//! Log events: `plan` (debug: the actions planned at a block), `hashing_started`, `hashing_progress`,
//! `hashed`, `hashing_dropped`, `record_forgotten`, `cannot_reveal`, `action_failed`,
//! `hash_jobs_stopped`.

pub mod hashing;
pub mod planner;

use std::collections::{BTreeMap, HashSet};

use crate::{
	chain::{self, calls, AtBlock, HashJobConstants, RegistryConstants, SubjobOf},
	duty::{BlockContext, Duty, Step},
	error::WorkerError,
	journal::Journal,
};
use hashing::Hashing;
use planner::{tags, Action, ChainView, LocalView, Rules};

/// Serves the hash-job subjobs of one node.
pub struct HashJobs {
	node: u64,
	journal: Journal,
	threads: usize,
	consts: HashJobConstants,
	rules: Rules,
	hashing: Option<Hashing>,
}

impl HashJobs {
	/// The duty of `node`, hashing on `threads` threads, journaling in `journal`.
	pub fn new(
		node: u64,
		journal: Journal,
		threads: usize,
		consts: HashJobConstants,
		registry: RegistryConstants,
	) -> Self {
		let rules = Rules {
			chunk_size: consts.chunk_size,
			challenge_count: consts.challenge_count,
			answer_window: consts.answer_window,
			heartbeat_timeout: registry.heartbeat_timeout,
			max_open_subjobs: consts.max_open_subjobs,
			min_collateral: registry.min_collateral,
			slash_penalty: consts.slash_penalty,
		};
		Self { node, journal, threads: threads.max(1), consts, rules, hashing: None }
	}

	/// What the chain says, as the planner reads it.
	async fn chain_view(
		&self,
		at: &AtBlock,
		in_flight: &HashSet<chain::Tag>,
	) -> Result<(ChainView, BTreeMap<u64, SubjobOf>), WorkerError> {
		let now = at.block_number();
		let node = match chain::node(at, self.node).await? {
			Some(info) => Some(planner::NodeView {
				registered: matches!(info.status, chain::NodeStatus::Registered),
				collateral: info.collateral,
				last_heartbeat: u64::from(info.last_heartbeat),
				claims: chain::claims_of(at, self.node).await?,
				reserved: chain::reserved_collateral(at, self.node).await?,
			}),
			None => None,
		};
		// Ours, and anyone's that a reclaim would fail: all the planner acts on. Both are
		// filtered by the runtime, a bounded page at a time, instead of reading every subjob.
		let mut on_chain: BTreeMap<u64, SubjobOf> =
			chain::subjobs(at, chain::SubjobFilter::Node(self.node)).await?.into_iter().collect();
		on_chain.extend(chain::subjobs(at, chain::SubjobFilter::Reclaimable).await?);
		let mut view = ChainView { now, node_id: self.node, node, ..ChainView::default() };
		for (&id, s) in &on_chain {
			let state = match &s.state {
				chain::SubjobState::Claimed => planner::SubjobState::Claimed,
				chain::SubjobState::Committed { commitment, at } => {
					planner::SubjobState::Committed { commitment: *commitment, at: u64::from(*at) }
				},
				chain::SubjobState::Revealed { challenge_at, root, .. } => {
					let challenge_at = u64::from(*challenge_at);
					// Only the seeds an answer could use now: ours, inside the answer window,
					// with no answer in flight.
					let window_open = now >= challenge_at
						&& now.saturating_add(1)
							<= challenge_at.saturating_add(self.rules.answer_window);
					if s.node == self.node && window_open && !in_flight.contains(&tags::answer(id))
					{
						if let Some(seed) = chain::challenge_seed(at, challenge_at).await? {
							view.seeds.insert(challenge_at, seed);
						}
					}
					planner::SubjobState::Revealed { challenge_at, root: *root }
				},
			};
			view.subjobs.insert(
				id,
				planner::SubjobView {
					job: s.job,
					node: s.node,
					start: s.range.start,
					end: s.range.end,
					deadline: u64::from(s.deadline),
					state,
				},
			);
		}
		for (id, job) in chain::claimable_jobs(at).await? {
			view.jobs.insert(
				id,
				planner::JobView {
					next: job.next,
					end: job.range.end,
					open_subjobs: job.open_subjobs,
					returned: u32::try_from(job.returned.0.len()).unwrap_or(u32::MAX),
				},
			);
		}
		Ok((view, on_chain))
	}

	/// What the worker knows itself, for our subjobs on chain. A journal record that cannot
	/// be read is logged and its subjob left out of this block's plan (so one bad file does
	/// not stop the others); the unreadable ids are returned.
	fn local_view(&self, ours: &[u64], in_flight: HashSet<chain::Tag>) -> (LocalView, Vec<u64>) {
		let mut journal = BTreeMap::new();
		let mut unreadable = Vec::new();
		for &id in ours {
			match self.journal.load(id) {
				Ok(Some(r)) => {
					let record = planner::RecordView {
						subjob: r.subjob,
						job: r.job,
						start: r.start,
						end: r.end,
						commitment: r.commitment,
					};
					journal.insert(id, record);
				},
				Ok(None) => {},
				Err(e) => {
					tracing::warn!(event = "action_failed", subjob = id, error = %e, "subjob {id}: {e}");
					unreadable.push(id);
				},
			}
		}
		let hashing = self
			.hashing
			.as_ref()
			.map(|h| planner::HashingView { subjob: h.subjob, finished: h.is_finished() });
		(LocalView { journal, hashing, in_flight }, unreadable)
	}

	async fn step(&mut self, ctx: &BlockContext) -> Result<(), WorkerError> {
		let at = &ctx.head.best;
		let now = at.block_number();
		let in_flight = ctx.signer.in_flight(now);
		let (mut view, on_chain) = self.chain_view(at, &in_flight).await?;
		if view.node.is_none() {
			return Err(WorkerError::NoNode(format!("node {} is gone", self.node)));
		}
		let ours: Vec<u64> =
			on_chain.iter().filter(|(_, s)| s.node == self.node).map(|(id, _)| *id).collect();
		let (local, unreadable) = self.local_view(&ours, in_flight);
		for id in unreadable {
			view.subjobs.remove(&id);
		}
		let plan = planner::plan(&view, &local, &self.rules);
		tracing::debug!(event = "plan", block = now, actions = ?plan, "block {now}: plan {plan:?}");
		for action in plan {
			if let Err(e) = self.execute(ctx, &action).await {
				tracing::warn!(
					event = "action_failed",
					block = now,
					action = ?action,
					error = %e,
					"{action:?}: {e}"
				);
			}
		}
		if let Err(e) = self.forget_settled(ctx, &ours).await {
			tracing::warn!(event = "action_failed", error = %e, "journal: {e}");
		}
		Ok(())
	}

	async fn execute(&mut self, ctx: &BlockContext, action: &Action) -> Result<(), WorkerError> {
		let (chain, at, signer) = (&ctx.head.chain, &ctx.head.best, &ctx.signer);
		match *action {
			Action::StopHashing { subjob } => {
				if let Some(hashing) = self.hashing.take() {
					hashing.stop();
				}
				tracing::info!(
					event = "hashing_dropped",
					subjob,
					"subjob {subjob}: no longer committable (deadline passed or settled); dropping its hashing"
				);
			},
			Action::StartHashing { subjob, job, start, end } => {
				let info = chain::job(at, job).await?.ok_or_else(|| {
					WorkerError::Missing(format!("job {job} of subjob {subjob} is gone"))
				})?;
				let keep = usize::try_from(self.consts.max_nonces).unwrap_or(usize::MAX);
				self.hashing = Some(Hashing::start(
					subjob,
					job,
					&info.payload.0,
					&info.spec.0,
					(start, end),
					self.consts.chunk_size,
					self.threads,
					keep,
				)?);
				tracing::info!(
					event = "hashing_started",
					subjob,
					job,
					start,
					end,
					threads = self.threads,
					"subjob {subjob} of job {job}: hashing nonces {start}..{end} on {} threads",
					self.threads
				);
			},
			Action::ReportProgress { subjob } => {
				if let Some(hashing) = &self.hashing {
					let p = hashing.progress();
					tracing::info!(
						event = "hashing_progress",
						subjob,
						hashed = p.hashed,
						total = p.total,
						"subjob {subjob}: {:.0}% of {} nonces, {:.2} MH/s",
						p.hashed as f64 * 100.0 / p.total as f64,
						p.total,
						p.mhs
					);
				}
			},
			Action::FinishHashing { subjob } => {
				let Some(hashing) = self.hashing.take() else { return Ok(()) };
				let range = (hashing.job, hashing.start, hashing.end);
				let (output, took) = hashing.output().await?;
				let found = output.found;
				let record = hashing::journal_result(&self.journal, subjob, range, output).await?;
				let len = record.end.saturating_sub(record.start);
				let secs = took.as_secs_f64().max(1e-9);
				tracing::info!(
					event = "hashed",
					subjob,
					nonces = len,
					seconds = secs,
					winners = found,
					"subjob {subjob}: hashed {len} nonces in {secs:.3} s ({:.2} MH/s), {found} winning; journaled",
					len as f64 / secs / 1e6
				);
				let call = calls::commit(subjob, record.commitment);
				signer.submit(chain, at, tags::commit(subjob), &call).await?;
			},
			Action::Commit { subjob, commitment } => {
				let call = calls::commit(subjob, commitment);
				signer.submit(chain, at, tags::commit(subjob), &call).await?;
			},
			Action::ForgetRecord { subjob } => {
				tracing::info!(
					event = "record_forgotten",
					subjob,
					"subjob {subjob}: the journal holds a result for another range; hashing again"
				);
				self.journal.forget(subjob)?;
			},
			Action::Reveal { subjob } => {
				let record = self.journal.load(subjob)?.ok_or_else(|| {
					WorkerError::journal(
						self.journal.dir(),
						std::io::Error::new(
							std::io::ErrorKind::NotFound,
							format!("no record of subjob {subjob}"),
						),
					)
				})?;
				let call = calls::reveal(subjob, record.root, record.salt, record.nonces);
				signer.submit(chain, at, tags::reveal(subjob), &call).await?;
			},
			Action::CannotReveal { subjob, record_differs } => {
				let why = if record_differs {
					"the journaled result is not the one committed"
				} else {
					"its journal record is missing"
				};
				tracing::warn!(
					event = "cannot_reveal",
					subjob,
					"subjob {subjob} is committed but {why}: cannot reveal"
				);
			},
			Action::Answer { subjob, ref indices, root } => {
				let (journal, indices) = (self.journal.clone(), indices.clone());
				let answers = tokio::task::spawn_blocking(move || {
					hashing::answers_from_journal(&journal, subjob, &indices, &root)
				})
				.await
				.map_err(|e| WorkerError::Engine(e.to_string()))??;
				let call = calls::answer_challenge(subjob, answers);
				signer.submit(chain, at, tags::answer(subjob), &call).await?;
			},
			Action::Reclaim { subjob } => {
				signer.submit(chain, at, tags::reclaim(subjob), &calls::reclaim(subjob)).await?;
			},
			Action::Claim { job } => {
				signer.submit(chain, at, tags::CLAIM, &calls::claim(job, self.node)).await?;
			},
		}
		Ok(())
	}

	/// Deletes the journal records of our subjobs that are settled: gone from the finalized
	/// state, so that a reorganisation cannot bring them back.
	async fn forget_settled(&self, ctx: &BlockContext, ours: &[u64]) -> Result<(), WorkerError> {
		let candidates: Vec<u64> =
			self.journal.subjobs()?.into_iter().filter(|id| !ours.contains(id)).collect();
		for id in candidates {
			if !chain::subjob_is_open(&ctx.head.finalized, id).await? {
				self.journal.forget(id)?;
			}
		}
		Ok(())
	}
}

impl Duty for HashJobs {
	fn name(&self) -> &'static str {
		"hash-jobs"
	}

	fn on_block<'a>(&'a mut self, ctx: &'a BlockContext) -> Step<'a> {
		Box::pin(self.step(ctx))
	}

	fn shut_down(
		&mut self,
	) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
		Box::pin(async move {
			if let Some(hashing) = self.hashing.take() {
				let subjob = hashing.subjob;
				hashing.stop_and_wait().await;
				tracing::info!(
					event = "hashing_interrupted",
					subjob,
					"stopped while hashing subjob {subjob}; it is hashed again after a restart"
				);
			}
			tracing::info!(
				event = "hash_jobs_stopped",
				"stopped; every committed result is in the journal"
			);
		})
	}
}
