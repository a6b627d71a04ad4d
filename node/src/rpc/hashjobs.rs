//! `hashJobs_*` RPC: what hashing workers and clients poll, so that nobody has to iterate the
//! `Jobs` and `Subjobs` maps key by key.
//!
//! | method | params | result |
//! |---|---|---|
//! | `hashJobs_claimable` | `after` (job id or `null`), `limit` (or `null`), optional block hash | a page of jobs a claim can take nonces from |
//! | `hashJobs_subjobs` | `filter`, `after` (subjob id or `null`), `limit` (or `null`), optional block hash | a page of open subjobs |
//!
//! `filter` is `"all"`, `"reclaimable"` (a `reclaim` in the next block fails them), `{"node":
//! id}` or `{"job": id}`. A page is `{"items": [...], "next": cursor}`: pass `next` back as
//! `after` until it is `null`. A page reads at most 1,000 entries and returns at most `limit`
//! (default and cap 100), so it may be short, even empty, and still have a `next`
//! (`appchain_primitives::page`). Entries come in storage order, not by id; read every page at
//! one block hash for a consistent view. Without a block hash the best block is used.
//! Balances are decimal strings, accounts SS58 with the chain's prefix, payloads `0x` hex.
//! Errors: `1010` the runtime call failed.

use std::sync::Arc;

use appchain_runtime::{opaque::Block, Runtime};
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use pallet_hash_jobs::{
	runtime_api::HashJobsApi, JobId, JobOf, SubjobFilter, SubjobId, SubjobOf, SubjobState,
};
use serde::{Deserialize, Serialize};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_runtime::traits::Block as BlockT;

use super::{runtime_error, ss58, PageJson};

/// A hash job as the RPC returns it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JobJson {
	/// Job id.
	pub id: JobId,
	/// Who posted it and pays, SS58.
	pub client: String,
	/// What is hashed before each nonce, `0x` hex.
	pub payload: String,
	/// Hash function and difficulty, as the runtime's `PowSpec` prints.
	pub spec: String,
	/// First nonce searched.
	pub start: u64,
	/// One past the last nonce searched.
	pub end: u64,
	/// First nonce never handed out yet.
	pub next: u64,
	/// Ranges of failed subjobs, handed out again first, as `[start, end)` pairs.
	pub returned: Vec<(u64, u64)>,
	/// Subjobs claimed and not yet settled.
	pub open_subjobs: u32,
	/// Held budget, decimal.
	pub budget: String,
	/// Paid out so far, decimal.
	pub paid: String,
	/// Nonces hashed in verified subjobs.
	pub hashed: u64,
	/// Winning nonces found in verified subjobs.
	pub found: u32,
}

fn job_json((id, job): (JobId, JobOf<Runtime>)) -> JobJson {
	JobJson {
		id,
		client: ss58(&job.client),
		payload: sp_core::bytes::to_hex(&job.payload, false),
		spec: format!("{:?}", job.spec),
		start: job.range.start,
		end: job.range.end,
		next: job.next,
		returned: job.returned.iter().map(|r| (r.start, r.end)).collect(),
		open_subjobs: job.open_subjobs,
		budget: job.budget.to_string(),
		paid: job.paid.to_string(),
		hashed: job.hashed,
		found: job.found,
	}
}

/// A subjob as the RPC returns it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SubjobJson {
	/// Subjob id.
	pub id: SubjobId,
	/// Its job.
	pub job: JobId,
	/// The hashing node doing it.
	pub node: u64,
	/// The node's owner, SS58.
	pub worker: String,
	/// First nonce.
	pub start: u64,
	/// One past the last nonce.
	pub end: u64,
	/// Last block for the commitment and the reveal.
	pub deadline: u32,
	/// `claimed`, `committed` or `revealed`.
	pub state: &'static str,
	/// Block of the commitment (`committed`).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub committed_at: Option<u32>,
	/// Block whose randomness picks the challenged chunks (`revealed`).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub challenge_at: Option<u32>,
	/// Winning nonces revealed (`revealed`).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub nonces: Option<Vec<u64>>,
	/// Penalty reserved from the node's collateral, decimal.
	pub penalty: String,
}

