//! All of the worker's chain access: one thin, typed layer over subxt.
//!
//! - The call, storage, constant and event types are generated at compile time from our
//!   runtime's metadata, committed as `worker/metadata/appchain.scale`; no pallet or call name
//!   appears as a string. The runtime crate's test `worker_metadata_is_current` fails when that
//!   file drifts from the runtime (regenerate it with `scripts/update-worker-metadata.sh`).
//! - Every storage, constant and event read of the worker is one of the typed readers below;
//!   the rest of the crate never builds a storage address or decodes an event itself.
//! - [`signer`]: one [`Signer`] per account, shared by every duty: local nonces, mortal
//!   transactions, in-flight tracking, resynchronisation after a reconnection.
//! - [`compat`]: whether the chain's runtime still has the calls, storage, events and runtime
//!   APIs this build uses; checked before signing and at every runtime version.
//! - [`follower`]: one block follower (best and finalized heads, reconnects with backoff)
//!   that the daemon's duties read.
//! - [`Chain::connect`] retries with exponential backoff (0.5 s doubling, at most 30 s).
//!
//! Log events: `connect_retry` (the node is unreachable, retrying).

pub mod compat;
pub mod follower;
pub mod signer;

use std::time::Duration;

use subxt::{
	config::RpcConfigFor,
	rpcs::{methods::legacy::LegacyRpcMethods, RpcClient},
	utils::AccountId32,
	OnlineClient, PolkadotConfig,
};

pub use follower::{Follower, Head};
pub use signer::{Outcome, Resync, Signer, Submitted, Tag};

use crate::error::WorkerError;

/// The runtime's interface, generated from its metadata.
#[subxt::subxt(
	runtime_metadata_path = "metadata/appchain.scale",
	substitute_type(
		path = "appchain_primitives::pow::PowSpec",
		with = "::subxt::utils::Static<::appchain_primitives::pow::PowSpec>"
	),
	substitute_type(
		path = "appchain_primitives::receipt::Receipt",
		with = "::subxt::utils::Static<::appchain_primitives::receipt::Receipt>"
	),
	substitute_type(
		path = "appchain_primitives::receipt::Vote",
		with = "::subxt::utils::Static<::appchain_primitives::receipt::Vote>"
	),
	derive_for_all_types = "Clone"
)]
pub mod runtime {}

pub use runtime::runtime_types::{
	appchain_primitives::layers::LayerRange,
	pallet_compute_registry::types::{ComputeNode, NodeKind, NodeStatus},
	pallet_hash_jobs::types::{ChunkAnswer, Job, NonceRange, Subjob, SubjobState},
};

/// Our chain's configuration: Polkadot's signed extensions, `MultiAddress<AccountId32, ()>`.
pub type AppchainConfig = PolkadotConfig;

/// A client pinned to one block.
pub type AtBlock = subxt::client::ClientAtBlock<
	AppchainConfig,
	subxt::client::OnlineClientAtBlockImpl<AppchainConfig>,
>;

/// The events of one included transaction.
pub type TxEvents = subxt::extrinsics::ExtrinsicEvents<AppchainConfig>;

/// Blocks a transaction stays valid for after the block it was signed at.
pub const MORTALITY: u64 = 64;

/// A connection to a node.
#[derive(Clone)]
pub struct Chain {
	/// The subxt client.
	pub api: OnlineClient<AppchainConfig>,
	rpc: LegacyRpcMethods<RpcConfigFor<AppchainConfig>>,
	raw: RpcClient,
	/// The node's URL.
	pub url: String,
}

impl Chain {
	/// Connects to `url`, trying `attempts` times with exponential backoff (0.5 s doubling,
	/// at most 30 s between tries). Retries are logged only when `attempts` is above 3: a
	/// one-shot command retries quietly and reports once, a daemon says why it waits.
	pub async fn connect(url: &str, attempts: u32) -> Result<Self, WorkerError> {
		let mut delay = Duration::from_millis(500);
		let mut tried = 0u32;
		loop {
			tried = tried.saturating_add(1);
			match Self::connect_once(url).await {
				Ok(chain) => return Ok(chain),
				Err(reason) if tried >= attempts => {
					return Err(WorkerError::Connect { url: url.to_string(), reason })
				},
				Err(reason) => {
					if attempts > 3 {
						tracing::info!(
							event = "connect_retry",
							url,
							reason,
							retry_in_s = delay.as_secs_f64(),
							"cannot reach {url} ({reason}); retrying in {:.1} s",
							delay.as_secs_f64()
						);
					}
					tokio::time::sleep(delay).await;
					delay = (delay.saturating_mul(2)).min(Duration::from_secs(30));
				},
			}
		}
	}

	async fn connect_once(url: &str) -> Result<Self, String> {
		let rpc = tokio::time::timeout(Duration::from_secs(10), RpcClient::from_insecure_url(url))
			.await
			.map_err(|_| "timed out".to_string())?
			.map_err(|e| innermost(&e.to_string()))?;
		let api = tokio::time::timeout(
			Duration::from_secs(30),
			OnlineClient::<AppchainConfig>::from_rpc_client(rpc.clone()),
		)
		.await
		.map_err(|_| "timed out".to_string())?
		.map_err(|e| e.to_string())?;
		Ok(Self { api, rpc: LegacyRpcMethods::new(rpc.clone()), raw: rpc, url: url.to_string() })
	}

	/// Calls one of the node's own JSON-RPC methods (`registry_*`), at the best block.
	async fn call_rpc<R: serde::de::DeserializeOwned>(
		&self,
		method: &str,
		params: Vec<serde_json::Value>,
	) -> Result<R, WorkerError> {
		let mut p = subxt::rpcs::client::RpcParams::new();
		for v in params {
			p.push(v).map_err(|e| WorkerError::Missing(format!("{method}: {e}")))?;
		}
		self.raw
			.request(method, p)
			.await
			.map_err(|e| WorkerError::Rpc { method: method.to_string(), reason: e.to_string() })
	}

