//! The pallet's logic: each call's checks, state changes and events, in that order.

use crate::{
	funds, AccountIdOf, Audits, AuditsBy, Ballot, BlockNumberOf, Challenge, ChallengeOf,
	ChallengeProbability, Challenges, Commitment, CommitmentId, CommitmentOf, CommitmentViewOf,
	Commitments, CommitmentsOf, Config, DueAt, EngineClasses, Error, Event, HoldReason,
	NativeSha256, NextCommitmentId, Pallet, Phase, SeedChain, Verdict, Verifier, VerifierDuties,
	Vote,
};
use alloc::vec::Vec;
use appchain_primitives::{
	pow::Hash256,
	receipt::{verify_receipt, Receipt},
	Layer, LayerRange, NodeId,
};
use codec::Encode;
use frame_support::{ensure, pallet_prelude::*, traits::Randomness};
use pallet_compute_registry::{ComputeNodes, SlashReason, WorkOutcome};
use sp_runtime::{
	traits::{CheckedAdd, CheckedDiv, CheckedMul, Saturating, UniqueSaturatedInto, Verify, Zero},
	DispatchError, Perbill,
};

/// Domain of the seed chain.
const SEED_DOMAIN: &[u8] = b"appchain/inference-proofs/seed";

/// A commitment checked and scheduled, not stored yet ([`Pallet::prepare`]).
struct Prepared<T: Config> {
	id: CommitmentId,
	next: CommitmentId,
	commitment: CommitmentOf<T>,
}

/// A vote as counted: the root a verifier computed, or that it could not get the inputs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counted {
	Root(Hash256),
	Unavailable,
}

fn counted(vote: &Vote) -> Counted {
	match vote {
		Vote::Computed { layer_root, .. } => Counted::Root(*layer_root),
		Vote::InputsUnavailable => Counted::Unavailable,
	}
}

fn u64_of(bytes: &[u8]) -> u64 {
	let mut word = [0u8; 8];
	for (w, b) in word.iter_mut().zip(bytes) {
		*w = *b;
	}
	u64::from_le_bytes(word)
}

impl<T: Config> Pallet<T> {
	fn now() -> BlockNumberOf<T> {
		frame_system::Pallet::<T>::block_number()
	}

	fn genesis() -> [u8; 32] {
		let hash = frame_system::Pallet::<T>::block_hash(BlockNumberOf::<T>::zero());
		let mut genesis = [0u8; 32];
		for (g, b) in genesis.iter_mut().zip(hash.as_ref()) {
			*g = *b;
		}
		genesis
	}

	/// The challenge probability of `model`.
	pub fn probability(model: appchain_primitives::ModelId) -> Perbill {
		ChallengeProbability::<T>::get(model).unwrap_or_else(T::DefaultChallengeProbability::get)
	}

	/// The penalty backing a commitment whose steps were paid `payment`: `PenaltyFactor` times
	/// the payment, at least `MismatchPenalty`. Scaling with the payment keeps the expected loss
	/// of a cheat (`p × (payment + penalty)` for challenge probability `p`) above its gain (at
	/// most the payment) for batches of every size.
	pub fn penalty_for(payment: BalanceOf<T>) -> Result<BalanceOf<T>, DispatchError> {
		let scaled =
			payment.checked_mul(&T::PenaltyFactor::get().into()).ok_or(Error::<T>::Overflow)?;
		Ok(scaled.max(T::MismatchPenalty::get()))
	}

	/// Chains this block's randomness into [`SeedChain`] and stamps the commitments due now with
	/// their seeds; returns how many were due (at most [`Config::MaxDuePerBlock`]).
	///
	/// The randomness of a block is its parent's VRF output, which its author cannot choose;
	/// only before the first VRF output does it fall back to the parent hash.
	pub(crate) fn advance_seed_and_stamp(now: BlockNumberOf<T>) -> u32 {
		let random = match T::Randomness::random(&b"inference-proofs/seed"[..]).0 {
			Some(random) => random.encode(),
			None => frame_system::Pallet::<T>::parent_hash().encode(),
		};
		let mut preimage = Vec::with_capacity(SEED_DOMAIN.len().saturating_add(64));
		preimage.extend_from_slice(SEED_DOMAIN);
		preimage.extend_from_slice(&SeedChain::<T>::get());
		preimage.extend_from_slice(&random);
		let seed = sp_io::hashing::sha2_256(&preimage);
		SeedChain::<T>::put(seed);
		let due = DueAt::<T>::take(now);
		for id in due.iter() {
			Commitments::<T>::mutate(id, |maybe| {
				if let Some(c) = maybe {
					c.seed = Some(sp_io::hashing::sha2_256(&(seed, id).encode()));
				}
			});
		}
		due.len() as u32
	}

	// ---- engine classes

	pub(crate) fn do_declare_engine_class(
		who: &AccountIdOf<T>,
		node: NodeId,
		class: appchain_primitives::receipt::EngineClass,
	) -> DispatchResult {
		ensure!(T::Nodes::owner(node).as_ref() == Some(who), Error::<T>::NotNodeOwner);
		ensure!(T::Nodes::inference_layers(node).is_some(), Error::<T>::NotInferenceNode);
		EngineClasses::<T>::insert(node, class);
		Self::deposit_event(Event::EngineClassDeclared { node, class });
		Ok(())
	}

