//! The logic behind the calls: each `do_*` checks everything first, then mutates, then emits.

use crate::{
	funds, quorum, AccountIdOf, AnswersOf, BalanceOf, BlockNumberOf, ChallengeSeeds, ClaimsOf,
	Config, Error, Event, FailReason, Job, JobId, JobOf, Jobs, NativeSha256, NextJobId,
	NextSubjobId, NonceRange, Pallet, QuorumOutcome, RecentRandomness, ReturnedOf, Subjob,
	SubjobId, SubjobOf, SubjobState, Subjobs,
};
use appchain_primitives::{
	hashjob::{self, Awaiting},
	pow::{self, Hash256, PowCheck, PowSpec, SpecError},
	NodeId,
};
use codec::Encode;
use frame_support::{
	ensure,
	traits::{Get, Randomness},
	BoundedVec,
};
use pallet_compute_registry::{ComputeNodes, OnVerifiedWork, SlashReason, WorkOutcome};
use sp_runtime::{
	helpers_128bit::multiply_by_rational_with_rounding,
	traits::{CheckedAdd, CheckedSub, Saturating, Zero},
	DispatchError, DispatchResult, Rounding, SaturatedConversion,
};

impl<T: Config> From<SpecError> for Error<T> {
	fn from(e: SpecError) -> Self {
		match e {
			SpecError::DifficultyTooHigh => Error::DifficultyTooHigh,
			SpecError::BadHeaderLength => Error::BadHeaderLength,
			SpecError::BadCompactTarget => Error::BadCompactTarget,
			SpecError::BadRange => Error::EmptyRange,
		}
	}
}

impl FailReason {
	fn slash_reason(self) -> SlashReason {
		match self {
			FailReason::MissedDeadline => SlashReason::MissedDeadline,
			FailReason::Silence => SlashReason::MissedChallenge,
			_ => SlashReason::InvalidWork,
		}
	}
}

/// Domain tag of a challenge seed's preimage.
const SEED_DOMAIN: &[u8] = b"hash-jobs/seed/v2";

impl<T: Config> Pallet<T> {
	fn now() -> BlockNumberOf<T> {
		frame_system::Pallet::<T>::block_number()
	}

	fn chunk_size() -> u64 {
		u64::from(T::ChunkSize::get()).max(1)
	}

	/// Blocks a challenge seed is kept: long enough for every answer window that needs it.
	fn seed_retention() -> BlockNumberOf<T> {
		T::ChallengeDelay::get().saturating_add(T::AnswerWindow::get()).saturating_add(1u32.into())
	}

	/// Stores this block's challenge seed and forgets the one no answer window needs any more.
	/// Constant work per block (`SeedBlocks` hashes at most).
	///
	/// The randomness of a block is its parent's VRF output, which its author cannot choose;
	/// only in the first blocks of a chain, before any VRF output, does it fall back to the
	/// parent hash. The seed hashes the randomness of the last [`Config::SeedBlocks`] blocks,
	/// oldest first, after a domain tag, so that it is known only once all of them exist.
	pub(crate) fn record_challenge_seed(now: BlockNumberOf<T>) {
		let random = match T::Randomness::random(&b"hash-jobs/challenge"[..]).0 {
			Some(random) => sp_io::hashing::sha2_256(&random.encode()),
			None => sp_io::hashing::sha2_256(&frame_system::Pallet::<T>::parent_hash().encode()),
		};
		let mut recent = RecentRandomness::<T>::get();
		if recent.is_full() && !recent.is_empty() {
			recent.remove(0);
		}
		// Cannot fail: there is room after the removal (`SeedBlocks` is at least 1, checked by
		// `integrity_test`).
		let _ = recent.try_push(random);
		let mut preimage = alloc::vec::Vec::with_capacity(
			SEED_DOMAIN.len().saturating_add(recent.len().saturating_mul(32)),
		);
		preimage.extend_from_slice(SEED_DOMAIN);
		for r in recent.iter() {
			preimage.extend_from_slice(r);
		}
		let seed = sp_io::hashing::sha2_256(&preimage);
		RecentRandomness::<T>::put(recent);
		ChallengeSeeds::<T>::insert(now, seed);
		if let Some(old) = now.checked_sub(&Self::seed_retention()) {
			ChallengeSeeds::<T>::remove(old);
		}
	}

