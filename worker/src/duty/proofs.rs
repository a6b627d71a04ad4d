//! Inference proofs on a serving node (`pallet-inference-proofs`): it commits its sessions'
//! receipts, answers the challenges of its own commitments, and verifies the challenges it is
//! drawn for.
//!
//! At every new best block:
//!
//! - **Commit.** A kept session whose last step is older than `commit_after` is committed in
//!   batches of at most the chain's `MaxStepsPerCommitment` receipts, continuing after the
//!   batches already committed (a session that goes on later gets a further batch). Each batch is
//!   recorded in the store (`fsync`ed) once sent, so a restart does not commit it twice. The
//!   commitment names the client the session was opened for (or this node's owner).
//! - **Own commitments** (`InferenceProofsApi::commitments_of`): a commitment whose seed is
//!   stamped is drawn; a challenged one is answered by revealing the receipt with its Merkle
//!   proof, rebuilt from the store; a phase whose deadline passed is settled.
//! - **Duties** (`InferenceProofsApi::duties_of`): for a challenge this node verifies, once the
//!   receipt is revealed, a background task fetches the session's receipts and inputs from the
//!   challenged node (each checked against its signed receipt, the challenged one against the
//!   chain's), replays the session's prefix with the same token counts on the layers, and
//!   votes its own layer root and the first layer that differs, or that the inputs are
//!   unavailable (after retries). The vote and a random salt are written to disk (`fsync`ed)
//!   before the seal is sent, so a restart opens the same vote. The vote is opened once the
//!   opening starts; deadlines past are settled.
//!
//! Transactions are tagged (`proof-commit`, `proof-draw`, `proof-reveal`, `proof-seal`,
//! `proof-open`, `proof-settle`), so one is in flight at a time per commitment. Log events:
//! `receipts_committed`, `challenge_answered`, `step_verified`, `vote_sealed`, `vote_opened`.

use std::{
	collections::BTreeMap,
	path::PathBuf,
	sync::Arc,
	time::{Duration, SystemTime},
};

use appchain_llm_engine::LayerShard;
use appchain_primitives::{
	pow::Sha2,
	receipt::{
		first_divergent_layer, layer_root, receipt_proof, receipts_root, vote_seal, Receipt, Vote,
	},
};

use crate::{
	chain::{self, calls, AtBlock, Ballot, ChallengePhase, CommitmentViewOf, NodeKind, Tag},
	duty::{pricing::Loader, BlockContext, Duty, Step},
	error::WorkerError,
	proofs::{
		replay::{fetch_inputs, fetch_receipts, replay_step},
		CommittedBatch, ReceiptStore, SignedReceipt,
	},
};

/// What a verifying node needs to re-run a step: its own shard, and the model file to load
/// another range from.
pub struct Replayer {
	/// The shard this node serves.
	pub shard: Arc<LayerShard>,
	/// Loads other layer ranges of the model.
	pub loader: Loader,
}

/// The inference-proof duty of one serving node.
pub struct ProofDuty {
	node: u64,
	genesis: [u8; 32],
	store: ReceiptStore,
	ballots: PathBuf,
	commit_after: Option<Duration>,
	replayer: Arc<Replayer>,
	http: reqwest::Client,
	verifying: BTreeMap<u64, tokio::task::JoinHandle<Vote>>,
	committing: BTreeMap<[u8; 16], tokio::task::JoinHandle<()>>,
	stamps: Option<crate::node_api::server::ActivationServer>,
}

/// A vote and its salt, as kept on disk between sealing and opening.
#[derive(serde::Serialize, serde::Deserialize)]
struct KeptBallot {
	/// SCALE of the vote, hex.
	vote: String,
	/// The salt, hex.
	salt: String,
}

impl ProofDuty {
	/// The duty of `node`, committing from `store` sessions idle for `commit_after` (never
	/// with `None`: a node that hides its work, for tests), keeping its ballots under
	/// `<base>/<genesis hex>/ballots-node<node>/`.
	pub fn new(
		node: u64,
		genesis: [u8; 32],
		store: ReceiptStore,
		base: &std::path::Path,
		commit_after: Option<Duration>,
		replayer: Replayer,
	) -> Self {
		let ballots = base.join(hex::encode(genesis)).join(format!("ballots-node{node}"));
		Self {
			node,
			genesis,
			store,
			ballots,
			commit_after,
			replayer: Arc::new(replayer),
			http: crate::node_api::client::http_client(Duration::from_secs(30)),
			verifying: BTreeMap::new(),
			committing: BTreeMap::new(),
			stamps: None,
		}
	}