	/// `registry_route`: the chain's lightest route through `model` for `alpha`.
	pub async fn route(&self, model: u32, alpha: f64) -> Result<RouteView, WorkerError> {
		self.call_rpc("registry_route", vec![model.into(), alpha.into()]).await
	}

	/// `channels_ofPayer`: the ids of `payer`'s open channels (`payer` in SS58).
	pub async fn channels_of(&self, payer: &str) -> Result<Vec<u64>, WorkerError> {
		#[derive(serde::Deserialize)]
		struct Listed {
			id: u64,
		}
		let listed: Vec<Listed> = self.call_rpc("channels_ofPayer", vec![payer.into()]).await?;
		Ok(listed.into_iter().map(|c| c.id).collect())
	}

	/// `registry_shardNodes`: the inference nodes listed in shard `shard` of `model`.
	pub async fn shard_nodes(
		&self,
		model: u32,
		shard: u32,
	) -> Result<Vec<ShardNodeView>, WorkerError> {
		self.call_rpc("registry_shardNodes", vec![model.into(), shard.into()]).await
	}

	/// The chain's genesis hash (names the journal's directory).
	pub fn genesis_hash(&self) -> [u8; 32] {
		self.api.genesis_hash().0
	}

	/// A client at the latest finalized block.
	pub async fn finalized(&self) -> Result<AtBlock, WorkerError> {
		Ok(self.api.at_current_block().await?)
	}

	/// A client at block `number` of the finalized chain.
	pub async fn at_number(&self, number: u64) -> Result<AtBlock, WorkerError> {
		Ok(self.api.at_block(number).await?)
	}

	/// A client at the node's best block.
	pub async fn best(&self) -> Result<AtBlock, WorkerError> {
		let hash = self
			.rpc
			.chain_get_block_hash(None)
			.await?
			.ok_or_else(|| WorkerError::Missing("the node has no best block".into()))?;
		Ok(self.api.at_block(hash).await?)
	}

	/// The finalized blocks from now on (starting with a few already finalized).
	pub async fn finalized_blocks(&self) -> Result<FinalizedBlocks, WorkerError> {
		Ok(FinalizedBlocks(self.api.stream_blocks().await?))
	}

	/// The next nonce of `account`, counting transactions in the node's pool.
	pub async fn next_nonce(&self, account: &AccountId32) -> Result<u64, WorkerError> {
		Ok(self.rpc.system_account_next_index(account).await?)
	}
}

/// A subscription to finalized blocks.
pub struct FinalizedBlocks(subxt::client::Blocks<AppchainConfig>);

impl FinalizedBlocks {
	/// The next finalized block; `None` when the subscription ended.
	pub async fn next(&mut self) -> Option<Result<AtBlock, WorkerError>> {
		let block = match self.0.next().await? {
			Ok(block) => block,
			Err(e) => return Some(Err(e.into())),
		};
		Some(block.at().await.map_err(Into::into))
	}
}

/// The last part of a nested error text (`RPC error: client error: ...: Connection refused`).
fn innermost(error: &str) -> String {
	error.rsplit(": ").next().unwrap_or(error).to_string()
}

/// A bounded vector as the chain encodes it.
pub use runtime::runtime_types::bounded_collections::bounded_vec::BoundedVec as Bounded;

/// A subjob as the chain stores it.
pub type SubjobOf = Subjob<AccountId32, u32, Bounded<u64>, u128>;

/// A job as the chain stores it.
pub type JobOf = Job<AccountId32, u128, Bounded<u8>, Bounded<NonceRange>>;

/// A compute node as the chain stores it.
pub type NodeOf = ComputeNode<AccountId32, u128, u32>;

/// A spot-check answer as the chain takes it.
pub type ChunkAnswerOf = ChunkAnswer<Bounded<[u8; 32]>>;

/// A route as `registry_route` returns it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteView {
	/// Node ids in layer order.
	pub nodes: Vec<u64>,
	/// Sum of prices, decimal.
	pub total_price: String,
	/// Sum of costs in ms.
	pub total_cost: u64,
}

/// Layers `[start, end)` as the node's RPC writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct LayersView {
	/// First layer.
	pub start: u16,
	/// One past the last.
	pub end: u16,
}

/// An inference node as `registry_shardNodes` returns it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardNodeView {
	/// Node id.
	pub id: u64,
	/// Owner, SS58.
	pub owner: String,
	/// Model.
	pub model: u32,
	/// Layers served.
	pub layers: LayersView,
	/// Milliseconds per forward pass.
	pub cost_ms: u32,
	/// Price per forward pass, decimal.
	pub price: String,
	/// Endpoint.
	pub endpoint: String,
	/// Whether the node is part of routing now.
	pub serving: bool,
}

/// A registered model.
pub type ModelOf = runtime::runtime_types::pallet_compute_registry::types::Model<AccountId32, u128>;

/// Model `id` at `at`, if registered.
pub async fn model(at: &AtBlock, id: u32) -> Result<Option<ModelOf>, WorkerError> {
	match at.storage().try_fetch(runtime::storage().registry().models(), (id,)).await? {
		Some(value) => Ok(Some(value.decode()?)),
		None => Ok(None),
	}
}

/// The id the next registered model will get (models are numbered from 0).
pub async fn next_model_id(at: &AtBlock) -> Result<u32, WorkerError> {
	Ok(at.storage().fetch(runtime::storage().registry().next_model_id(), ()).await?.decode()?)
}

