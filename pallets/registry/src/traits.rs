//! The interface other pallets (SLA escrow, proofs, markets) use to look up nodes, slash their
//! collateral and record their work.

use crate::types::{SlashOutcome, SlashReason, WorkOutcome};
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

	/// Price per forward pass of an inference node.
	fn price(node: NodeId) -> Option<Balance>;

	/// The serving inference nodes of `model` whose layer range contains all of `layers`,
	/// ascending by id: who can re-run a step over those layers. Reads one shard (at most
	/// `MaxNodesPerShard` nodes).
	fn nodes_covering(model: ModelId, layers: LayerRange) -> alloc::vec::Vec<NodeId>;

	/// Declared hash rate of a hashing node.
	fn hash_rate(node: NodeId) -> Option<u64>;

	/// Collateral held for the node (zero for an unknown node).
	fn collateral(node: NodeId) -> Balance;

	/// Collateral of the node not reserved for obligations: what backs a new one.
	fn free_collateral(node: NodeId) -> Balance;

	/// Reserve `amount` of the node's free collateral for an obligation the node takes now
	/// (`InsufficientFreeCollateral` when it does not cover it). Settle it later with
	/// [`Self::release_reservation`] or [`Self::slash_reserved`]. Emits `CollateralReserved`.
	fn reserve(node: NodeId, amount: Balance) -> Result<(), DispatchError>;

	/// Release `amount` of the node's reservation: the obligation settled without penalty.
	/// Emits `ReservationReleased`.
	fn release_reservation(node: NodeId, amount: Balance) -> Result<(), DispatchError>;

	/// Slash `amount` from the node's reservation (the obligation it backed failed), registered
	/// or unbonding: [`Config::SlashBurn`](crate::Config::SlashBurn) of it is burnt, the rest
	/// goes to `beneficiary` (all burnt when `None`). Takes less only when less is reserved.
	/// Emits `Slashed`.
	fn slash_reserved(
		node: NodeId,
		amount: Balance,
		beneficiary: Option<&AccountId>,
		reason: SlashReason,
	) -> Result<SlashOutcome<Balance>, DispatchError>;

	/// Take up to `amount` of the node's *free* collateral, registered or unbonding (never what
	/// is reserved for other obligations), burning
	/// [`Config::SlashBurn`](crate::Config::SlashBurn) of it and giving the rest to
	/// `beneficiary` (all burnt when `None`). Takes less when the free collateral does not
	/// cover `amount`. Emits `Slashed`.
	fn slash(
		node: NodeId,
		amount: Balance,
		beneficiary: Option<&AccountId>,
		reason: SlashReason,
	) -> Result<SlashOutcome<Balance>, DispatchError>;

	/// Count one unit of work by the node for its reputation. Emits `WorkRecorded`.
	fn record_work(node: NodeId, outcome: WorkOutcome) -> Result<(), DispatchError>;
}

/// Told by a pallet that verifies work on chain (hash jobs) that `node` delivered a unit of
/// verified work to `client`, so that an agreement between them can pay for it on the verdict
/// rather than on the provider's word. Implemented by the market.
pub trait OnVerifiedWork<AccountId> {
	/// A unit of `node`'s work for `client`, of size `work` (nonces hashed), was verified.
	fn on_verified_work(client: &AccountId, node: NodeId, work: u64) -> Result<(), DispatchError>;
}

impl<AccountId> OnVerifiedWork<AccountId> for () {
	fn on_verified_work(
		_client: &AccountId,
		_node: NodeId,
		_work: u64,
	) -> Result<(), DispatchError> {
		Ok(())
	}
}
