//! `proofs_*` RPC: inference-proof commitments, their challenges and votes, for clients,
//! serving nodes and verifiers.
//!
//! | method | params | result |
//! |---|---|---|
//! | `proofs_commitment` | `id`, optional block hash | the open commitment with its challenge, or `null` |
//! | `proofs_ofNode` | `node`, optional block hash | the node's open commitments |
//! | `proofs_dutiesOf` | `node`, optional block hash | the open challenges the node verifies |
//! | `proofs_probability` | `model`, optional block hash | the model's challenge probability, in parts per billion |
//!
//! A commitment is `{id, node, owner, client, model, start, end, session, class, steps, receiptsRoot,
//! payment, reserved, committedAt, challengeAt, seeded, dispute, challenge}`; its `challenge`
//! (or `null`) is `{index, byClient, phase, until, receipt, verifiers}`, `phase` one of
//! `awaitingReceipt`, `voting`, `opening`, and each verifier `{node, owner, ballot, vote}` with
//! `ballot` `pending`, `sealed` or `open`. Balances are decimal strings, accounts SS58 with the
//! chain's prefix, hashes `0x` hex. Errors: `1010` the runtime call failed.

use std::sync::Arc;

use appchain_primitives::{receipt::Receipt, ModelId, NodeId};
use appchain_runtime::{opaque::Block, Runtime};
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use pallet_inference_proofs::{
	runtime_api::InferenceProofsApi, Ballot, CommitmentId, CommitmentViewOf, Phase, Vote,
};
use serde::Serialize;
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_runtime::traits::Block as BlockT;

use super::{runtime_error, ss58};

fn hex(bytes: &[u8]) -> String {
	sp_core::bytes::to_hex(bytes, false)
}

/// A receipt as the RPC returns it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptJson {
	/// Node, model and layers `[start, end)`.
	pub node: NodeId,
	/// The model.
	pub model: ModelId,
	/// First layer.
	pub start: u32,
	/// One past the last layer.
	pub end: u32,
	/// The session, hex.
	pub session: String,
	/// Step index in the session.
	pub step: u32,
	/// Position of the step's first token.
	pub position: u32,
	/// Tokens in the step.
	pub tokens: u32,
	/// Input activation hash, hex.
	pub input_hash: String,
	/// Output activation hash, hex.
	pub output_hash: String,
	/// Root of the per-layer output hashes, hex.
	pub layer_root: String,
}

fn receipt_json(r: &Receipt) -> ReceiptJson {
	ReceiptJson {
		node: r.node,
		model: r.model,
		start: r.start,
		end: r.end,
		session: hex(&r.session),
		step: r.step,
		position: r.position,
		tokens: r.tokens,
		input_hash: hex(&r.input_hash),
		output_hash: hex(&r.output_hash),
		layer_root: hex(&r.layer_root),
	}
}

/// A verifier of a challenge.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VerifierJson {
	/// The verifying node.
	pub node: NodeId,
	/// Its owner, SS58.
	pub owner: String,
	/// `pending`, `sealed` or `open`.
	pub ballot: &'static str,
	/// The opened vote: `{"layerRoot": hex, "firstDivergentLayer": n|null}` or
	/// `"inputsUnavailable"`.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub vote: Option<serde_json::Value>,
}

/// A challenge.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeJson {
	/// Index of the challenged receipt in the batch.
	pub index: u32,
	/// Raised by the client's dispute.
	pub by_client: bool,
	/// `awaitingReceipt`, `voting` or `opening`.
	pub phase: &'static str,
	/// Last block of the phase.
	pub until: u32,
	/// The revealed receipt.
	pub receipt: Option<ReceiptJson>,
	/// The verifiers drawn.
	pub verifiers: Vec<VerifierJson>,
}

/// A commitment.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CommitmentJson {
	/// Commitment id.
	pub id: CommitmentId,
	/// The committing node.
	pub node: NodeId,
	/// Its owner, SS58.
	pub owner: String,
	/// The client, SS58.
	pub client: String,
	/// The model.
	pub model: ModelId,
	/// First layer.
	pub start: u32,
	/// One past the last layer.
	pub end: u32,
	/// The session, hex.
	pub session: String,
	/// The node's engine class, hex: its verifiers share it.
	pub class: String,
	/// Receipts in the batch.
	pub steps: u32,
	/// Root of the batch's receipts, hex.
	pub receipts_root: String,
	/// What the client paid for the steps, decimal.
	pub payment: String,
	/// Reserved from the node's collateral, decimal.
	pub reserved: String,
	/// Block of the commitment.
	pub committed_at: u32,
	/// Block whose seed decides the challenge.
	pub challenge_at: u32,
	/// Whether the seed is stamped (`draw` can be called).
	pub seeded: bool,
	/// The disputed receipt, if the client disputed one.
	pub dispute: Option<u32>,
	/// The challenge, once drawn.
	pub challenge: Option<ChallengeJson>,
}