/// The registered (not unbonding) inference nodes of `owner` for `model`, ascending.
pub async fn inference_nodes(
	at: &AtBlock,
	owner: &AccountId32,
	model: u32,
) -> Result<Vec<(u64, NodeOf)>, WorkerError> {
	let mut found = Vec::new();
	for id in owned_nodes(at, owner).await? {
		if let Some(info) = node(at, id).await? {
			if matches!(info.kind, NodeKind::Inference { model: m, .. } if m == model)
				&& matches!(info.status, NodeStatus::Registered)
			{
				found.push((id, info));
			}
		}
	}
	Ok(found)
}

// ---------------------------------------------------------------------------------------
// Storage readers.
// ---------------------------------------------------------------------------------------

/// The nonce of `account` in the state of `at`: its transactions executed up to there.
pub async fn nonce_at(at: &AtBlock, account: &AccountId32) -> Result<u64, WorkerError> {
	Ok(u64::from(account_info(at, account).await?.nonce))
}

/// An account's balances at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balances {
	/// Transferable (before freezes).
	pub free: u128,
	/// Held by pallets (collateral, escrows, deposits).
	pub held: u128,
	/// Transactions executed.
	pub nonce: u32,
}

/// `account`'s balances at `at`.
pub async fn account_info(at: &AtBlock, account: &AccountId32) -> Result<Balances, WorkerError> {
	let info =
		at.storage().fetch(runtime::storage().system().account(), (*account,)).await?.decode()?;
	Ok(Balances { free: info.data.free, held: info.data.reserved, nonce: info.nonce })
}

/// Node `id` at `at`, if registered.
pub async fn node(at: &AtBlock, id: u64) -> Result<Option<NodeOf>, WorkerError> {
	match at.storage().try_fetch(runtime::storage().registry().nodes(), (id,)).await? {
		Some(value) => Ok(Some(value.decode()?)),
		None => Ok(None),
	}
}

/// Every node id `owner` has (registered or unbonding), ascending.
pub async fn owned_nodes(at: &AtBlock, owner: &AccountId32) -> Result<Vec<u64>, WorkerError> {
	Ok(at
		.storage()
		.fetch(runtime::storage().registry().nodes_by_owner(), (*owner,))
		.await?
		.decode()?
		.0)
}

/// The registered (not unbonding) hashing nodes of `owner`, ascending.
pub async fn hashing_nodes(at: &AtBlock, owner: &AccountId32) -> Result<Vec<u64>, WorkerError> {
	let mut hashing = Vec::new();
	for id in owned_nodes(at, owner).await? {
		if let Some(info) = node(at, id).await? {
			if matches!(info.kind, NodeKind::Hashing { .. })
				&& matches!(info.status, NodeStatus::Registered)
			{
				hashing.push(id);
			}
		}
	}
	Ok(hashing)
}

/// The account's registered hashing node: `wanted`, or its only one.
pub async fn own_hashing_node(
	at: &AtBlock,
	owner: &AccountId32,
	wanted: Option<u64>,
) -> Result<u64, WorkerError> {
	let who = crate::keys::ss58(owner);
	let hashing = hashing_nodes(at, owner).await?;
	match (wanted, hashing.as_slice()) {
		(Some(id), _) if hashing.contains(&id) => Ok(id),
		(Some(id), _) => {
			Err(WorkerError::NoNode(format!("node {id} is not a registered hashing node of {who}")))
		},
		(None, [only]) => Ok(*only),
		(None, []) => Err(WorkerError::NoNode(format!(
			"{who} has no registered hashing node; run `appchain-worker register` first"
		))),
		(None, many) => Err(WorkerError::NoNode(format!(
			"{who} has several hashing nodes ({many:?}); pick one with --node"
		))),
	}
}

/// Which subjobs [`subjobs`] reads.
pub use runtime::runtime_types::pallet_hash_jobs::types::SubjobFilter;

/// One page of a runtime API read, as generated from the metadata.
type PageOf<Item> = runtime::runtime_types::appchain_primitives::page::Page<Item, u64>;

/// Every page of a runtime API read at `at`, `call(after)` being the call for the page after
/// cursor `after`. All pages are read at the same block, so the result is one consistent view.
async fn all_pages<Item, P>(
	at: &AtBlock,
	mut call: impl FnMut(Option<u64>) -> P,
) -> Result<Vec<Item>, WorkerError>
where
	P: subxt::runtime_apis::Payload<ReturnType = PageOf<Item>>,
{
	let mut out = Vec::new();
	let mut after = None;
	loop {
		let page = at.runtime_apis().call(call(after)).await?;
		out.extend(page.items);
		match page.next {
			// The runtime's cursor always moves past `after` (`appchain_primitives::page`); a
			// node answering with a cursor that does not would otherwise keep us here.
			Some(next) if after.is_some_and(|a| next <= a) => {
				return Err(WorkerError::Missing(format!(
					"a runtime API page did not advance (cursor {next} after {after:?})"
				)))
			},
			Some(next) => after = Some(next),
			None => return Ok(out),
		}
	}
}

/// Most entries the worker asks for per page (the runtime's cap).
const PAGE_LIMIT: u32 = 100;

/// The open subjobs `filter` selects at `at`, by id, through the runtime API
/// (`HashJobsApi::subjobs`, one bounded page per call).
pub async fn subjobs(
	at: &AtBlock,
	filter: SubjobFilter,
) -> Result<Vec<(u64, SubjobOf)>, WorkerError> {
	let api = runtime::runtime_apis().hash_jobs_api();
	let mut out = all_pages(at, |after| api.subjobs(filter.clone(), after, PAGE_LIMIT)).await?;
	out.sort_by_key(|(id, _)| *id);
	Ok(out)
}

