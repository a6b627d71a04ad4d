//! Runtime API of the compute registry, served over RPC by the node as `registry_shardNodes`,
//! `registry_route` and `registry_paretoRoutes`.

use crate::types::{NodeView, QueryError};
use alloc::vec::Vec;
use appchain_primitives::{routing::Route, ModelId, NodeId, ShardIndex};
use codec::Codec;
use sp_arithmetic::Perbill;

sp_api::decl_runtime_apis! {
	/// Reads of the sharded layer registry and routes through it.
	pub trait ComputeRegistryApi<AccountId, Balance, BlockNumber>
	where
		AccountId: Codec,
		Balance: Codec,
		BlockNumber: Codec,
	{
		/// The inference nodes listed in shard `shard` of `model` (reads that shard only), each
		/// with whether it is serving at this block.
		fn shard_nodes(
			model: ModelId,
			shard: ShardIndex,
		) -> Result<Vec<NodeView<AccountId, Balance, BlockNumber>>, QueryError>;

		/// The lightest route through `model` over serving nodes for node weight
		/// `alpha * price + (1 - alpha) * cost`; ties go to the smallest sequence of node ids.
		fn best_route(model: ModelId, alpha: Perbill) -> Result<Route<NodeId>, QueryError>;

		/// Every Pareto-optimal route over (total price, total cost), cheapest first.
		fn pareto_routes(model: ModelId) -> Result<Vec<Route<NodeId>>, QueryError>;
	}
}