	fn checked_spec(job: &JobOf<T>) -> Result<PowCheck, DispatchError> {
		Ok(job
			.spec
			.check(&job.payload, job.range.start, job.range.end)
			.map_err(Error::<T>::from)?)
	}

	// ---- jobs

	pub(crate) fn do_post_job(
		client: AccountIdOf<T>,
		payload: BoundedVec<u8, T::MaxPayloadLen>,
		spec: PowSpec,
		range: NonceRange,
		budget: BalanceOf<T>,
	) -> Result<JobId, DispatchError> {
		spec.check(&payload, range.start, range.end).map_err(Error::<T>::from)?;
		ensure!(budget >= T::MinBudget::get(), Error::<T>::BudgetTooLow);
		funds::ensure_can_hold::<T>(&client, budget)?;
		let job = NextJobId::<T>::get();
		let next = job.checked_add(1).ok_or(Error::<T>::Overflow)?;

		funds::hold_budget::<T>(&client, budget)?;
		NextJobId::<T>::put(next);
		Jobs::<T>::insert(
			job,
			Job {
				client: client.clone(),
				payload,
				spec,
				range,
				budget,
				paid: Zero::zero(),
				next: range.start,
				returned: BoundedVec::new(),
				open_subjobs: 0,
				hashed: 0,
				found: 0,
				bonus_paid: false,
			},
		);

		Self::deposit_event(Event::JobPosted {
			job,
			client,
			spec,
			start: range.start,
			end: range.end,
			budget,
		});
		Ok(job)
	}

	pub(crate) fn do_cancel_job(who: &AccountIdOf<T>, job: JobId) -> DispatchResult {
		let info = Jobs::<T>::get(job).ok_or(Error::<T>::UnknownJob)?;
		ensure!(&info.client == who, Error::<T>::NotClient);
		ensure!(info.open_subjobs == 0, Error::<T>::JobBusy);

		let refunded = info.budget.saturating_sub(info.paid);
		funds::release_budget::<T>(who, refunded)?;
		Jobs::<T>::remove(job);

		Self::deposit_event(Event::JobCancelled { job, refunded });
		Ok(())
	}

	// ---- subjobs

	pub(crate) fn do_claim(
		who: &AccountIdOf<T>,
		job: JobId,
		node: NodeId,
	) -> Result<SubjobId, DispatchError> {
		let mut info = Jobs::<T>::get(job).ok_or(Error::<T>::UnknownJob)?;
		ensure!(T::Nodes::owner(node).as_ref() == Some(who), Error::<T>::NotNodeOwner);
		ensure!(T::Nodes::is_serving(node), Error::<T>::NodeNotServing);
		let rate =
			T::Nodes::hash_rate(node).filter(|r| *r > 0).ok_or(Error::<T>::NotHashingNode)?;
		// Every open claim can cost the node one penalty, reserved from its free collateral.
		let claims = ClaimsOf::<T>::get(node);
		let penalty = T::SlashPenalty::get();
		ensure!(T::Nodes::free_collateral(node) >= penalty, Error::<T>::TooManyClaims);
		let k = Self::chunk_size();
		let size = rate
			.saturating_mul(u64::from(T::TargetSubjobSecs::get()))
			.div_ceil(k)
			.clamp(1, u64::from(T::MaxSubjobChunks::get()))
			.saturating_mul(k);
		let range = match info.returned.pop() {
			// A returned range is cut to the claimer's size; the rest waits for the next claim.
			Some(returned) => {
				let cut = returned.start.saturating_add(size);
				if cut < returned.end {
					// Cutting tracks one range more (the rest stays returned, a subjob opens).
					// `open + returned` must stay within `MaxOpenSubjobs`, so that a failing
					// subjob can always return its range: a claimer too small for the whole
					// range waits until a range is settled or merged.
					let tracked = info
						.open_subjobs
						.saturating_add(info.returned.len() as u32)
						.saturating_add(1);
					ensure!(tracked < T::MaxOpenSubjobs::get(), Error::<T>::TooManyOpenSubjobs);
					let rest = NonceRange { start: cut, end: returned.end };
					info.returned.try_push(rest).map_err(|_| Error::<T>::Overflow)?;
					NonceRange { start: returned.start, end: cut }
				} else {
					returned
				}
			},
			None => {
				ensure!(info.next < info.range.end, Error::<T>::NothingToClaim);
				let open = info.open_subjobs.saturating_add(info.returned.len() as u32);
				ensure!(open < T::MaxOpenSubjobs::get(), Error::<T>::TooManyOpenSubjobs);
				let end = info.next.saturating_add(size).min(info.range.end);
				let range = NonceRange { start: info.next, end };
				info.next = end;
				range
			},
		};
		let subjob = NextSubjobId::<T>::get();
		let next = subjob.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let deadline =
			Self::now().checked_add(&T::ClaimTimeout::get()).ok_or(Error::<T>::Overflow)?;
		info.open_subjobs = info.open_subjobs.checked_add(1).ok_or(Error::<T>::Overflow)?;

		if !penalty.is_zero() {
			T::Nodes::reserve(node, penalty)?;
		}
		NextSubjobId::<T>::put(next);
		ClaimsOf::<T>::insert(node, claims.saturating_add(1));
		Jobs::<T>::insert(job, info);
		Subjobs::<T>::insert(
			subjob,
			Subjob {
				job,
				node,
				worker: who.clone(),
				range,
				deadline,
				state: SubjobState::Claimed,
				penalty,
			},
		);

		Self::deposit_event(Event::SubjobClaimed {
			job,
			subjob,
			node,
			start: range.start,
			end: range.end,
			deadline,
		});
		Ok(subjob)
	}

