//! `registry_*` RPC: the sharded layer registry and routes through it.
//!
//! | method | params | result |
//! |---|---|---|
//! | `registry_shardNodes` | `model`, `shard`, optional block hash | the nodes listed in that shard |
//! | `registry_route` | `model`, `alpha` in `[0, 1]`, optional block hash | the lightest route |
//! | `registry_paretoRoutes` | `model`, optional block hash | every Pareto-optimal route |
//!
//! Without a block hash the best block is used. Balances are decimal strings (they do not fit a
//! JSON number), owners SS58 addresses with the chain's prefix. A route's `weight` is
//! `alpha * totalPrice + (1 - alpha) * totalCost` in units of `10^-9`, exactly as the runtime
//! compares routes. Errors: `1001` unknown model, `1002` unknown shard, `1003` no route (the
//! serving nodes do not cover every layer), `1004` too many Pareto-optimal routes, `1005` alpha
//! outside `[0, 1]`, `1010` the runtime call failed.

use std::sync::Arc;

use appchain_primitives::{routing::Route, LayerRange, ModelId, NodeId, ShardIndex};
use appchain_runtime::{opaque::Block, AccountId, Balance, BlockNumber, SS58_PREFIX};
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::ErrorObjectOwned};
use pallet_compute_registry::{runtime_api::ComputeRegistryApi, NodeView, QueryError};
use serde::Serialize;
use sp_api::ProvideRuntimeApi;
use sp_arithmetic::Perbill;
use sp_blockchain::HeaderBackend;
use sp_core::crypto::{Ss58AddressFormat, Ss58Codec};
use sp_runtime::traits::Block as BlockT;

/// A node listed in a shard.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ShardNode {
	/// Node id.
	pub id: NodeId,
	/// Owner, SS58.
	pub owner: String,
	/// Model served.
	pub model: ModelId,
	/// Layers served, `[start, end)`.
	pub layers: Layers,
	/// Milliseconds per forward pass over `layers`.
	pub cost_ms: u32,
	/// Price per forward pass, decimal.
	pub price: String,
	/// Endpoint (lossy UTF-8).
	pub endpoint: String,
	/// Collateral held, decimal.
	pub collateral: String,
	/// Block of the last heartbeat.
	pub last_heartbeat: BlockNumber,
	/// Registered, heartbeat within the timeout and collateralised: part of routing.
	pub serving: bool,
}

/// A half-open layer range.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers {
	/// First layer.
	pub start: u16,
	/// One past the last layer.
	pub end: u16,
}

impl From<LayerRange> for Layers {
	fn from(r: LayerRange) -> Self {
		Self { start: r.start, end: r.end }
	}
}

/// A route with its totals.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RouteJson {
	/// Node ids in layer order.
	pub nodes: Vec<NodeId>,
	/// Sum of prices, decimal.
	pub total_price: String,
	/// Sum of costs in ms.
	pub total_cost: u64,
	/// `alpha * totalPrice + (1 - alpha) * totalCost` in units of `10^-9`, decimal; absent for
	/// Pareto routes.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub weight: Option<String>,
}

fn route_json(route: Route<NodeId>, alpha: Option<Perbill>) -> RouteJson {
	RouteJson {
		weight: alpha.map(|a| route.weight(a).to_string()),
		total_price: route.total_price.to_string(),
		total_cost: route.total_cost,
		nodes: route.nodes,
	}
}

fn shard_node(view: NodeView<AccountId, Balance, BlockNumber>) -> ShardNode {
	ShardNode {
		id: view.id,
		owner: view.owner.to_ss58check_with_version(Ss58AddressFormat::custom(SS58_PREFIX)),
		model: view.model,
		layers: view.layers.into(),
		cost_ms: view.cost_ms,
		price: view.price.to_string(),
		endpoint: String::from_utf8_lossy(&view.endpoint).into_owned(),
		collateral: view.collateral.to_string(),
		last_heartbeat: view.last_heartbeat,
		serving: view.serving,
	}
}

fn query_error(e: QueryError) -> ErrorObjectOwned {
	let (code, msg) = match e {
		QueryError::UnknownModel => (1001, "unknown model"),
		QueryError::UnknownShard => (1002, "the model has no shard with this index"),
		QueryError::NoRoute => (1003, "no route: the serving nodes do not cover every layer"),
		QueryError::FrontierTooLarge => (1004, "too many Pareto-optimal routes"),
	};
	ErrorObjectOwned::owned(code, msg, None::<()>)
}

