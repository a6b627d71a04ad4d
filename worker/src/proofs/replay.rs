//! Re-executing a step on the verifier's side.
//!
//! A step's result depends on every earlier step of its session (through the KV cache), and
//! a step computed in a batch differs in its last bits from the same tokens one by one (see
//! the README's *Determinism and receipts*). A verifier therefore replays the session's steps
//! `0..=n` exactly as the node saw them, with the same token counts, on a fresh session
//! cache, and compares the per-layer hashes of step `n` with the receipt's
//! ([`replay_step`], [`verify_step`]). The inputs come from the node's proofs API and each is
//! checked against its receipt's input hash first ([`fetch_inputs`], [`check_input`]), so a
//! node cannot answer a challenge with other inputs than it signed for.

use appchain_llm_engine::{wire, EngineError, LayerShard};
use appchain_primitives::{
	pow::Hash256,
	receipt::{activation_hash, first_divergent_layer, LayerMismatch},
};

use super::{input_path, receipts_path, SessionReceipts, SignedReceipt};

/// Why a replay could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
	/// Nothing to replay.
	#[error("no steps to replay")]
	NoSteps,
	/// The engine refused a step.
	#[error("step {step}: {source}")]
	Engine {
		/// The step.
		step: usize,
		/// Why.
		#[source]
		source: EngineError,
	},
	/// The shard does not compute the receipt's layers.
	#[error("the receipt is for layers [{}, {}), the shard computes [{}, {})", receipt.0, receipt.1, shard.0, shard.1)]
	WrongShard {
		/// The receipt's layers.
		receipt: (u32, u32),
		/// The shard's.
		shard: (u32, u32),
	},
	/// The receipts are not steps `0..=n` of one session in order.
	#[error("receipt {index} is step {step} of session {session}: not the session's next step")]
	NotASession {
		/// Its index in the list.
		index: usize,
		/// Its step.
		step: u32,
		/// Its session, hex.
		session: String,
	},
	/// The receipt's per-layer hashes do not match it.
	#[error("the receipt does not match its layer hashes: {0}")]
	Receipt(LayerMismatch),
	/// A kept input is not the one its receipt signed for.
	#[error("input of step {step}: {reason}")]
	BadInput {
		/// The step.
		step: u32,
		/// What is wrong.
		reason: String,
	},
	/// The node's proofs API did not answer as expected.
	#[error("{url}: {reason}")]
	Fetch {
		/// What was asked.
		url: String,
		/// What happened.
		reason: String,
	},
}

/// The per-layer output hashes of the last of `inputs` (steps `0..=n` of one session, each
/// `(position, tokens × hidden values)` as the node received it), replayed on a fresh
/// session cache of `shard`.
pub fn replay_step(
	shard: &LayerShard,
	inputs: &[(usize, Vec<f32>)],
) -> Result<Vec<Hash256>, ReplayError> {
	let (last, prefix) = inputs.split_last().ok_or(ReplayError::NoSteps)?;
	let mut session = shard.new_session();
	for (step, (position, values)) in prefix.iter().enumerate() {
		shard
			.forward(&mut session, *position, values)
			.map_err(|source| ReplayError::Engine { step, source })?;
	}
	let (_, hashes) = shard
		.forward_traced(&mut session, last.0, &last.1)
		.map_err(|source| ReplayError::Engine { step: prefix.len(), source })?;
	Ok(hashes)
}

/// What a replay says about a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
	/// Every layer's output is the receipt's.
	Agrees,
	/// Layer `layer` is the first whose output differs.
	Diverges {
		/// The first layer that differs.
		layer: u32,
		/// The replay's per-layer hashes.
		ours: Vec<Hash256>,
	},
}

