//! Unit tests: commitments, sampling, verifier draws, commit-reveal votes, verdicts and every
//! money movement, against the real registry.

#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)] // test code

use crate::{
	mock::*, Audits, AuditsBy, Ballot, ChallengeProbability, Challenges, CommitmentId, Commitments,
	CommitmentsOf, DueAt, Error, Event, Phase, Verdict, VerifierDuties, Vote,
};
use appchain_primitives::{
	pow::{Hash256, Sha2},
	receipt::{activation_hash, layer_root, receipt_proof, receipts_root, Receipt},
	NodeId,
};
use frame_support::{assert_noop, assert_ok, BoundedVec};
use frame_system::RawOrigin;
use pallet_compute_registry::ComputeNodes;
use sp_runtime::{DispatchError, Perbill};

/// Stamped with block 1 (`receipt::session_id`).
const SESSION: [u8; 16] = [1, 0, 0, 0, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5];

fn origin(who: AccountId) -> RuntimeOrigin {
	RawOrigin::Signed(who).into()
}

fn genesis() -> [u8; 32] {
	System::block_hash(0).0
}

fn set_probability(percent: u32) {
	assert_ok!(Proofs::set_challenge_probability(
		RawOrigin::Root.into(),
		MODEL,
		Perbill::from_percent(percent)
	));
}

/// Per-layer hashes of an honest run of step `step` over layers `[0, 4)`.
fn honest_layers(step: u32) -> Vec<Hash256> {
	(0..4).map(|l| activation_hash(1, 2, &[step as f32, l as f32])).collect()
}

/// The receipts of `steps` steps of `node`, honest except that the steps in `cheat` report
/// noise as their last layer's output.
fn receipts(node: NodeId, steps: u32, cheat: &[u32]) -> Vec<Receipt> {
	(0..steps)
		.map(|step| {
			let mut layers = honest_layers(step);
			if cheat.contains(&step) {
				layers[3] = activation_hash(1, 2, &[0.5, -0.5]);
			}
			Receipt {
				node,
				model: MODEL,
				start: 0,
				end: 4,
				session: SESSION,
				step,
				position: step,
				tokens: 1,
				input_hash: activation_hash(1, 2, &[step as f32, -1.0]),
				output_hash: layers[3],
				layer_root: layer_root(0, &layers),
			}
		})
		.collect()
}

fn commit(node: NodeId, batch: &[Receipt]) -> CommitmentId {
	let id = crate::NextCommitmentId::<Test>::get();
	let owner = Registry::owner(node).unwrap();
	assert_ok!(Proofs::commit(
		origin(owner),
		node,
		CLIENT,
		SESSION,
		batch.len() as u32,
		receipts_root::<Sha2>(&genesis(), batch)
	));
	id
}

/// Runs to the commitment's challenge block and draws it.
fn draw(id: CommitmentId) {
	let at = Commitments::<Test>::get(id).unwrap().challenge_at;
	run_to_block(at);
	assert_ok!(Proofs::draw(origin(CLIENT), id));
}

fn challenged_index(id: CommitmentId) -> u32 {
	Challenges::<Test>::get(id).expect("challenged").index
}

fn reveal(id: CommitmentId, batch: &[Receipt]) {
	let index = challenged_index(id) as usize;
	let proof = receipt_proof::<Sha2>(&genesis(), batch, index).unwrap();
	assert_ok!(Proofs::reveal_receipt(origin(SERVER), id, batch[index], proof.try_into().unwrap()));
}

fn verifiers(id: CommitmentId) -> Vec<(NodeId, AccountId)> {
	Challenges::<Test>::get(id).unwrap().verifiers.iter().map(|v| (v.node, v.owner)).collect()
}

fn honest_vote(id: CommitmentId) -> Vote {
	let step = challenged_index(id);
	Vote::Computed { layer_root: layer_root(0, &honest_layers(step)), first_divergent_layer: None }
}

fn seal(id: CommitmentId, (node, owner): (NodeId, AccountId), vote: &Vote) {
	let salt = [node as u8; 32];
	assert_ok!(Proofs::seal_vote(origin(owner), id, node, Proofs::seal(id, node, vote, &salt)));
}

fn open(id: CommitmentId, (node, owner): (NodeId, AccountId), vote: Vote) {
	assert_ok!(Proofs::open_vote(origin(owner), id, node, vote, [node as u8; 32]));
}

/// Every verifier seals, then opens, `vote`: the last opening settles the challenge.
fn all_vote(id: CommitmentId, vote: Vote) {
	let drawn = verifiers(id);
	for v in &drawn {
		seal(id, *v, &vote);
	}
	for v in &drawn {
		open(id, *v, vote);
	}
}

/// The node reveals the challenged receipt and every verifier votes the honest node's root.
fn verify_honestly(id: CommitmentId, batch: &[Receipt]) {
	reveal(id, batch);
	all_vote(id, honest_vote(id));
}

fn settled() -> (Verdict, Balance, Balance, u32) {
	events()
		.into_iter()
		.rev()
		.find_map(|e| match e {
			Event::Settled { verdict, refunded, penalty, verifiers_slashed, .. } => {
				Some((verdict, refunded, penalty, verifiers_slashed))
			},
			_ => None,
		})
		.expect("settled")
}

/// Index of the receipt challenged in the last `Challenged` event.
fn challenged_index_of_last() -> usize {
	events()
		.into_iter()
		.rev()
		.find_map(|e| match e {
			Event::Challenged { index, .. } => Some(index as usize),
			_ => None,
		})
		.expect("a challenge")
}

fn reserved(node: NodeId) -> Balance {
	Registry::collateral(node) - Registry::free_collateral(node)
}

/// The server's node and four verifiers' nodes, of five owners, all serving layers `[0, 4)`.
fn network() -> (NodeId, Vec<NodeId>) {
	let server = node(SERVER);
	let others = [V1, V2, V3, V4].into_iter().map(node).collect();
	(server, others)
}

