//! # Inference proofs
//!
//! Proof of computation for layer inference (P2P-LLM §4.2, seed 003; issue 17): a serving node
//! commits to what it computed, a sample of its steps is re-run by verifiers drawn by stake, a
//! majority of distinct owners decides, and a proven mismatch is slashed from collateral the node
//! reserved when it committed.
//!
//! ## Overview
//!
//! - **Receipts** (off chain, [`appchain_primitives::receipt`]). With every forward step a node
//!   returns a signed receipt binding the session, step, layer range, the hashes of its input and
//!   output and a Merkle root over its per-layer output hashes. The client checks and keeps them.
//! - **Commitments.** The node `commit`s a batch: the root
//!   ([`receipts_root`](appchain_primitives::receipt::receipts_root)) over `steps` receipts of
//!   one session, naming the client. One transaction covers the whole batch, so the chain load
//!   per generated token is one commitment's share. Committing *reserves* from the node's
//!   collateral the payment for the steps (its price per forward pass times `steps`, what a
//!   mismatch refunds) plus the penalty, [`Config::PenaltyFactor`] times the payment and at
//!   least [`Config::MismatchPenalty`] ([`Pallet::penalty_for`]): the penalty of a committed cheat
//!   is backed when the obligation is taken, and cannot be withdrawn or slashed away before the
//!   verdict (an audit, below, is backed only when its receipt is revealed).
//! - **Sampling with randomness unknown at commit time.** The challenge is decided by the seed
//!   of block `challenge_at = commit + ChallengeDelay`. The seed chains every block's VRF output
//!   into a running hash ([`SeedChain`]), so the seed at `challenge_at` depends on the VRF
//!   outputs of all `ChallengeDelay` blocks produced after the commitment, by their different
//!   authors: nobody knows it when the node commits. At `challenge_at` the hook stamps each due
//!   commitment with its seed ([`DueAt`], at most [`Config::MaxDuePerBlock`] per block). With the
//!   model's probability ([`ChallengeProbability`], set by
//!   [`Config::AdminOrigin`], [`Config::DefaultChallengeProbability`] otherwise) one receipt of
//!   the batch, chosen by the same seed, is challenged. A client may also `dispute` one receipt
//!   before `challenge_at`, holding [`Config::DisputeBond`]; a disputed receipt is always
//!   challenged.
//! - **Audits: the client commits when the node does not.** Committing is the node's choice,
//!   so a node that cheats would simply never commit. The client holds every receipt the node
//!   signed, and may `audit` a batch of them: the same commitment, made by the client, holding
//!   [`Config::AuditBond`] under [`HoldReason::AuditBond`] (listed in [`Audits`] and
//!   [`AuditsBy`]). It is sampled by the same seed. When a step is challenged, anyone (the
//!   worker's `audit` command: the client) reveals the receipt with its Merkle proof *and the
//!   node owner's signature* (`reveal_signed_receipt`, checked with [`Config::Signature`]);
//!   only then does the chain reserve the node's payment and penalty from its collateral (as
//!   much as is free: the obligation was taken off chain, and the chain learns of it now). The
//!   verifiers then fetch the inputs from the node, as for its own commitments: a node that
//!   cannot show them is slashed ([`Verdict::InputsWithheld`]). A client that cannot reveal a
//!   signed receipt for the challenged step loses its bond to the node's owner
//!   ([`Verdict::Unsubstantiated`]); otherwise the bond comes back. An unchallenged audit
//!   proves nothing, so only a verdict counts in the node's reputation.
//!
//!   Limits, by design or not yet closed: the backing is what collateral is free at the
//!   reveal (a node that withdrew meanwhile backs less); the chain cannot see that a batch's
//!   leaves are distinct steps, nor that a session is audited once, so an auditor may inflate
//!   the payment or audit a session twice — which only adds to what a *cheater* loses, and
//!   locks an honest node's collateral until its step is upheld; whoever audits is the
//!   "client" refunded, so anyone holding a node's receipts may audit it; verifiers of an
//!   honest step are not paid (their bond is the incentive).
//! - **Engine classes.** A node's results are bit-for-bit reproducible only within its engine
//!   build and CPU feature class. Each node declares its class ([`EngineClasses`]) before it
//!   commits; the commitment records it.
//! - **Deadlines are fixed at the challenge block.** Whoever draws, and however late, the
//!   challenged receipt is due [`Config::ReceiptWindow`] blocks after `challenge_at`: a node
//!   that does not draw its own challenged commitment is drawn by anyone and has withheld its
//!   receipt, and a client that draws an audit late (after the node pruned the inputs) only
//!   loses its bond.
//! - **Verifiers.** `draw` (anyone, once the seed is stamped) picks [`Config::VerifiersPerChallenge`]
//!   serving nodes of the commitment's engine class whose ranges contain the node's layers, of
//!   distinct owners other than the node's, each with probability proportional to its free collateral (its stake), without
//!   replacement. Each verifier's [`Config::VerifierBond`] is reserved from its collateral: a
//!   verifier that does not vote, or votes against the majority, loses it. Too few eligible
//!   verifiers void the challenge ([`Verdict::NoVerifiers`]).
//! - **Re-execution.** The node `reveal_receipt`s the challenged receipt with its Merkle proof
//!   against the commitment. The verifiers fetch the session's inputs from the node (each checked
//!   against its receipt's input hash), replay the session's prefix with the same token counts,
//!   re-run the step and `seal_vote` its [`vote_seal`](appchain_primitives::receipt::vote_seal), then
//!   `open_vote`: verifiers cannot copy each other. A vote is the verifier's own per-layer root
//!   and the first layer that differs, or [`Vote::InputsUnavailable`].
//! - **Verdict** (`settle`, anyone, or the last vote opened). The vote of a strict majority of
//!   the verifiers drawn decides:
//!   - the node's `layer_root`: [`Verdict::Upheld`]; the node's reservation is released;
//!   - another root or inputs unavailable: [`Verdict::Mismatch`] or
//!     [`Verdict::InputsWithheld`]; the node's reservation is slashed, the payment to the client
//!     (the refund) and the penalty shared between the client and the majority's verifiers
//!     (the registry burns [`pallet_compute_registry::Config::SlashBurn`] of each slash);
//!   - no majority: [`Verdict::Inconclusive`], reservations released.
//!
//!   A verifier outside the majority, or silent, is slashed its bond (to the client when the node
//!   is at fault, to the node's owner otherwise). A node that does not reveal its receipt in time
//!   is slashed as for a mismatch ([`Verdict::ReceiptWithheld`]). A client's dispute of a step
//!   that is upheld costs its bond, paid to the node's owner; otherwise the bond is released.
//! - **Reputation.** Every verdict on a node is recorded in the registry
//!   ([`ComputeNodes::record_work`]): completed when upheld or when the node's own commitment
//!   was unchallenged, failed when at fault. Clients read the registry's success ratio to exclude nodes from routes.
//!
//! ## Invariants
//!
//! Checked by [`Pallet::do_try_state`] (see there) in `try_state` and after every unit test.
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