	/// Forgets one open claim of `node`.
	fn release_claim(node: NodeId) {
		ClaimsOf::<T>::mutate_exists(node, |claims| {
			*claims = claims.and_then(|c| c.checked_sub(1)).filter(|c| *c > 0);
		});
	}

	fn worker_subjob(who: &AccountIdOf<T>, id: SubjobId) -> Result<SubjobOf<T>, DispatchError> {
		let subjob = Subjobs::<T>::get(id).ok_or(Error::<T>::UnknownSubjob)?;
		ensure!(&subjob.worker == who, Error::<T>::NotWorker);
		Ok(subjob)
	}

	pub(crate) fn do_commit(
		who: &AccountIdOf<T>,
		id: SubjobId,
		commitment: Hash256,
	) -> DispatchResult {
		let mut subjob = Self::worker_subjob(who, id)?;
		ensure!(subjob.state == SubjobState::Claimed, Error::<T>::WrongState);
		let now = Self::now();
		// The reveal must come in a later block, still by the deadline.
		ensure!(now < subjob.deadline, Error::<T>::DeadlinePassed);

		subjob.state = SubjobState::Committed { commitment, at: now };
		Subjobs::<T>::insert(id, subjob);

		Self::deposit_event(Event::ResultCommitted { subjob: id, commitment });
		Ok(())
	}

	pub(crate) fn do_reveal(
		who: &AccountIdOf<T>,
		id: SubjobId,
		root: Hash256,
		salt: Hash256,
		nonces: crate::NoncesOf<T>,
	) -> DispatchResult {
		let mut subjob = Self::worker_subjob(who, id)?;
		let SubjobState::Committed { commitment, at } = subjob.state else {
			return Err(Error::<T>::WrongState.into());
		};
		let now = Self::now();
		ensure!(now > at, Error::<T>::RevealTooEarly);
		ensure!(now <= subjob.deadline, Error::<T>::DeadlinePassed);
		ensure!(
			pow::commitment::<NativeSha256>(id, &root, &salt, &nonces) == commitment,
			Error::<T>::CommitmentMismatch
		);
		let job = Jobs::<T>::get(subjob.job).ok_or(Error::<T>::UnknownJob)?;
		let check = Self::checked_spec(&job)?;
		// Fixed by the commitment, not by the reveal: every block whose VRF output enters the
		// seed comes after the worker committed.
		let challenge_at = at.checked_add(&T::ChallengeDelay::get()).ok_or(Error::<T>::Overflow)?;

		// The worker committed to these nonces: any that is out of order, outside the subjob or
		// not a winner proves the result wrong.
		let mut preimage = alloc::vec::Vec::new();
		let mut previous: Option<u64> = None;
		for &nonce in nonces.iter() {
			let in_order = previous.is_none_or(|p| nonce > p);
			let inside = nonce >= subjob.range.start && nonce < subjob.range.end;
			if !in_order
				|| !inside || !check.wins(&check.hash::<NativeSha256>(
				&job.payload,
				nonce,
				&mut preimage,
			)) {
				return Self::fail(id, subjob, job, FailReason::InvalidNonce);
			}
			previous = Some(nonce);
		}

		subjob.state = SubjobState::Revealed { root, nonces: nonces.clone(), challenge_at };
		Subjobs::<T>::insert(id, subjob);

		Self::deposit_event(Event::ResultRevealed { subjob: id, root, nonces, challenge_at });
		Ok(())
	}