fn vote_json(vote: &Vote) -> serde_json::Value {
	match vote {
		Vote::Computed { layer_root, first_divergent_layer } => serde_json::json!({
			"layerRoot": hex(layer_root),
			"firstDivergentLayer": first_divergent_layer,
		}),
		Vote::InputsUnavailable => serde_json::json!("inputsUnavailable"),
	}
}

fn commitment_json(view: CommitmentViewOf<Runtime>) -> CommitmentJson {
	let c = view.commitment;
	let challenge = view.challenge.map(|ch| {
		let (phase, until) = match ch.phase {
			Phase::AwaitingReceipt { until } => ("awaitingReceipt", until),
			Phase::Voting { until } => ("voting", until),
			Phase::Revealing { until } => ("opening", until),
		};
		ChallengeJson {
			index: ch.index,
			by_client: ch.by_client,
			phase,
			until,
			receipt: ch.receipt.as_ref().map(receipt_json),
			verifiers: ch
				.verifiers
				.iter()
				.map(|v| {
					let (ballot, vote) = match &v.ballot {
						Ballot::Pending => ("pending", None),
						Ballot::Sealed(_) => ("sealed", None),
						Ballot::Open(vote) => ("open", Some(vote_json(vote))),
					};
					VerifierJson { node: v.node, owner: ss58(&v.owner), ballot, vote }
				})
				.collect(),
		}
	});
	CommitmentJson {
		id: view.id,
		node: c.node,
		owner: ss58(&c.owner),
		client: ss58(&c.client),
		model: c.model,
		start: c.start,
		end: c.end,
		session: hex(&c.session),
		class: hex(&c.class),
		steps: c.steps,
		receipts_root: hex(&c.receipts_root),
		payment: c.payment.to_string(),
		reserved: c.reserved.to_string(),
		committed_at: c.committed_at,
		challenge_at: c.challenge_at,
		seeded: c.seed.is_some(),
		dispute: c.dispute,
		challenge,
	}
}

/// The `proofs_*` methods.
#[rpc(server, namespace = "proofs")]
pub trait ProofsRpc<BlockHash> {
	/// The open commitment `id`, with its challenge.
	#[method(name = "commitment")]
	fn commitment(
		&self,
		id: CommitmentId,
		at: Option<BlockHash>,
	) -> RpcResult<Option<CommitmentJson>>;

	/// The open commitments of `node`.
	#[method(name = "ofNode")]
	fn of_node(&self, node: NodeId, at: Option<BlockHash>) -> RpcResult<Vec<CommitmentJson>>;

	/// The open challenges `node` was drawn to verify.
	#[method(name = "dutiesOf")]
	fn duties_of(&self, node: NodeId, at: Option<BlockHash>) -> RpcResult<Vec<CommitmentJson>>;

	/// The challenge probability of `model`, in parts per billion.
	#[method(name = "probability")]
	fn probability(&self, model: ModelId, at: Option<BlockHash>) -> RpcResult<u32>;
}

/// Serves [`ProofsRpcServer`] from the client's runtime API.
pub struct Proofs<C> {
	client: Arc<C>,
}

impl<C> Proofs<C> {
	/// Serves the proofs RPC from `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client }
	}
}

impl<C> ProofsRpcServer<<Block as BlockT>::Hash> for Proofs<C>
where
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: InferenceProofsApi<Block, CommitmentViewOf<Runtime>>,
{
	fn commitment(
		&self,
		id: CommitmentId,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<Option<CommitmentJson>> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let view = self.client.runtime_api().commitment(at, id).map_err(runtime_error)?;
		Ok(view.map(commitment_json))
	}

	fn of_node(
		&self,
		node: NodeId,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<Vec<CommitmentJson>> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let views = self.client.runtime_api().commitments_of(at, node).map_err(runtime_error)?;
		Ok(views.into_iter().map(commitment_json).collect())
	}

	fn duties_of(
		&self,
		node: NodeId,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<Vec<CommitmentJson>> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let views = self.client.runtime_api().duties_of(at, node).map_err(runtime_error)?;
		Ok(views.into_iter().map(commitment_json).collect())
	}

	fn probability(&self, model: ModelId, at: Option<<Block as BlockT>::Hash>) -> RpcResult<u32> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let p =
			self.client.runtime_api().challenge_probability(at, model).map_err(runtime_error)?;
		Ok(p.deconstruct())
	}
}
