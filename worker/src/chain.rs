//! All of the worker's chain access: one thin layer over subxt.
//!
//! - The call, storage, constant and event types are generated at compile time from our
//!   runtime's metadata, committed as `worker/metadata/appchain.scale`; no pallet or call name
//!   appears as a string. The runtime crate's test `worker_metadata_is_current` fails when that
//!   file drifts from the runtime (regenerate it with `scripts/update-worker-metadata.sh`).
//! - Transactions are mortal ([`MORTALITY`] blocks) and signed with a locally tracked nonce:
//!   the first one comes from `system_accountNextIndex` (which counts transactions still in the
//!   pool); afterwards the worker counts itself and only asks again after a rejection.
//! - [`Chain::connect`] retries with exponential backoff; `run` reconnects the same way when
//!   the connection drops.

use std::time::Duration;

use subxt::{
	config::{polkadot::PolkadotExtrinsicParamsBuilder, RpcConfigFor},
	rpcs::{methods::legacy::LegacyRpcMethods, RpcClient},
	tx::{Payload, TransactionStatus},
	utils::AccountId32,
	OnlineClient, PolkadotConfig,
};
use subxt_signer::sr25519::Keypair;

use crate::error::WorkerError;

/// The runtime's interface, generated from its metadata.
#[subxt::subxt(
	runtime_metadata_path = "metadata/appchain.scale",
	substitute_type(
		path = "appchain_primitives::pow::PowSpec",
		with = "::subxt::utils::Static<::appchain_primitives::pow::PowSpec>"
	),
	derive_for_all_types = "Clone"
)]
pub mod runtime {}