fn subjob_json((id, s): (SubjobId, SubjobOf<Runtime>)) -> SubjobJson {
	let (state, committed_at, challenge_at, nonces) = match s.state {
		SubjobState::Claimed => ("claimed", None, None, None),
		SubjobState::Committed { at, .. } => ("committed", Some(at), None, None),
		SubjobState::Revealed { challenge_at, nonces, .. } => {
			("revealed", None, Some(challenge_at), Some(nonces.into_inner()))
		},
	};
	SubjobJson {
		id,
		job: s.job,
		node: s.node,
		worker: ss58(&s.worker),
		start: s.range.start,
		end: s.range.end,
		deadline: s.deadline,
		state,
		committed_at,
		challenge_at,
		nonces,
		penalty: s.penalty.to_string(),
	}
}

/// Which subjobs `hashJobs_subjobs` returns: `"all"`, `"reclaimable"`, `{"node": id}` or
/// `{"job": id}`.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum SubjobFilterJson {
	/// Every open subjob.
	All,
	/// Those a `reclaim` in the next block fails.
	Reclaimable,
	/// Those of one node.
	Node(u64),
	/// Those of one job.
	Job(JobId),
}

impl From<SubjobFilterJson> for SubjobFilter {
	fn from(f: SubjobFilterJson) -> Self {
		match f {
			SubjobFilterJson::All => SubjobFilter::All,
			SubjobFilterJson::Reclaimable => SubjobFilter::Reclaimable,
			SubjobFilterJson::Node(n) => SubjobFilter::Node(n),
			SubjobFilterJson::Job(j) => SubjobFilter::Job(j),
		}
	}
}

/// The `hashJobs_*` methods.
#[rpc(server, namespace = "hashJobs")]
pub trait HashJobsRpc<BlockHash> {
	/// A page of the jobs a claim can take nonces from.
	#[method(name = "claimable")]
	fn claimable(
		&self,
		after: Option<JobId>,
		limit: Option<u32>,
		at: Option<BlockHash>,
	) -> RpcResult<PageJson<JobJson, JobId>>;

	/// A page of the open subjobs `filter` selects.
	#[method(name = "subjobs")]
	fn subjobs(
		&self,
		filter: SubjobFilterJson,
		after: Option<SubjobId>,
		limit: Option<u32>,
		at: Option<BlockHash>,
	) -> RpcResult<PageJson<SubjobJson, SubjobId>>;
}

/// Serves [`HashJobsRpcServer`] from the client's runtime API.
pub struct HashJobs<C> {
	client: Arc<C>,
}

impl<C> HashJobs<C> {
	/// Serves the hash-jobs RPC from `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client }
	}
}

impl<C> HashJobsRpcServer<<Block as BlockT>::Hash> for HashJobs<C>
where
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: HashJobsApi<Block, JobOf<Runtime>, SubjobOf<Runtime>>,
{
	fn claimable(
		&self,
		after: Option<JobId>,
		limit: Option<u32>,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<PageJson<JobJson, JobId>> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let limit = limit.unwrap_or(appchain_primitives::page::MAX_PAGE_ITEMS);
		let page =
			self.client.runtime_api().claimable_jobs(at, after, limit).map_err(runtime_error)?;
		Ok(PageJson::from_page(page, job_json))
	}

	fn subjobs(
		&self,
		filter: SubjobFilterJson,
		after: Option<SubjobId>,
		limit: Option<u32>,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<PageJson<SubjobJson, SubjobId>> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let limit = limit.unwrap_or(appchain_primitives::page::MAX_PAGE_ITEMS);
		let page = self
			.client
			.runtime_api()
			.subjobs(at, filter.into(), after, limit)
			.map_err(runtime_error)?;
		Ok(PageJson::from_page(page, subjob_json))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn filters_parse_as_documented() {
		let parse = |s: &str| serde_json::from_str::<SubjobFilterJson>(s).map_err(|_| ());
		assert_eq!(parse(r#""all""#), Ok(SubjobFilterJson::All));
		assert_eq!(parse(r#""reclaimable""#), Ok(SubjobFilterJson::Reclaimable));
		assert_eq!(parse(r#"{"node": 7}"#), Ok(SubjobFilterJson::Node(7)));
		assert_eq!(parse(r#"{"job": 3}"#), Ok(SubjobFilterJson::Job(3)));
		assert!(parse(r#"{"owner": 3}"#).is_err());
		assert!(parse(r#""mine""#).is_err());
	}
}