	/// The chunks of subjob `id` challenged by the seed of its challenge block.
	pub fn challenged_chunks(id: SubjobId) -> Option<alloc::vec::Vec<u64>> {
		let subjob = Subjobs::<T>::get(id)?;
		let SubjobState::Revealed { challenge_at, .. } = subjob.state else { return None };
		let seed = ChallengeSeeds::<T>::get(challenge_at)?;
		Some(pow::challenge_indices::<NativeSha256>(
			&seed,
			id,
			subjob.range.chunks(Self::chunk_size()),
			T::ChallengeCount::get(),
		))
	}

	pub(crate) fn do_answer(
		who: &AccountIdOf<T>,
		id: SubjobId,
		answers: AnswersOf<T>,
	) -> DispatchResult {
		let subjob = Self::worker_subjob(who, id)?;
		let SubjobState::Revealed { root, ref nonces, challenge_at } = subjob.state else {
			return Err(Error::<T>::WrongState.into());
		};
		let now = Self::now();
		ensure!(now >= challenge_at, Error::<T>::ChallengeNotReady);
		let closes =
			challenge_at.checked_add(&T::AnswerWindow::get()).ok_or(Error::<T>::Overflow)?;
		ensure!(now <= closes, Error::<T>::AnswerWindowClosed);
		ensure!(answers.len() as u32 == T::ChallengeCount::get(), Error::<T>::WrongAnswerCount);
		let seed = ChallengeSeeds::<T>::get(challenge_at).ok_or(Error::<T>::ChallengeNotReady)?;
		let job = Jobs::<T>::get(subjob.job).ok_or(Error::<T>::UnknownJob)?;
		let check = Self::checked_spec(&job)?;

		let k = Self::chunk_size();
		let chunks = subjob.range.chunks(k);
		let indices =
			pow::challenge_indices::<NativeSha256>(&seed, id, chunks, T::ChallengeCount::get());
		// A full list of nonces means the subjob had at least that many winners: the worker
		// cannot be blamed for those it had no room to reveal.
		let saturated = nonces.len() as u32 >= T::MaxNoncesPerResult::get();
		let mut failure = None;
		for (index, answer) in indices.into_iter().zip(answers.iter()) {
			let chunk = subjob.range.chunk(index, k);
			let (digest, winners) =
				check.chunk::<NativeSha256>(&job.payload, chunk.start, chunk.end);
			if digest != answer.digest {
				failure = Some(FailReason::WrongDigest);
			} else if !pow::verify_merkle_proof::<NativeSha256>(
				&root,
				&digest,
				index,
				chunks,
				&answer.proof,
			) {
				failure = Some(FailReason::BadProof);
			} else if !saturated && winners.iter().any(|w| !nonces.contains(w)) {
				failure = Some(FailReason::OmittedNonce);
			}
			if failure.is_some() {
				break;
			}
		}
		match failure {
			Some(reason) => Self::fail(id, subjob, job, reason),
			None => Self::verified(id, subjob, job),
		}
	}

	pub(crate) fn do_reclaim(id: SubjobId) -> DispatchResult {
		let subjob = Subjobs::<T>::get(id).ok_or(Error::<T>::UnknownSubjob)?;
		let now = Self::now();
		let awaiting = Self::awaiting(&subjob);
		ensure!(
			hashjob::reclaimable_in(awaiting, now, T::AnswerWindow::get()),
			Error::<T>::NotExpired
		);
		let reason = match awaiting {
			Awaiting::Reveal { .. } => FailReason::MissedDeadline,
			Awaiting::Answer { .. } => FailReason::Silence,
		};
		let job = Jobs::<T>::get(subjob.job).ok_or(Error::<T>::UnknownJob)?;
		Self::fail(id, subjob, job, reason)
	}