#[test]
fn a_commitment_reserves_the_payment_and_the_penalty() {
	test(|| {
		let (server, _) = network();
		let batch = receipts(server, 10, &[]);
		let id = commit(server, &batch);
		let c = Commitments::<Test>::get(id).unwrap();
		assert_eq!(c.payment, 10 * PRICE);
		assert_eq!(c.reserved, 10 * PRICE + PENALTY);
		assert_eq!(reserved(server), 10 * PRICE + PENALTY);
		assert_eq!(c.challenge_at, 1 + CHALLENGE_DELAY);
		assert_eq!(DueAt::<Test>::get(c.challenge_at).to_vec(), vec![id]);
		// A larger batch reserves PenaltyFactor times its payment.
		let big = commit(server, &receipts(server, 30, &[]));
		let c40 = Commitments::<Test>::get(big).unwrap();
		assert_eq!(c40.reserved, 30 * PRICE * (1 + PENALTY_FACTOR as Balance));
		assert_eq!(reserved(server), 10 * PRICE + PENALTY + c40.reserved);
		assert_eq!(CommitmentsOf::<Test>::get(server).to_vec(), vec![id, big]);
		assert!(events()
			.iter()
			.any(|e| matches!(e, Event::Committed { steps: 10, payment: 20, reserved: 220, .. })));
		// Nothing to draw before the challenge block's seed.
		assert_noop!(Proofs::draw(origin(CLIENT), id), Error::<Test>::NotDue);
		run_to_block(c.challenge_at);
		assert!(Commitments::<Test>::get(id).unwrap().seed.is_some());
		assert!(DueAt::<Test>::get(c.challenge_at).is_empty());
	});
}

#[test]
fn bad_commitments_are_refused_and_change_nothing() {
	test(|| {
		let (server, _) = network();
		let root = [1; 32];
		let commit =
			|who, node, steps| Proofs::commit(origin(who), node, CLIENT, SESSION, steps, root);
		assert_noop!(commit(V1, server, 1), Error::<Test>::NotNodeOwner);
		assert_noop!(commit(SERVER, 99, 1), Error::<Test>::NotNodeOwner);
		assert_noop!(commit(SERVER, server, 0), Error::<Test>::BadStepCount);
		assert_noop!(commit(SERVER, server, MAX_STEPS + 1), Error::<Test>::BadStepCount);
		let hashing = pallet_compute_registry::NextNodeId::<Test>::get();
		assert_ok!(Registry::register_hashing_node(origin(SERVER), 1_000, MIN_COLLATERAL));
		assert_noop!(commit(SERVER, hashing, 1), Error::<Test>::NotInferenceNode);
		let thin = node_with(V1, 0, 4, MIN_COLLATERAL);
		assert_noop!(commit(V1, thin, 1), Error::<Test>::InsufficientCollateral);
		let pricey = pallet_compute_registry::NextNodeId::<Test>::get();
		assert_ok!(Registry::register_inference_node(
			origin(V2),
			MODEL,
			appchain_primitives::LayerRange::new(0, 4),
			10,
			Balance::MAX,
			b"http://n".to_vec().try_into().unwrap(),
			COLLATERAL,
		));
		assert_ok!(Proofs::declare_engine_class(origin(V2), pricey, CLASS));
		assert_noop!(commit(V2, pricey, 2), Error::<Test>::Overflow);
		assert_ok!(Registry::unregister(origin(V1), thin));
		assert_noop!(commit(V1, thin, 1), Error::<Test>::NodeNotServing);
		let rich = node_with(SERVER, 0, 4, 10 * COLLATERAL);
		for _ in 0..MAX_OPEN {
			assert_ok!(commit(SERVER, rich, 1));
		}
		assert_noop!(commit(SERVER, rich, 1), Error::<Test>::TooManyOpen);
		// The challenge block already has MaxDuePerBlock commitments.
		let _ = server;
		let other = node(V3);
		assert_noop!(commit(V3, other, 1), Error::<Test>::ChallengeBlockFull);
		run_to_block(2);
		assert_ok!(commit(V3, other, 1));
	});
}

#[test]
fn an_unchallenged_commitment_releases_its_reservation_and_counts_as_work() {
	test(|| {
		set_probability(0);
		let (server, _) = network();
		let id = commit(server, &receipts(server, 4, &[]));
		draw(id);
		assert_eq!(settled(), (Verdict::Unchallenged, 0, 0, 0));
		assert_eq!(reserved(server), 0);
		assert!(Commitments::<Test>::get(id).is_none());
		assert!(CommitmentsOf::<Test>::get(server).is_empty());
		assert_eq!(pallet_compute_registry::Nodes::<Test>::get(server).unwrap().stats.completed, 1);
		assert_noop!(Proofs::draw(origin(CLIENT), id), Error::<Test>::UnknownCommitment);
	});
}

