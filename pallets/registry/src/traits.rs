//! The interface other pallets (SLA escrow, proofs, markets) use to look up nodes, slash their
//! collateral and record their work.

use crate::types::{SlashReason, WorkOutcome};
use appchain_primitives::{LayerRange, ModelId, NodeId, ShardIndex};
use sp_runtime::DispatchError;

/// Registered compute nodes, as seen by the pallets that give them work.
pub trait ComputeNodes<AccountId, Balance> {
	/// Owner of a node, registered or unbonding.
	fn owner(node: NodeId) -> Option<AccountId>;

	/// Whether the node may be given work now: registered, heartbeat within the timeout and at
	/// least the minimum collateral held.
	fn is_serving(node: NodeId) -> bool;

	/// Model and layers of an inference node.
	fn inference_layers(node: NodeId) -> Option<(ModelId, LayerRange)>;

	/// Layers of shard `shard` of `model` (the last shard may be shorter), or `None` for an
	/// unknown model or a shard past its last layer.
	fn shard_layers(model: ModelId, shard: ShardIndex) -> Option<LayerRange>;

	/// Declared hash rate of a hashing node.
	fn hash_rate(node: NodeId) -> Option<u64>;

	/// Collateral held for the node (zero for an unknown node).
	fn collateral(node: NodeId) -> Balance;

	/// Take up to `amount` of the node's collateral, registered or unbonding, and give it to
	/// `beneficiary` (burn it when `None`). Returns the amount actually taken, which is less than
	/// `amount` when the collateral does not cover it. Emits `Slashed`.
	fn slash(
		node: NodeId,
		amount: Balance,
		beneficiary: Option<&AccountId>,
		reason: SlashReason,
	) -> Result<Balance, DispatchError>;

	/// Count one unit of work by the node for its reputation. Emits `WorkRecorded`.
	fn record_work(node: NodeId, outcome: WorkOutcome) -> Result<(), DispatchError>;
}