	/// Puts a failed subjob's range back among the job's returned ranges, merged with the
	/// returned ranges it touches. Returned ranges are disjoint, so at most one ends where it
	/// starts and one starts where it ends; merging never adds a range, and adding one keeps
	/// `open + returned` unchanged (the subjob closes), so the push cannot overflow.
	pub(crate) fn return_range(returned: &mut ReturnedOf<T>, range: NonceRange) -> DispatchResult {
		let before = returned.iter().position(|r| r.end == range.start);
		let after = returned.iter().position(|r| r.start == range.end);
		match (before, after) {
			(Some(b), Some(a)) => {
				let end = returned.get(a).map(|r| r.end).ok_or(Error::<T>::Overflow)?;
				returned.get_mut(b).ok_or(Error::<T>::Overflow)?.end = end;
				returned.remove(a);
			},
			(Some(b), None) => returned.get_mut(b).ok_or(Error::<T>::Overflow)?.end = range.end,
			(None, Some(a)) => returned.get_mut(a).ok_or(Error::<T>::Overflow)?.start = range.start,
			(None, None) => returned.try_push(range).map_err(|_| Error::<T>::Overflow)?,
		}
		Ok(())
	}

	/// Fails a subjob: slashes its node to the client, counts a failure, and returns its range
	/// to the job.
	fn fail(
		id: SubjobId,
		subjob: SubjobOf<T>,
		mut job: JobOf<T>,
		reason: FailReason,
	) -> DispatchResult {
		Self::return_range(&mut job.returned, subjob.range)?;
		job.open_subjobs = job.open_subjobs.saturating_sub(1);
		let slashed =
			funds::slash::<T>(subjob.node, subjob.penalty, &job.client, reason.slash_reason())?;
		Self::record(subjob.node, WorkOutcome::Failed)?;
		Self::release_claim(subjob.node);
		Subjobs::<T>::remove(id);
		Jobs::<T>::insert(subjob.job, job);

		Self::deposit_event(Event::SubjobFailed {
			job: subjob.job,
			subjob: id,
			node: subjob.node,
			reason,
			penalty: slashed.taken,
			compensation: slashed.paid(),
		});
		Ok(())
	}

	/// Pays a subjob that passed its spot checks, the finder's bonus if it holds the job's
	/// first verified winning nonce, and completes the job once every nonce is verified.
	fn verified(id: SubjobId, subjob: SubjobOf<T>, mut job: JobOf<T>) -> DispatchResult {
		let SubjobState::Revealed { ref nonces, .. } = subjob.state else {
			return Err(Error::<T>::WrongState.into());
		};
		let hashed = subjob.range.len();
		let bonus = T::FinderBonus::get().mul_floor(job.budget);
		let pool: u128 = job.budget.saturating_sub(bonus).saturated_into();
		let reward: BalanceOf<T> = multiply_by_rational_with_rounding(
			pool,
			u128::from(hashed),
			u128::from(job.range.len()),
			Rounding::Down,
		)
		.ok_or(Error::<T>::Overflow)?
		.saturated_into();
		let first_win = nonces.first().copied().filter(|_| !job.bonus_paid);
		let bonus = if first_win.is_some() { bonus } else { Zero::zero() };
		let paid = job
			.paid
			.checked_add(&reward)
			.and_then(|p| p.checked_add(&bonus))
			.filter(|p| *p <= job.budget)
			.ok_or(Error::<T>::Overflow)?;

		funds::pay_from_budget::<T>(&job.client, &subjob.worker, reward)?;
		funds::pay_from_budget::<T>(&job.client, &subjob.worker, bonus)?;
		Self::record(subjob.node, WorkOutcome::Completed)?;
		job.paid = paid;
		job.hashed = job.hashed.saturating_add(hashed);
		job.found = job.found.saturating_add(nonces.len() as u32);
		job.bonus_paid = job.bonus_paid || first_win.is_some();
		job.open_subjobs = job.open_subjobs.saturating_sub(1);
		Self::release_claim(subjob.node);
		if !subjob.penalty.is_zero() && T::Nodes::owner(subjob.node).is_some() {
			T::Nodes::release_reservation(subjob.node, subjob.penalty)?;
		}
		// An agreement between client and node counts the unit. Whatever goes wrong there must
		// not fail a verified answer (the worker would be slashed for silence): it is undone
		// and logged.
		let work = subjob.range.len();
		if let Err(e) = frame_support::storage::with_storage_layer(|| {
			T::OnVerifiedWork::on_verified_work(&job.client, subjob.node, work)
		}) {
			log::warn!(
				target: crate::LOG_TARGET,
				"subjob {id}: the verified work could not be counted for an agreement: {e:?}"
			);
		}
		Subjobs::<T>::remove(id);

		Self::deposit_event(Event::SubjobVerified {
			job: subjob.job,
			subjob: id,
			node: subjob.node,
			to: subjob.worker.clone(),
			hashed,
			reward,
		});
		if let Some(nonce) = first_win {
			Self::deposit_event(Event::FinderRewarded {
				job: subjob.job,
				subjob: id,
				nonce,
				to: subjob.worker.clone(),
				bonus,
			});
		}
		if Self::is_done(&job) {
			let refunded = job.budget.saturating_sub(job.paid);
			funds::release_budget::<T>(&job.client, refunded)?;
			Jobs::<T>::remove(subjob.job);
			Self::deposit_event(Event::JobCompleted {
				job: subjob.job,
				hashed: job.hashed,
				found: job.found,
				refunded,
			});
		} else {
			Jobs::<T>::insert(subjob.job, job);
		}
		Ok(())
	}