fn runtime_error(e: impl std::fmt::Display) -> ErrorObjectOwned {
	ErrorObjectOwned::owned(1010, format!("runtime call failed: {e}"), None::<()>)
}

/// `alpha` as an exact fraction of a billion, or an error outside `[0, 1]`.
pub fn alpha_from_f64(alpha: f64) -> Result<Perbill, ErrorObjectOwned> {
	if !(0.0..=1.0).contains(&alpha) {
		return Err(ErrorObjectOwned::owned(
			1005,
			format!("alpha must be between 0 and 1, got {alpha}"),
			None::<()>,
		));
	}
	// In range, so the product is within 0..=1e9 and the cast cannot truncate.
	Ok(Perbill::from_parts((alpha * 1e9).round() as u32))
}

/// The `registry_*` methods.
#[rpc(server, namespace = "registry")]
pub trait RegistryApi<BlockHash> {
	/// The inference nodes listed in shard `shard` of `model`.
	#[method(name = "shardNodes")]
	fn shard_nodes(
		&self,
		model: ModelId,
		shard: ShardIndex,
		at: Option<BlockHash>,
	) -> RpcResult<Vec<ShardNode>>;

	/// The lightest route through `model` for node weight `alpha * p + (1 - alpha) * c`.
	#[method(name = "route")]
	fn route(&self, model: ModelId, alpha: f64, at: Option<BlockHash>) -> RpcResult<RouteJson>;

	/// Every Pareto-optimal route through `model` over (total price, total cost).
	#[method(name = "paretoRoutes")]
	fn pareto_routes(&self, model: ModelId, at: Option<BlockHash>) -> RpcResult<Vec<RouteJson>>;
}

/// Serves [`RegistryApiServer`] from the client's runtime API.
pub struct Registry<C> {
	client: Arc<C>,
}

impl<C> Registry<C> {
	/// Serves the registry RPC from `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client }
	}
}

impl<C> Registry<C>
where
	C: HeaderBackend<Block>,
{
	fn at(&self, at: Option<<Block as BlockT>::Hash>) -> <Block as BlockT>::Hash {
		at.unwrap_or_else(|| self.client.info().best_hash)
	}
}

impl<C> RegistryApiServer<<Block as BlockT>::Hash> for Registry<C>
where
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: ComputeRegistryApi<Block, AccountId, Balance, BlockNumber>,
{
	fn shard_nodes(
		&self,
		model: ModelId,
		shard: ShardIndex,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<Vec<ShardNode>> {
		let nodes = self
			.client
			.runtime_api()
			.shard_nodes(self.at(at), model, shard)
			.map_err(runtime_error)?
			.map_err(query_error)?;
		Ok(nodes.into_iter().map(shard_node).collect())
	}

	fn route(
		&self,
		model: ModelId,
		alpha: f64,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<RouteJson> {
		let alpha = alpha_from_f64(alpha)?;
		let route = self
			.client
			.runtime_api()
			.best_route(self.at(at), model, alpha)
			.map_err(runtime_error)?
			.map_err(query_error)?;
		Ok(route_json(route, Some(alpha)))
	}

	fn pareto_routes(
		&self,
		model: ModelId,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<Vec<RouteJson>> {
		let routes = self
			.client
			.runtime_api()
			.pareto_routes(self.at(at), model)
			.map_err(runtime_error)?
			.map_err(query_error)?;
		Ok(routes.into_iter().map(|r| route_json(r, None)).collect())
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn alpha_is_exact_and_bounded() {
		assert_eq!(alpha_from_f64(0.5).unwrap(), Perbill::from_percent(50));
		assert_eq!(alpha_from_f64(1.0).unwrap(), Perbill::one());
		assert_eq!(alpha_from_f64(0.0).unwrap(), Perbill::zero());
		assert_eq!(alpha_from_f64(1.5).unwrap_err().code(), 1005);
		assert_eq!(alpha_from_f64(-0.1).unwrap_err().code(), 1005);
		assert_eq!(alpha_from_f64(f64::NAN).unwrap_err().code(), 1005);
	}

	#[test]
	fn routes_serialise_with_string_balances() {
		let route = Route { total_price: u128::MAX, total_cost: 7, nodes: vec![3, 1] };
		let json = serde_json::to_value(route_json(route, Some(Perbill::one()))).unwrap();
		assert_eq!(json["nodes"], serde_json::json!([3, 1]));
		assert_eq!(json["totalPrice"], serde_json::json!(u128::MAX.to_string()));
		assert_eq!(json["totalCost"], serde_json::json!(7));
		assert!(json.get("weight").is_some());
	}
}