pub use runtime::runtime_types::{
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

/// Blocks a transaction stays valid for after the block it was signed at.
pub const MORTALITY: u64 = 64;

/// The SS58 address format of the chain (`SS58Prefix` in the runtime).
pub const SS58_PREFIX: u16 = 4242;

/// A connection to a node.
#[derive(Clone)]
pub struct Chain {
	/// The subxt client.
	pub api: OnlineClient<AppchainConfig>,
	rpc: LegacyRpcMethods<RpcConfigFor<AppchainConfig>>,
	/// The node's URL.
	pub url: String,
}

impl Chain {
	/// Connects to `url`, trying `attempts` times with exponential backoff (0.5 s doubling,
	/// at most 30 s between tries).
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
					// A one-shot command retries quietly and reports once; a running worker
					// says why it is waiting.
					if attempts > 3 {
						log(&format!(
							"cannot reach {url} ({reason}); retrying in {:.1} s",
							delay.as_secs_f64()
						));
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
		Ok(Self { api, rpc: LegacyRpcMethods::new(rpc), url: url.to_string() })
	}

	/// A client at the latest finalized block.
	pub async fn finalized(&self) -> Result<AtBlock, WorkerError> {
		self.api.at_current_block().await.map_err(chain_error)
	}

	/// A client at the node's best block.
	pub async fn best(&self) -> Result<AtBlock, WorkerError> {
		let hash = self
			.rpc
			.chain_get_block_hash(None)
			.await
			.map_err(chain_error)?
			.ok_or_else(|| WorkerError::Chain("the node has no best block".into()))?;
		self.api.at_block(hash).await.map_err(chain_error)
	}

	/// The next nonce of `account`, counting transactions in the node's pool.
	pub async fn next_nonce(&self, account: &AccountId32) -> Result<u64, WorkerError> {
		self.rpc.system_account_next_index(account).await.map_err(chain_error)
	}

	/// The nonce of `account` in the state of `at`: its transactions executed up to there.
	pub async fn nonce_at(&self, at: &AtBlock, account: &AccountId32) -> Result<u64, WorkerError> {
		let info = at
			.storage()
			.fetch(runtime::storage().system().account(), (*account,))
			.await
			.map_err(chain_error)?
			.decode()
			.map_err(chain_error)?;
		Ok(u64::from(info.nonce))
	}
}

/// The last part of a nested error text (`RPC error: client error: ...: Connection refused`).
fn innermost(error: &str) -> String {
	error.rsplit(": ").next().unwrap_or(error).to_string()
}

/// A bounded vector as the chain encodes it.
pub use runtime::runtime_types::bounded_collections::bounded_vec::BoundedVec as Bounded;

/// A subjob as the chain stores it.
pub type SubjobOf = Subjob<AccountId32, u32, Bounded<u64>>;

/// A job as the chain stores it.
pub type JobOf = Job<AccountId32, u128, Bounded<u8>, Bounded<NonceRange>>;

/// A compute node as the chain stores it.
pub type NodeOf = ComputeNode<AccountId32, u128, u32>;

/// Node `id` at `at`, if registered.
pub async fn node(at: &AtBlock, id: u64) -> Result<Option<NodeOf>, WorkerError> {
	match at
		.storage()
		.try_fetch(runtime::storage().registry().nodes(), (id,))
		.await
		.map_err(chain_error)?
	{
		Some(value) => Ok(Some(value.decode().map_err(chain_error)?)),
		None => Ok(None),
	}
}

/// The registered (not unbonding) hashing nodes of `owner`, ascending.
pub async fn hashing_nodes(at: &AtBlock, owner: &AccountId32) -> Result<Vec<u64>, WorkerError> {
	let owned = at
		.storage()
		.fetch(runtime::storage().registry().nodes_by_owner(), (*owner,))
		.await
		.map_err(chain_error)?
		.decode()
		.map_err(chain_error)?
		.0;
	let mut hashing = Vec::new();
	for id in owned {
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

/// Every open subjob at `at`, by id.
pub async fn subjobs(at: &AtBlock) -> Result<Vec<(u64, SubjobOf)>, WorkerError> {
	let mut out = Vec::new();
	let mut entries = at
		.storage()
		.iter(runtime::storage().hash_jobs().subjobs(), ())
		.await
		.map_err(chain_error)?;
	while let Some(entry) = entries.next().await {
		let entry = entry.map_err(chain_error)?;
		let (id,) = entry.key().map_err(chain_error)?.decode().map_err(chain_error)?;
		out.push((id, entry.value().decode().map_err(chain_error)?));
	}
	Ok(out)
}

/// Every open job at `at`, by id.
pub async fn jobs(at: &AtBlock) -> Result<Vec<(u64, JobOf)>, WorkerError> {
	let mut out = Vec::new();
	let mut entries =
		at.storage().iter(runtime::storage().hash_jobs().jobs(), ()).await.map_err(chain_error)?;
	while let Some(entry) = entries.next().await {
		let entry = entry.map_err(chain_error)?;
		let (id,) = entry.key().map_err(chain_error)?.decode().map_err(chain_error)?;
		out.push((id, entry.value().decode().map_err(chain_error)?));
	}
	Ok(out)
}

/// Job `id` at `at`, if it is open.
pub async fn job(at: &AtBlock, id: u64) -> Result<Option<JobOf>, WorkerError> {
	match at
		.storage()
		.try_fetch(runtime::storage().hash_jobs().jobs(), (id,))
		.await
		.map_err(chain_error)?
	{
		Some(value) => Ok(Some(value.decode().map_err(chain_error)?)),
		None => Ok(None),
	}
}

/// Any subxt failure as a worker error.
pub fn chain_error(e: impl std::fmt::Display) -> WorkerError {
	WorkerError::Chain(e.to_string())
}

/// How a submitted transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
	/// In a block and dispatched successfully.
	Success,
	/// In a block, but the call failed (e.g. `HashJobs.WrongState`).
	Failed(String),
	/// Never made it into a block (invalid, dropped, or stream lost).
	Lost(String),
}

/// The worker's account: its key and locally tracked nonce.
pub struct Account {
	keypair: Keypair,
	/// Its id.
	pub id: AccountId32,
	next_nonce: Option<u64>,
}

impl Account {
	/// The account of `keypair`.
	pub fn new(keypair: Keypair) -> Self {
		let id: AccountId32 = keypair.public_key().into();
		Self { keypair, id, next_nonce: None }
	}

	/// Forgets the local nonce; the next transaction asks the node again.
	pub fn reset_nonce(&mut self) {
		self.next_nonce = None;
	}

	/// Signs `call` as a mortal transaction with the next local nonce and submits it. A
	/// rejection at submission (typically a stale nonce) resets the nonce and retries once
	/// with the node's view.
	async fn sign_and_submit<Call: Payload>(
		&mut self,
		chain: &Chain,
		at: &AtBlock,
		call: &Call,
	) -> Result<Progress, WorkerError> {
		let mut retried = false;
		loop {
			let nonce = match self.next_nonce {
				Some(n) => n,
				None => chain.next_nonce(&self.id).await?,
			};
			let params = PolkadotExtrinsicParamsBuilder::<AppchainConfig>::new()
				.mortal(MORTALITY)
				.nonce(nonce)
				.build();
			let mut txs = at.transactions();
			let submitted = match txs.create_signed(call, &self.keypair, params).await {
				Ok(tx) => tx.submit_and_watch().await,
				Err(e) => Err(e),
			};
			match submitted {
				Ok(progress) => {
					self.next_nonce = Some(nonce.saturating_add(1));
					return Ok(progress);
				},
				Err(e) if !retried => {
					log(&format!("transaction rejected ({e}); asking the node for the nonce"));
					self.next_nonce = None;
					retried = true;
				},
				Err(e) => {
					self.next_nonce = None;
					return Err(WorkerError::Rejected(e.to_string()));
				},
			}
		}
	}

	/// Submits `call`, signed as mortal from block `at`, and returns a future that resolves
	/// when it is in a best block (with its outcome) or lost, so that the caller can let it
	/// run in the background.
	pub async fn submit<Call: Payload>(
		&mut self,
		chain: &Chain,
		at: &AtBlock,
		call: &Call,
	) -> Result<impl std::future::Future<Output = Outcome> + Send + 'static, WorkerError> {
		let progress = self.sign_and_submit(chain, at, call).await?;
		Ok(watch(progress))
	}

	/// Submits `call` and waits until it is finalized; a failed dispatch is an error. Returns
	/// the transaction's events.
	pub async fn submit_and_wait<Call: Payload>(
		&mut self,
		chain: &Chain,
		call: &Call,
	) -> Result<subxt::extrinsics::ExtrinsicEvents<AppchainConfig>, WorkerError> {
		let at = chain.finalized().await?;
		let progress = self.sign_and_submit(chain, &at, call).await?;
		let in_block = progress
			.wait_for_finalized()
			.await
			.map_err(|e| WorkerError::Rejected(e.to_string()))?;
		in_block.wait_for_success().await.map_err(|e| WorkerError::Dispatch(e.to_string()))
	}
}

type Progress = subxt::tx::TransactionProgress<
	AppchainConfig,
	subxt::client::OnlineClientAtBlockImpl<AppchainConfig>,
>;

/// Follows a submitted transaction until it is in a block or lost. Inclusion in a best block
/// is enough: the worker decides its next step from chain state, so a transaction retracted by
/// a reorganisation is simply submitted again.
async fn watch(mut progress: Progress) -> Outcome {
	while let Some(status) = progress.next().await {
		match status {
			Ok(TransactionStatus::InBestBlock(in_block))
			| Ok(TransactionStatus::InFinalizedBlock(in_block)) => {
				return match in_block.wait_for_success().await {
					Ok(_) => Outcome::Success,
					Err(e) => Outcome::Failed(e.to_string()),
				}
			},
			Ok(TransactionStatus::Error { message })
			| Ok(TransactionStatus::Invalid { message })
			| Ok(TransactionStatus::Dropped { message }) => return Outcome::Lost(message),
			Ok(_) => {},
			Err(e) => return Outcome::Lost(e.to_string()),
		}
	}
	Outcome::Lost("transaction status stream ended".into())
}

/// One line of progress output on standard error, with a UTC time stamp.
pub fn log(message: &str) {
	let now = std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| d.as_secs())
		.unwrap_or_default();
	let (h, m, s) = ((now / 3600) % 24, (now / 60) % 60, now % 60);
	eprintln!("{h:02}:{m:02}:{s:02} {message}");
}