	/// Whether every nonce of `job` has been verified: nothing left to hand out and nothing open.
	fn is_done(job: &JobOf<T>) -> bool {
		job.next >= job.range.end && job.returned.is_empty() && job.open_subjobs == 0
	}

	/// Counts work for a node's reputation, if it is still in the registry.
	fn record(node: NodeId, outcome: WorkOutcome) -> DispatchResult {
		if T::Nodes::owner(node).is_some() {
			T::Nodes::record_work(node, outcome)?;
		}
		Ok(())
	}

	/// Decides redundant `results` (one per node) by strict majority and slashes up to
	/// `penalty` of the *free* collateral of every node of the minority, to `beneficiary`
	/// (burnt when `None`); what is reserved for a node's other obligations is out of reach, so
	/// a caller that needs the penalty backed reserves it when the node takes the work. Without
	/// a strict majority nobody is slashed. For pallets that run the same work on several
	/// nodes; the caller bounds `results`.
	///
	/// Every result must come from a registered node of a distinct owner (one vote per owner,
	/// so Sybil nodes cannot outvote an honest owner), and the slashes are all or nothing.
	pub fn settle_quorum(
		results: &[(NodeId, Hash256)],
		penalty: BalanceOf<T>,
		beneficiary: Option<&AccountIdOf<T>>,
	) -> Result<QuorumOutcome<Hash256>, DispatchError> {
		// One vote per owner: an owner running several nodes could otherwise outvote honest
		// owners with Sybil nodes. Every voter must be a registered node.
		let mut nodes = alloc::collections::BTreeSet::new();
		let mut owners = alloc::collections::BTreeSet::new();
		for (node, _) in results {
			ensure!(nodes.insert(*node), Error::<T>::DuplicateResult);
			let owner = T::Nodes::owner(*node).ok_or(Error::<T>::UnknownNode)?;
			ensure!(owners.insert(owner), Error::<T>::DuplicateOwner);
		}
		let outcome = quorum::decide(results);
		// All or nothing: a slash that fails undoes the ones before it, whatever the caller.
		frame_support::storage::with_storage_layer(|| -> DispatchResult {
			for &node in &outcome.minority {
				if !penalty.is_zero() {
					T::Nodes::slash(node, penalty, beneficiary, SlashReason::InvalidWork)?;
				}
				T::Nodes::record_work(node, WorkOutcome::Failed)?;
			}
			Ok(())
		})?;
		Self::deposit_event(Event::QuorumSettled {
			result: outcome.result,
			majority: outcome.majority.len() as u32,
			slashed: outcome.minority.len() as u32,
		});
		Ok(outcome)
	}