/// Whether subjob `id` is open at `at`.
pub async fn subjob_is_open(at: &AtBlock, id: u64) -> Result<bool, WorkerError> {
	Ok(at.storage().try_fetch(runtime::storage().hash_jobs().subjobs(), (id,)).await?.is_some())
}

/// The jobs a claim can take nonces from at `at`, by id, through the runtime API
/// (`HashJobsApi::claimable_jobs`).
pub async fn claimable_jobs(at: &AtBlock) -> Result<Vec<(u64, JobOf)>, WorkerError> {
	let api = runtime::runtime_apis().hash_jobs_api();
	let mut out = all_pages(at, |after| api.claimable_jobs(after, PAGE_LIMIT)).await?;
	out.sort_by_key(|(id, _)| *id);
	Ok(out)
}

/// Job `id` at `at`, if it is open.
pub async fn job(at: &AtBlock, id: u64) -> Result<Option<JobOf>, WorkerError> {
	match at.storage().try_fetch(runtime::storage().hash_jobs().jobs(), (id,)).await? {
		Some(value) => Ok(Some(value.decode()?)),
		None => Ok(None),
	}
}

/// How many subjobs node `id` holds at `at`.
pub async fn claims_of(at: &AtBlock, id: u64) -> Result<u32, WorkerError> {
	Ok(at.storage().fetch(runtime::storage().hash_jobs().claims_of(), (id,)).await?.decode()?)
}

/// Collateral of node `id` the registry reserved for its open claims and agreements.
pub async fn reserved_collateral(at: &AtBlock, id: u64) -> Result<u128, WorkerError> {
	Ok(at
		.storage()
		.fetch(runtime::storage().registry().reserved_collateral(), (id,))
		.await?
		.decode()?)
}

/// The spot-check seed of the subjobs challenged at block `block`, once it exists.
pub async fn challenge_seed(at: &AtBlock, block: u64) -> Result<Option<[u8; 32]>, WorkerError> {
	let key = u32::try_from(block).unwrap_or(u32::MAX);
	match at.storage().try_fetch(runtime::storage().hash_jobs().challenge_seeds(), (key,)).await? {
		Some(value) => Ok(Some(value.decode()?)),
		None => Ok(None),
	}
}

// ---------------------------------------------------------------------------------------
// Constants.
// ---------------------------------------------------------------------------------------

/// The registry's constants the worker uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryConstants {
	/// Blocks between heartbeats.
	pub heartbeat_interval: u64,
	/// Blocks without a heartbeat after which a node is not serving.
	pub heartbeat_timeout: u64,
	/// Collateral below which a node is not serving.
	pub min_collateral: u128,
}

/// The registry's constants at `at`.
pub fn registry_constants(at: &AtBlock) -> Result<RegistryConstants, WorkerError> {
	let c = at.constants();
	let reg = runtime::constants().registry();
	Ok(RegistryConstants {
		heartbeat_interval: u64::from(c.entry(reg.heartbeat_interval())?),
		heartbeat_timeout: u64::from(c.entry(reg.heartbeat_timeout())?),
		min_collateral: c.entry(reg.min_collateral())?,
	})
}

/// The hash-jobs pallet's constants the worker uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashJobConstants {
	/// Nonces per chunk.
	pub chunk_size: u64,
	/// Chunks spot-checked per subjob.
	pub challenge_count: u32,
	/// Winning nonces a result may list.
	pub max_nonces: u32,
	/// Blocks to answer the spot checks in.
	pub answer_window: u64,
	/// Open plus returned subjobs a job may have.
	pub max_open_subjobs: u32,
	/// What a failed subjob costs its node.
	pub slash_penalty: u128,
	/// The largest payload a job may carry.
	pub max_payload_len: u32,
	/// The smallest budget of a job.
	pub min_budget: u128,
}

/// The hash-jobs pallet's constants at `at`.
pub fn hash_job_constants(at: &AtBlock) -> Result<HashJobConstants, WorkerError> {
	let c = at.constants();
	let hj = runtime::constants().hash_jobs();
	Ok(HashJobConstants {
		chunk_size: u64::from(c.entry(hj.chunk_size())?),
		challenge_count: c.entry(hj.challenge_count())?,
		max_nonces: c.entry(hj.max_nonces_per_result())?,
		answer_window: u64::from(c.entry(hj.answer_window())?),
		max_open_subjobs: c.entry(hj.max_open_subjobs())?,
		slash_penalty: c.entry(hj.slash_penalty())?,
		max_payload_len: c.entry(hj.max_payload_len())?,
		min_budget: c.entry(hj.min_budget())?,
	})
}

// ---------------------------------------------------------------------------------------
// Events.
// ---------------------------------------------------------------------------------------

/// The hash-jobs events the worker follows, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashJobEvent {
	/// A node claimed nonces `start..end` of a job.
	SubjobClaimed {
		/// The job.
		job: u64,
		/// The new subjob.
		subjob: u64,
		/// The claimer.
		node: u64,
		/// First nonce.
		start: u64,
		/// One past the last nonce.
		end: u64,
	},
	/// A subjob's result was revealed.
	ResultRevealed {
		/// The subjob.
		subjob: u64,
		/// Its winning nonces.
		nonces: Vec<u64>,
	},
	/// A subjob passed its spot checks and its node was paid.
	SubjobVerified {
		/// The job.
		job: u64,
		/// The subjob.
		subjob: u64,
		/// Its node.
		node: u64,
		/// Nonces it covered.
		hashed: u64,
		/// What the node was paid.
		reward: u128,
	},
	/// The first verified winner's bonus.
	FinderRewarded {
		/// The subjob with the winner.
		subjob: u64,
		/// The winning nonce.
		nonce: u64,
		/// The bonus.
		bonus: u128,
	},
	/// A subjob failed and its node was slashed.
	SubjobFailed {
		/// The job.
		job: u64,
		/// The subjob.
		subjob: u64,
		/// Its node.
		node: u64,
		/// Why, as the runtime names it.
		reason: String,
		/// The penalty taken from the node's collateral.
		penalty: u128,
	},
	/// A job completed.
	JobCompleted {
		/// The job.
		job: u64,
		/// Nonces verified.
		hashed: u64,
		/// Winning nonces found.
		found: u32,
		/// Budget returned to the client.
		refunded: u128,
	},
	/// A job was cancelled.
	JobCancelled {
		/// The job.
		job: u64,
	},
}

