//! # Hash jobs
//!
//! SHA-256 nonce searches paid from escrow and verified on chain: the volunteer-computing
//! model of jobs as integer ranges split into subjobs by capacity, with redistribution of
//! unfinished subjobs and rewards by contribution, made provable with commit-reveal results,
//! Merkle proofs of chunk digests and spot checks driven by BABE randomness.
//!
//! ## Overview
//!
//! - **Jobs.** A client posts `(payload, spec, [start, end), budget)`; the budget is held under
//!   [`HoldReason::JobBudget`]. The spec ([`PowSpec`]) is a generic search (SHA-256 or double
//!   SHA-256 of `payload ‖ nonce_le_u64`, against a number of leading zero bits or a full
//!   256-bit target) or Bitcoin-header mining (76-byte header prefix, 4-byte nonce, double
//!   SHA-256, the hash read little-endian against the target of the header's compact `bits`).
//!   The exact definitions are in [`appchain_primitives::pow`], shared with the worker.
//! - **Subjobs.** A serving hashing node `claim`s the next part of a job, sized from its declared
//!   hash rate to take about [`Config::TargetSubjobSecs`] seconds, in whole chunks of
//!   [`Config::ChunkSize`] nonces. Ranges of failed subjobs are handed out again first.
//!   A job tracks at most [`Config::MaxOpenSubjobs`] ranges (open subjobs plus returned
//!   ranges) on every path, so a failing subjob can always give its range back and no job can
//!   be locked: a failed range merges with the returned ranges it touches, and a returned
//!   range is cut for a smaller claimer only while there is room for one more range (otherwise
//!   that claimer waits; a claimer of the range's size takes it whole). Design choice: refusing
//!   the small claimer, rather than handing it more than it can hash in time, keeps every
//!   deadline fair to the node that accepts it.
//! - **Results, commit-reveal.** The worker `commit`s `pow::commitment(subjob, root, salt,
//!   nonces)`, then in a later block `reveal`s the winning nonces, the Merkle root of its chunk
//!   digests and the salt. Every revealed nonce is checked exactly; one that misses the target
//!   (or is out of range or order) fails the subjob.
//! - **Spot checks.** The challenge block is fixed when the result is *committed*:
//!   `challenge_at = commit + ChallengeDelay`. Its seed hashes the VRF outputs of the
//!   [`Config::SeedBlocks`] blocks before it, all produced after the commitment, so that no
//!   single block author knows the seed when the worker commits. The seed picks
//!   [`Config::ChallengeCount`] chunks. The worker reveals by its deadline (revealing after
//!   `challenge_at` changes nothing: the commitment fixed the result), and from `challenge_at`,
//!   within [`Config::AnswerWindow`] blocks, it `answer_challenge`s with the
//!   chunks' digests and Merkle proofs; the runtime recomputes each chunk and checks digest,
//!   proof and that no winning nonce was left out. A worker that skipped a fraction `f` of its
//!   chunks passes with probability `(1 - f)^ChallengeCount`.
//!
//!   Design choice and its limit: a BABE author knows its own slots' VRF outputs an epoch
//!   ahead, so a seed from one block (as before) could be known to a worker that is, or
//!   bribes, that block's author before it commits; it would hash only the challenged chunks.
//!   With `SeedBlocks` blocks, foreseeing the seed at commit time needs the authors of all of
//!   them. What an author keeps is a choice after the fact: the author of the last seed block,
//!   seeing the others, may withhold its block, which replaces its VRF output by the next
//!   slot's. That is at most one re-draw per withheld slot, each costing the block's reward
//!   and the author's standing, and it turns the cheater's pass probability `(1 - f)^c` into at
//!   most `1 - (1 - (1 - f)^c)^2`, still about `2 (1 - f)^c` for a cheater worth catching.
//! - **Withheld winners.** A spot check recomputes its chunk's winning nonces, so a worker
//!   that keeps a winner out of its result is caught exactly when a worker that skipped that
//!   chunk would be: probability `1 - (1 - 1/n)^c` over `n` chunks, at the same penalty `P`.
//!   The bound that remains: withholding a winner worth `V` off chain is unprofitable only while
//!   `V < bonus + P (1 - (1 - 1/n)^c)`; short of checking every chunk, no sampling does
//!   better, so a client whose winner is worth more than that should ask for smaller subjobs.
//! - **Collateral.** Claiming a subjob *reserves* [`Config::SlashPenalty`] from the node's free
//!   collateral in the registry, so a node holds no more claims than its free collateral
//!   covers, and the penalty of a subjob it is about to fail cannot be moved out of reach
//!   (withdrawn, or slashed away through a self-dealt market agreement) before the failure
//!   is settled. A verified subjob releases the reservation.
//! - **Failure.** A wrong digest, a bad proof, an omitted or invalid nonce, a missed deadline or
//!   silence (`reclaim`, by anyone) slashes the reserved penalty (the registry burns its share
//!   and pays the rest to the client) and returns the subjob's range to the job for someone
//!   else (cut to the next claimer's size). A result lists at most
//!   [`Config::MaxNoncesPerResult`] nonces; a full list is not blamed for winners it had no
//!   room for.
//! - **Rewards.** A verified subjob pays its worker `(budget - bonus) * len / job_len`; the first
//!   verified winning nonce also pays the finder's bonus,
//!   [`Config::FinderBonus`] of the budget. When every nonce is verified the job completes and
//!   what is left of the budget returns to the client. Each verified subjob is also reported to
//!   [`Config::OnVerifiedWork`], so that a market agreement between the client and the node
//!   is paid on this verdict.
//! - **Quorum.** [`Pallet::settle_quorum`] decides redundant results by majority and slashes the
//!   minority, for the pallets that run the same work on several nodes. It counts owners, not
//!   nodes (two nodes of one owner are refused, so Sybil nodes cannot outvote an honest owner),
//!   and its slashes are all or nothing.
//!
//! ## Invariants
//!
//! Checked by [`Pallet::do_try_state`] (see there for the list) in `try_state` and after every
//! unit test.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
pub use traits::BenchmarkHelper;
#[cfg(feature = "runtime-benchmarks")]
pub use traits::RegistryHelper;
pub use types::*;
pub use weights::WeightInfo;

