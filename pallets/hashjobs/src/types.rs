//! Jobs, subjobs and results.

use appchain_primitives::{pow::Hash256, pow::PowSpec, NodeId};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Identifies a job; assigned in order from zero.
pub type JobId = u64;

/// Identifies a subjob (across all jobs); assigned in order from zero.
pub type SubjobId = u64;

/// The nonces `[start, end)`.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct NonceRange {
	/// First nonce.
	pub start: u64,
	/// One past the last nonce.
	pub end: u64,
}

impl NonceRange {
	/// Number of nonces.
	pub fn len(&self) -> u64 {
		self.end.saturating_sub(self.start)
	}

	/// Whether the range holds no nonce.
	pub fn is_empty(&self) -> bool {
		self.end <= self.start
	}

	/// Number of chunks of `chunk_size` nonces (the last may be shorter).
	pub fn chunks(&self, chunk_size: u64) -> u64 {
		self.len().div_ceil(chunk_size.max(1))
	}

	/// The nonces of chunk `index`.
	pub fn chunk(&self, index: u64, chunk_size: u64) -> NonceRange {
		let start = index.saturating_mul(chunk_size).saturating_add(self.start).min(self.end);
		NonceRange { start, end: start.saturating_add(chunk_size).min(self.end) }
	}
}

/// A client's nonce search, its budget held in escrow.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Job<AccountId, Balance, Payload, Returned> {
	/// Who posted the job and pays for it.
	pub client: AccountId,
	/// What is hashed before each nonce (a 76-byte header prefix in Bitcoin mode).
	pub payload: Payload,
	/// Hash function and difficulty.
	pub spec: PowSpec,
	/// All the nonces to search.
	pub range: NonceRange,
	/// Held from the client when posted.
	pub budget: Balance,
	/// Paid out so far (rewards and finder's bonus); `budget - paid` is still held.
	pub paid: Balance,
	/// First nonce never handed out yet.
	pub next: u64,
	/// Ranges whose subjob failed, to be handed out again first.
	pub returned: Returned,
	/// Subjobs claimed and not yet verified or failed.
	pub open_subjobs: u32,
	/// Nonces hashed in verified subjobs.
	pub hashed: u64,
	/// Winning nonces found in verified subjobs.
	pub found: u32,
	/// Whether the finder's bonus has been paid.
	pub bonus_paid: bool,
}

/// Where a subjob's result is.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub enum SubjobState<BlockNumber, Nonces> {
	/// Claimed; the worker is hashing.
	Claimed,
	/// The worker committed to its result at block `at`.
	Committed {
		/// `pow::commitment` of the result and a secret salt.
		commitment: Hash256,
		/// Block of the commitment; the reveal must come later.
		at: BlockNumber,
	},
	/// The worker revealed its result; every nonce was checked. The chunks to prove are drawn
	/// from the randomness of block `challenge_at`.
	Revealed {
		/// Merkle root of the chunk digests.
		root: Hash256,
		/// The winning nonces found, ascending.
		nonces: Nonces,
		/// Block whose randomness picks the challenged chunks.
		challenge_at: BlockNumber,
	},
}

/// A part of a job claimed by one worker.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Subjob<AccountId, BlockNumber, Nonces, Balance> {
	/// The job.
	pub job: JobId,
	/// The hashing node doing it.
	pub node: NodeId,
	/// The node's owner, who commits, reveals, answers and is paid.
	pub worker: AccountId,
	/// Its nonces.
	pub range: NonceRange,
	/// Last block for the commitment and the reveal.
	pub deadline: BlockNumber,
	/// Where its result is.
	pub state: SubjobState<BlockNumber, Nonces>,
	/// The penalty reserved from the node's collateral when it claimed: released when the
	/// subjob is verified, slashed when it fails (a later change of
	/// [`Config::SlashPenalty`](crate::Config::SlashPenalty) does not apply to it).
	pub penalty: Balance,
}

/// A worker's answer for one challenged chunk.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct ChunkAnswer<Proof> {
	/// The chunk's digest.
	pub digest: Hash256,
	/// Its Merkle proof against the revealed root.
	pub proof: Proof,
}

/// Why a subjob failed.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum FailReason {
	/// No commitment and reveal by the deadline.
	MissedDeadline,
	/// A revealed nonce misses the difficulty, lies outside the subjob or is out of order.
	InvalidNonce,
	/// A challenged chunk's digest differs from the runtime's recomputation.
	WrongDigest,
	/// A Merkle proof does not lead to the revealed root.
	BadProof,
	/// A challenged chunk holds a winning nonce the worker did not reveal.
	OmittedNonce,
	/// No answer to the challenge within the answer window.
	Silence,
}

/// The outcome of a quorum of redundant results.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct QuorumOutcome<Result> {
	/// The result more than half of the workers returned, if any.
	pub result: Option<Result>,
	/// Nodes that returned it.
	pub majority: alloc::vec::Vec<NodeId>,
	/// Nodes that returned anything else (empty without a majority: nobody is proven wrong).
	pub minority: alloc::vec::Vec<NodeId>,
}

/// Which subjobs a [`runtime_api::HashJobsApi::subjobs`](crate::runtime_api) read returns.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum SubjobFilter {
	/// Every open subjob.
	All,
	/// The subjobs node `0` holds.
	Node(NodeId),
	/// The open subjobs of job `0`.
	Job(JobId),
	/// Subjobs that a `reclaim` in the next block fails: past their deadline without a reveal,
	/// or revealed and unanswered after the answer window.
	Reclaimable,
}