/// The hash-jobs events of block `at`, grouped by kind in the order of [`HashJobEvent`]'s
/// variants, each group in block order.
pub async fn hash_job_events(at: &AtBlock) -> Result<Vec<HashJobEvent>, WorkerError> {
	use runtime::hash_jobs::events as ev;
	let events = at.events().fetch().await?;
	let mut out = Vec::new();
	for e in events.find::<ev::SubjobClaimed>() {
		let e = e?;
		out.push(HashJobEvent::SubjobClaimed {
			job: e.job,
			subjob: e.subjob,
			node: e.node,
			start: e.start,
			end: e.end,
		});
	}
	for e in events.find::<ev::ResultRevealed>() {
		let e = e?;
		out.push(HashJobEvent::ResultRevealed { subjob: e.subjob, nonces: e.nonces.0 });
	}
	for e in events.find::<ev::SubjobVerified>() {
		let e = e?;
		out.push(HashJobEvent::SubjobVerified {
			job: e.job,
			subjob: e.subjob,
			node: e.node,
			hashed: e.hashed,
			reward: e.reward,
		});
	}
	for e in events.find::<ev::FinderRewarded>() {
		let e = e?;
		out.push(HashJobEvent::FinderRewarded { subjob: e.subjob, nonce: e.nonce, bonus: e.bonus });
	}
	for e in events.find::<ev::SubjobFailed>() {
		let e = e?;
		out.push(HashJobEvent::SubjobFailed {
			job: e.job,
			subjob: e.subjob,
			node: e.node,
			reason: format!("{:?}", e.reason),
			penalty: e.penalty,
		});
	}
	for e in events.find::<ev::JobCompleted>() {
		let e = e?;
		out.push(HashJobEvent::JobCompleted {
			job: e.job,
			hashed: e.hashed,
			found: e.found,
			refunded: e.refunded,
		});
	}
	for e in events.find::<ev::JobCancelled>() {
		out.push(HashJobEvent::JobCancelled { job: e?.job });
	}
	Ok(out)
}

/// The node id of the `HashingNodeRegistered` event among a transaction's events.
pub fn registered_hashing_node(events: &TxEvents) -> Result<u64, WorkerError> {
	let registered = events
		.find_first::<runtime::registry::events::HashingNodeRegistered>()
		.ok_or_else(|| WorkerError::Missing("no HashingNodeRegistered event".into()))??;
	Ok(registered.node)
}

/// The model id of the `ModelRegistered` event among a transaction's events.
pub fn registered_model(events: &TxEvents) -> Result<u32, WorkerError> {
	let registered = events
		.find_first::<runtime::registry::events::ModelRegistered>()
		.ok_or_else(|| WorkerError::Missing("no ModelRegistered event".into()))??;
	Ok(registered.model)
}

/// The node id of the `InferenceNodeRegistered` event among a transaction's events.
pub fn registered_inference_node(events: &TxEvents) -> Result<u64, WorkerError> {
	let registered =
		events
			.find_first::<runtime::registry::events::InferenceNodeRegistered>()
			.ok_or_else(|| WorkerError::Missing("no InferenceNodeRegistered event".into()))??;
	Ok(registered.node)
}

/// A posted job: `(job, start, end, budget)` from the `JobPosted` event of a transaction.
pub fn posted_job(events: &TxEvents) -> Result<(u64, u64, u64, u128), WorkerError> {
	let posted = events
		.find_first::<runtime::hash_jobs::events::JobPosted>()
		.ok_or_else(|| WorkerError::Missing("no JobPosted event".into()))??;
	Ok((posted.job, posted.start, posted.end, posted.budget))
}

// ---------------------------------------------------------------------------------------
// Payment channels.
// ---------------------------------------------------------------------------------------

/// A payment channel as the chain stores it.
pub type ChannelOf =
	runtime::runtime_types::pallet_payment_channels::types::Channel<AccountId32, u128, u32>;

/// Channel `id` at `at`, if open.
pub async fn channel(at: &AtBlock, id: u64) -> Result<Option<ChannelOf>, WorkerError> {
	match at.storage().try_fetch(runtime::storage().payment_channels().channels(), (id,)).await? {
		Some(value) => Ok(Some(value.decode()?)),
		None => Ok(None),
	}
}

/// Every open channel at `at` paying `payee`, by id, through the runtime API
/// (`PaymentChannelsApi::channels_paying`: the payee index, one bounded page per call).
///
/// A runtime before spec 109 has no such call; at a block it runs (the finalized head while an
/// upgrade to 109 is not yet final) the channels are read by scanning them all. (At the block
/// enacting 109, before its migration, the runtime itself scans.)
pub async fn channels_paying(
	at: &AtBlock,
	payee: &AccountId32,
) -> Result<Vec<(u64, ChannelOf)>, WorkerError> {
	let indexed = at
		.metadata_ref()
		.runtime_api_trait_by_name("PaymentChannelsApi")
		.is_some_and(|api| api.method_by_name("channels_paying").is_some());
	let mut found: Vec<(u64, ChannelOf)> = if indexed {
		let api = runtime::runtime_apis().payment_channels_api();
		all_pages(at, |after| api.channels_paying(*payee, after, PAGE_LIMIT))
			.await?
			.into_iter()
			.map(|view| (view.id, view.channel))
			.collect()
	} else {
		let mut found = Vec::new();
		let mut entries =
			at.storage().iter(runtime::storage().payment_channels().channels(), ()).await?;
		while let Some(entry) = entries.next().await {
			let entry = entry?;
			let (id,) = entry.key()?.decode()?;
			let channel: ChannelOf = entry.value().decode()?;
			if &channel.payee == payee {
				found.push((id, channel));
			}
		}
		found
	};
	found.sort_by_key(|(id, _)| *id);
	Ok(found)
}