mod funds;
mod impls;
mod queries;
pub mod quorum;
pub mod runtime_api;
pub mod traits;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

const LOG_TARGET: &str = "runtime::hash-jobs";

/// SHA-256 through the runtime's native host function.
pub struct NativeSha256;

impl appchain_primitives::pow::Sha256 for NativeSha256 {
	fn hash(data: &[u8]) -> appchain_primitives::pow::Hash256 {
		sp_io::hashing::sha2_256(data)
	}
}

// FRAME's macros expand `#[pallet::pallet]`, `#[pallet::storage]` and `#[pallet::error]` into
// `expect`s on values they build themselves. The pallet's logic lives in `impls.rs`, where the
// workspace lints apply in full.
#[allow(clippy::expect_used)]
#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use appchain_primitives::{
		pow::{Hash256, PowSpec},
		NodeId,
	};
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Mutate, MutateHold},
			Randomness,
		},
	};
	use frame_system::pallet_prelude::*;
	use pallet_compute_registry::{ComputeNodes, OnVerifiedWork};
	use sp_runtime::Perbill;

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The currency budgets are held in; the same the registry holds collateral in.
		type Currency: Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The compute-node registry: owners, hash rates, serving status and slashing.
		type Nodes: ComputeNodes<Self::AccountId, BalanceOf<Self>>;

		/// Told of every verified subjob (the market pays hash-subjob agreements on it).
		type OnVerifiedWork: OnVerifiedWork<Self::AccountId>;

		/// Per-block randomness (BABE's `ParentBlockRandomness` in the runtime) that picks the
		/// challenged chunks.
		type Randomness: Randomness<Option<Self::Hash>, BlockNumberFor<Self>>;

		/// Nonces per chunk, `K`. Bounds the work of recomputing one challenged chunk.
		#[pallet::constant]
		type ChunkSize: Get<u32>;

		/// Most chunks in one subjob.
		#[pallet::constant]
		type MaxSubjobChunks: Get<u32>;

		/// Seconds a subjob should take at the claiming node's declared hash rate.
		#[pallet::constant]
		type TargetSubjobSecs: Get<u32>;

		/// Longest payload, in bytes.
		#[pallet::constant]
		type MaxPayloadLen: Get<u32>;

		/// Most winning nonces one subjob may reveal.
		#[pallet::constant]
		type MaxNoncesPerResult: Get<u32>;

		/// Most subjobs of one job open at once (claimed or waiting to be handed out again).
		#[pallet::constant]
		type MaxOpenSubjobs: Get<u32>;

		/// Chunks challenged per subjob, `c`.
		#[pallet::constant]
		type ChallengeCount: Get<u32>;

		/// Most siblings in a Merkle proof; at least `log2(MaxSubjobChunks)` rounded up.
		#[pallet::constant]
		type MaxProofDepth: Get<u32>;

		/// Blocks from a claim to its deadline for commitment and reveal.
		#[pallet::constant]
		type ClaimTimeout: Get<BlockNumberFor<Self>>;

		/// Blocks from a commitment to the block whose seed picks the challenges; more than
		/// [`Config::SeedBlocks`], so that every block whose VRF output enters the seed is
		/// produced after the commitment.
		#[pallet::constant]
		type ChallengeDelay: Get<BlockNumberFor<Self>>;

		/// Blocks whose VRF outputs make one challenge seed.
		#[pallet::constant]
		type SeedBlocks: Get<u32>;

		/// Blocks after the challenge block within which the worker must answer.
		#[pallet::constant]
		type AnswerWindow: Get<BlockNumberFor<Self>>;

		/// Share of a job's budget paid to the worker of the first verified winning nonce.
		#[pallet::constant]
		type FinderBonus: Get<Perbill>;

		/// Slashed from a failing node's collateral to the job's client.
		#[pallet::constant]
		type SlashPenalty: Get<BalanceOf<Self>>;

		/// Least budget of a job.
		#[pallet::constant]
		type MinBudget: Get<BalanceOf<Self>>;

		/// Weights of the calls, generated by the benchmarks.
		type WeightInfo: WeightInfo;

		/// Builds registry state (hashing nodes) for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// The unpaid budget of a client's job.
		#[codec(index = 0)]
		JobBudget,
	}

	/// Jobs not yet completed or cancelled.
	#[pallet::storage]
	pub type Jobs<T: Config> = StorageMap<_, Blake2_128Concat, JobId, JobOf<T>>;

	/// Id of the next job posted.
	#[pallet::storage]
	pub type NextJobId<T: Config> = StorageValue<_, JobId, ValueQuery>;

	/// Open subjobs: claimed and neither verified nor failed.
	#[pallet::storage]
	pub type Subjobs<T: Config> = StorageMap<_, Blake2_128Concat, SubjobId, SubjobOf<T>>;

	/// Open subjobs of each node that has any; at most its collateral over the penalty.
	#[pallet::storage]
	pub type ClaimsOf<T: Config> = StorageMap<_, Twox64Concat, NodeId, u32, ValueQuery>;

	/// Id of the next subjob claimed.
	#[pallet::storage]
	pub type NextSubjobId<T: Config> = StorageValue<_, SubjobId, ValueQuery>;

	/// The challenge seed of each recent block: the hash of the VRF outputs of the
	/// [`Config::SeedBlocks`] blocks up to it; kept for `ChallengeDelay + AnswerWindow + 1`
	/// blocks.
	#[pallet::storage]
	pub type ChallengeSeeds<T: Config> = StorageMap<_, Twox64Concat, BlockNumberFor<T>, Hash256>;

	/// The randomness of the last [`Config::SeedBlocks`] blocks, oldest first.
	#[pallet::storage]
	pub type RecentRandomness<T: Config> =
		StorageValue<_, BoundedVec<Hash256, T::SeedBlocks>, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A job was posted with `budget` held from the client.
		JobPosted {
			job: JobId,
			client: T::AccountId,
			spec: PowSpec,
			start: u64,
			end: u64,
			budget: BalanceOf<T>,
		},
		/// The client cancelled a job with no open subjob; the unpaid budget was released.
		JobCancelled { job: JobId, refunded: BalanceOf<T> },
		/// A node claimed the nonces `[start, end)`; commit and reveal by `deadline`.
		SubjobClaimed {
			job: JobId,
			subjob: SubjobId,
			node: NodeId,
			start: u64,
			end: u64,
			deadline: BlockNumberFor<T>,
		},
		/// The worker committed to its result.
		ResultCommitted { subjob: SubjobId, commitment: Hash256 },
		/// The worker revealed its result, every nonce verified; challenges come from the seed
		/// of block `challenge_at`, fixed when it committed.
		ResultRevealed {
			subjob: SubjobId,
			root: Hash256,
			nonces: BoundedVec<u64, T::MaxNoncesPerResult>,
			challenge_at: BlockNumberFor<T>,
		},
		/// A subjob passed its spot checks; its worker was paid `reward`.
		SubjobVerified {
			job: JobId,
			subjob: SubjobId,
			node: NodeId,
			to: T::AccountId,
			hashed: u64,
			reward: BalanceOf<T>,
		},
		/// The first verified winning nonce of the job; its worker was paid the finder's bonus.
		FinderRewarded {
			job: JobId,
			subjob: SubjobId,
			nonce: u64,
			to: T::AccountId,
			bonus: BalanceOf<T>,
		},
		/// A subjob failed: its node lost `penalty` of collateral, `compensation` of it paid to
		/// the client (the rest burnt), and its range goes back to the job.
		SubjobFailed {
			job: JobId,
			subjob: SubjobId,
			node: NodeId,
			reason: FailReason,
			penalty: BalanceOf<T>,
			compensation: BalanceOf<T>,
		},
		/// Every nonce of the job was verified; `refunded` of the budget went back to the client.
		JobCompleted { job: JobId, hashed: u64, found: u32, refunded: BalanceOf<T> },
		/// Redundant results were decided by majority; the minority was slashed.
		QuorumSettled { result: Option<Hash256>, majority: u32, slashed: u32 },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The nonce range is empty, or goes past `2^32` in Bitcoin mode.
		EmptyRange,
		/// More than 256 leading zero bits.
		DifficultyTooHigh,
		/// A Bitcoin payload that is not the 76-byte header prefix.
		BadHeaderLength,
		/// The header's compact `bits` field is not a valid target.
		BadCompactTarget,
		/// The budget is below [`Config::MinBudget`].
		BudgetTooLow,
		/// Not enough free balance for the budget.
		InsufficientBalance,
		/// No job with that id.
		UnknownJob,
		/// Only the job's client may do this.
		NotClient,
		/// The job still has open subjobs.
		JobBusy,
		/// The caller does not own the node.
		NotNodeOwner,
		/// The node is not registered, has no recent heartbeat or too little collateral.
		NodeNotServing,
		/// Only hashing nodes with a declared hash rate claim subjobs.
		NotHashingNode,
		/// Every nonce of the job is handed out.
		NothingToClaim,
		/// The job has [`Config::MaxOpenSubjobs`] open subjobs.
		TooManyOpenSubjobs,
		/// No open subjob with that id.
		UnknownSubjob,
		/// Only the subjob's worker may do this.
		NotWorker,
		/// The subjob is not waiting for this step.
		WrongState,
		/// The subjob's deadline has passed.
		DeadlinePassed,
		/// The reveal must come in a later block than the commitment.
		RevealTooEarly,
		/// The revealed result and salt do not match the commitment.
		CommitmentMismatch,
		/// The challenge block has not been reached.
		ChallengeNotReady,
		/// The answer window has closed.
		AnswerWindowClosed,
		/// Answers must come one per challenged chunk.
		WrongAnswerCount,
		/// The subjob can be neither expired nor declared silent yet.
		NotExpired,
		/// The node's free collateral (not reserved for its other claims and agreements) does
		/// not cover the penalty of another claim.
		TooManyClaims,
		/// A node appears twice among the results of a quorum.
		DuplicateResult,
		/// A balance or block number overflowed.
		Overflow,
		/// Two nodes of one owner appear among the results of a quorum: an owner has one vote.
		DuplicateOwner,
		/// A result of a quorum is from a node that is not registered.
		UnknownNode,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::record_challenge_seed(now);
			<T as Config>::WeightInfo::on_initialize()
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn integrity_test() {
			assert!(T::ChunkSize::get() > 0, "chunks hold at least one nonce");
			assert!(T::MaxSubjobChunks::get() > 0, "subjobs hold at least one chunk");
			assert!(T::ChallengeCount::get() > 0, "at least one chunk is challenged");
			assert!(T::MaxNoncesPerResult::get() > 0, "a result can name a winning nonce");
			assert!(
				T::FinderBonus::get() < Perbill::one(),
				"the finder's bonus leaves something to share by nonces hashed"
			);
			assert!(T::SeedBlocks::get() >= 1, "a seed needs the randomness of a block");
			assert!(
				T::ChallengeDelay::get() > T::SeedBlocks::get().into(),
				"every block of a challenge seed must be produced after the commitment"
			);
			assert!(
				2u64.saturating_pow(T::MaxProofDepth::get())
					>= u64::from(T::MaxSubjobChunks::get()),
				"MaxProofDepth must cover MaxSubjobChunks leaves"
			);
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Post a job: search `[start, end)` for nonces that win under `spec` after `payload`,
		/// holding `budget` to pay the workers.
		#[pallet::call_index(0)]
		pub fn post_job(
			origin: OriginFor<T>,
			payload: BoundedVec<u8, T::MaxPayloadLen>,
			spec: PowSpec,
			start: u64,
			end: u64,
			budget: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_post_job(who, payload, spec, NonceRange { start, end }, budget).map(|_| ())
		}

		/// Cancel a job the caller posted that has no open subjob; what is left of the budget
		/// is released.
		#[pallet::call_index(1)]
		pub fn cancel_job(origin: OriginFor<T>, job: JobId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_cancel_job(&who, job)
		}

		/// Claim the next part of `job` for a serving hashing node the caller owns.
		#[pallet::call_index(2)]
		pub fn claim(origin: OriginFor<T>, job: JobId, node: NodeId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_claim(&who, job, node).map(|_| ())
		}

		/// Commit to a subjob's result: `pow::commitment(subjob, root, salt, nonces)`.
		///
		/// Commit, reveal and answer are bound to deadlines that a slash enforces, so they are
		/// `Operational`: the pool ranks them above ordinary calls of the same fee and the
		/// block keeps room for them, and filling blocks cannot push them out.
		#[pallet::call_index(3)]
		#[pallet::weight((<T as Config>::WeightInfo::commit(), DispatchClass::Operational))]
		pub fn commit(
			origin: OriginFor<T>,
			subjob: SubjobId,
			commitment: Hash256,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_commit(&who, subjob, commitment)
		}

		/// Reveal a committed result: the winning nonces (ascending), the Merkle root of the
		/// chunk digests and the salt. Every nonce is checked; an invalid one fails the subjob.
		#[pallet::call_index(4)]
		// An invalid nonce fails the subjob, which costs what a reclaim does.
		#[pallet::weight((
			<T as Config>::WeightInfo::reveal(nonces.len() as u32)
				.saturating_add(<T as Config>::WeightInfo::reclaim()),
			DispatchClass::Operational,
		))]
		pub fn reveal(
			origin: OriginFor<T>,
			subjob: SubjobId,
			root: Hash256,
			salt: Hash256,
			nonces: BoundedVec<u64, T::MaxNoncesPerResult>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_reveal(&who, subjob, root, salt, nonces)
		}

		/// Answer the spot check of a revealed subjob: one digest and Merkle proof per
		/// challenged chunk, in challenge order. Passing pays the worker; failing slashes it.
		#[pallet::call_index(5)]
		// The benchmark measures the passing path, which completes the job; a failing answer
		// also costs what a reclaim does.
		#[pallet::weight((
			<T as Config>::WeightInfo::answer_challenge()
				.saturating_add(<T as Config>::WeightInfo::reclaim()),
			DispatchClass::Operational,
		))]
		pub fn answer_challenge(
			origin: OriginFor<T>,
			subjob: SubjobId,
			answers: AnswersOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_answer(&who, subjob, answers)
		}

		/// Fail a subjob whose worker missed its deadline or did not answer its challenge in
		/// time: slash, and hand its range out again. Anyone may call it.
		#[pallet::call_index(6)]
		pub fn reclaim(origin: OriginFor<T>, subjob: SubjobId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_reclaim(subjob)
		}
	}
}

