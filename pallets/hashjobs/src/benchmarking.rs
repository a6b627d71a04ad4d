//! Benchmarks of every call's worst case.
//!
//! Hashing dominates: `reveal` checks `n` winning nonces (double SHA-256 after the longest
//! payload), and `answer_challenge` recomputes `ChallengeCount` full chunks of `ChunkSize` nonces
//! the same way and checks their Merkle proofs in a subjob of `MaxSubjobChunks` chunks, the
//! deepest tree there is. Building that tree in full is out of reach, so the setup fills every
//! subtree no challenge touches with a constant: the proofs are exactly as long and are checked
//! exactly as in a real tree.

// Benchmark setup may fail loudly: it only runs with `runtime-benchmarks`, never on chain.
#![allow(
	clippy::unwrap_used,
	clippy::expect_used,
	clippy::arithmetic_side_effects,
	clippy::indexing_slicing
)]

use super::*;
use crate::Pallet as HashJobs;
use alloc::{collections::BTreeMap, vec, vec::Vec};
use appchain_primitives::{
	pow::{self, Difficulty, Hash256, HashFunction, PowSpec, Sha256},
	NodeId,
};
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{fungible::Mutate, Get, Hooks},
	BoundedVec,
};
use frame_system::RawOrigin;

fn funded<T: Config>(name: &'static str) -> T::AccountId {
	let who: T::AccountId = account(name, 0, 0);
	let _ = T::Currency::mint_into(&who, T::MinBudget::get() * 1_000u32.into());
	who
}

/// The longest payload.
fn payload<T: Config>() -> BoundedVec<u8, T::MaxPayloadLen> {
	vec![7u8; T::MaxPayloadLen::get() as usize].try_into().unwrap()
}

/// Double SHA-256 where every nonce (`all_win`) or none wins.
fn spec(all_win: bool) -> PowSpec {
	PowSpec::Generic {
		hash: HashFunction::DoubleSha256,
		difficulty: Difficulty::LeadingZeroBits(if all_win { 0 } else { 256 }),
	}
}

/// Nonces in the largest subjob.
fn largest_subjob<T: Config>() -> u64 {
	u64::from(T::MaxSubjobChunks::get()) * u64::from(T::ChunkSize::get())
}

/// A job of the longest payload over one largest subjob, and a node whose hash rate claims it
/// whole; returns the job, the node and its owner.
fn job_and_node<T: Config>(all_win: bool) -> (JobId, NodeId, T::AccountId) {
	let client = funded::<T>("client");
	let job = HashJobs::<T>::do_post_job(
		client,
		payload::<T>(),
		spec(all_win),
		NonceRange { start: 0, end: largest_subjob::<T>() },
		T::MinBudget::get() * 10u32.into(),
	)
	.unwrap();
	let worker: T::AccountId = account("worker", 0, 0);
	let rate = largest_subjob::<T>().div_ceil(u64::from(T::TargetSubjobSecs::get()).max(1));
	let node = T::BenchmarkHelper::hashing_node(&worker, rate);
	(job, node, worker)
}

fn node_hash(left: &Hash256, right: &Hash256) -> Hash256 {
	NativeSha256::hash(&[&left[..], &right[..]].concat())
}