#[cfg(any(feature = "std", feature = "try-runtime"))]
const LOG_TARGET: &str = "runtime::inference-proofs";

/// SHA-256 through the runtime's native host function.
pub struct NativeSha256;

impl appchain_primitives::pow::Sha256 for NativeSha256 {
	fn hash(data: &[u8]) -> appchain_primitives::pow::Hash256 {
		sp_io::hashing::sha2_256(data)
	}
}

// FRAME's macros expand into `expect`s on values they build themselves. The pallet's logic lives
// in `impls.rs`, where the workspace lints apply in full.
#[allow(clippy::expect_used)]
#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use appchain_primitives::{
		pow::Hash256,
		receipt::{EngineClass, Receipt},
		ModelId, NodeId,
	};
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Mutate, MutateHold},
			Randomness,
		},
	};
	use frame_system::pallet_prelude::*;
	use pallet_compute_registry::ComputeNodes;
	use sp_runtime::Perbill;

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The currency dispute bonds are held in; the registry's.
		type Currency: Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The compute-node registry: owners, layers, prices, collateral and reputation.
		type Nodes: ComputeNodes<Self::AccountId, BalanceOf<Self>>;

		/// Per-block randomness (BABE's `ParentBlockRandomness` in the runtime), chained into
		/// [`SeedChain`].
		type Randomness: Randomness<Option<Self::Hash>, BlockNumberFor<Self>>;

		/// Sets a model's challenge probability.
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Challenge probability of a model without its own setting.
		#[pallet::constant]
		type DefaultChallengeProbability: Get<Perbill>;

		/// Least penalty reserved from a node's collateral with every commitment, on top of the
		/// payment, and slashed when the node is proven at fault.
		#[pallet::constant]
		type MismatchPenalty: Get<BalanceOf<Self>>;

		/// The penalty of a commitment is this many times its payment (when that is more than
		/// [`Config::MismatchPenalty`]). A cheat is unprofitable in expectation when
		/// `probability × (1 + PenaltyFactor) > 1`.
		#[pallet::constant]
		type PenaltyFactor: Get<u32>;

		/// Reserved from each verifier drawn; lost by a silent verifier or one outside the
		/// majority.
		#[pallet::constant]
		type VerifierBond: Get<BalanceOf<Self>>;

		/// Held from a client that disputes a step; lost when the step is upheld.
		#[pallet::constant]
		type DisputeBond: Get<BalanceOf<Self>>;

		/// Held from a client for each open audit; lost to the node's owner when the client
		/// cannot reveal a signed receipt of the challenged step.
		#[pallet::constant]
		type AuditBond: Get<BalanceOf<Self>>;

		/// Blocks after a session's stamp ([`session_block`](appchain_primitives::receipt::session_block))
		/// during which its receipts may be audited. A node keeps a session's inputs for longer
		/// than this plus the challenge phases, so an honest node can always show them; an
		/// audit of an older session could otherwise slash an honest node whose inputs expired.
		#[pallet::constant]
		type AuditWindow: Get<BlockNumberFor<Self>>;

		/// The signature of a node's owner over a receipt
		/// ([`Receipt::signing_payload`](appchain_primitives::receipt::Receipt::signing_payload)):
		/// the runtime's account signature.
		type Signature: Parameter
			+ sp_runtime::traits::Verify<
				Signer: sp_runtime::traits::IdentifyAccount<AccountId = Self::AccountId>,
			>;

		/// Verifiers drawn per challenge.
		#[pallet::constant]
		type VerifiersPerChallenge: Get<u32>;

		/// Fewest eligible verifiers a challenge goes ahead with.
		#[pallet::constant]
		type MinVerifiers: Get<u32>;

		/// Most receipts one commitment may cover.
		#[pallet::constant]
		type MaxStepsPerCommitment: Get<u32>;

		/// Most siblings in a receipt's proof; at least `log2(MaxStepsPerCommitment)` rounded up.
		#[pallet::constant]
		type MaxProofDepth: Get<u32>;

		/// Most commitments whose challenge falls due in one block.
		#[pallet::constant]
		type MaxDuePerBlock: Get<u32>;

		/// Most open commitments of one node, and open challenges one node verifies.
		#[pallet::constant]
		type MaxOpenPerNode: Get<u32>;

		/// Blocks from a commitment to the block whose seed decides its challenge.
		#[pallet::constant]
		type ChallengeDelay: Get<BlockNumberFor<Self>>;

		/// Blocks the node has to reveal a challenged receipt.
		#[pallet::constant]
		type ReceiptWindow: Get<BlockNumberFor<Self>>;

		/// Blocks the verifiers have to re-run the step and seal their votes.
		#[pallet::constant]
		type VoteWindow: Get<BlockNumberFor<Self>>;

		/// Blocks the verifiers have to open their votes.
		#[pallet::constant]
		type OpenWindow: Get<BlockNumberFor<Self>>;

		/// Weights of the calls, generated by the benchmarks.
		type WeightInfo: WeightInfo;

		/// Builds registry state (models, inference nodes) for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;

		/// Accounts that sign receipts in the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkSigner: traits::BenchmarkSigner<Self::AccountId, Self::Signature>;
	}

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A client's bond for a dispute it raised.
		#[codec(index = 0)]
		DisputeBond,
		/// A client's bond for an open audit.
		#[codec(index = 1)]
		AuditBond,
	}

	/// Open commitments.
	#[pallet::storage]
	pub type Commitments<T: Config> = StorageMap<_, Twox64Concat, CommitmentId, CommitmentOf<T>>;

	/// Id of the next commitment.
	#[pallet::storage]
	pub type NextCommitmentId<T> = StorageValue<_, CommitmentId, ValueQuery>;

	/// Challenges of open commitments.
	#[pallet::storage]
	pub type Challenges<T: Config> = StorageMap<_, Twox64Concat, CommitmentId, ChallengeOf<T>>;

	/// Commitments whose seed is stamped at each block.
	#[pallet::storage]
	pub type DueAt<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<CommitmentId, T::MaxDuePerBlock>,
		ValueQuery,
	>;

	/// Open commitments of each node.
	#[pallet::storage]
	pub type CommitmentsOf<T: Config> = StorageMap<
		_,
		Twox64Concat,
		NodeId,
		BoundedVec<CommitmentId, T::MaxOpenPerNode>,
		ValueQuery,
	>;

	/// Open challenges each node was drawn to verify.
	#[pallet::storage]
	pub type VerifierDuties<T: Config> = StorageMap<
		_,
		Twox64Concat,
		NodeId,
		BoundedVec<CommitmentId, T::MaxOpenPerNode>,
		ValueQuery,
	>;

	/// Open audits (commitments made by clients) and the bond each holds.
	#[pallet::storage]
	pub type Audits<T: Config> = StorageMap<_, Twox64Concat, CommitmentId, BalanceOf<T>>;

	/// Open audits of each client.
	#[pallet::storage]
	pub type AuditsBy<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<CommitmentId, T::MaxOpenPerNode>,
		ValueQuery,
	>;

	/// The engine class each inference node declared (build and CPU feature class its results
	/// are reproducible within). One small entry per node that declared one.
	#[pallet::storage]
	pub type EngineClasses<T: Config> = StorageMap<_, Twox64Concat, NodeId, EngineClass>;

	/// Challenge probability of each model that has its own.
	#[pallet::storage]
	pub type ChallengeProbability<T: Config> = StorageMap<_, Twox64Concat, ModelId, Perbill>;

	/// Running hash of every block's randomness: `seed_n = SHA-256(seed_{n-1} ‖ randomness_n)`.
	#[pallet::storage]
	pub type SeedChain<T> = StorageValue<_, Hash256, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A node committed to a batch of receipts; `reserved` of its collateral backs them.
		Committed {
			id: CommitmentId,
			node: NodeId,
			client: T::AccountId,
			session: [u8; 16],
			steps: u32,
			receipts_root: Hash256,
			payment: BalanceOf<T>,
			reserved: BalanceOf<T>,
			challenge_at: BlockNumberFor<T>,
		},
		/// A client committed to a batch of the node's receipts, holding `bond`.
		Audited {
			id: CommitmentId,
			node: NodeId,
			client: T::AccountId,
			session: [u8; 16],
			steps: u32,
			receipts_root: Hash256,
			payment: BalanceOf<T>,
			bond: BalanceOf<T>,
			challenge_at: BlockNumberFor<T>,
		},
		/// A signed receipt of an audited step was revealed: `reserved` of the node's
		/// collateral now backs it.
		AuditBacked { id: CommitmentId, reserved: BalanceOf<T> },
		/// The client disputed receipt `index`, holding `bond`.
		Disputed { id: CommitmentId, index: u32, bond: BalanceOf<T> },
		/// A node declared its engine class.
		EngineClassDeclared { node: NodeId, class: EngineClass },
		/// A model's challenge probability was set.
		ProbabilitySet { model: ModelId, probability: Perbill },
		/// Receipt `index` was challenged; the node reveals it by `until`.
		Challenged {
			id: CommitmentId,
			index: u32,
			by_client: bool,
			verifiers: BoundedVec<NodeId, T::VerifiersPerChallenge>,
			until: BlockNumberFor<T>,
		},
		/// The node revealed the challenged receipt; the verifiers seal votes by `until`.
		ReceiptRevealed { id: CommitmentId, receipt: Receipt, until: BlockNumberFor<T> },
		/// A verifier sealed its vote.
		VoteSealed { id: CommitmentId, verifier: NodeId },
		/// Every verifier sealed, or sealing closed; votes open until `until`.
		OpeningStarted { id: CommitmentId, until: BlockNumberFor<T> },
		/// A verifier opened its vote.
		VoteOpened { id: CommitmentId, verifier: NodeId, vote: Vote },
		/// A commitment ended. `refunded` went to the client, `penalty` was taken from the node
		/// beyond it, and `verifiers_slashed` verifiers lost their bond.
		Settled {
			id: CommitmentId,
			node: NodeId,
			verdict: Verdict,
			refunded: BalanceOf<T>,
			penalty: BalanceOf<T>,
			verifiers_slashed: u32,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The caller does not own the node.
		NotNodeOwner,
		/// The node is not serving (registered, recent heartbeat, enough collateral).
		NodeNotServing,
		/// The node is not an inference node.
		NotInferenceNode,
		/// The node has not declared its engine class (`declare_engine_class`).
		NoEngineClass,
		/// A commitment covers at least one and at most `MaxStepsPerCommitment` receipts.
		BadStepCount,
		/// The node's free collateral does not cover the payment and the penalty.
		InsufficientCollateral,
		/// The node has `MaxOpenPerNode` open commitments.
		TooManyOpen,
		/// `MaxDuePerBlock` commitments already fall due at the challenge block; commit in the
		/// next block.
		ChallengeBlockFull,
		/// No open commitment with that id.
		UnknownCommitment,
		/// Only the commitment's client may dispute it.
		NotClient,
		/// Disputes must come before the challenge block.
		TooLateToDispute,
		/// The commitment is already disputed.
		AlreadyDisputed,
		/// No receipt with that index in the batch.
		BadIndex,
		/// Not enough free balance for the dispute bond.
		InsufficientBalance,
		/// The challenge seed is not stamped yet.
		NotDue,
		/// The commitment was already drawn.
		AlreadyDrawn,
		/// No challenge for that commitment.
		NotChallenged,
		/// The challenge is not in the phase this call belongs to.
		WrongPhase,
		/// The receipt does not name the commitment's node, model, layers or session.
		ReceiptMismatch,
		/// The receipt's proof does not verify against the commitment.
		BadProof,
		/// The node is not a verifier of the challenge.
		NotVerifier,
		/// The verifier already sealed (or opened) its vote.
		AlreadySealed,
		/// The verifier has not sealed a vote, or already opened it.
		NotSealed,
		/// The opened vote and salt do not match the seal.
		SealMismatch,
		/// The phase's deadline has not passed.
		TooEarly,
		/// The phase's deadline has passed.
		TooLate,
		/// A balance or block number overflowed.
		Overflow,
		/// The signature is not the node owner's over the receipt.
		BadSignature,
		/// A node's owner cannot audit its own node.
		OwnNode,
		/// The client has `MaxOpenPerNode` open audits.
		TooManyAudits,
		/// The session's stamp is more than `AuditWindow` blocks old, or in the future: its
		/// receipts can no longer be audited.
		SessionOutsideAuditWindow,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let due = Self::advance_seed_and_stamp(now);
			<T as Config>::WeightInfo::on_initialize(due)
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn integrity_test() {
			assert!(T::MinVerifiers::get() >= 1, "a challenge needs a verifier");
			assert!(
				T::VerifiersPerChallenge::get() >= T::MinVerifiers::get(),
				"draw at least MinVerifiers"
			);
			assert!(T::MaxStepsPerCommitment::get() >= 1, "a commitment covers a receipt");
			assert!(
				2u64.saturating_pow(T::MaxProofDepth::get())
					>= u64::from(T::MaxStepsPerCommitment::get()),
				"MaxProofDepth must cover MaxStepsPerCommitment leaves"
			);
			assert!(
				T::ChallengeDelay::get() >= 2u32.into(),
				"the seed must include VRF outputs of blocks after the commitment"
			);
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Commit to a batch of receipts of one session.
		///
		/// - `origin`: the owner of `node`, a serving inference node.
		/// - `client`: who the steps were computed for (refunded on a proven mismatch).
		/// - `session`, `steps`: the session and the number of receipts in the batch.
		/// - `receipts_root`: `receipts_root` over the batch's receipts, in step order.
		///
		/// Reserves the payment (price × `steps`) plus the penalty from the node's collateral.
		#[pallet::call_index(0)]
		pub fn commit(
			origin: OriginFor<T>,
			node: NodeId,
			client: T::AccountId,
			session: [u8; 16],
			steps: u32,
			receipts_root: Hash256,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_commit(&who, node, client, session, steps, receipts_root).map(|_| ())
		}

		/// Dispute receipt `index` of a commitment, so that it is challenged whatever the seed.
		///
		/// - `origin`: the commitment's client; holds [`Config::DisputeBond`].
		/// - Before the commitment's challenge block.
		#[pallet::call_index(1)]
		pub fn dispute(origin: OriginFor<T>, id: CommitmentId, index: u32) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_dispute(&who, id, index)
		}

		/// Decide a commitment's challenge from its seed: release it, or challenge one receipt
		/// and draw its verifiers. The receipt is due `ReceiptWindow` blocks after the
		/// challenge block, however late the draw.
		///
		/// - `origin`: anyone signed, once the seed is stamped.
		#[pallet::call_index(2)]
		pub fn draw(origin: OriginFor<T>, id: CommitmentId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_draw(id)
		}

		/// Reveal the challenged receipt with its proof against the commitment.
		///
		/// - `origin`: the node's owner, while the challenge awaits the receipt.
		#[pallet::call_index(3)]
		#[pallet::weight((<T as Config>::WeightInfo::reveal_receipt(), DispatchClass::Operational))]
		pub fn reveal_receipt(
			origin: OriginFor<T>,
			id: CommitmentId,
			receipt: Receipt,
			proof: BoundedVec<Hash256, T::MaxProofDepth>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_reveal_receipt(&who, id, receipt, proof)
		}

		/// Seal a verifier's vote: [`vote_seal`](appchain_primitives::receipt::vote_seal).
		///
		/// - `origin`: the owner of `verifier`, a verifier of the challenge, while voting.
		#[pallet::call_index(4)]
		#[pallet::weight((<T as Config>::WeightInfo::seal_vote(), DispatchClass::Operational))]
		pub fn seal_vote(
			origin: OriginFor<T>,
			id: CommitmentId,
			verifier: NodeId,
			seal: Hash256,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_seal_vote(&who, id, verifier, seal)
		}

		/// Open a sealed vote. The last vote opened settles the challenge.
		///
		/// - `origin`: the owner of `verifier`, while votes open.
		#[pallet::call_index(5)]
		// The benchmark measures the last vote, which settles the challenge.
		#[pallet::weight((<T as Config>::WeightInfo::open_vote(), DispatchClass::Operational))]
		pub fn open_vote(
			origin: OriginFor<T>,
			id: CommitmentId,
			verifier: NodeId,
			vote: Vote,
			salt: Hash256,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_open_vote(&who, id, verifier, vote, salt)
		}

		/// Move a challenge on once its phase's deadline has passed: a withheld receipt is
		/// slashed, sealing closes, or the votes are counted.
		///
		/// - `origin`: anyone signed.
		#[pallet::call_index(6)]
		pub fn settle(origin: OriginFor<T>, id: CommitmentId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_settle(id)
		}

		/// Declare the engine class of an inference node: the build and CPU feature class its
		/// results are bit-for-bit reproducible within. A node commits only once it declared
		/// one, and only verifiers of its class re-run its steps.
		///
		/// - `origin`: the node's owner.
		/// - `class`: the worker's `proofs::engine_class`.
		#[pallet::call_index(8)]
		pub fn declare_engine_class(
			origin: OriginFor<T>,
			node: NodeId,
			class: EngineClass,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_declare_engine_class(&who, node, class)
		}

		/// Audit a batch of a node's receipts: commit to them as the client, so that they are
		/// sampled as if the node had committed them.
		///
		/// - `origin`: the client; holds [`Config::AuditBond`] until the audit ends.
		/// - `node`: a registered inference node that declared its engine class, not the
		///   client's own.
		/// - `session`: stamped at most [`Config::AuditWindow`] blocks ago.
		/// - `session`, `steps`, `receipts_root`: as for `commit`, over receipts the node
		///   signed.
		///
		/// Reserves nothing from the node yet: see `reveal_signed_receipt`.
		#[pallet::call_index(9)]
		pub fn audit(
			origin: OriginFor<T>,
			node: NodeId,
			session: [u8; 16],
			steps: u32,
			receipts_root: Hash256,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_audit(&who, node, session, steps, receipts_root).map(|_| ())
		}

		/// Reveal the challenged receipt with its proof and the node owner's signature over it:
		/// the client's answer to a challenge of its audit (it also answers a node's own
		/// commitment when the node does not).
		///
		/// - `origin`: anyone signed, while the challenge awaits the receipt.
		/// - `signature`: the node owner's signature over the receipt's signing payload.
		///
		/// For an audit, reserves the node's payment and penalty (as much as is free).
		#[pallet::call_index(10)]
		#[pallet::weight((<T as Config>::WeightInfo::reveal_signed_receipt(), DispatchClass::Operational))]
		pub fn reveal_signed_receipt(
			origin: OriginFor<T>,
			id: CommitmentId,
			receipt: Receipt,
			signature: T::Signature,
			proof: BoundedVec<Hash256, T::MaxProofDepth>,
		) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_reveal_signed_receipt(id, receipt, signature, proof)
		}

		/// Set a model's challenge probability.
		///
		/// - `origin`: [`Config::AdminOrigin`].
		#[pallet::call_index(7)]
		pub fn set_challenge_probability(
			origin: OriginFor<T>,
			model: ModelId,
			probability: Perbill,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			ChallengeProbability::<T>::insert(model, probability);
			Self::deposit_event(Event::ProbabilitySet { model, probability });
			Ok(())
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
/// A commitment of the runtime.
pub type CommitmentOf<T> = Commitment<AccountIdOf<T>, BalanceOf<T>, BlockNumberOf<T>>;
/// A challenge of the runtime.
pub type ChallengeOf<T> =
	Challenge<AccountIdOf<T>, BlockNumberOf<T>, <T as Config>::VerifiersPerChallenge>;
/// A commitment with its challenge, as the runtime API returns it.
pub type CommitmentViewOf<T> = CommitmentView<
	AccountIdOf<T>,
	BalanceOf<T>,
	BlockNumberOf<T>,
	<T as Config>::VerifiersPerChallenge,
>;
