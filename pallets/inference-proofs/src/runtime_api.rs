//! Runtime API of the inference proofs, served over RPC by the node as `proofs_commitment`,
//! `proofs_ofNode`, `proofs_dutiesOf` and `proofs_probability`.

use crate::CommitmentId;
use alloc::vec::Vec;
use appchain_primitives::{ModelId, NodeId};
use codec::Codec;
use sp_runtime::Perbill;

sp_api::decl_runtime_apis! {
	/// Reads of commitments, their challenges and votes, and the challenge probability.
	/// `CommitmentView` is the runtime's [`CommitmentViewOf`](crate::CommitmentViewOf).
	pub trait InferenceProofsApi<CommitmentView>
	where
		CommitmentView: Codec,
	{
		/// The open commitment `id` with its challenge, if any.
		fn commitment(id: CommitmentId) -> Option<CommitmentView>;

		/// The open commitments of `node` (at most `MaxOpenPerNode`).
		fn commitments_of(node: NodeId) -> Vec<CommitmentView>;

		/// The open challenges `node` was drawn to verify (at most `MaxOpenPerNode`).
		fn duties_of(node: NodeId) -> Vec<CommitmentView>;

		/// The probability that a commitment for `model` is challenged.
		fn challenge_probability(model: ModelId) -> Perbill;
	}
}