	/// Keeps `server`'s clock: every best block is recorded, and sessions opened after it are
	/// stamped with it ([`appchain_primitives::receipt::session_id`]).
	pub fn stamping(mut self, server: crate::node_api::server::ActivationServer) -> Self {
		self.stamps = Some(server);
		self
	}

	fn ballot_path(&self, id: u64) -> PathBuf {
		self.ballots.join(format!("{id}.json"))
	}

	fn read_ballot(&self, id: u64) -> Result<Option<(Vote, [u8; 32])>, WorkerError> {
		use codec::Decode;
		let path = self.ballot_path(id);
		let text = match std::fs::read_to_string(&path) {
			Ok(text) => text,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
			Err(e) => return Err(WorkerError::journal(&path, e)),
		};
		let bad = |e: String| {
			WorkerError::journal(&path, std::io::Error::new(std::io::ErrorKind::InvalidData, e))
		};
		let kept: KeptBallot = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
		let bytes = hex::decode(&kept.vote).map_err(|e| bad(e.to_string()))?;
		let vote = Vote::decode(&mut &bytes[..]).map_err(|e| bad(e.to_string()))?;
		let mut salt = [0u8; 32];
		hex::decode_to_slice(&kept.salt, &mut salt).map_err(|e| bad(e.to_string()))?;
		Ok(Some((vote, salt)))
	}

	fn keep_ballot(&self, id: u64, vote: &Vote, salt: &[u8; 32]) -> Result<(), WorkerError> {
		use codec::Encode;
		use std::io::Write;
		std::fs::create_dir_all(&self.ballots)
			.map_err(|e| WorkerError::journal(&self.ballots, e))?;
		let path = self.ballot_path(id);
		let kept = KeptBallot { vote: hex::encode(vote.encode()), salt: hex::encode(salt) };
		let text = serde_json::to_string(&kept).unwrap_or_default();
		let tmp = path.with_extension("tmp");
		std::fs::File::create(&tmp)
			.and_then(|mut f| {
				f.write_all(text.as_bytes())?;
				f.sync_all()
			})
			.and_then(|()| std::fs::rename(&tmp, &path))
			.map_err(|e| WorkerError::journal(&path, e))
	}

	/// Commits every idle session's receipts not committed yet. A session's batches go out in
	/// a task of their own, each recorded as committed only once it is in a finalized block;
	/// a batch that fails is committed again after [`COMMIT_RETRY`].
	async fn commit_sessions(&mut self, ctx: &BlockContext) -> Result<(), WorkerError> {
		let Some(idle) = self.commit_after else { return Ok(()) };
		self.committing.retain(|_, task| !task.is_finished());
		let at = &ctx.head.best;
		let max_steps = chain::proof_constants(at)?.max_steps.max(1);
		let store = self.store.clone();
		let sessions = tokio::task::spawn_blocking(move || store.sessions(SystemTime::now()))
			.await
			.map_err(|e| WorkerError::Engine(e.to_string()))??;
		for (session, since) in sessions.into_iter().filter(|(_, since)| *since >= idle) {
			if self.committing.contains_key(&session) {
				continue;
			}
			let Some(receipts) = self.store.receipts(&session)? else { continue };
			let done = self.store.committed(&session)?;
			let next: u32 = done.iter().map(|b| b.first.saturating_add(b.steps)).max().unwrap_or(0);
			if next as usize >= receipts.len() {
				continue;
			}
			let client = self.store.client(&session)?.unwrap_or(ctx.signer.account().0);
			let receipts: Vec<Receipt> = receipts.iter().map(|r| r.receipt).collect();
			let task = tokio::spawn(commit_session(
				CommitJob {
					node: self.node,
					genesis: self.genesis,
					store: self.store.clone(),
					signer: ctx.signer.clone(),
					chain: ctx.head.chain.clone(),
					session,
					client,
					max_steps,
				},
				receipts,
				next,
				since,
			));
			self.committing.insert(session, task);
		}
		Ok(())
	}

