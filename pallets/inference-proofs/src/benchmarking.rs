//! Benchmarks of every call's worst case.
//!
//! - `draw` reads a full shard of candidate verifiers (`MaxNodesPerShard` nodes of distinct
//!   owners), draws `VerifiersPerChallenge` of them and reserves their bonds.
//! - `reveal_receipt` checks a proof in a batch of `MaxStepsPerCommitment` receipts.
//! - `reveal_signed_receipt` also checks the owner's signature (the runtime's costliest
//!   scheme, by its [`BenchmarkSigner`](crate::traits::BenchmarkSigner)) and, for an audit,
//!   reserves the node's collateral.
//! - `audit` fills the client's list of open audits and the challenge block's list to one
//!   short of full.
//! - `open_vote` is the last vote, which counts the votes and settles a mismatch: the node's
//!   reservation slashed to the client and every verifier, the minority verifier's bond slashed.
//! - `settle` counts after the opening window with one verifier silent, on a mismatch.
//! - `on_initialize` stamps `n` commitments due at the block.
//!
//! Setup goes through the pallet's own logic, so the invariants hold in every state built.

// Benchmark setup may fail loudly: it only runs with `runtime-benchmarks`, never on chain.
#![allow(
	clippy::unwrap_used,
	clippy::expect_used,
	clippy::arithmetic_side_effects,
	clippy::indexing_slicing
)]

use super::*;
use crate::Pallet as Proofs;
use alloc::vec::Vec;
use appchain_primitives::{
	pow::Hash256,
	receipt::{receipt_proof, receipts_root, Receipt},
	ModelId, NodeId,
};
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{fungible::Mutate, EnsureOrigin, Get, Hooks},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::{
	traits::{One, Zero},
	Perbill,
};

const LAYERS: u16 = 4;
const CLASS: [u8; 16] = [5; 16];
/// Stamped with block 0: auditable in the first `AuditWindow` blocks.
const SESSION: [u8; 16] = [0, 0, 0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3];

fn genesis<T: Config>() -> [u8; 32] {
	let hash = frame_system::Pallet::<T>::block_hash(BlockNumberOf::<T>::zero());
	let mut g = [0u8; 32];
	g.copy_from_slice(hash.as_ref());
	g
}

fn client<T: Config>() -> T::AccountId {
	let who: T::AccountId = account("client", 0, 0);
	let _ = T::Currency::mint_into(&who, T::DisputeBond::get() * 10u32.into() + 1_000u32.into());
	who
}

fn receipts(node: NodeId, model: ModelId, steps: u32) -> Vec<Receipt> {
	(0..steps)
		.map(|step| Receipt {
			node,
			model,
			start: 0,
			end: u32::from(LAYERS),
			session: SESSION,
			step,
			position: step,
			tokens: 1,
			input_hash: [1; 32],
			output_hash: [2; 32],
			layer_root: [4; 32],
		})
		.collect()
}

struct Setup<T: Config> {
	model: ModelId,
	owner: T::AccountId,
	client: T::AccountId,
	batch: Vec<Receipt>,
}

/// A model, the node whose steps are checked, and `verifiers` more nodes of distinct owners.
fn network<T: Config>(verifiers: u32) -> (ModelId, NodeId, T::AccountId) {
	network_of::<T>(account("server", 0, 0), verifiers)
}

/// [`network`] with the checked node owned by `owner`.
fn network_of<T: Config>(owner: T::AccountId, verifiers: u32) -> (ModelId, NodeId, T::AccountId) {
	let model = T::BenchmarkHelper::model(LAYERS);
	let node = T::BenchmarkHelper::inference_node(&owner, model, LAYERS);
	EngineClasses::<T>::insert(node, CLASS);
	for i in 0..verifiers {
		let v: T::AccountId = account("verifier", i, 0);
		let verifier = T::BenchmarkHelper::inference_node(&v, model, LAYERS);
		EngineClasses::<T>::insert(verifier, CLASS);
	}
	ChallengeProbability::<T>::insert(model, Perbill::one());
	(model, node, owner)
}

/// A commitment of a full batch, its seed stamped.
fn stamped<T: Config>(verifiers: u32) -> (CommitmentId, Setup<T>) {
	let (model, node, owner) = network::<T>(verifiers);
	let client = client::<T>();
	let steps = T::MaxStepsPerCommitment::get();
	let batch = receipts(node, model, steps);
	let root = receipts_root::<NativeSha256>(&genesis::<T>(), &batch);
	let id = Proofs::<T>::do_commit(&owner, node, client.clone(), SESSION, steps, root).unwrap();
	let at = Commitments::<T>::get(id).unwrap().challenge_at;
	frame_system::Pallet::<T>::set_block_number(at);
	Proofs::<T>::on_initialize(at);
	(id, Setup { model, owner, client, batch })
}

fn proof<T: Config>(s: &Setup<T>, index: u32) -> BoundedVec<Hash256, T::MaxProofDepth> {
	receipt_proof::<NativeSha256>(&genesis::<T>(), &s.batch, index as usize)
		.unwrap()
		.try_into()
		.unwrap()
}

