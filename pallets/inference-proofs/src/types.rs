//! The pallet's records: commitments, challenges, verifiers' votes and verdicts.

pub use appchain_primitives::receipt::Vote;
use appchain_primitives::{
	pow::Hash256,
	receipt::{EngineClass, Receipt, SessionId},
	ModelId, NodeId,
};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{pallet_prelude::Get, BoundedVec};
use scale_info::TypeInfo;

/// Id of a commitment.
pub type CommitmentId = u64;

/// A commitment to a batch of a node's receipts: the Merkle root
/// ([`appchain_primitives::receipt::receipts_root`]) of `steps` receipts of one session, listed
/// in step order. Made by the node (`commit`) or by its client (`audit`, listed in
/// [`Audits`](crate::Audits)).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Commitment<AccountId, Balance, BlockNumber> {
	/// The node that computed the steps.
	pub node: NodeId,
	/// Its owner when it committed: who answers for the steps.
	pub owner: AccountId,
	/// Who the steps were computed for and paid them; refunded on a proven mismatch.
	pub client: AccountId,
	/// The model.
	pub model: ModelId,
	/// First layer of the node's range.
	pub start: u32,
	/// One past its last layer.
	pub end: u32,
	/// The session.
	pub session: SessionId,
	/// The node's engine class when it committed: its verifiers are of the same class.
	pub class: EngineClass,
	/// Receipts in the batch.
	pub steps: u32,
	/// Root of the batch's receipt leaves.
	pub receipts_root: Hash256,
	/// What the client paid for the steps (the node's price per forward pass times `steps`):
	/// the disputed payment a proven mismatch refunds.
	pub payment: Balance,
	/// Reserved from the node's collateral: `payment` plus the penalty when the node committed;
	/// for an audit, nothing until a signed receipt of the challenged step is revealed, then
	/// as much of that as the node's free collateral holds.
	pub reserved: Balance,
	/// Block of the commitment.
	pub committed_at: BlockNumber,
	/// Block whose seed decides whether a step is challenged, and which.
	pub challenge_at: BlockNumber,
	/// The seed, set at `challenge_at`; `None` before.
	pub seed: Option<Hash256>,
	/// The receipt the client disputes (index in the batch), with its bond held.
	pub dispute: Option<u32>,
}

/// A verifier's part in a challenge.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub enum Ballot {
	/// Not committed yet.
	Pending,
	/// Committed: [`appchain_primitives::receipt::vote_seal`] of the vote.
	Sealed(Hash256),
	/// Revealed.
	Open(Vote),
}

/// A verifier drawn for a challenge.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Verifier<AccountId> {
	/// The verifying node.
	pub node: NodeId,
	/// Its owner.
	pub owner: AccountId,
	/// Its vote so far.
	pub ballot: Ballot,
}

/// Where a challenge stands, and until when.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub enum Phase<BlockNumber> {
	/// The node must reveal the challenged receipt with its proof by `until`.
	AwaitingReceipt {
		/// Last block to reveal in.
		until: BlockNumber,
	},
	/// The verifiers re-run the step and seal their votes by `until`.
	Voting {
		/// Last block to seal in.
		until: BlockNumber,
	},
	/// The verifiers open their votes by `until`.
	Revealing {
		/// Last block to open in.
		until: BlockNumber,
	},
}

/// A challenged step of a commitment.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxVerifiers))]
pub struct Challenge<AccountId, BlockNumber, MaxVerifiers: Get<u32>> {
	/// Index of the challenged receipt in the batch.
	pub index: u32,
	/// Whether the client asked for it (with its bond) rather than the seed.
	pub by_client: bool,
	/// Where it stands.
	pub phase: Phase<BlockNumber>,
	/// The receipt, once the node revealed it.
	pub receipt: Option<Receipt>,
	/// The verifiers drawn, distinct owners, none the node's owner.
	pub verifiers: BoundedVec<Verifier<AccountId>, MaxVerifiers>,
}

/// How a commitment ended.
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
pub enum Verdict {
	/// Not challenged: the seed passed it over.
	Unchallenged,
	/// Challenged, and a majority of the verifiers reproduced the node's result.
	Upheld,
	/// A majority of the verifiers computed another result; `layer` is the first layer they
	/// found to differ.
	Mismatch {
		/// First divergent layer named by the majority.
		layer: Option<u32>,
	},
	/// A majority of the verifiers could not get the step's inputs from the node.
	InputsWithheld,
	/// The node did not reveal the challenged receipt in time.
	ReceiptWithheld,
	/// No result had a strict majority of the verifiers drawn: nobody is proven wrong, except
	/// verifiers that did not vote.
	Inconclusive,
	/// Too few eligible verifiers serve the node's layers: the step could not be checked.
	NoVerifiers,
	/// The client of an audit did not reveal, in time, a receipt the node signed for the
	/// challenged step: its audit bond goes to the node's owner.
	Unsubstantiated,
}

impl Verdict {
	/// Whether the node is proven to have cheated or withheld.
	pub fn node_at_fault(&self) -> bool {
		matches!(self, Self::Mismatch { .. } | Self::InputsWithheld | Self::ReceiptWithheld)
	}
}

/// A commitment as the runtime API returns it, with its challenge if any.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[scale_info(skip_type_params(MaxVerifiers))]
pub struct CommitmentView<AccountId, Balance, BlockNumber, MaxVerifiers: Get<u32>> {
	/// The commitment's id.
	pub id: CommitmentId,
	/// The commitment.
	pub commitment: Commitment<AccountId, Balance, BlockNumber>,
	/// Its challenge, once drawn and challenged.
	pub challenge: Option<Challenge<AccountId, BlockNumber, MaxVerifiers>>,
}