	/// The batch of kept receipts a commitment covers, found by its root: a recorded batch, or
	/// the one being committed (on chain, not yet recorded: its record waits for finality).
	fn batch_of(&self, view: &CommitmentViewOf) -> Result<Option<Vec<Receipt>>, WorkerError> {
		let c = &view.commitment;
		let Some(receipts) = self.store.receipts(&c.session)? else { return Ok(None) };
		let receipts: Vec<Receipt> = receipts.iter().map(|r| r.receipt).collect();
		let recorded = self.store.committed(&c.session)?;
		let pending = recorded.iter().map(|b| b.first.saturating_add(b.steps)).max().unwrap_or(0);
		let candidates =
			recorded.iter().map(|b| (b.first, b.steps)).chain(std::iter::once((pending, c.steps)));
		for (first, steps) in candidates {
			let end = (first.saturating_add(steps) as usize).min(receipts.len());
			let batch = receipts.get(first as usize..end).unwrap_or_default().to_vec();
			if !batch.is_empty() && receipts_root::<Sha2>(&self.genesis, &batch) == c.receipts_root
			{
				return Ok(Some(batch));
			}
		}
		Ok(None)
	}

	/// Draws, answers and settles this node's own commitments.
	async fn own_commitments(&self, ctx: &BlockContext) -> Result<(), WorkerError> {
		let at = &ctx.head.best;
		let now = at.block_number() as u32;
		for view in chain::proof_commitments(at, self.node).await? {
			let id = view.id;
			let Some(challenge) = &view.challenge else {
				if view.commitment.seed.is_some() {
					self.send(ctx, "proof-draw", id, &calls::draw_commitment(id)).await?;
				}
				continue;
			};
			match challenge.phase {
				ChallengePhase::AwaitingReceipt { until } if now <= until => {
					let Some(batch) = self.batch_of(&view)? else {
						tracing::warn!(
							event = "challenge_unanswerable",
							commitment = id,
							"commitment {id} is challenged but its receipts are not kept here"
						);
						continue;
					};
					let index = challenge.index as usize;
					let (Some(receipt), Some(proof)) =
						(batch.get(index), receipt_proof::<Sha2>(&self.genesis, &batch, index))
					else {
						continue;
					};
					let call = calls::reveal_receipt(id, *receipt, proof);
					if self.send(ctx, "proof-reveal", id, &call).await? {
						tracing::info!(
							event = "challenge_answered",
							commitment = id,
							step = receipt.step,
							"revealed step {} of commitment {id}",
							receipt.step
						);
					}
				},
				ChallengePhase::AwaitingReceipt { until }
				| ChallengePhase::Voting { until }
				| ChallengePhase::Revealing { until } => {
					if now > until {
						self.send(ctx, "proof-settle", id, &calls::settle_challenge(id)).await?;
					}
				},
			}
		}
		Ok(())
	}

	/// Verifies, seals, opens and settles the challenges this node was drawn for.
	async fn duties(&mut self, ctx: &BlockContext) -> Result<(), WorkerError> {
		let at = &ctx.head.best;
		let now = at.block_number() as u32;
		let duties = chain::proof_duties(at, self.node).await?;
		let open: Vec<u64> = duties.iter().map(|v| v.id).collect();
		self.verifying.retain(|id, task| open.contains(id) || !task.is_finished());
		for view in duties {
			let id = view.id;
			let Some(challenge) = &view.challenge else { continue };
			let Some(me) = challenge.verifiers.0.iter().find(|v| v.node == self.node) else {
				continue;
			};
			match (&challenge.phase, &me.ballot) {
				(ChallengePhase::Voting { until }, Ballot::Pending) if now <= *until => {
					if let Some((vote, salt)) = self.read_ballot(id)? {
						let seal = vote_seal::<Sha2>(id, self.node, &vote, &salt);
						self.send(ctx, "proof-seal", id, &calls::seal_vote(id, self.node, seal))
							.await?;
						continue;
					}
					let Some(receipt) = challenge.receipt.as_ref().map(|r| r.0) else { continue };
					match self.verifying.get(&id) {
						Some(task) if task.is_finished() => {
							let Some(task) = self.verifying.remove(&id) else { continue };
							let vote = task.await.unwrap_or(Vote::InputsUnavailable);
							let mut salt = [0u8; 32];
							getrandom::getrandom(&mut salt).map_err(|e| {
								WorkerError::Engine(format!("no randomness for a salt: {e}"))
							})?;
							self.keep_ballot(id, &vote, &salt)?;
							let seal = vote_seal::<Sha2>(id, self.node, &vote, &salt);
							if self
								.send(ctx, "proof-seal", id, &calls::seal_vote(id, self.node, seal))
								.await?
							{
								tracing::info!(event = "vote_sealed", commitment = id, vote = ?vote, "sealed vote on commitment {id}: {vote:?}");
							}
						},
						Some(_) => {},
						None => {
							let endpoint = endpoint_of(at, view.commitment.node).await?;
							let task = tokio::spawn(verify(
								self.replayer.clone(),
								self.http.clone(),
								endpoint,
								self.genesis,
								view.commitment.owner.0,
								receipt,
							));
							self.verifying.insert(id, task);
						},
					}
				},
				(ChallengePhase::Revealing { until }, Ballot::Sealed(_)) if now <= *until => {
					if let Some((vote, salt)) = self.read_ballot(id)? {
						let call = calls::open_vote(id, self.node, vote, salt);
						if self.send(ctx, "proof-open", id, &call).await? {
							tracing::info!(
								event = "vote_opened",
								commitment = id,
								"opened vote on commitment {id}"
							);
						}
					}
				},
				(
					ChallengePhase::AwaitingReceipt { until }
					| ChallengePhase::Voting { until }
					| ChallengePhase::Revealing { until },
					_,
				) if now > *until => {
					self.send(ctx, "proof-settle", id, &calls::settle_challenge(id)).await?;
				},
				_ => {},
			}
		}
		Ok(())
	}