/// Root and proofs of a tree of `count` leaves where only `leaves` are known and every other
/// subtree is a constant.
fn sparse_tree(
	count: u64,
	leaves: &BTreeMap<u64, Hash256>,
) -> (Hash256, BTreeMap<u64, Vec<Hash256>>) {
	const FILLER: Hash256 = [0xab; 32];
	let mut level = leaves.clone();
	let mut paths: BTreeMap<u64, (u64, Vec<Hash256>)> =
		leaves.keys().map(|&i| (i, (i, Vec::new()))).collect();
	let mut width = count;
	while width > 1 {
		for (index, proof) in paths.values_mut() {
			let sibling = *index ^ 1;
			if sibling < width {
				proof.push(level.get(&sibling).copied().unwrap_or(FILLER));
			}
			*index /= 2;
		}
		let mut next = BTreeMap::new();
		for (&i, h) in &level {
			let sibling = i ^ 1;
			let parent = if sibling < width {
				let s = level.get(&sibling).copied().unwrap_or(FILLER);
				if i % 2 == 0 {
					node_hash(h, &s)
				} else {
					node_hash(&s, h)
				}
			} else {
				*h
			};
			next.insert(i / 2, parent);
		}
		level = next;
		width = width.div_ceil(2);
	}
	let root = level.get(&0).copied().unwrap_or(FILLER);
	(root, paths.into_iter().map(|(leaf, (_, proof))| (leaf, proof)).collect())
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn post_job() {
		let client = funded::<T>("client");
		let budget = T::MinBudget::get() * 10u32.into();

		#[extrinsic_call]
		_(RawOrigin::Signed(client), payload::<T>(), spec(true), 0, 1 << 40, budget);

		assert_eq!(NextJobId::<T>::get(), 1);
	}

	#[benchmark]
	fn cancel_job() {
		let client = funded::<T>("client");
		let job = HashJobs::<T>::do_post_job(
			client.clone(),
			payload::<T>(),
			spec(false),
			NonceRange { start: 0, end: 1_000 },
			T::MinBudget::get(),
		)
		.unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(client), job);

		assert!(Jobs::<T>::get(job).is_none());
	}

	#[benchmark]
	fn claim() {
		let (job, node, worker) = job_and_node::<T>(false);

		#[extrinsic_call]
		_(RawOrigin::Signed(worker), job, node);

		assert_eq!(Subjobs::<T>::get(0).unwrap().range.len(), largest_subjob::<T>());
	}

	#[benchmark]
	fn commit() {
		let (job, node, worker) = job_and_node::<T>(false);
		let subjob = HashJobs::<T>::do_claim(&worker, job, node).unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(worker), subjob, [1; 32]);

		assert!(matches!(Subjobs::<T>::get(subjob).unwrap().state, SubjobState::Committed { .. }));
	}

	#[benchmark]
	fn reveal(n: Linear<0, { T::MaxNoncesPerResult::get() }>) {
		let (job, node, worker) = job_and_node::<T>(true);
		let subjob = HashJobs::<T>::do_claim(&worker, job, node).unwrap();
		let nonces: BoundedVec<u64, T::MaxNoncesPerResult> =
			(0..u64::from(n)).collect::<Vec<_>>().try_into().unwrap();
		let (root, salt) = ([3; 32], [4; 32]);
		let commitment = pow::commitment::<NativeSha256>(subjob, &root, &salt, &nonces);
		HashJobs::<T>::do_commit(&worker, subjob, commitment).unwrap();
		let now = frame_system::Pallet::<T>::block_number();
		frame_system::Pallet::<T>::set_block_number(now + 1u32.into());

		#[extrinsic_call]
		_(RawOrigin::Signed(worker), subjob, root, salt, nonces);

		assert!(matches!(Subjobs::<T>::get(subjob).unwrap().state, SubjobState::Revealed { .. }));
	}

	#[benchmark]
	fn answer_challenge() {
		let (job, node, worker) = job_and_node::<T>(false);
		let subjob = HashJobs::<T>::do_claim(&worker, job, node).unwrap();
		let info = Jobs::<T>::get(job).unwrap();
		let check = info.spec.check(&info.payload, info.range.start, info.range.end).unwrap();
		let range = Subjobs::<T>::get(subjob).unwrap().range;
		let k = u64::from(T::ChunkSize::get());
		let chunks = range.chunks(k);
		// The challenge block is now, with a known seed.
		let challenge_at = frame_system::Pallet::<T>::block_number();
		let seed = [42u8; 32];
		ChallengeSeeds::<T>::insert(challenge_at, seed);
		let indices =
			pow::challenge_indices::<NativeSha256>(&seed, subjob, chunks, T::ChallengeCount::get());
		let leaves: BTreeMap<u64, Hash256> = indices
			.iter()
			.map(|&i| {
				let chunk = range.chunk(i, k);
				(i, check.chunk::<NativeSha256>(&info.payload, chunk.start, chunk.end).0)
			})
			.collect();
		let (root, proofs) = sparse_tree(chunks, &leaves);
		Subjobs::<T>::mutate(subjob, |s| {
			s.as_mut().unwrap().state =
				SubjobState::Revealed { root, nonces: BoundedVec::new(), challenge_at };
		});
		let answers: AnswersOf<T> = indices
			.iter()
			.map(|i| ChunkAnswer {
				digest: leaves[i],
				proof: proofs[i].clone().try_into().unwrap(),
			})
			.collect::<Vec<_>>()
			.try_into()
			.unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(worker), subjob, answers);

		assert!(Subjobs::<T>::get(subjob).is_none());
		assert!(Jobs::<T>::get(job).is_none(), "the only subjob verified: the job completed");
	}

	#[benchmark]
	fn reclaim() {
		let (job, node, worker) = job_and_node::<T>(false);
		let subjob = HashJobs::<T>::do_claim(&worker, job, node).unwrap();
		let now = frame_system::Pallet::<T>::block_number();
		frame_system::Pallet::<T>::set_block_number(now + T::ClaimTimeout::get() + 1u32.into());
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), subjob);

		assert!(Subjobs::<T>::get(subjob).is_none());
		assert_eq!(Jobs::<T>::get(job).unwrap().returned.len(), 1);
	}

	#[benchmark]
	fn on_initialize() {
		let retention = T::ChallengeDelay::get() + T::AnswerWindow::get() + 1u32.into();
		let now = retention + 5u32.into();
		ChallengeSeeds::<T>::insert(now - retention, [1; 32]);
		// A full ring of recent randomness: the oldest is dropped and every output hashed.
		let full: BoundedVec<Hash256, T::SeedBlocks> =
			(0..T::SeedBlocks::get()).map(|i| [i as u8; 32]).collect::<Vec<_>>().try_into().unwrap();
		RecentRandomness::<T>::put(full);

		#[block]
		{
			HashJobs::<T>::on_initialize(now);
		}

		assert!(ChallengeSeeds::<T>::get(now).is_some());
		assert!(ChallengeSeeds::<T>::get(now - retention).is_none());
		assert_eq!(RecentRandomness::<T>::get().len() as u32, T::SeedBlocks::get());
	}

	impl_benchmark_test_suite!(HashJobs, crate::mock::new_test_ext(), crate::mock::Test);
}