	// ---- commit

	/// A new commitment of `steps` receipts of `node` (owned by `owner`) for `client`: checked
	/// and scheduled, with its id and its challenge block's list including it, but neither
	/// stored nor backed (`reserved` is zero).
	fn prepare(
		node: NodeId,
		owner: AccountIdOf<T>,
		client: AccountIdOf<T>,
		session: [u8; 16],
		steps: u32,
		receipts_root: Hash256,
	) -> Result<Prepared<T>, DispatchError> {
		let (model, layers) =
			T::Nodes::inference_layers(node).ok_or(Error::<T>::NotInferenceNode)?;
		let class = EngineClasses::<T>::get(node).ok_or(Error::<T>::NoEngineClass)?;
		let price = T::Nodes::price(node).ok_or(Error::<T>::NotInferenceNode)?;
		ensure!(steps >= 1 && steps <= T::MaxStepsPerCommitment::get(), Error::<T>::BadStepCount);
		let payment = price.checked_mul(&steps.into()).ok_or(Error::<T>::Overflow)?;
		let now = Self::now();
		let challenge_at =
			now.checked_add(&T::ChallengeDelay::get()).ok_or(Error::<T>::Overflow)?;
		let id = NextCommitmentId::<T>::get();
		let next = id.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let commitment = Commitment {
			node,
			owner,
			client,
			model,
			start: u32::from(layers.start),
			end: u32::from(layers.end),
			session,
			class,
			steps,
			receipts_root,
			payment,
			reserved: Zero::zero(),
			committed_at: now,
			challenge_at,
			seed: None,
			dispute: None,
		};
		Ok(Prepared { id, next, commitment })
	}

	/// The list of commitments due at `prepared`'s challenge block, with it.
	fn due_with(
		prepared: &Prepared<T>,
	) -> Result<BoundedVec<CommitmentId, T::MaxDuePerBlock>, DispatchError> {
		let mut due = DueAt::<T>::get(prepared.commitment.challenge_at);
		due.try_push(prepared.id).map_err(|_| Error::<T>::ChallengeBlockFull)?;
		Ok(due)
	}

	/// Stores a prepared commitment: the next id, its challenge block's list `due`
	/// ([`Self::due_with`]), the record.
	fn store(prepared: Prepared<T>, due: BoundedVec<CommitmentId, T::MaxDuePerBlock>) {
		let Prepared { id, next, commitment } = prepared;
		NextCommitmentId::<T>::put(next);
		DueAt::<T>::insert(commitment.challenge_at, due);
		Commitments::<T>::insert(id, commitment);
	}

	pub(crate) fn do_commit(
		who: &AccountIdOf<T>,
		node: NodeId,
		client: AccountIdOf<T>,
		session: [u8; 16],
		steps: u32,
		receipts_root: Hash256,
	) -> Result<CommitmentId, DispatchError> {
		ensure!(T::Nodes::owner(node).as_ref() == Some(who), Error::<T>::NotNodeOwner);
		ensure!(T::Nodes::is_serving(node), Error::<T>::NodeNotServing);
		let mut prepared =
			Self::prepare(node, who.clone(), client.clone(), session, steps, receipts_root)?;
		let (id, payment) = (prepared.id, prepared.commitment.payment);
		let penalty = Self::penalty_for(payment)?;
		let reserved = payment.checked_add(&penalty).ok_or(Error::<T>::Overflow)?;
		ensure!(T::Nodes::free_collateral(node) >= reserved, Error::<T>::InsufficientCollateral);
		let mut open = CommitmentsOf::<T>::get(node);
		open.try_push(id).map_err(|_| Error::<T>::TooManyOpen)?;
		let due = Self::due_with(&prepared)?;
		let challenge_at = prepared.commitment.challenge_at;

		funds::reserve::<T>(node, reserved)?;
		CommitmentsOf::<T>::insert(node, open);
		prepared.commitment.reserved = reserved;
		Self::store(prepared, due);
		Self::deposit_event(Event::Committed {
			id,
			node,
			client,
			session,
			steps,
			receipts_root,
			payment,
			reserved,
			challenge_at,
		});
		Ok(id)
	}

	// ---- audit