/// Balance of the pallet's currency.
pub type BalanceOf<T> = <<T as Config>::Currency as frame_support::traits::fungible::Inspect<
	<T as frame_system::Config>::AccountId,
>>::Balance;
/// Account id of the runtime.
pub type AccountIdOf<T> = <T as frame_system::Config>::AccountId;
/// Block number of the runtime.
pub type BlockNumberOf<T> = frame_system::pallet_prelude::BlockNumberFor<T>;
/// A job's payload.
pub type PayloadOf<T> = frame_support::BoundedVec<u8, <T as Config>::MaxPayloadLen>;
/// A result's winning nonces.
pub type NoncesOf<T> = frame_support::BoundedVec<u64, <T as Config>::MaxNoncesPerResult>;
/// A job's returned ranges, waiting to be handed out again.
pub type ReturnedOf<T> = frame_support::BoundedVec<NonceRange, <T as Config>::MaxOpenSubjobs>;
/// A job of the runtime.
pub type JobOf<T> = Job<AccountIdOf<T>, BalanceOf<T>, PayloadOf<T>, ReturnedOf<T>>;
/// A subjob of the runtime.
pub type SubjobOf<T> = Subjob<AccountIdOf<T>, BlockNumberOf<T>, NoncesOf<T>, BalanceOf<T>>;
/// An answer to one challenge.
pub type ChunkAnswerOf<T> = ChunkAnswer<
	frame_support::BoundedVec<appchain_primitives::pow::Hash256, <T as Config>::MaxProofDepth>,
>;
/// The answers to a subjob's challenges.
pub type AnswersOf<T> = frame_support::BoundedVec<ChunkAnswerOf<T>, <T as Config>::ChallengeCount>;