/// A drawn challenge whose receipt is revealed.
fn voting<T: Config>() -> (CommitmentId, Setup<T>) {
	let (id, s) = stamped::<T>(T::VerifiersPerChallenge::get());
	Proofs::<T>::do_draw(id).unwrap();
	let index = Challenges::<T>::get(id).unwrap().index;
	Proofs::<T>::do_reveal_receipt(&s.owner, id, s.batch[index as usize], proof::<T>(&s, index))
		.unwrap();
	(id, s)
}

fn drawn<T: Config>(id: CommitmentId) -> Drawn<T> {
	Challenges::<T>::get(id).unwrap().verifiers.iter().map(|v| (v.node, v.owner.clone())).collect()
}

/// A verifier's vote that finds another root than the node's.
fn mismatch() -> Vote {
	Vote::Computed { layer_root: [9; 32], first_divergent_layer: Some(1) }
}

/// Every verifier sealed; opening under way.
/// The verifiers drawn, with their owners.
type Drawn<T> = Vec<(NodeId, <T as frame_system::Config>::AccountId)>;

fn opening<T: Config>() -> (CommitmentId, Setup<T>, Drawn<T>) {
	let (id, s) = voting::<T>();
	let verifiers = drawn::<T>(id);
	for (i, (node, owner)) in verifiers.iter().enumerate() {
		let vote = minority_last(i, verifiers.len());
		let seal = Proofs::<T>::seal(id, *node, &vote, &[i as u8; 32]);
		Proofs::<T>::do_seal_vote(owner, id, *node, seal).unwrap();
	}
	(id, s, verifiers)
}

/// The majority finds a mismatch; the last of several verifiers agrees with the node.
fn minority_last(i: usize, n: usize) -> Vote {
	if n > 1 && i + 1 == n {
		Vote::Computed { layer_root: [4; 32], first_divergent_layer: None }
	} else {
		mismatch()
	}
}

#[benchmarks]
mod benches {
	use super::*;

	#[benchmark]
	fn on_initialize(n: Linear<0, { T::MaxDuePerBlock::get() }>) {
		let model = T::BenchmarkHelper::model(LAYERS);
		let client = client::<T>();
		let now = frame_system::Pallet::<T>::block_number();
		let at = now + T::ChallengeDelay::get();
		for i in 0..n {
			let owner: T::AccountId = account("due", i, 0);
			let node = T::BenchmarkHelper::inference_node(&owner, model, LAYERS);
			EngineClasses::<T>::insert(node, CLASS);
			Proofs::<T>::do_commit(&owner, node, client.clone(), [0; 16], 1, [1; 32]).unwrap();
		}
		frame_system::Pallet::<T>::set_block_number(at);
		#[block]
		{
			Proofs::<T>::on_initialize(at);
		}
		assert!(DueAt::<T>::get(at).is_empty());
	}