	pub(crate) fn do_audit(
		client: &AccountIdOf<T>,
		node: NodeId,
		session: [u8; 16],
		steps: u32,
		receipts_root: Hash256,
	) -> Result<CommitmentId, DispatchError> {
		let owner = T::Nodes::owner(node).ok_or(Error::<T>::NotInferenceNode)?;
		ensure!(&owner != client, Error::<T>::OwnNode);
		let stamped: BlockNumberOf<T> =
			appchain_primitives::receipt::session_block(&session).into();
		let now = Self::now();
		ensure!(
			stamped <= now && now.saturating_sub(stamped) <= T::AuditWindow::get(),
			Error::<T>::SessionOutsideAuditWindow
		);
		let prepared = Self::prepare(node, owner, client.clone(), session, steps, receipts_root)?;
		let (id, payment, challenge_at) =
			(prepared.id, prepared.commitment.payment, prepared.commitment.challenge_at);
		let mut open = AuditsBy::<T>::get(client);
		open.try_push(id).map_err(|_| Error::<T>::TooManyAudits)?;
		let due = Self::due_with(&prepared)?;
		let bond = T::AuditBond::get();

		funds::hold_bond::<T>(HoldReason::AuditBond, client, bond)?;
		AuditsBy::<T>::insert(client, open);
		Audits::<T>::insert(id, bond);
		Self::store(prepared, due);
		Self::deposit_event(Event::Audited {
			id,
			node,
			client: client.clone(),
			session,
			steps,
			receipts_root,
			payment,
			bond,
			challenge_at,
		});
		Ok(id)
	}

	pub(crate) fn do_dispute(who: &AccountIdOf<T>, id: CommitmentId, index: u32) -> DispatchResult {
		let mut c = Commitments::<T>::get(id).ok_or(Error::<T>::UnknownCommitment)?;
		ensure!(&c.client == who, Error::<T>::NotClient);
		ensure!(c.seed.is_none() && Self::now() < c.challenge_at, Error::<T>::TooLateToDispute);
		ensure!(c.dispute.is_none(), Error::<T>::AlreadyDisputed);
		ensure!(index < c.steps, Error::<T>::BadIndex);
		let bond = T::DisputeBond::get();
		funds::hold_bond::<T>(HoldReason::DisputeBond, who, bond)?;
		c.dispute = Some(index);
		Commitments::<T>::insert(id, c);
		Self::deposit_event(Event::Disputed { id, index, bond });
		Ok(())
	}

	// ---- draw

	/// Whether the seed challenges the commitment, and which receipt.
	fn challenged_index(c: &CommitmentOf<T>, seed: &Hash256) -> Option<(u32, bool)> {
		if let Some(index) = c.dispute {
			return Some((index, true));
		}
		let roll = (u64_of(&seed[..8]) % 1_000_000_000) as u32;
		if roll >= Self::probability(c.model).deconstruct() {
			return None;
		}
		let index = u64_of(&seed[8..16]).checked_rem(u64::from(c.steps)).unwrap_or(0);
		Some((index as u32, false))
	}

	/// Draws up to `VerifiersPerChallenge` verifiers for `c`: serving nodes of its engine class
	/// covering its layers, of distinct owners other than the node's, with the bond free and room for a duty, each
	/// with probability proportional to its free collateral, without replacement.
	fn draw_verifiers(c: &CommitmentOf<T>, seed: &Hash256) -> Vec<Verifier<AccountIdOf<T>>> {
		let (Ok(start), Ok(end)) = (Layer::try_from(c.start), Layer::try_from(c.end)) else {
			return Vec::new();
		};
		let bond = T::VerifierBond::get();
		let mut candidates: Vec<(NodeId, AccountIdOf<T>, u128)> =
			T::Nodes::nodes_covering(c.model, LayerRange::new(start, end))
				.into_iter()
				.filter(|v| *v != c.node && EngineClasses::<T>::get(v) == Some(c.class))
				.filter_map(|v| {
					let owner = T::Nodes::owner(v)?;
					let free = T::Nodes::free_collateral(v);
					let room = (VerifierDuties::<T>::decode_len(v).unwrap_or(0) as u32)
						< T::MaxOpenPerNode::get();
					(owner != c.owner && free >= bond && room)
						.then(|| (v, owner, free.unique_saturated_into()))
				})
				.collect();
		let mut drawn = Vec::new();
		let mut round: u32 = 0;
		while (drawn.len() as u32) < T::VerifiersPerChallenge::get() && !candidates.is_empty() {
			let total: u128 =
				candidates.iter().fold(0u128, |sum, (_, _, w)| sum.saturating_add((*w).max(1)));
			let r = sp_io::hashing::sha2_256(&(seed, b"verifier", round).encode());
			let mut ticket = u128::from(u64_of(&r[..8])) << 64 | u128::from(u64_of(&r[8..16]));
			ticket = ticket.checked_rem(total).unwrap_or(0);
			let mut pick = candidates.len().saturating_sub(1);
			for (i, (_, _, w)) in candidates.iter().enumerate() {
				let w = (*w).max(1);
				if ticket < w {
					pick = i;
					break;
				}
				ticket = ticket.saturating_sub(w);
			}
			let (node, owner, _) = candidates.swap_remove(pick);
			candidates.retain(|(_, o, _)| *o != owner);
			drawn.push(Verifier { node, owner, ballot: Ballot::Pending });
			round = round.saturating_add(1);
		}
		drawn
	}