/// Replays `inputs` (steps `0..=n`, see [`replay_step`]) and compares step `n`'s per-layer
/// hashes with `receipt`'s (which must be step `n`'s and match its own layer root).
pub fn verify_step(
	shard: &LayerShard,
	inputs: &[(usize, Vec<f32>)],
	receipt: &SignedReceipt,
) -> Result<Verdict, ReplayError> {
	let r = &receipt.receipt;
	if shard.layers() != (r.start, r.end) {
		return Err(ReplayError::WrongShard { receipt: (r.start, r.end), shard: shard.layers() });
	}
	r.check_layers(&receipt.layer_hashes).map_err(ReplayError::Receipt)?;
	let ours = replay_step(shard, inputs)?;
	Ok(match first_divergent_layer(r.start, &ours, &receipt.layer_hashes) {
		None => Verdict::Agrees,
		Some(layer) => Verdict::Diverges { layer, ours },
	})
}

/// Reads a kept input frame and checks it is the one `receipt` signed for: same model,
/// layers, session, position and token count, and the receipt's input hash. Returns
/// `(position, values)` for [`replay_step`].
pub fn check_input(
	receipt: &SignedReceipt,
	frame: &[u8],
) -> Result<(usize, Vec<f32>), ReplayError> {
	let r = &receipt.receipt;
	let bad = |reason: String| ReplayError::BadInput { step: r.step, reason };
	let (header, values) = wire::decode(frame).map_err(|e| bad(e.to_string()))?;
	if header.model != r.model
		|| header.layers != (r.start, r.end)
		|| header.session != r.session
		|| header.position != r.position
		|| header.tokens != r.tokens
	{
		return Err(bad(format!(
			"the frame is for model {} layers {:?} position {} ({} tokens), the receipt for model {} layers [{}, {}) position {} ({} tokens)",
			header.model, header.layers, header.position, header.tokens, r.model, r.start, r.end, r.position, r.tokens
		)));
	}
	if activation_hash(header.tokens, header.hidden, &values) != r.input_hash {
		return Err(bad("its hash is not the receipt's input hash".into()));
	}
	Ok((r.position as usize, values))
}

async fn get(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, ReplayError> {
	let fetch = |reason: String| ReplayError::Fetch { url: url.to_string(), reason };
	let response = http.get(url).send().await.map_err(|e| fetch(e.to_string()))?;
	let status = response.status();
	let body = response.bytes().await.map_err(|e| fetch(e.to_string()))?;
	if !status.is_success() {
		return Err(fetch(format!("{status}: {}", String::from_utf8_lossy(&body))));
	}
	Ok(body.to_vec())
}

/// The receipts node `endpoint` kept for `session` (`GET /v1/proofs/sessions/{session}/receipts`).
pub async fn fetch_receipts(
	http: &reqwest::Client,
	endpoint: &str,
	session: &[u8; 16],
) -> Result<Vec<SignedReceipt>, ReplayError> {
	let url = format!("{}{}", endpoint.trim_end_matches('/'), receipts_path(session));
	let body = get(http, &url).await?;
	let kept: SessionReceipts = serde_json::from_slice(&body)
		.map_err(|e| ReplayError::Fetch { url: url.clone(), reason: e.to_string() })?;
	Ok(kept.receipts)
}

/// The inputs of `receipts` (steps `0..=n` of one session, in order) from node `endpoint`'s
/// proofs API, each checked against its receipt ([`check_input`]): what [`replay_step`]
/// replays.
pub async fn fetch_inputs(
	http: &reqwest::Client,
	endpoint: &str,
	receipts: &[SignedReceipt],
) -> Result<Vec<(usize, Vec<f32>)>, ReplayError> {
	let first = receipts.first().ok_or(ReplayError::NoSteps)?;
	let session = first.receipt.session;
	let mut inputs = Vec::with_capacity(receipts.len());
	for (index, receipt) in receipts.iter().enumerate() {
		let r = &receipt.receipt;
		if r.session != session || usize::try_from(r.step).ok() != Some(index) {
			return Err(ReplayError::NotASession {
				index,
				step: r.step,
				session: hex::encode(r.session),
			});
		}
		let url = format!("{}{}", endpoint.trim_end_matches('/'), input_path(&session, r.step));
		let frame = get(http, &url).await?;
		inputs.push(check_input(receipt, &frame)?);
	}
	Ok(inputs)
}