	#[benchmark]
	fn commit() {
		let (model, node, owner) = network::<T>(0);
		let client = client::<T>();
		// The node's list of open commitments and the challenge block's list are one short of
		// full.
		for _ in 1..T::MaxOpenPerNode::get().min(T::MaxDuePerBlock::get()) {
			Proofs::<T>::do_commit(&owner, node, client.clone(), [0; 16], 1, [1; 32]).unwrap();
		}
		let _ = model;
		let steps = T::MaxStepsPerCommitment::get();
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), node, client, [0; 16], steps, [1; 32]);
		assert!(CommitmentsOf::<T>::get(node).len() as u32 >= 1);
	}

	#[benchmark]
	fn dispute() {
		let (model, node, owner) = network::<T>(0);
		let client = client::<T>();
		let _ = model;
		let id = Proofs::<T>::do_commit(&owner, node, client.clone(), [0; 16], 2, [1; 32]).unwrap();
		#[extrinsic_call]
		_(RawOrigin::Signed(client), id, 1);
		assert_eq!(Commitments::<T>::get(id).unwrap().dispute, Some(1));
	}

	#[benchmark]
	fn draw() {
		// A full shard: the node and candidates of distinct owners.
		let candidates = T::BenchmarkHelper::max_nodes_per_shard().saturating_sub(1);
		let (id, s) = stamped::<T>(candidates);
		let _ = s.model;
		#[extrinsic_call]
		_(RawOrigin::Signed(s.client), id);
		assert_eq!(
			Challenges::<T>::get(id).unwrap().verifiers.len() as u32,
			T::VerifiersPerChallenge::get()
		);
	}

	#[benchmark]
	fn reveal_receipt() {
		let (id, s) = stamped::<T>(T::VerifiersPerChallenge::get());
		Proofs::<T>::do_draw(id).unwrap();
		let index = Challenges::<T>::get(id).unwrap().index;
		let receipt = s.batch[index as usize];
		let proof = proof::<T>(&s, index);
		#[extrinsic_call]
		_(RawOrigin::Signed(s.owner), id, receipt, proof);
		assert!(Challenges::<T>::get(id).unwrap().receipt.is_some());
	}

	#[benchmark]
	fn audit() {
		use crate::traits::BenchmarkSigner;
		let (_, node, _) = network_of::<T>(T::BenchmarkSigner::signer(0), 0);
		let client = client::<T>();
		let _ = T::Currency::mint_into(&client, T::AuditBond::get() * 100u32.into());
		for _ in 1..T::MaxOpenPerNode::get().min(T::MaxDuePerBlock::get()) {
			Proofs::<T>::do_audit(&client, node, [0; 16], 1, [1; 32]).unwrap();
		}
		let steps = T::MaxStepsPerCommitment::get();
		#[extrinsic_call]
		_(RawOrigin::Signed(client.clone()), node, [0; 16], steps, [1; 32]);
		assert!(!AuditsBy::<T>::get(&client).is_empty());
	}

	#[benchmark]
	fn reveal_signed_receipt() {
		use crate::traits::BenchmarkSigner;
		let owner = T::BenchmarkSigner::signer(0);
		let (model, node, _) = network_of::<T>(owner.clone(), T::VerifiersPerChallenge::get());
		let client = client::<T>();
		let _ = T::Currency::mint_into(&client, T::AuditBond::get() * 10u32.into());
		let steps = T::MaxStepsPerCommitment::get();
		let batch = receipts(node, model, steps);
		let root = receipts_root::<NativeSha256>(&genesis::<T>(), &batch);
		let id = Proofs::<T>::do_audit(&client, node, SESSION, steps, root).unwrap();
		let at = Commitments::<T>::get(id).unwrap().challenge_at;
		frame_system::Pallet::<T>::set_block_number(at);
		Proofs::<T>::on_initialize(at);
		Proofs::<T>::do_draw(id).unwrap();
		let index = Challenges::<T>::get(id).unwrap().index;
		let s = Setup::<T> { model, owner: owner.clone(), client: client.clone(), batch };
		let receipt = s.batch[index as usize];
		let proof = proof::<T>(&s, index);
		let signature =
			T::BenchmarkSigner::sign(&owner, &receipt.signing_payload(&genesis::<T>())[..]);
		#[extrinsic_call]
		_(RawOrigin::Signed(client), id, receipt, signature, proof);
		assert!(Challenges::<T>::get(id).unwrap().receipt.is_some());
		assert!(!Commitments::<T>::get(id).unwrap().reserved.is_zero());
	}

	#[benchmark]
	fn seal_vote() {
		let (id, _s) = voting::<T>();
		let verifiers = drawn::<T>(id);
		// The last seal, which starts the opening.
		for (node, owner) in verifiers.iter().take(verifiers.len() - 1) {
			Proofs::<T>::do_seal_vote(owner, id, *node, [0; 32]).unwrap();
		}
		let (node, owner) = verifiers.last().cloned().unwrap();
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), id, node, [0; 32]);
		assert!(matches!(Challenges::<T>::get(id).unwrap().phase, Phase::Revealing { .. }));
	}

	#[benchmark]
	fn open_vote() {
		let (id, _s, verifiers) = opening::<T>();
		let n = verifiers.len();
		for (i, (node, owner)) in verifiers.iter().enumerate().take(n - 1) {
			Proofs::<T>::do_open_vote(owner, id, *node, minority_last(i, n), [i as u8; 32])
				.unwrap();
		}
		let (node, owner) = verifiers[n - 1].clone();
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), id, node, minority_last(n - 1, n), [(n - 1) as u8; 32]);
		assert!(Commitments::<T>::get(id).is_none(), "the last vote settled it");
	}

	#[benchmark]
	fn settle() {
		let (id, s, verifiers) = opening::<T>();
		let n = verifiers.len();
		// All but the last open; the last stays silent.
		for (i, (node, owner)) in verifiers.iter().enumerate().take(n - 1) {
			Proofs::<T>::do_open_vote(owner, id, *node, minority_last(i, n), [i as u8; 32])
				.unwrap();
		}
		let until = match Challenges::<T>::get(id).unwrap().phase {
			Phase::Revealing { until } => until,
			other => unreachable!("opening, not {other:?}"),
		};
		frame_system::Pallet::<T>::set_block_number(until + One::one());
		#[extrinsic_call]
		_(RawOrigin::Signed(s.client), id);
		assert!(Commitments::<T>::get(id).is_none());
	}

	#[benchmark]
	fn declare_engine_class() {
		let model = T::BenchmarkHelper::model(LAYERS);
		let owner: T::AccountId = account("declarer", 0, 0);
		let node = T::BenchmarkHelper::inference_node(&owner, model, LAYERS);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), node, CLASS);
		assert_eq!(EngineClasses::<T>::get(node), Some(CLASS));
	}

	#[benchmark]
	fn set_challenge_probability() -> Result<(), BenchmarkError> {
		let origin =
			T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, 0, Perbill::from_percent(5));
		assert_eq!(ChallengeProbability::<T>::get(0), Some(Perbill::from_percent(5)));
		Ok(())
	}

	impl_benchmark_test_suite!(Proofs, crate::mock::new_test_ext(), crate::mock::Test);
}