	pub(crate) fn do_draw(id: CommitmentId) -> DispatchResult {
		let c = Commitments::<T>::get(id).ok_or(Error::<T>::UnknownCommitment)?;
		let seed = c.seed.ok_or(Error::<T>::NotDue)?;
		ensure!(!Challenges::<T>::contains_key(id), Error::<T>::AlreadyDrawn);
		let Some((index, by_client)) = Self::challenged_index(&c, &seed) else {
			return Self::finish(id, c, None, Verdict::Unchallenged);
		};
		let drawn = Self::draw_verifiers(&c, &seed);
		if (drawn.len() as u32) < T::MinVerifiers::get() {
			return Self::finish(id, c, None, Verdict::NoVerifiers);
		}
		let verifiers: BoundedVec<_, T::VerifiersPerChallenge> =
			drawn.try_into().map_err(|_| Error::<T>::Overflow)?;
		// The receipt is due a fixed time after the challenge block, however late the draw:
		// drawing late cannot stretch a challenge past the time a node keeps its inputs (a
		// client drawing its audit a day later only loses its bond), and not drawing cannot
		// save a node from its challenge (anyone may draw; the node then has withheld).
		let until =
			c.challenge_at.checked_add(&T::ReceiptWindow::get()).ok_or(Error::<T>::Overflow)?;
		let mut duties = Vec::with_capacity(verifiers.len());
		for v in verifiers.iter() {
			let mut list = VerifierDuties::<T>::get(v.node);
			list.try_push(id).map_err(|_| Error::<T>::TooManyOpen)?;
			duties.push((v.node, list));
		}
		for v in verifiers.iter() {
			funds::reserve::<T>(v.node, T::VerifierBond::get())?;
		}
		for (node, list) in duties {
			VerifierDuties::<T>::insert(node, list);
		}
		let nodes: BoundedVec<NodeId, T::VerifiersPerChallenge> = verifiers
			.iter()
			.map(|v| v.node)
			.collect::<Vec<_>>()
			.try_into()
			.map_err(|_| Error::<T>::Overflow)?;
		Challenges::<T>::insert(
			id,
			Challenge {
				index,
				by_client,
				phase: Phase::AwaitingReceipt { until },
				receipt: None,
				verifiers,
			},
		);
		Self::deposit_event(Event::Challenged { id, index, by_client, verifiers: nodes, until });
		Ok(())
	}

	// ---- the challenge's phases

	pub(crate) fn do_reveal_receipt(
		who: &AccountIdOf<T>,
		id: CommitmentId,
		receipt: Receipt,
		proof: BoundedVec<Hash256, T::MaxProofDepth>,
	) -> DispatchResult {
		let c = Commitments::<T>::get(id).ok_or(Error::<T>::UnknownCommitment)?;
		ensure!(&c.owner == who, Error::<T>::NotNodeOwner);
		Self::accept_receipt(id, c, receipt, &proof)
	}

	pub(crate) fn do_reveal_signed_receipt(
		id: CommitmentId,
		receipt: Receipt,
		signature: T::Signature,
		proof: BoundedVec<Hash256, T::MaxProofDepth>,
	) -> DispatchResult {
		let c = Commitments::<T>::get(id).ok_or(Error::<T>::UnknownCommitment)?;
		ensure!(
			signature.verify(&receipt.signing_payload(&Self::genesis())[..], &c.owner),
			Error::<T>::BadSignature
		);
		Self::accept_receipt(id, c, receipt, &proof)
	}

	/// Takes the challenged receipt of commitment `id` once it matches the commitment and its
	/// proof verifies, and opens the vote. The first receipt of an audit is where the node's
	/// obligation reaches the chain: its payment and penalty are reserved then, as much as its
	/// free collateral holds.
	fn accept_receipt(
		id: CommitmentId,
		mut c: CommitmentOf<T>,
		receipt: Receipt,
		proof: &[Hash256],
	) -> DispatchResult {
		let mut ch = Challenges::<T>::get(id).ok_or(Error::<T>::NotChallenged)?;
		let Phase::AwaitingReceipt { until } = ch.phase else {
			return Err(Error::<T>::WrongPhase.into());
		};
		let now = Self::now();
		ensure!(now <= until, Error::<T>::TooLate);
		ensure!(
			receipt.node == c.node
				&& receipt.model == c.model
				&& receipt.start == c.start
				&& receipt.end == c.end
				&& receipt.session == c.session,
			Error::<T>::ReceiptMismatch
		);
		ensure!(
			verify_receipt::<NativeSha256>(
				&Self::genesis(),
				&c.receipts_root,
				&receipt,
				u64::from(ch.index),
				u64::from(c.steps),
				proof,
			),
			Error::<T>::BadProof
		);
		let until = now.checked_add(&T::VoteWindow::get()).ok_or(Error::<T>::Overflow)?;
		let backing = if Audits::<T>::contains_key(id) {
			let owed = c
				.payment
				.checked_add(&Self::penalty_for(c.payment)?)
				.ok_or(Error::<T>::Overflow)?;
			Some(owed.min(T::Nodes::free_collateral(c.node)))
		} else {
			None
		};

		if let Some(reserved) = backing {
			funds::reserve::<T>(c.node, reserved)?;
			c.reserved = reserved;
			Commitments::<T>::insert(id, &c);
		}
		ch.receipt = Some(receipt);
		ch.phase = Phase::Voting { until };
		Challenges::<T>::insert(id, ch);
		if let Some(reserved) = backing {
			Self::deposit_event(Event::AuditBacked { id, reserved });
		}
		Self::deposit_event(Event::ReceiptRevealed { id, receipt, until });
		Ok(())
	}