/// The payment channels' constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelConstants {
	/// Least opening deposit.
	pub min_deposit: u128,
	/// Held per channel for its storage.
	pub storage_deposit: u128,
	/// Blocks between a close request and finalization.
	pub challenge_period: u32,
}

/// The payment channels' constants at `at`.
pub fn channel_constants(at: &AtBlock) -> Result<ChannelConstants, WorkerError> {
	let c = runtime::constants().payment_channels();
	Ok(ChannelConstants {
		min_deposit: at.constants().entry(c.min_deposit())?,
		storage_deposit: at.constants().entry(c.channel_storage_deposit())?,
		challenge_period: at.constants().entry(c.challenge_period())?,
	})
}

/// The channel id of the `ChannelOpened` event among a transaction's events.
pub fn opened_channel(events: &TxEvents) -> Result<u64, WorkerError> {
	let opened = events
		.find_first::<runtime::payment_channels::events::ChannelOpened>()
		.ok_or_else(|| WorkerError::Missing("no ChannelOpened event".into()))??;
	Ok(opened.channel)
}

/// What a transaction's `Claimed` event says: `(paid now, claimed in all)`.
pub fn claimed(events: &TxEvents) -> Result<(u128, u128), WorkerError> {
	let claimed = events
		.find_first::<runtime::payment_channels::events::Claimed>()
		.ok_or_else(|| WorkerError::Missing("no Claimed event".into()))??;
	Ok((claimed.paid, claimed.claimed))
}

/// What a transaction's `ChannelClosed` event says: `(claimed in all, refunded)`, if any.
pub fn closed_channel(events: &TxEvents) -> Result<Option<(u128, u128)>, WorkerError> {
	match events.find_first::<runtime::payment_channels::events::ChannelClosed>() {
		Some(closed) => {
			let closed = closed?;
			Ok(Some((closed.claimed, closed.refunded)))
		},
		None => Ok(None),
	}
}

/// The close request in a transaction's events: the first block of finalization.
pub fn close_requested(events: &TxEvents) -> Result<u32, WorkerError> {
	let requested = events
		.find_first::<runtime::payment_channels::events::CloseRequested>()
		.ok_or_else(|| WorkerError::Missing("no CloseRequested event".into()))??;
	Ok(requested.closes_at)
}

// ---------------------------------------------------------------------------------------
// Calls.
// ---------------------------------------------------------------------------------------

/// A commitment of the inference proofs with its challenge, as the runtime API returns it.
pub type CommitmentViewOf =
	runtime::runtime_types::pallet_inference_proofs::types::CommitmentView<AccountId32, u128, u32>;
pub use runtime::runtime_types::pallet_inference_proofs::types::{
	Ballot, Challenge as ProofChallenge, Phase as ChallengePhase,
};

/// The open commitments of inference node `node` at `at`, with their challenges
/// (`InferenceProofsApi::commitments_of`).
pub async fn proof_commitments(
	at: &AtBlock,
	node: u64,
) -> Result<Vec<CommitmentViewOf>, WorkerError> {
	let api = runtime::runtime_apis().inference_proofs_api();
	Ok(at.runtime_apis().call(api.commitments_of(node)).await?)
}

/// The open commitment (or audit) `id` at `at`, with its challenge
/// (`InferenceProofsApi::commitment`).
pub async fn proof_commitment(
	at: &AtBlock,
	id: u64,
) -> Result<Option<CommitmentViewOf>, WorkerError> {
	let api = runtime::runtime_apis().inference_proofs_api();
	Ok(at.runtime_apis().call(api.commitment(id)).await?)
}

/// The audit id of the `Audited` event among a transaction's events.
pub fn audited(events: &TxEvents) -> Result<u64, WorkerError> {
	let audited = events
		.find_first::<runtime::inference_proofs::events::Audited>()
		.ok_or_else(|| WorkerError::Missing("no Audited event".into()))??;
	Ok(audited.id)
}

/// How a commitment ended, from its `Settled` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofSettled {
	/// The commitment (or audit).
	pub id: u64,
	/// The node whose steps it covered.
	pub node: u64,
	/// The verdict, as the chain names it (`Upheld`, `Mismatch { layer: Some(3) }`, ...).
	pub verdict: String,
	/// Paid to the client (refund and its share of the penalty, less the burn).
	pub refunded: u128,
	/// Taken from the node beyond the refund.
	pub penalty: u128,
}

/// The commitments settled in block `at`.
pub async fn proofs_settled(at: &AtBlock) -> Result<Vec<ProofSettled>, WorkerError> {
	let events = at.events().fetch().await?;
	let mut out = Vec::new();
	for e in events.find::<runtime::inference_proofs::events::Settled>() {
		let e = e?;
		out.push(ProofSettled {
			id: e.id,
			node: e.node,
			verdict: format!("{:?}", e.verdict),
			refunded: e.refunded,
			penalty: e.penalty,
		});
	}
	Ok(out)
}

