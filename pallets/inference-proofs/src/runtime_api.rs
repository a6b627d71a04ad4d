//! Runtime API of the inference proofs, served over RPC by the node.

use crate::{CommitmentId, CommitmentView};
use alloc::vec::Vec;
use appchain_primitives::{ModelId, NodeId};
use codec::Codec;
use frame_support::pallet_prelude::Get;
use sp_runtime::Perbill;

sp_api::decl_runtime_apis! {
	/// Reads of commitments, challenges and the challenge probability.
	pub trait InferenceProofsApi<AccountId, Balance, BlockNumber, MaxVerifiers>
	where
		AccountId: Codec,
		Balance: Codec,
		BlockNumber: Codec,
		MaxVerifiers: Get<u32>,
	{
		/// The open commitment `id` with its challenge, if any.
		fn commitment(
			id: CommitmentId,
		) -> Option<CommitmentView<AccountId, Balance, BlockNumber, MaxVerifiers>>;

		/// The open commitments of `node` (at most `MaxOpenPerNode`).
		fn commitments_of(
			node: NodeId,
		) -> Vec<CommitmentView<AccountId, Balance, BlockNumber, MaxVerifiers>>;

		/// The open challenges `node` was drawn to verify (at most `MaxOpenPerNode`).
		fn duties_of(
			node: NodeId,
		) -> Vec<CommitmentView<AccountId, Balance, BlockNumber, MaxVerifiers>>;

		/// The probability that a commitment for `model` is challenged.
		fn challenge_probability(model: ModelId) -> Perbill;
	}
}