	/// Submits `call` under `kind` about commitment `id`; whether it was sent now (not already
	/// in flight).
	async fn send<Call: calls::Payload + Send + Sync>(
		&self,
		ctx: &BlockContext,
		kind: &'static str,
		id: u64,
		call: &Call,
	) -> Result<bool, WorkerError> {
		let sent =
			ctx.signer.submit(&ctx.head.chain, &ctx.head.best, Tag::about(kind, id), call).await?;
		Ok(matches!(sent, chain::Submitted::Sent))
	}
}

/// How long a session whose commitment failed waits before it is committed again.
pub const COMMIT_RETRY: Duration = Duration::from_secs(30);

/// What committing one session's receipts needs.
struct CommitJob {
	node: u64,
	genesis: [u8; 32],
	store: ReceiptStore,
	signer: chain::Signer,
	chain: chain::Chain,
	session: [u8; 16],
	client: [u8; 32],
	max_steps: u32,
}

/// Commits `receipts[next..]` of a session in batches of at most `max_steps`, recording each
/// batch once it is finalized. On a failure, waits [`COMMIT_RETRY`] (the session counts as
/// being committed until then) and leaves the rest for the next round.
async fn commit_session(job: CommitJob, receipts: Vec<Receipt>, mut next: u32, since: Duration) {
	let session = hex::encode(job.session);
	while (next as usize) < receipts.len() {
		let end = (next as usize).saturating_add(job.max_steps as usize).min(receipts.len());
		let batch = &receipts[next as usize..end];
		let steps = batch.len() as u32;
		let root = receipts_root::<Sha2>(&job.genesis, batch);
		let call = calls::commit_receipts(job.node, job.client, job.session, steps, root);
		if let Err(e) = job.signer.submit_and_wait(&job.chain, &call).await {
			tracing::warn!(event = "commit_failed", node = job.node, session = %session, first = next, error = %e, "committing steps {next}.. of session {session} failed ({e}); retrying in {}s", COMMIT_RETRY.as_secs());
			tokio::time::sleep(COMMIT_RETRY).await;
			return;
		}
		if let Err(e) =
			job.store.mark_committed(&job.session, &CommittedBatch { first: next, steps, root })
		{
			tracing::error!(event = "commit_unrecorded", session = %session, error = %e, "steps {next}.. of session {session} are committed but not recorded: {e}");
			tokio::time::sleep(COMMIT_RETRY).await;
			return;
		}
		tracing::info!(
			event = "receipts_committed",
			node = job.node,
			session = %session,
			first = next,
			steps,
			idle_s = since.as_secs(),
			"committed steps {next}..{} of session {session}",
			next.saturating_add(steps),
		);
		next = next.saturating_add(steps);
	}
}

/// The endpoint of inference node `node` at `at`.
async fn endpoint_of(at: &AtBlock, node: u64) -> Result<String, WorkerError> {
	match chain::node(at, node).await?.map(|n| n.kind) {
		Some(NodeKind::Inference { endpoint, .. }) => {
			Ok(String::from_utf8_lossy(&endpoint.0).into_owned())
		},
		_ => Err(WorkerError::Missing(format!("node {node} is not an inference node"))),
	}
}