/// The open challenges inference node `node` was drawn to verify at `at`
/// (`InferenceProofsApi::duties_of`).
pub async fn proof_duties(at: &AtBlock, node: u64) -> Result<Vec<CommitmentViewOf>, WorkerError> {
	let api = runtime::runtime_apis().inference_proofs_api();
	Ok(at.runtime_apis().call(api.duties_of(node)).await?)
}

/// The inference proofs' constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofConstants {
	/// Most receipts one commitment covers.
	pub max_steps: u32,
	/// Blocks from a commitment to the block whose seed decides it.
	pub challenge_delay: u32,
	/// Blocks after a session's stamp during which it can be audited.
	pub audit_window: u32,
}

/// The inference proofs' constants at `at`.
pub fn proof_constants(at: &AtBlock) -> Result<ProofConstants, WorkerError> {
	let c = runtime::constants().inference_proofs();
	Ok(ProofConstants {
		max_steps: at.constants().entry(c.max_steps_per_commitment())?,
		challenge_delay: at.constants().entry(c.challenge_delay())?,
		audit_window: at.constants().entry(c.audit_window())?,
	})
}

/// The engine class node `id` declared, if any.
pub async fn engine_class(at: &AtBlock, id: u64) -> Result<Option<[u8; 16]>, WorkerError> {
	match at
		.storage()
		.try_fetch(runtime::storage().inference_proofs().engine_classes(), (id,))
		.await?
	{
		Some(value) => Ok(Some(value.decode()?)),
		None => Ok(None),
	}
}

/// Reputation of node `id` at `at`: `(completed, failed)` units of work, `None` for an
/// unknown node.
pub async fn node_record(at: &AtBlock, id: u64) -> Result<Option<(u32, u32)>, WorkerError> {
	Ok(node(at, id).await?.map(|n| (n.stats.completed, n.stats.failed)))
}

// ---------------------------------------------------------------------------------------

/// The calls the worker makes, built from the generated interface.
pub mod calls {
	use super::{runtime, Bounded, ChunkAnswerOf};
	use appchain_primitives::pow::PowSpec;

	pub use subxt::tx::Payload;

	/// `Registry::heartbeat(node)`.
	pub fn heartbeat(node: u64) -> impl Payload + Send + Sync {
		runtime::transactions().registry().heartbeat(node)
	}

	/// `Registry::register_model(name, layers, shard_size, weights_digest)`.
	pub fn register_model(
		name: Vec<u8>,
		layers: u16,
		shard_size: u16,
		weights_digest: [u8; 32],
	) -> impl Payload + Send + Sync {
		runtime::transactions().registry().register_model(
			Bounded(name),
			layers,
			shard_size,
			weights_digest,
		)
	}

	/// `Registry::register_inference_node(model, layers, cost_ms, price, endpoint, collateral)`.
	pub fn register_inference_node(
		model: u32,
		layers: (u16, u16),
		cost_ms: u32,
		price: u128,
		endpoint: Vec<u8>,
		collateral: u128,
	) -> impl Payload + Send + Sync {
		runtime::transactions().registry().register_inference_node(
			model,
			super::LayerRange { start: layers.0, end: layers.1 },
			cost_ms,
			price,
			Bounded(endpoint),
			collateral,
		)
	}

	/// `Registry::set_price(node, price)`.
	pub fn set_price(node: u64, price: u128) -> impl Payload + Send + Sync {
		runtime::transactions().registry().set_price(node, price)
	}

	/// `Registry::move_layers(node, layers)`.
	pub fn move_layers(node: u64, layers: (u16, u16)) -> impl Payload + Send + Sync {
		runtime::transactions()
			.registry()
			.move_layers(node, super::LayerRange { start: layers.0, end: layers.1 })
	}

	/// `Registry::declare_cost(node, cost_ms)`.
	pub fn declare_cost(node: u64, cost_ms: u32) -> impl Payload + Send + Sync {
		runtime::transactions().registry().declare_cost(node, cost_ms)
	}

	/// `Registry::register_hashing_node(hash_rate, collateral)`.
	pub fn register_hashing_node(hash_rate: u64, collateral: u128) -> impl Payload + Send + Sync {
		runtime::transactions().registry().register_hashing_node(hash_rate, collateral)
	}

	/// `HashJobs::post_job(payload, spec, start, end, budget)`.
	pub fn post_job(
		payload: Vec<u8>,
		spec: PowSpec,
		start: u64,
		end: u64,
		budget: u128,
	) -> impl Payload + Send + Sync {
		runtime::transactions().hash_jobs().post_job(
			Bounded(payload),
			subxt::utils::Static(spec),
			start,
			end,
			budget,
		)
	}

	/// `HashJobs::claim(job, node)`.
	pub fn claim(job: u64, node: u64) -> impl Payload + Send + Sync {
		runtime::transactions().hash_jobs().claim(job, node)
	}

	/// `HashJobs::commit(subjob, commitment)`.
	pub fn commit(subjob: u64, commitment: [u8; 32]) -> impl Payload + Send + Sync {
		runtime::transactions().hash_jobs().commit(subjob, commitment)
	}

	/// `HashJobs::reveal(subjob, root, salt, nonces)`.
	pub fn reveal(
		subjob: u64,
		root: [u8; 32],
		salt: [u8; 32],
		nonces: Vec<u64>,
	) -> impl Payload + Send + Sync {
		runtime::transactions().hash_jobs().reveal(subjob, root, salt, Bounded(nonces))
	}

	/// `HashJobs::answer_challenge(subjob, answers)`.
	pub fn answer_challenge(
		subjob: u64,
		answers: Vec<ChunkAnswerOf>,
	) -> impl Payload + Send + Sync {
		runtime::transactions().hash_jobs().answer_challenge(subjob, Bounded(answers))
	}