#[test]
fn an_honest_step_is_upheld_and_nobody_loses() {
	test(|| {
		set_probability(100);
		let (server, others) = network();
		let batch = receipts(server, 8, &[]);
		let id = commit(server, &batch);
		draw(id);
		assert_noop!(Proofs::draw(origin(CLIENT), id), Error::<Test>::AlreadyDrawn);
		let drawn = verifiers(id);
		assert_eq!(drawn.len(), VERIFIERS as usize);
		for (node, owner) in &drawn {
			assert!(others.contains(node) && *owner != SERVER);
			assert_eq!(reserved(*node), VERIFIER_BOND);
			assert_eq!(VerifierDuties::<Test>::get(node).to_vec(), vec![id]);
		}
		let balances: Vec<Balance> = [SERVER, V1, V2, V3, V4, CLIENT].map(free).to_vec();
		reveal(id, &batch);
		let vote = honest_vote(id);
		for v in &drawn {
			seal(id, *v, &vote);
		}
		for v in &drawn {
			open(id, *v, vote);
		}
		assert_eq!(settled(), (Verdict::Upheld, 0, 0, 0));
		assert_eq!([SERVER, V1, V2, V3, V4, CLIENT].map(free).to_vec(), balances);
		for node in others.iter().chain([&server]) {
			assert_eq!(reserved(*node), 0);
		}
		assert!(Challenges::<Test>::get(id).is_none());
		assert_eq!(VerifierDuties::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_cheater_is_slashed_the_client_refunded_and_a_lazy_verifier_caught() {
	test(|| {
		set_probability(100);
		let (server, _) = network();
		// Every step reports noise as its output: whichever is challenged is wrong.
		let batch = receipts(server, 8, &(0..8).collect::<Vec<_>>());
		let id = commit(server, &batch);
		draw(id);
		reveal(id, &batch);
		let drawn = verifiers(id);
		let honest = Vote::Computed {
			layer_root: layer_root(0, &honest_layers(challenged_index(id))),
			first_divergent_layer: Some(3),
		};
		// The lazy verifier agrees with whatever the node claims.
		let index = challenged_index(id) as usize;
		let lazy =
			Vote::Computed { layer_root: batch[index].layer_root, first_divergent_layer: None };
		let votes = [honest, honest, lazy];
		for (v, vote) in drawn.iter().zip(&votes) {
			seal(id, *v, vote);
		}
		let client_before = free(CLIENT);
		let verifier_before: Vec<Balance> = drawn.iter().map(|(_, o)| free(*o)).collect();
		let collateral_before = Registry::collateral(server);
		for (v, vote) in drawn.iter().zip(votes) {
			open(id, *v, vote);
		}
		let (verdict, refunded, penalty, slashed) = settled();
		assert_eq!(verdict, Verdict::Mismatch { layer: Some(3) });
		assert_eq!(slashed, 1, "the lazy verifier");
		assert_eq!(penalty, PENALTY);
		// The node lost payment and penalty: the whole reservation.
		assert_eq!(Registry::collateral(server), collateral_before - 8 * PRICE - PENALTY);
		assert_eq!(reserved(server), 0);
		// Half the penalty to the two honest verifiers, the rest and the payment to the client,
		// each less the burnt fifth; the client also gets the lazy verifier's bond.
		let keep = |x: Balance| x - SlashBurn::get().mul_ceil(x);
		assert_eq!(refunded, keep(8 * PRICE) + keep(PENALTY / 2));
		assert_eq!(free(CLIENT), client_before + refunded + keep(VERIFIER_BOND));
		assert_eq!(free(drawn[0].1), verifier_before[0] + keep(PENALTY / 4));
		assert_eq!(free(drawn[1].1), verifier_before[1] + keep(PENALTY / 4));
		assert_eq!(Registry::collateral(drawn[2].0), COLLATERAL - VERIFIER_BOND);
		let stats = pallet_compute_registry::Nodes::<Test>::get(server).unwrap().stats;
		assert_eq!((stats.completed, stats.failed), (0, 1));
	});
}

#[test]
fn a_node_that_withholds_its_receipt_is_slashed_after_the_window() {
	test(|| {
		set_probability(100);
		let (server, _) = network();
		let id = commit(server, &receipts(server, 3, &[]));
		draw(id);
		assert_noop!(Proofs::settle(origin(CLIENT), id), Error::<Test>::TooEarly);
		run_to_block(System::block_number() + RECEIPT_WINDOW + 1);
		let batch = receipts(server, 3, &[]);
		let proof =
			receipt_proof::<Sha2>(&genesis(), &batch, challenged_index(id) as usize).unwrap();
		assert_noop!(
			Proofs::reveal_receipt(
				origin(SERVER),
				id,
				batch[challenged_index(id) as usize],
				proof.try_into().unwrap()
			),
			Error::<Test>::TooLate
		);
		assert_ok!(Proofs::settle(origin(CLIENT), id));
		let (verdict, _, penalty, slashed) = settled();
		assert_eq!((verdict, penalty, slashed), (Verdict::ReceiptWithheld, PENALTY, 0));
		// No vote was due: every verifier's bond is back.
		assert_eq!(Registry::collateral(server), COLLATERAL - 3 * PRICE - PENALTY);
		assert_eq!(pallet_compute_registry::ReservedCollateral::<Test>::iter().count(), 0);
	});
}

#[test]
fn withheld_inputs_count_against_the_node() {
	test(|| {
		set_probability(100);
		let (server, _) = network();
		let batch = receipts(server, 2, &[]);
		let id = commit(server, &batch);
		draw(id);
		reveal(id, &batch);
		let drawn = verifiers(id);
		let votes = [Vote::InputsUnavailable, Vote::InputsUnavailable, honest_vote(id)];
		for (v, vote) in drawn.iter().zip(&votes) {
			seal(id, *v, vote);
		}
		for (v, vote) in drawn.iter().zip(votes) {
			open(id, *v, vote);
		}
		let (verdict, _, _, slashed) = settled();
		assert_eq!((verdict, slashed), (Verdict::InputsWithheld, 1));
	});
}

#[test]
fn without_a_majority_nobody_but_the_silent_is_slashed() {
	test(|| {
		set_probability(100);
		let (server, _) = network();
		let batch = receipts(server, 2, &[]);
		let id = commit(server, &batch);
		draw(id);
		reveal(id, &batch);
		let drawn = verifiers(id);
		let a = honest_vote(id);
		let b = Vote::Computed { layer_root: [9; 32], first_divergent_layer: Some(0) };
		seal(id, drawn[0], &a);
		seal(id, drawn[1], &b);
		// The third never seals: after the window, opening starts anyway.
		assert_noop!(Proofs::settle(origin(CLIENT), id), Error::<Test>::TooEarly);
		run_to_block(System::block_number() + VOTE_WINDOW + 1);
		assert_noop!(
			Proofs::seal_vote(origin(drawn[2].1), id, drawn[2].0, [0; 32]),
			Error::<Test>::TooLate
		);
		assert_ok!(Proofs::settle(origin(CLIENT), id));
		assert!(matches!(Challenges::<Test>::get(id).unwrap().phase, Phase::Revealing { .. }));
		open(id, drawn[0], a);
		open(id, drawn[1], b);
		let (verdict, refunded, penalty, slashed) = settled();
		assert_eq!((verdict, refunded, penalty, slashed), (Verdict::Inconclusive, 0, 0, 1));
		assert_eq!(Registry::collateral(drawn[2].0), COLLATERAL - VERIFIER_BOND);
		assert_eq!(reserved(server), 0);
	});
}

#[test]
fn votes_are_sealed_then_opened_by_their_verifiers_only() {
	test(|| {
		set_probability(100);
		let (server, others) = network();
		let batch = receipts(server, 2, &[]);
		let id = commit(server, &batch);
		draw(id);
		let drawn = verifiers(id);
		let vote = honest_vote(id);
		// Before the receipt is revealed there is nothing to vote on.
		assert_noop!(
			Proofs::seal_vote(origin(drawn[0].1), id, drawn[0].0, [0; 32]),
			Error::<Test>::WrongPhase
		);
		reveal(id, &batch);
		let outsider = *others.iter().find(|n| !drawn.iter().any(|(d, _)| d == *n)).unwrap();
		let outsider_owner = Registry::owner(outsider).unwrap();
		assert_noop!(
			Proofs::seal_vote(origin(outsider_owner), id, outsider, [0; 32]),
			Error::<Test>::NotVerifier
		);
		assert_noop!(
			Proofs::seal_vote(origin(drawn[1].1), id, drawn[0].0, [0; 32]),
			Error::<Test>::NotVerifier
		);
		assert_noop!(
			Proofs::open_vote(origin(drawn[0].1), id, drawn[0].0, vote, [0; 32]),
			Error::<Test>::WrongPhase
		);
		seal(id, drawn[0], &vote);
		assert_noop!(
			Proofs::seal_vote(origin(drawn[0].1), id, drawn[0].0, [0; 32]),
			Error::<Test>::AlreadySealed
		);
		seal(id, drawn[1], &vote);
		seal(id, drawn[2], &vote);
		// Opening another vote than the sealed one fails.
		let other = Vote::Computed { layer_root: [1; 32], first_divergent_layer: None };
		assert_noop!(
			Proofs::open_vote(origin(drawn[0].1), id, drawn[0].0, other, [drawn[0].0 as u8; 32]),
			Error::<Test>::SealMismatch
		);
		open(id, drawn[0], vote);
		assert_noop!(
			Proofs::open_vote(origin(drawn[0].1), id, drawn[0].0, vote, [drawn[0].0 as u8; 32]),
			Error::<Test>::NotSealed
		);
		run_to_block(System::block_number() + OPEN_WINDOW + 1);
		assert_noop!(
			Proofs::open_vote(origin(drawn[1].1), id, drawn[1].0, vote, [drawn[1].0 as u8; 32]),
			Error::<Test>::TooLate
		);
		// One vote of three is no majority; the two silent verifiers lose their bonds.
		assert_ok!(Proofs::settle(origin(CLIENT), id));
		assert_eq!(settled(), (Verdict::Inconclusive, 0, 0, 2));
		assert_noop!(Proofs::settle(origin(CLIENT), id), Error::<Test>::UnknownCommitment);
	});
}

#[test]
fn a_revealed_receipt_must_be_the_committed_one() {
	test(|| {
		set_probability(100);
		let (server, _) = network();
		let batch = receipts(server, 5, &[]);
		let id = commit(server, &batch);
		let unchallenged = commit(server, &batch);
		assert_noop!(
			Proofs::reveal_receipt(origin(SERVER), id, batch[0], Default::default()),
			Error::<Test>::NotChallenged
		);
		draw(id);
		let index = challenged_index(id) as usize;
		let proof: BoundedVec<_, _> =
			receipt_proof::<Sha2>(&genesis(), &batch, index).unwrap().try_into().unwrap();
		assert_noop!(
			Proofs::reveal_receipt(origin(V1), id, batch[index], proof.clone()),
			Error::<Test>::NotNodeOwner
		);
		let other_session = Receipt { session: [6; 16], ..batch[index] };
		assert_noop!(
			Proofs::reveal_receipt(origin(SERVER), id, other_session, proof.clone()),
			Error::<Test>::ReceiptMismatch
		);
		// Another receipt of the batch, or this one changed, does not verify at the index.
		let other = (index + 1) % batch.len();
		assert_noop!(
			Proofs::reveal_receipt(origin(SERVER), id, batch[other], proof.clone()),
			Error::<Test>::BadProof
		);
		let altered = Receipt { output_hash: [0; 32], ..batch[index] };
		assert_noop!(
			Proofs::reveal_receipt(origin(SERVER), id, altered, proof.clone()),
			Error::<Test>::BadProof
		);
		assert_ok!(Proofs::reveal_receipt(origin(SERVER), id, batch[index], proof.clone()));
		assert_noop!(
			Proofs::reveal_receipt(origin(SERVER), id, batch[index], proof),
			Error::<Test>::WrongPhase
		);
		let _ = unchallenged;
	});
}

#[test]
fn a_client_dispute_is_always_challenged_and_costs_its_bond_when_upheld() {
	test(|| {
		set_probability(0);
		let (server, _) = network();
		let batch = receipts(server, 6, &[]);
		let id = commit(server, &batch);
		assert_noop!(Proofs::dispute(origin(V1), id, 0), Error::<Test>::NotClient);
		assert_noop!(Proofs::dispute(origin(CLIENT), id, 6), Error::<Test>::BadIndex);
		assert_noop!(Proofs::dispute(origin(CLIENT), 99, 0), Error::<Test>::UnknownCommitment);
		assert_ok!(Proofs::dispute(origin(CLIENT), id, 4));
		assert_noop!(Proofs::dispute(origin(CLIENT), id, 3), Error::<Test>::AlreadyDisputed);
		let late = commit(server, &batch);
		draw(id);
		assert_noop!(Proofs::dispute(origin(CLIENT), late, 0), Error::<Test>::TooLateToDispute);
		assert_eq!(challenged_index(id), 4);
		assert!(Challenges::<Test>::get(id).unwrap().by_client);
		reveal(id, &batch);
		let vote = honest_vote(id);
		let drawn = verifiers(id);
		for v in &drawn {
			seal(id, *v, &vote);
		}
		let (client, owner) = (free(CLIENT), free(SERVER));
		for v in &drawn {
			open(id, *v, vote);
		}
		assert_eq!(settled().0, Verdict::Upheld);
		assert_eq!(free(CLIENT), client);
		assert_eq!(free(SERVER), owner + DISPUTE_BOND);
		assert_ok!(Proofs::draw(origin(CLIENT), late));
	});
}

#[test]
fn a_dispute_needs_the_bond() {
	test(|| {
		let (server, _) = network();
		let root = receipts_root::<Sha2>(&genesis(), &receipts(server, 1, &[]));
		assert_ok!(Proofs::commit(origin(SERVER), server, PAUPER, SESSION, 1, root));
		assert_noop!(Proofs::dispute(origin(PAUPER), 0, 0), Error::<Test>::InsufficientBalance);
	});
}

#[test]
fn verifiers_are_other_owners_with_collateral_and_too_few_void_the_challenge() {
	test(|| {
		set_probability(100);
		let server = node(SERVER);
		// The server's own second node, a node over other layers, and one with its collateral
		// all reserved are never drawn; one eligible verifier is too few.
		let own = node(SERVER);
		let elsewhere = node_with(V2, 4, 8, COLLATERAL);
		let busy = node_with(V3, 0, 4, MIN_COLLATERAL);
		assert_ok!(<Registry as ComputeNodes<_, _>>::reserve(busy, MIN_COLLATERAL));
		let only = node(V1);
		let id = commit(server, &receipts(server, 2, &[]));
		draw(id);
		assert_eq!(settled(), (Verdict::NoVerifiers, 0, 0, 0));
		assert_eq!(reserved(server), 0);
		for n in [own, elsewhere, only] {
			assert_eq!(reserved(n), 0);
		}
		assert_ok!(<Registry as ComputeNodes<_, _>>::release_reservation(busy, MIN_COLLATERAL));
		// With a second owner, the challenge goes ahead with the two.
		let second = node_with(V4, 0, 8, COLLATERAL);
		let id = commit(server, &receipts(server, 2, &[]));
		draw(id);
		let mut drawn: Vec<NodeId> = verifiers(id).into_iter().map(|(n, _)| n).collect();
		drawn.sort();
		let mut expected = vec![busy, only, second];
		expected.sort();
		assert_eq!(drawn, expected);
	});
}

#[test]
fn nodes_declare_their_engine_class_and_are_verified_within_it() {
	test(|| {
		set_probability(100);
		let (server, others) = network();
		let declare = |who, node, class| Proofs::declare_engine_class(origin(who), node, class);
		assert_noop!(declare(V1, server, [2; 16]), Error::<Test>::NotNodeOwner);
		assert_noop!(declare(SERVER, 99, [2; 16]), Error::<Test>::NotNodeOwner);
		let hashing = pallet_compute_registry::NextNodeId::<Test>::get();
		assert_ok!(Registry::register_hashing_node(origin(SERVER), 1_000, MIN_COLLATERAL));
		assert_noop!(declare(SERVER, hashing, [2; 16]), Error::<Test>::NotInferenceNode);
		// A node without a class cannot commit.
		crate::EngineClasses::<Test>::remove(server);
		let root = [1; 32];
		assert_noop!(
			Proofs::commit(origin(SERVER), server, CLIENT, SESSION, 1, root),
			Error::<Test>::NoEngineClass
		);
		assert_ok!(declare(SERVER, server, [2; 16]));
		assert!(events().contains(&Event::EngineClassDeclared { node: server, class: [2; 16] }));
		// Of the four other nodes only two share the class: they are the verifiers.
		assert_ok!(declare(V1, others[0], [2; 16]));
		assert_ok!(declare(V3, others[2], [2; 16]));
		let id = commit(server, &receipts(server, 2, &[]));
		assert_eq!(Commitments::<Test>::get(id).unwrap().class, [2; 16]);
		draw(id);
		let mut drawn: Vec<NodeId> = verifiers(id).into_iter().map(|(n, _)| n).collect();
		drawn.sort();
		assert_eq!(drawn, vec![others[0], others[2]]);
	});
}

#[test]
fn only_the_admin_sets_a_probability() {
	test(|| {
		assert_noop!(
			Proofs::set_challenge_probability(origin(CLIENT), MODEL, Perbill::one()),
			DispatchError::BadOrigin
		);
		assert_eq!(Proofs::probability(MODEL), Perbill::from_percent(50));
		set_probability(7);
		assert_eq!(ChallengeProbability::<Test>::get(MODEL), Some(Perbill::from_percent(7)));
		assert_eq!(Proofs::probability(MODEL), Perbill::from_percent(7));
	});
}

/// The seed that decides a commitment depends on the randomness of blocks after it: two runs
/// identical up to the commitment and differing only afterwards decide differently.
#[test]
fn the_seed_is_unknown_when_the_node_commits() {
	let seed_with = |later: u64| {
		let mut seed = None;
		new_test_ext().execute_with(|| {
			let (server, _) = network();
			let id = commit(server, &receipts(server, 1, &[]));
			set_randomness(later);
			run_to_block(1 + CHALLENGE_DELAY);
			seed = Commitments::<Test>::get(id).unwrap().seed;
		});
		seed.unwrap()
	};
	assert_ne!(seed_with(1), seed_with(2));
	assert_eq!(seed_with(1), seed_with(1));
}

/// Catch rate: at probability `p`, the fraction of commitments challenged over many draws is
/// within four standard deviations of `p`.
#[test]
fn commitments_are_challenged_at_the_set_probability() {
	test(|| {
		set_probability(30);
		let (server, _) = network();
		let trials = 400u32;
		let mut challenged = 0u32;
		for t in 0..trials {
			set_randomness(u64::from(t) * 7919);
			let batch = receipts(server, 4, &[]);
			let id = commit(server, &batch);
			draw(id);
			if Challenges::<Test>::get(id).is_some() {
				challenged += 1;
				// Withhold nothing but end it quickly: the verifiers agree.
				verify_honestly(id, &batch);
			}
			// A fresh block for the next commitment, so no challenge block fills up.
			run_to_block(System::block_number() + 1);
		}
		let p = 0.3f64;
		let n = f64::from(trials);
		let sd = (n * p * (1.0 - p)).sqrt();
		let got = f64::from(challenged);
		println!(
			"challenged {challenged} of {trials} at p = 0.3 (expected {:.0} ± {:.1})",
			n * p,
			sd
		);
		assert!((got - n * p).abs() <= 4.0 * sd, "{challenged} of {trials}");
	});
}

#[test]
fn unknown_and_unchallenged_commitments_cannot_be_settled_or_voted() {
	test(|| {
		set_probability(0);
		let (server, _) = network();
		let id = commit(server, &receipts(server, 1, &[]));
		assert_noop!(Proofs::settle(origin(CLIENT), id), Error::<Test>::NotChallenged);
		assert_noop!(Proofs::settle(origin(CLIENT), 77), Error::<Test>::UnknownCommitment);
		assert_noop!(Proofs::seal_vote(origin(V1), id, 1, [0; 32]), Error::<Test>::NotChallenged);
		assert_noop!(
			Proofs::open_vote(origin(V1), id, 1, Vote::InputsUnavailable, [0; 32]),
			Error::<Test>::NotChallenged
		);
		let _ = Ballot::Pending;
	});
}

/// A node that fakes a quarter of its steps, over many commitments at probability 30%: it is
/// caught at the rate `p × f` the sampling promises (within four standard deviations), every
/// catch is slashed, and what it loses exceeds what the faked steps earned.
#[test]
fn a_partial_cheater_is_caught_at_p_times_f_and_loses_more_than_it_gains() {
	test(|| {
		set_probability(30);
		let server = node_with(SERVER, 0, 4, 50_000);
		for v in [V1, V2, V3] {
			node(v);
		}
		let (trials, steps, faked) = (300u32, 8u32, [1u32, 6]);
		let collateral = Registry::collateral(server);
		let (mut caught, mut challenged) = (0u32, 0u32);
		for t in 0..trials {
			set_randomness(u64::from(t) * 104_729 + 1);
			let batch = receipts(server, steps, &faked);
			let id = commit(server, &batch);
			draw(id);
			if Challenges::<Test>::get(id).is_some() {
				challenged += 1;
				verify_honestly(id, &batch);
				if matches!(settled().0, Verdict::Mismatch { .. }) {
					caught += 1;
					// Only a faked step is ever found wrong.
					assert!(faked.contains(&batch[challenged_index_of_last()].step));
				}
			}
			run_to_block(System::block_number() + 1);
		}
		let f = faked.len() as f64 / f64::from(steps);
		let (n, p) = (f64::from(trials), 0.3 * f);
		let sd = (n * p * (1.0 - p)).sqrt();
		let lost = collateral - Registry::collateral(server);
		let gained = Balance::from(trials) * faked.len() as Balance * PRICE;
		println!(
			"partial cheater: challenged {challenged}, caught {caught} of {trials} commitments \
			 (expected {:.1} ± {:.1}); lost {lost}, earned {gained} on faked steps: {:.1}x",
			n * p,
			sd,
			lost as f64 / gained as f64
		);
		assert!((f64::from(caught) - n * p).abs() <= 4.0 * sd);
		assert_eq!(lost, Balance::from(caught) * (Balance::from(steps) * PRICE + PENALTY));
		assert!(lost > gained);
	});
}

// ---- audits: the client commits the receipts a node never committed

fn audit(client: AccountId, node: NodeId, batch: &[Receipt]) -> CommitmentId {
	audit_session(client, node, SESSION, batch)
}

fn audit_session(
	client: AccountId,
	node: NodeId,
	session: [u8; 16],
	batch: &[Receipt],
) -> CommitmentId {
	let id = crate::NextCommitmentId::<Test>::get();
	assert_ok!(Proofs::audit(
		origin(client),
		node,
		session,
		batch.len() as u32,
		receipts_root::<Sha2>(&genesis(), batch)
	));
	id
}

/// The client reveals the challenged receipt of audit `id` with the owner's signature.
fn reveal_signed(id: CommitmentId, batch: &[Receipt], owner: AccountId) {
	let index = challenged_index(id) as usize;
	let proof = receipt_proof::<Sha2>(&genesis(), batch, index).unwrap();
	assert_ok!(Proofs::reveal_signed_receipt(
		origin(CLIENT),
		id,
		batch[index],
		sign_receipt(owner, &batch[index]),
		proof.try_into().unwrap()
	));
}

fn stats(node: NodeId) -> (u32, u32) {
	let stats = pallet_compute_registry::Nodes::<Test>::get(node).unwrap().stats;
	(stats.completed, stats.failed)
}

#[test]
fn a_cheat_the_node_never_committed_is_caught_by_the_clients_audit() {
	test(|| {
		set_probability(100);
		let (server, _) = network();
		// The node cheats on every step and commits nothing; the client audits what it holds.
		let batch = receipts(server, 8, &(0..8).collect::<Vec<_>>());
		let client_before = free(CLIENT);
		let id = audit(CLIENT, server, &batch);
		let c = Commitments::<Test>::get(id).unwrap();
		assert_eq!((c.owner, c.client, c.payment, c.reserved), (SERVER, CLIENT, 8 * PRICE, 0));
		assert_eq!(Audits::<Test>::get(id), Some(AUDIT_BOND));
		assert_eq!(AuditsBy::<Test>::get(CLIENT).to_vec(), vec![id]);
		assert!(CommitmentsOf::<Test>::get(server).is_empty(), "not the node's own commitment");
		assert_eq!(free(CLIENT), client_before - AUDIT_BOND);
		assert_eq!(reserved(server), 0, "nothing reserved on the client's word alone");
		draw(id);
		// The node stays silent; the client shows the receipt the node signed.
		reveal_signed(id, &batch, SERVER);
		assert_eq!(reserved(server), 8 * PRICE + PENALTY);
		assert!(events().iter().any(
			|e| matches!(e, Event::AuditBacked { reserved, .. } if *reserved == 8 * PRICE + PENALTY)
		));
		let honest = Vote::Computed {
			layer_root: layer_root(0, &honest_layers(challenged_index(id))),
			first_divergent_layer: Some(3),
		};
		all_vote(id, honest);
		let (verdict, refunded, penalty, slashed) = settled();
		assert_eq!((verdict, penalty, slashed), (Verdict::Mismatch { layer: Some(3) }, PENALTY, 0));
		let keep = |x: Balance| x - SlashBurn::get().mul_ceil(x);
		assert_eq!(refunded, keep(8 * PRICE) + keep(PENALTY - 3 * (PENALTY / 2 / 3)));
		// The bond is back and the refund and the client's share of the penalty paid.
		assert_eq!(free(CLIENT), client_before + refunded);
		assert_eq!(Registry::collateral(server), COLLATERAL - 8 * PRICE - PENALTY);
		assert_eq!(stats(server), (0, 1));
		assert!(Audits::<Test>::get(id).is_none() && AuditsBy::<Test>::get(CLIENT).is_empty());
	});
}

#[test]
fn an_audit_without_a_signed_receipt_costs_the_client_its_bond() {
	test(|| {
		set_probability(100);
		let (server, _) = network();
		let batch = receipts(server, 4, &[]);
		let id = audit(CLIENT, server, &batch);
		draw(id);
		let index = challenged_index(id) as usize;
		let proof: BoundedVec<_, _> =
			receipt_proof::<Sha2>(&genesis(), &batch, index).unwrap().try_into().unwrap();
		// A receipt the client made up, or signed by someone else, is refused.
		assert_noop!(
			Proofs::reveal_signed_receipt(
				origin(CLIENT),
				id,
				batch[index],
				sign_receipt(CLIENT, &batch[index]),
				proof.clone()
			),
			Error::<Test>::BadSignature
		);
		let mut other = batch[index];
		other.step += 1;
		assert_noop!(
			Proofs::reveal_signed_receipt(
				origin(CLIENT),
				id,
				batch[index],
				sign_receipt(SERVER, &other),
				proof.clone()
			),
			Error::<Test>::BadSignature
		);
		run_to_block(System::block_number() + RECEIPT_WINDOW + 1);
		assert_noop!(
			Proofs::reveal_signed_receipt(
				origin(CLIENT),
				id,
				batch[index],
				sign_receipt(SERVER, &batch[index]),
				proof
			),
			Error::<Test>::TooLate
		);
		let (client, owner) = (free(CLIENT), free(SERVER));
		assert_ok!(Proofs::settle(origin(V1), id));
		let (verdict, refunded, penalty, slashed) = settled();
		assert_eq!((verdict, refunded, penalty, slashed), (Verdict::Unsubstantiated, 0, 0, 0));
		assert_eq!(free(CLIENT), client, "the bond is gone");
		assert_eq!(free(SERVER), owner + AUDIT_BOND, "to the node's owner");
		assert_eq!(Registry::collateral(server), COLLATERAL);
		assert_eq!(pallet_compute_registry::ReservedCollateral::<Test>::iter().count(), 0);
		assert_eq!(stats(server), (0, 0));
	});
}

#[test]
fn an_honest_node_audited_is_upheld_and_the_client_gets_its_bond_back() {
	test(|| {
		set_probability(100);
		let (server, _) = network();
		let batch = receipts(server, 6, &[]);
		let client = free(CLIENT);
		let id = audit(CLIENT, server, &batch);
		draw(id);
		reveal_signed(id, &batch, SERVER);
		let vote = honest_vote(id);
		all_vote(id, vote);
		assert_eq!(settled(), (Verdict::Upheld, 0, 0, 0));
		assert_eq!(free(CLIENT), client);
		assert_eq!(Registry::collateral(server), COLLATERAL);
		assert_eq!(reserved(server), 0);
		assert_eq!(stats(server), (1, 0));
	});
}

#[test]
fn an_unchallenged_audit_returns_the_bond_and_proves_nothing() {
	test(|| {
		set_probability(0);
		let (server, _) = network();
		let client = free(CLIENT);
		let id = audit(CLIENT, server, &receipts(server, 5, &[]));
		draw(id);
		assert_eq!(settled(), (Verdict::Unchallenged, 0, 0, 0));
		assert_eq!(free(CLIENT), client);
		assert_eq!(stats(server), (0, 0), "the client's word alone is no reputation");
	});
}

#[test]
fn an_audit_is_backed_by_what_collateral_is_free_when_the_receipt_is_shown() {
	test(|| {
		set_probability(100);
		let server = node_with(SERVER, 0, 4, MIN_COLLATERAL + 50);
		for owner in [V1, V2, V3] {
			node(owner);
		}
		let batch = receipts(server, 4, &(0..4).collect::<Vec<_>>());
		let id = audit(CLIENT, server, &batch);
		draw(id);
		reveal_signed(id, &batch, SERVER);
		let backed = MIN_COLLATERAL + 50;
		assert!(backed < 4 * PRICE + PENALTY);
		assert_eq!(Commitments::<Test>::get(id).unwrap().reserved, backed);
		let vote = Vote::Computed {
			layer_root: layer_root(0, &honest_layers(challenged_index(id))),
			first_divergent_layer: Some(3),
		};
		all_vote(id, vote);
		let (verdict, _, penalty, _) = settled();
		assert_eq!(verdict, Verdict::Mismatch { layer: Some(3) });
		assert_eq!(penalty, backed - 4 * PRICE, "the refund first, the rest as penalty");
		assert_eq!(Registry::collateral(server), 0);
	});
}

#[test]
fn bad_audits_are_refused_and_change_nothing() {
	test(|| {
		let (server, _) = network();
		let batch = receipts(server, 4, &[]);
		let root = receipts_root::<Sha2>(&genesis(), &batch);
		assert_noop!(
			Proofs::audit(origin(SERVER), server, SESSION, 4, root),
			Error::<Test>::OwnNode
		);
		assert_noop!(
			Proofs::audit(origin(CLIENT), 99, SESSION, 4, root),
			Error::<Test>::NotInferenceNode
		);
		assert_noop!(
			Proofs::audit(origin(CLIENT), server, SESSION, 0, root),
			Error::<Test>::BadStepCount
		);
		assert_noop!(
			Proofs::audit(origin(CLIENT), server, SESSION, MAX_STEPS + 1, root),
			Error::<Test>::BadStepCount
		);
		assert_noop!(
			Proofs::audit(origin(PAUPER), server, SESSION, 4, root),
			Error::<Test>::InsufficientBalance
		);
		// A node that never declared its class cannot be verified within one.
		let undeclared = pallet_compute_registry::NextNodeId::<Test>::get();
		assert_ok!(Registry::register_inference_node(
			origin(V4),
			MODEL,
			appchain_primitives::LayerRange::new(0, 4),
			10,
			PRICE,
			b"http://n".to_vec().try_into().unwrap(),
			COLLATERAL,
		));
		assert_noop!(
			Proofs::audit(origin(CLIENT), undeclared, SESSION, 4, root),
			Error::<Test>::NoEngineClass
		);
		// A session from the future, or stamped more than the window ago, is not auditable.
		let stamped = |block| appchain_primitives::receipt::session_id(block, [5; 12]);
		assert_noop!(
			Proofs::audit(origin(CLIENT), server, stamped(2), 4, root),
			Error::<Test>::SessionOutsideAuditWindow
		);
		run_to_block(1 + AUDIT_WINDOW + 1);
		assert_noop!(
			Proofs::audit(origin(CLIENT), server, SESSION, 4, root),
			Error::<Test>::SessionOutsideAuditWindow
		);
		assert_ok!(Proofs::audit(origin(CLIENT), server, stamped(2), 4, root));
		for _ in 1..MAX_OPEN {
			audit_session(CLIENT, server, stamped(2), &batch);
		}
		assert_noop!(
			Proofs::audit(origin(CLIENT), server, stamped(2), 4, root),
			Error::<Test>::TooManyAudits
		);
		// The node's own commitments are not crowded out by audits of it (in the next block:
		// the audits filled this one's challenge block).
		run_to_block(System::block_number() + 1);
		commit(server, &batch);
	});
}

#[test]
fn a_client_may_answer_for_a_node_that_withholds_its_own_committed_receipt() {
	test(|| {
		set_probability(100);
		let (server, _) = network();
		let batch = receipts(server, 3, &[]);
		let id = commit(server, &batch);
		draw(id);
		let reserved_before = reserved(server);
		reveal_signed(id, &batch, SERVER);
		assert_eq!(reserved(server), reserved_before, "a commitment is already backed");
		let vote = honest_vote(id);
		all_vote(id, vote);
		assert_eq!(settled().0, Verdict::Upheld);
	});
}

#[test]
fn a_late_draw_leaves_no_time_to_reveal() {
	test(|| {
		set_probability(100);
		let (server, _) = network();
		let batch = receipts(server, 3, &[]);
		let proof_of = |id| -> BoundedVec<Hash256, _> {
			receipt_proof::<Sha2>(&genesis(), &batch, challenged_index(id) as usize)
				.unwrap()
				.try_into()
				.unwrap()
		};
		// A node that does not draw its own challenged commitment is not saved by it: anyone
		// draws it late, and the receipt was due at a fixed time after the challenge block.
		let id = commit(server, &batch);
		let at = Commitments::<Test>::get(id).unwrap().challenge_at;
		run_to_block(at + RECEIPT_WINDOW + 1);
		assert_ok!(Proofs::draw(origin(V1), id));
		let late = batch[challenged_index(id) as usize];
		assert_noop!(
			Proofs::reveal_receipt(origin(SERVER), id, late, proof_of(id)),
			Error::<Test>::TooLate
		);
		assert_ok!(Proofs::settle(origin(V1), id));
		assert_eq!(settled().0, Verdict::ReceiptWithheld);
		// A client that draws its audit late (say, once the node's inputs expired) only loses
		// its bond: the node is never asked for inputs.
		let a = audit(CLIENT, server, &batch);
		let at = Commitments::<Test>::get(a).unwrap().challenge_at;
		run_to_block(at + RECEIPT_WINDOW + 1);
		assert_ok!(Proofs::draw(origin(CLIENT), a));
		let step = batch[challenged_index(a) as usize];
		assert_noop!(
			Proofs::reveal_signed_receipt(
				origin(CLIENT),
				a,
				step,
				sign_receipt(SERVER, &step),
				proof_of(a)
			),
			Error::<Test>::TooLate
		);
		let owner = free(SERVER);
		assert_ok!(Proofs::settle(origin(CLIENT), a));
		assert_eq!(settled().0, Verdict::Unsubstantiated);
		assert_eq!(free(SERVER), owner + AUDIT_BOND);
	});
}