	// ---- invariants

	/// Checks the pallet's invariants:
	///
	/// 1. Every job's id is below [`NextJobId`]; its range is non-empty and `start <= next <=
	///    end`; it has paid at most its budget and verified at most its range.
	/// 2. Each client's [`HoldReason::JobBudget`](crate::HoldReason::JobBudget) hold equals the
	///    unpaid budget (`budget - paid`) of its jobs: escrow is exactly what is still owed.
	/// 3. Every subjob's id is below [`NextSubjobId`]; its job exists; its range is non-empty,
	///    inside the handed-out part of the job (`[start, next)`) and starts on a chunk boundary.
	/// 4. Each job's `open_subjobs` is the number of its subjobs, and with its returned ranges it
	///    stays within [`Config::MaxOpenSubjobs`]; [`ClaimsOf`] counts each node's subjobs.
	/// 5. At most `ChallengeDelay + AnswerWindow + 1` challenge seeds are kept.
	#[cfg(any(feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::BTreeMap;
		let fail = |msg: &'static str| -> sp_runtime::TryRuntimeError {
			log::error!(target: crate::LOG_TARGET, "try_state: {msg}");
			msg.into()
		};

		// 1 and 2.
		let next_job = NextJobId::<T>::get();
		let mut owed: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		for (id, job) in Jobs::<T>::iter() {
			ensure!(id < next_job, fail("job id not below NextJobId"));
			ensure!(!job.range.is_empty(), fail("job with an empty range"));
			ensure!(
				job.next >= job.range.start && job.next <= job.range.end,
				fail("job cursor outside its range")
			);
			ensure!(job.paid <= job.budget, fail("job paid more than its budget"));
			ensure!(job.hashed <= job.range.len(), fail("job verified more than its range"));
			let open = job.open_subjobs.saturating_add(job.returned.len() as u32);
			ensure!(open <= T::MaxOpenSubjobs::get(), fail("too many open subjobs"));
			let entry = owed.entry(job.client.clone()).or_default();
			*entry = entry.saturating_add(job.budget.saturating_sub(job.paid));
		}
		for (client, amount) in owed {
			ensure!(
				funds::held::<T>(&client) == amount,
				fail("budget held differs from the client's unpaid budgets")
			);
		}

		// 3 and 4.
		let next_subjob = NextSubjobId::<T>::get();
		let mut per_job: BTreeMap<JobId, u32> = BTreeMap::new();
		let mut per_node: BTreeMap<NodeId, u32> = BTreeMap::new();
		for (id, subjob) in Subjobs::<T>::iter() {
			ensure!(id < next_subjob, fail("subjob id not below NextSubjobId"));
			let job = Jobs::<T>::get(subjob.job).ok_or_else(|| fail("subjob of an unknown job"))?;
			ensure!(!subjob.range.is_empty(), fail("subjob with an empty range"));
			ensure!(
				subjob.range.start >= job.range.start && subjob.range.end <= job.next,
				fail("subjob outside the handed-out part of its job")
			);
			ensure!(
				subjob.range.start.saturating_sub(job.range.start).checked_rem(Self::chunk_size())
					== Some(0),
				fail("subjob not on a chunk boundary")
			);
			let count = per_job.entry(subjob.job).or_default();
			*count = count.saturating_add(1);
			let claims = per_node.entry(subjob.node).or_default();
			*claims = claims.saturating_add(1);
		}
		ensure!(
			ClaimsOf::<T>::iter().count() == per_node.len()
				&& per_node.iter().all(|(node, n)| ClaimsOf::<T>::get(node) == *n),
			fail("ClaimsOf differs from the nodes' open subjobs")
		);
		for (id, job) in Jobs::<T>::iter() {
			ensure!(
				per_job.get(&id).copied().unwrap_or(0) == job.open_subjobs,
				fail("open_subjobs differs from the job's subjobs")
			);
		}

		// 5.
		let retention: u64 = Self::seed_retention().saturated_into();
		ensure!(
			ChallengeSeeds::<T>::iter().count() as u64 <= retention,
			fail("challenge seeds kept too long")
		);
		Ok(())
	}
}