/// Fetches the session's prefix up to `challenged` from `endpoint`, replays it and votes.
/// Transport failures are retried; a node that cannot serve what it committed to gets
/// [`Vote::InputsUnavailable`].
async fn verify(
	replayer: Arc<Replayer>,
	http: reqwest::Client,
	endpoint: String,
	genesis: [u8; 32],
	owner: [u8; 32],
	challenged: Receipt,
) -> Vote {
	let mut last_error = String::new();
	for attempt in 0..3u32 {
		if attempt > 0 {
			tokio::time::sleep(Duration::from_secs(2)).await;
		}
		match prefix(&http, &endpoint, &genesis, &owner, &challenged).await {
			Ok((receipts, inputs)) => {
				let vote = replay(&replayer, &challenged, &receipts, inputs).await;
				tracing::info!(event = "step_verified", node = challenged.node, step = challenged.step, vote = ?vote, "re-ran step {} of node {}: {vote:?}", challenged.step, challenged.node);
				return vote;
			},
			Err(e) => last_error = e,
		}
	}
	tracing::warn!(event = "inputs_unavailable", node = challenged.node, %endpoint, error = %last_error, "node {} did not serve the inputs of step {}: {last_error}", challenged.node, challenged.step);
	Vote::InputsUnavailable
}

type Prefix = (Vec<SignedReceipt>, Vec<(usize, Vec<f32>)>);

/// The receipts and inputs of steps `0..=challenged.step`, checked.
async fn prefix(
	http: &reqwest::Client,
	endpoint: &str,
	genesis: &[u8; 32],
	owner: &[u8; 32],
	challenged: &Receipt,
) -> Result<Prefix, String> {
	let mut receipts =
		fetch_receipts(http, endpoint, &challenged.session).await.map_err(|e| e.to_string())?;
	receipts.truncate(challenged.step as usize + 1);
	match receipts.last() {
		Some(last) if last.receipt == *challenged => {},
		_ => return Err(format!("the node's kept receipts do not hold step {}", challenged.step)),
	}
	if let Some(bad) = receipts.iter().find(|r| !r.is_signed_by(owner, genesis)) {
		return Err(format!(
			"kept receipt of step {} is not signed by the node's owner",
			bad.receipt.step
		));
	}
	let inputs = fetch_inputs(http, endpoint, &receipts).await.map_err(|e| e.to_string())?;
	Ok((receipts, inputs))
}

/// Replays the prefix on the challenged layers and votes.
async fn replay(
	replayer: &Replayer,
	challenged: &Receipt,
	receipts: &[SignedReceipt],
	inputs: Vec<(usize, Vec<f32>)>,
) -> Vote {
	let layers = (challenged.start, challenged.end);
	let shard = if replayer.shard.layers() == layers {
		replayer.shard.clone()
	} else {
		let range = (u16::try_from(layers.0), u16::try_from(layers.1));
		let (Ok(start), Ok(end)) = range else { return Vote::InputsUnavailable };
		match replayer.loader.load((start, end)).await {
			Ok(shard) => Arc::new(shard),
			Err(e) => {
				tracing::warn!(event = "replay_failed", error = %e, "cannot load layers {layers:?}: {e}");
				return Vote::InputsUnavailable;
			},
		}
	};
	let theirs = receipts.last().map(|r| r.layer_hashes.clone()).unwrap_or_default();
	let replayed = tokio::task::spawn_blocking(move || replay_step(&shard, &inputs)).await;
	match replayed {
		Ok(Ok(ours)) => Vote::Computed {
			layer_root: layer_root(challenged.start, &ours),
			first_divergent_layer: first_divergent_layer(challenged.start, &ours, &theirs),
		},
		Ok(Err(e)) => {
			// The node's own inputs do not run (wrong shape, gap): it kept something else.
			tracing::warn!(event = "replay_failed", error = %e, "replay failed: {e}");
			Vote::InputsUnavailable
		},
		Err(e) => {
			tracing::warn!(event = "replay_failed", error = %e, "replay task: {e}");
			Vote::InputsUnavailable
		},
	}
}

impl Duty for ProofDuty {
	fn name(&self) -> &'static str {
		"proofs"
	}

	fn on_block<'a>(&'a mut self, ctx: &'a BlockContext) -> Step<'a> {
		Box::pin(async move {
			if let Some(server) = &self.stamps {
				server.set_best_block(ctx.head.best.block_number() as u32);
			}
			self.commit_sessions(ctx).await?;
			self.own_commitments(ctx).await?;
			self.duties(ctx).await
		})
	}

	fn shut_down(
		&mut self,
	) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
		Box::pin(async move {
			for (_, task) in std::mem::take(&mut self.verifying) {
				task.abort();
			}
			// A batch in flight either lands unrecorded (and is committed once more after the
			// restart: a second commitment of the same receipts, which reserves twice but
			// loses nothing) or not (and is committed after the restart).
			for (_, task) in std::mem::take(&mut self.committing) {
				task.abort();
			}
		})
	}
}