	/// The seal of a vote ([`appchain_primitives::receipt::vote_seal`]).
	pub fn seal(id: CommitmentId, verifier: NodeId, vote: &Vote, salt: &Hash256) -> Hash256 {
		appchain_primitives::receipt::vote_seal::<NativeSha256>(id, verifier, vote, salt)
	}

	fn verifier_index(
		ch: &ChallengeOf<T>,
		who: &AccountIdOf<T>,
		verifier: NodeId,
	) -> Result<usize, DispatchError> {
		ch.verifiers
			.iter()
			.position(|v| v.node == verifier && &v.owner == who)
			.ok_or_else(|| Error::<T>::NotVerifier.into())
	}

	fn start_opening(id: CommitmentId, ch: &mut ChallengeOf<T>) -> DispatchResult {
		let until = Self::now().checked_add(&T::OpenWindow::get()).ok_or(Error::<T>::Overflow)?;
		ch.phase = Phase::Revealing { until };
		Self::deposit_event(Event::OpeningStarted { id, until });
		Ok(())
	}

	pub(crate) fn do_seal_vote(
		who: &AccountIdOf<T>,
		id: CommitmentId,
		verifier: NodeId,
		seal: Hash256,
	) -> DispatchResult {
		let mut ch = Challenges::<T>::get(id).ok_or(Error::<T>::NotChallenged)?;
		let i = Self::verifier_index(&ch, who, verifier)?;
		let Phase::Voting { until } = ch.phase else {
			return Err(Error::<T>::WrongPhase.into());
		};
		ensure!(Self::now() <= until, Error::<T>::TooLate);
		let entry = ch.verifiers.get_mut(i).ok_or(Error::<T>::NotVerifier)?;
		ensure!(entry.ballot == Ballot::Pending, Error::<T>::AlreadySealed);
		entry.ballot = Ballot::Sealed(seal);
		if ch.verifiers.iter().all(|v| v.ballot != Ballot::Pending) {
			Self::start_opening(id, &mut ch)?;
		}
		Challenges::<T>::insert(id, ch);
		Self::deposit_event(Event::VoteSealed { id, verifier });
		Ok(())
	}

	pub(crate) fn do_open_vote(
		who: &AccountIdOf<T>,
		id: CommitmentId,
		verifier: NodeId,
		vote: Vote,
		salt: Hash256,
	) -> DispatchResult {
		let mut ch = Challenges::<T>::get(id).ok_or(Error::<T>::NotChallenged)?;
		let i = Self::verifier_index(&ch, who, verifier)?;
		let Phase::Revealing { until } = ch.phase else {
			return Err(Error::<T>::WrongPhase.into());
		};
		ensure!(Self::now() <= until, Error::<T>::TooLate);
		let entry = ch.verifiers.get_mut(i).ok_or(Error::<T>::NotVerifier)?;
		let Ballot::Sealed(seal) = entry.ballot else {
			return Err(Error::<T>::NotSealed.into());
		};
		ensure!(Self::seal(id, verifier, &vote, &salt) == seal, Error::<T>::SealMismatch);
		entry.ballot = Ballot::Open(vote);
		Self::deposit_event(Event::VoteOpened { id, verifier, vote });
		// Every sealed vote is open: nothing more can come, so count now.
		if ch.verifiers.iter().all(|v| !matches!(v.ballot, Ballot::Sealed(_))) {
			let c = Commitments::<T>::get(id).ok_or(Error::<T>::UnknownCommitment)?;
			let verdict = Self::count(&ch);
			return Self::finish(id, c, Some(ch), verdict);
		}
		Challenges::<T>::insert(id, ch);
		Ok(())
	}

	pub(crate) fn do_settle(id: CommitmentId) -> DispatchResult {
		let c = Commitments::<T>::get(id).ok_or(Error::<T>::UnknownCommitment)?;
		let mut ch = Challenges::<T>::get(id).ok_or(Error::<T>::NotChallenged)?;
		let now = Self::now();
		match ch.phase {
			Phase::AwaitingReceipt { until } => {
				ensure!(now > until, Error::<T>::TooEarly);
				// Nobody showed a receipt: the node withheld its own, or the client of an
				// audit had none the node signed.
				let verdict = if Audits::<T>::contains_key(id) {
					Verdict::Unsubstantiated
				} else {
					Verdict::ReceiptWithheld
				};
				Self::finish(id, c, Some(ch), verdict)
			},
			Phase::Voting { until } => {
				ensure!(now > until, Error::<T>::TooEarly);
				Self::start_opening(id, &mut ch)?;
				Challenges::<T>::insert(id, ch);
				Ok(())
			},
			Phase::Revealing { until } => {
				ensure!(now > until, Error::<T>::TooEarly);
				let verdict = Self::count(&ch);
				Self::finish(id, c, Some(ch), verdict)
			},
		}
	}