	/// `HashJobs::reclaim(subjob)`.
	pub fn reclaim(subjob: u64) -> impl Payload + Send + Sync {
		runtime::transactions().hash_jobs().reclaim(subjob)
	}

	/// `PaymentChannels::open(node, deposit)`.
	pub fn open_channel(node: u64, deposit: u128) -> impl Payload + Send + Sync {
		runtime::transactions().payment_channels().open(node, deposit)
	}

	/// `PaymentChannels::top_up(channel, amount)`.
	pub fn top_up_channel(channel: u64, amount: u128) -> impl Payload + Send + Sync {
		runtime::transactions().payment_channels().top_up(channel, amount)
	}

	fn signed(cumulative: u128, signature: [u8; 64]) -> SignedVoucherOf {
		SignedVoucherOf { cumulative, signature: MultiSignature::Sr25519(signature) }
	}

	/// `PaymentChannels::claim(channel, voucher)` with the payer's sr25519 signature.
	pub fn claim_channel(
		channel: u64,
		cumulative: u128,
		signature: [u8; 64],
	) -> impl Payload + Send + Sync {
		runtime::transactions().payment_channels().claim(channel, signed(cumulative, signature))
	}

	/// `PaymentChannels::request_close(channel)`.
	pub fn request_close(channel: u64) -> impl Payload + Send + Sync {
		runtime::transactions().payment_channels().request_close(channel)
	}

	/// `PaymentChannels::finalize(channel)`.
	pub fn finalize_channel(channel: u64) -> impl Payload + Send + Sync {
		runtime::transactions().payment_channels().finalize(channel)
	}

	/// `PaymentChannels::close(channel, last_voucher)`: the payee closes at once.
	pub fn close_channel(
		channel: u64,
		last_voucher: Option<(u128, [u8; 64])>,
	) -> impl Payload + Send + Sync {
		runtime::transactions().payment_channels().close(
			channel,
			last_voucher.map(|(cumulative, signature)| signed(cumulative, signature)),
		)
	}

	/// `PaymentChannels::cooperative_close(channel, settled, payee_signature)`.
	pub fn cooperative_close(
		channel: u64,
		settled: u128,
		payee_signature: [u8; 64],
	) -> impl Payload + Send + Sync {
		runtime::transactions().payment_channels().cooperative_close(
			channel,
			settled,
			MultiSignature::Sr25519(payee_signature),
		)
	}

	/// `InferenceProofs::commit(node, client, session, steps, receipts_root)`.
	pub fn commit_receipts(
		node: u64,
		client: [u8; 32],
		session: [u8; 16],
		steps: u32,
		receipts_root: [u8; 32],
	) -> impl Payload + Send + Sync {
		runtime::transactions().inference_proofs().commit(
			node,
			subxt::utils::AccountId32(client),
			session,
			steps,
			receipts_root,
		)
	}

	/// `InferenceProofs::audit(node, session, steps, receipts_root)`.
	pub fn audit_receipts(
		node: u64,
		session: [u8; 16],
		steps: u32,
		receipts_root: [u8; 32],
	) -> impl Payload + Send + Sync {
		runtime::transactions().inference_proofs().audit(node, session, steps, receipts_root)
	}

	/// `InferenceProofs::reveal_signed_receipt(id, receipt, signature, proof)`: the receipt
	/// with its owner's sr25519 signature.
	pub fn reveal_signed_receipt(
		id: u64,
		receipt: appchain_primitives::receipt::Receipt,
		signature: [u8; 64],
		proof: Vec<[u8; 32]>,
	) -> impl Payload + Send + Sync {
		runtime::transactions().inference_proofs().reveal_signed_receipt(
			id,
			subxt::utils::Static(receipt),
			MultiSignature::Sr25519(signature),
			Bounded(proof),
		)
	}

	/// `InferenceProofs::declare_engine_class(node, class)`.
	pub fn declare_engine_class(node: u64, class: [u8; 16]) -> impl Payload + Send + Sync {
		runtime::transactions().inference_proofs().declare_engine_class(node, class)
	}

	/// `InferenceProofs::draw(id)`.
	pub fn draw_commitment(id: u64) -> impl Payload + Send + Sync {
		runtime::transactions().inference_proofs().draw(id)
	}

	/// `InferenceProofs::reveal_receipt(id, receipt, proof)`.
	pub fn reveal_receipt(
		id: u64,
		receipt: appchain_primitives::receipt::Receipt,
		proof: Vec<[u8; 32]>,
	) -> impl Payload + Send + Sync {
		runtime::transactions().inference_proofs().reveal_receipt(
			id,
			subxt::utils::Static(receipt),
			Bounded(proof),
		)
	}

	/// `InferenceProofs::seal_vote(id, verifier, seal)`.
	pub fn seal_vote(id: u64, verifier: u64, seal: [u8; 32]) -> impl Payload + Send + Sync {
		runtime::transactions().inference_proofs().seal_vote(id, verifier, seal)
	}

	/// `InferenceProofs::open_vote(id, verifier, vote, salt)`.
	pub fn open_vote(
		id: u64,
		verifier: u64,
		vote: appchain_primitives::receipt::Vote,
		salt: [u8; 32],
	) -> impl Payload + Send + Sync {
		runtime::transactions().inference_proofs().open_vote(
			id,
			verifier,
			subxt::utils::Static(vote),
			salt,
		)
	}

	/// `InferenceProofs::settle(id)`.
	pub fn settle_challenge(id: u64) -> impl Payload + Send + Sync {
		runtime::transactions().inference_proofs().settle(id)
	}

	type SignedVoucherOf =
		runtime::runtime_types::pallet_payment_channels::types::SignedVoucher<u128, MultiSignature>;
	use runtime::runtime_types::sp_runtime::MultiSignature;
}
