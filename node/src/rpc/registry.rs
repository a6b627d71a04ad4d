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
//! outside `[0, 1]`, `1006` too many route queries running (retry), `1010` the runtime call
//! failed.
//!
//! # Cost
//!
//! A route query reads every node listed in the model's shards: at most 256 shards of 64 nodes.
//! On that fullest registry the runtime benchmarks (`best_route`, `pareto_routes` in
//! `pallets/registry/src/weights.rs`) measure about 0.12 s and 0.19 s of execution plus 16,641
//! storage reads. So that queries can neither stall the RPC server's async workers nor take
//! every core, both run on blocking threads and at most [`MAX_ROUTE_QUERIES_IN_FLIGHT`] run at
//! once; a query that finds no slot within [`ROUTE_QUERY_WAIT`] is refused with `1006`.

use std::sync::{
	atomic::{AtomicUsize, Ordering},
	Arc,
};

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

use super::runtime_error;

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
	#[method(name = "route", blocking)]
	fn route(&self, model: ModelId, alpha: f64, at: Option<BlockHash>) -> RpcResult<RouteJson>;

	/// Every Pareto-optimal route through `model` over (total price, total cost).
	#[method(name = "paretoRoutes", blocking)]
	fn pareto_routes(&self, model: ModelId, at: Option<BlockHash>) -> RpcResult<Vec<RouteJson>>;
}

/// Most route queries (`registry_route`, `registry_paretoRoutes`) that run at once.
pub const MAX_ROUTE_QUERIES_IN_FLIGHT: usize = 2;

/// How long a route query waits for a slot before it is refused.
pub const ROUTE_QUERY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Counts the route queries running; a [`RouteQueryPermit`] is one of them.
#[derive(Clone, Debug, Default)]
pub struct RouteQueries {
	running: Arc<AtomicUsize>,
	limit: usize,
}

/// A running route query; dropping it lets the next one in.
#[derive(Debug)]
pub struct RouteQueryPermit {
	running: Arc<AtomicUsize>,
}

impl Drop for RouteQueryPermit {
	fn drop(&mut self) {
		self.running.fetch_sub(1, Ordering::AcqRel);
	}
}

impl RouteQueries {
	/// At most `limit` queries at once.
	pub fn new(limit: usize) -> Self {
		Self { running: Arc::new(AtomicUsize::new(0)), limit }
	}

	/// A permit, waiting up to `wait` for one (on the caller's thread: call it from a blocking
	/// method), or error `1006` when `limit` queries are still running.
	pub fn start(&self, wait: std::time::Duration) -> Result<RouteQueryPermit, ErrorObjectOwned> {
		let deadline = std::time::Instant::now() + wait;
		loop {
			match self.try_start() {
				Err(busy) if std::time::Instant::now() >= deadline => return Err(busy),
				Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
				Ok(permit) => return Ok(permit),
			}
		}
	}

	/// A permit, or error `1006` when `limit` queries are already running.
	pub fn try_start(&self) -> Result<RouteQueryPermit, ErrorObjectOwned> {
		self.running
			.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.limit).then_some(n + 1))
			.map_err(|running| {
				ErrorObjectOwned::owned(
					1006,
					format!("busy: {running} route queries are running; retry shortly"),
					None::<()>,
				)
			})?;
		Ok(RouteQueryPermit { running: self.running.clone() })
	}
}

/// Serves [`RegistryApiServer`] from the client's runtime API.
pub struct Registry<C> {
	client: Arc<C>,
	route_queries: RouteQueries,
}

impl<C> Registry<C> {
	/// Serves the registry RPC from `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client, route_queries: RouteQueries::new(MAX_ROUTE_QUERIES_IN_FLIGHT) }
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
		let _permit = self.route_queries.start(ROUTE_QUERY_WAIT)?;
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
		let _permit = self.route_queries.start(ROUTE_QUERY_WAIT)?;
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
	fn route_queries_beyond_the_limit_are_refused_until_one_ends() {
		let queries = RouteQueries::new(2);
		let first = queries.try_start().unwrap();
		let second = queries.try_start().unwrap();
		let refused = queries.try_start().unwrap_err();
		assert_eq!(refused.code(), 1006);
		assert!(refused.message().contains("2 route queries"));
		drop(first);
		let third = queries.try_start().unwrap();
		assert_eq!(queries.try_start().unwrap_err().code(), 1006);
		// A waiting query gets the slot another one frees within its wait.
		let started = std::time::Instant::now();
		let waiter = std::thread::spawn({
			let queries = queries.clone();
			move || queries.start(std::time::Duration::from_secs(5)).map(drop)
		});
		std::thread::sleep(std::time::Duration::from_millis(50));
		drop(second);
		assert!(waiter.join().unwrap().is_ok());
		assert!(started.elapsed() >= std::time::Duration::from_millis(50));
		// And gives up after its wait.
		let _again = queries.try_start().unwrap();
		let waited = std::time::Instant::now();
		assert_eq!(queries.start(std::time::Duration::from_millis(30)).unwrap_err().code(), 1006);
		assert!(waited.elapsed() >= std::time::Duration::from_millis(30));
		drop(third);
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