	/// The vote of a strict majority of the verifiers drawn, if any.
	fn majority(ch: &ChallengeOf<T>) -> Option<Counted> {
		let open: Vec<Counted> = ch
			.verifiers
			.iter()
			.filter_map(|v| match &v.ballot {
				Ballot::Open(vote) => Some(counted(vote)),
				_ => None,
			})
			.collect();
		let drawn = ch.verifiers.len();
		open.iter()
			.find(|candidate| {
				open.iter().filter(|o| o == candidate).count().saturating_mul(2) > drawn
			})
			.copied()
	}

	/// The verdict of the opened votes.
	fn count(ch: &ChallengeOf<T>) -> Verdict {
		let Some(receipt) = ch.receipt else { return Verdict::ReceiptWithheld };
		match Self::majority(ch) {
			None => Verdict::Inconclusive,
			Some(Counted::Root(root)) if root == receipt.layer_root => Verdict::Upheld,
			Some(Counted::Unavailable) => Verdict::InputsWithheld,
			Some(winner @ Counted::Root(_)) => {
				let layer = ch
					.verifiers
					.iter()
					.filter_map(|v| match &v.ballot {
						Ballot::Open(vote @ Vote::Computed { first_divergent_layer, .. })
							if counted(vote) == winner =>
						{
							*first_divergent_layer
						},
						_ => None,
					})
					.min();
				Verdict::Mismatch { layer }
			},
		}
	}

	/// Ends a commitment with `verdict`: settles the node's reservation, the verifiers' bonds and
	/// the client's dispute bond, records the node's work, and removes the records.
	fn finish(
		id: CommitmentId,
		c: CommitmentOf<T>,
		ch: Option<ChallengeOf<T>>,
		verdict: Verdict,
	) -> DispatchResult {
		let majority = ch.as_ref().and_then(Self::majority);
		// Verifiers who voted with the majority share the penalty of a node at fault.
		let in_majority = |v: &Verifier<AccountIdOf<T>>| match &v.ballot {
			Ballot::Open(vote) => Some(counted(vote)) == majority,
			_ => false,
		};
		let mut refunded = BalanceOf::<T>::zero();
		let mut penalty_taken = BalanceOf::<T>::zero();
		let audit_bond = Audits::<T>::get(id);
		if verdict.node_at_fault() {
			// An audit's reservation may be short of the payment: the refund comes first.
			let refund_owed = c.payment.min(c.reserved);
			let refund =
				funds::slash::<T>(c.node, refund_owed, &c.client, SlashReason::InvalidWork)?;
			refunded = refund.paid();
			let penalty = c.reserved.saturating_sub(refund_owed);
			let winners: Vec<&Verifier<AccountIdOf<T>>> = match (&ch, verdict) {
				(Some(ch), Verdict::Mismatch { .. } | Verdict::InputsWithheld) => {
					ch.verifiers.iter().filter(|v| in_majority(v)).collect()
				},
				_ => Vec::new(),
			};
			// Half the penalty to the verifiers who proved the fault, in equal shares; the rest
			// (all of it when no verifier voted) to the client.
			let to_verifiers = if winners.is_empty() {
				Zero::zero()
			} else {
				penalty.checked_div(&2u32.into()).unwrap_or_default()
			};
			let share = if winners.is_empty() {
				Zero::zero()
			} else {
				to_verifiers.checked_div(&(winners.len() as u32).into()).unwrap_or_default()
			};
			for v in &winners {
				penalty_taken = penalty_taken.saturating_add(
					funds::slash::<T>(c.node, share, &v.owner, SlashReason::InvalidWork)?.taken,
				);
			}
			let rest = penalty.saturating_sub(share.saturating_mul((winners.len() as u32).into()));
			let to_client = funds::slash::<T>(c.node, rest, &c.client, SlashReason::InvalidWork)?;
			penalty_taken = penalty_taken.saturating_add(to_client.taken);
			refunded = refunded.saturating_add(to_client.paid());
			Self::record_work(c.node, WorkOutcome::Failed)?;
		} else {
			funds::release::<T>(c.node, c.reserved)?;
			// An unchallenged audit is the client's word only: it does not count.
			let checked = verdict == Verdict::Upheld
				|| (verdict == Verdict::Unchallenged && audit_bond.is_none());
			if checked {
				Self::record_work(c.node, WorkOutcome::Completed)?;
			}
		}

		let mut verifiers_slashed = 0u32;
		if let Some(ch) = &ch {
			let bond = T::VerifierBond::get();
			// Before any vote was due (a withheld receipt) no verifier is at fault.
			let votes_were_due = ch.receipt.is_some();
			let beneficiary = if verdict.node_at_fault() { &c.client } else { &c.owner };
			for v in ch.verifiers.iter() {
				let opened = matches!(v.ballot, Ballot::Open(_));
				let at_fault =
					votes_were_due && (!opened || (majority.is_some() && !in_majority(v)));
				if at_fault {
					let reason = if opened {
						SlashReason::InvalidWork
					} else {
						SlashReason::MissedChallenge
					};
					funds::slash::<T>(v.node, bond, beneficiary, reason)?;
					Self::record_work(v.node, WorkOutcome::Failed)?;
					verifiers_slashed = verifiers_slashed.saturating_add(1);
				} else {
					funds::release::<T>(v.node, bond)?;
				}
				VerifierDuties::<T>::mutate_exists(v.node, |maybe| {
					if let Some(list) = maybe {
						list.retain(|x| *x != id);
						if list.is_empty() {
							*maybe = None;
						}
					}
				});
			}
		}

		if c.dispute.is_some() {
			let bond = T::DisputeBond::get();
			if verdict == Verdict::Upheld {
				funds::forfeit_bond::<T>(HoldReason::DisputeBond, &c.client, &c.owner, bond)?;
			} else {
				funds::release_bond::<T>(HoldReason::DisputeBond, &c.client, bond)?;
			}
		}

		if let Some(bond) = audit_bond {
			if verdict == Verdict::Unsubstantiated {
				funds::forfeit_bond::<T>(HoldReason::AuditBond, &c.client, &c.owner, bond)?;
			} else {
				funds::release_bond::<T>(HoldReason::AuditBond, &c.client, bond)?;
			}
			Audits::<T>::remove(id);
			AuditsBy::<T>::mutate_exists(&c.client, |maybe| {
				if let Some(list) = maybe {
					list.retain(|x| *x != id);
					if list.is_empty() {
						*maybe = None;
					}
				}
			});
		} else {
			CommitmentsOf::<T>::mutate_exists(c.node, |maybe| {
				if let Some(list) = maybe {
					list.retain(|x| *x != id);
					if list.is_empty() {
						*maybe = None;
					}
				}
			});
		}
		Challenges::<T>::remove(id);
		Commitments::<T>::remove(id);
		Self::deposit_event(Event::Settled {
			id,
			node: c.node,
			verdict,
			refunded,
			penalty: penalty_taken,
			verifiers_slashed,
		});
		Ok(())
	}

	/// Records a verdict in `node`'s work statistics, unless the node has left the registry
	/// (an audited node may have withdrawn before its audit was decided).
	fn record_work(node: NodeId, outcome: WorkOutcome) -> DispatchResult {
		if T::Nodes::owner(node).is_none() {
			return Ok(());
		}
		T::Nodes::record_work(node, outcome)
	}

	// ---- queries

	/// A commitment with its challenge.
	pub fn commitment(id: CommitmentId) -> Option<CommitmentViewOf<T>> {
		Commitments::<T>::get(id).map(|commitment| crate::CommitmentView {
			id,
			commitment,
			challenge: Challenges::<T>::get(id),
		})
	}

	/// Open commitments of `node`.
	pub fn commitments_of(node: NodeId) -> Vec<CommitmentViewOf<T>> {
		CommitmentsOf::<T>::get(node).into_iter().filter_map(Self::commitment).collect()
	}

	/// Open challenges `node` was drawn to verify.
	pub fn duties_of(node: NodeId) -> Vec<CommitmentViewOf<T>> {
		VerifierDuties::<T>::get(node).into_iter().filter_map(Self::commitment).collect()
	}

	// ---- invariants

	/// Checks the pallet's invariants:
	///
	/// 1. Every commitment's id is below [`NextCommitmentId`]; it covers `1..=MaxSteps` receipts
	///    of a non-empty range; a node's commitment reserved at least its payment and is listed
	///    in [`CommitmentsOf`] of its node; without a seed it is listed in [`DueAt`] at its
	///    challenge block, and every [`DueAt`] entry is such a commitment.
	/// 6. An audit ([`Audits`]) is an open commitment listed in [`AuditsBy`] of its client (and
	///    not in [`CommitmentsOf`]); it reserves nothing before a signed receipt is revealed;
	///    each client's [`HoldReason::AuditBond`](crate::HoldReason::AuditBond) hold is the
	///    bonds of its open audits, and [`AuditsBy`] lists only open audits of that client.
	/// 2. A dispute names a receipt of the batch, and each client's
	///    [`HoldReason::DisputeBond`](crate::HoldReason::DisputeBond) hold is the bonds of its
	///    open disputes.
	/// 3. Every challenge belongs to a drawn commitment (seed stamped) and names a receipt of it;
	///    its verifiers are of distinct owners, none the node's owner, each listing the challenge
	///    in [`VerifierDuties`]; it has the receipt exactly when past `AwaitingReceipt`.
	/// 4. [`CommitmentsOf`] and [`VerifierDuties`] list only open commitments and challenges.
	/// 5. What a node has reserved in the registry covers its commitments and verifier bonds.
	#[cfg(any(feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::{BTreeMap, BTreeSet};
		let fail = |msg: &'static str| -> sp_runtime::TryRuntimeError {
			log::error!(target: crate::LOG_TARGET, "try_state: {msg}");
			msg.into()
		};
		let next = NextCommitmentId::<T>::get();
		let mut bonds: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		let mut audit_bonds: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		let mut backed: BTreeMap<NodeId, BalanceOf<T>> = BTreeMap::new();
		for (id, c) in Commitments::<T>::iter() {
			ensure!(id < next, fail("commitment id not below NextCommitmentId"));
			ensure!(
				c.steps >= 1 && c.steps <= T::MaxStepsPerCommitment::get(),
				fail("commitment with a bad step count")
			);
			ensure!(c.start < c.end, fail("commitment with an empty layer range"));
			if let Some(bond) = Audits::<T>::get(id) {
				ensure!(
					AuditsBy::<T>::get(&c.client).contains(&id),
					fail("audit missing from AuditsBy")
				);
				ensure!(
					!CommitmentsOf::<T>::get(c.node).contains(&id),
					fail("audit listed as the node's commitment")
				);
				let revealed = Challenges::<T>::get(id).is_some_and(|ch| ch.receipt.is_some());
				ensure!(
					revealed || c.reserved.is_zero(),
					fail("audit reserved before a signed receipt was revealed")
				);
				let e = audit_bonds.entry(c.client.clone()).or_default();
				*e = e.saturating_add(bond);
			} else {
				ensure!(c.reserved >= c.payment, fail("commitment reserved less than its payment"));
				ensure!(
					CommitmentsOf::<T>::get(c.node).contains(&id),
					fail("commitment missing from CommitmentsOf")
				);
			}
			if c.seed.is_none() {
				ensure!(
					DueAt::<T>::get(c.challenge_at).contains(&id),
					fail("unstamped commitment missing from DueAt")
				);
			}
			if let Some(index) = c.dispute {
				ensure!(index < c.steps, fail("dispute of a receipt outside the batch"));
				let e = bonds.entry(c.client.clone()).or_default();
				*e = e.saturating_add(T::DisputeBond::get());
			}
			let e = backed.entry(c.node).or_default();
			*e = e.saturating_add(c.reserved);
		}
		for (at, due) in DueAt::<T>::iter() {
			for id in due.iter() {
				let c = Commitments::<T>::get(id)
					.ok_or_else(|| fail("DueAt lists a closed commitment"))?;
				ensure!(c.seed.is_none() && c.challenge_at == at, fail("DueAt entry out of place"));
			}
		}
		for (client, bond) in &bonds {
			ensure!(
				funds::held::<T>(HoldReason::DisputeBond, client) == *bond,
				fail("dispute bond hold differs")
			);
		}
		for (client, bond) in &audit_bonds {
			ensure!(
				funds::held::<T>(HoldReason::AuditBond, client) == *bond,
				fail("audit bond hold differs")
			);
		}
		for (client, list) in AuditsBy::<T>::iter() {
			for id in list.iter() {
				ensure!(
					Audits::<T>::contains_key(id)
						&& Commitments::<T>::get(id).is_some_and(|c| c.client == client),
					fail("AuditsBy lists an audit that is not the client's open audit")
				);
			}
		}
		for (id, _) in Audits::<T>::iter() {
			ensure!(Commitments::<T>::contains_key(id), fail("audit without commitment"));
		}
		for (id, ch) in Challenges::<T>::iter() {
			let c =
				Commitments::<T>::get(id).ok_or_else(|| fail("challenge without commitment"))?;
			ensure!(c.seed.is_some(), fail("challenge of an undrawn commitment"));
			ensure!(ch.index < c.steps, fail("challenge of a receipt outside the batch"));
			ensure!(
				ch.receipt.is_some() != matches!(ch.phase, Phase::AwaitingReceipt { .. }),
				fail("receipt present in the wrong phase")
			);
			let mut owners = BTreeSet::new();
			for v in ch.verifiers.iter() {
				ensure!(v.owner != c.owner, fail("node's owner verifies its own step"));
				ensure!(owners.insert(v.owner.clone()), fail("two verifiers of one owner"));
				ensure!(
					VerifierDuties::<T>::get(v.node).contains(&id),
					fail("verifier duty missing")
				);
				let e = backed.entry(v.node).or_default();
				*e = e.saturating_add(T::VerifierBond::get());
			}
		}
		for (node, list) in CommitmentsOf::<T>::iter() {
			for id in list.iter() {
				let c = Commitments::<T>::get(id)
					.ok_or_else(|| fail("CommitmentsOf lists a closed commitment"))?;
				ensure!(c.node == node, fail("CommitmentsOf lists another node's commitment"));
			}
		}
		for (node, list) in VerifierDuties::<T>::iter() {
			for id in list.iter() {
				let ch =
					Challenges::<T>::get(id).ok_or_else(|| fail("duty of a closed challenge"))?;
				ensure!(
					ch.verifiers.iter().any(|v| v.node == node),
					fail("duty of a non-verifier")
				);
			}
		}
		for (node, amount) in backed {
			let reserved =
				T::Nodes::collateral(node).saturating_sub(T::Nodes::free_collateral(node));
			ensure!(reserved >= amount, fail("reservation does not cover commitments and bonds"));
		}
		Ok(())
	}
}

use crate::BalanceOf;
