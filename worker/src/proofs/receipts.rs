//! Signed receipts: what a serving node returns with every forward step, what the client
//! checks, and what the node keeps on disk for verifiers.
//!
//! ## Encodings
//!
//! - **Header.** A node that signs answers every successful `POST /v1/sessions/{id}/forward`
//!   with the header `x-appchain-receipt: 0x<hex>`, the hex of the SCALE encoding of a
//!   [`SignedReceipt`]:
//!
//!   | bytes | field |
//!   |---|---|
//!   | 144 | the `Receipt` (SCALE: `node` u64 LE, `model`, `start`, `end` u32 LE, `session` 16 bytes, `step`, `position`, `tokens` u32 LE, `input_hash`, `output_hash`, `layer_root` 32 bytes each) |
//!   | compact `n` + `32 × n` | `layer_hashes`: the activation hash of each layer's output, layers `start..end` in order |
//!   | 64 | `signature`: the node owner's sr25519 signature of `Receipt::signing_payload(genesis)` (200 bytes; `MultiSignature::Sr25519` on chain) |
//!
//!   Nothing may follow the signature. A 10-layer receipt is 529 bytes (1,060 hex digits).
//! - **JSON** (the store's `receipts.jsonl`, the proofs API, `infer --receipts`): one object
//!   with the receipt's fields in camelCase, integers as numbers, `session` as 32 hex digits
//!   (as in the activation API's URLs), every hash and the signature as `0x` hex:
//!   `{"node", "model", "start", "end", "session", "step", "position", "tokens", "inputHash",
//!   "outputHash", "layerRoot", "layerHashes": [...], "signature"}`.
//!
//! ## What a client checks ([`SignedReceipt::check`])
//!
//! The receipt is for the node, model, layers, session, position and token count it asked
//! for, at the step it expects next (0 for a session's first step, one more per step); its
//! input hash is the hash of what was sent and its output hash the hash of what came back;
//! its per-layer hashes are one per layer, end at the output hash and have the receipt's
//! layer root (`Receipt::check_layers`); and the node's owner signed it for this chain.
//!
//! ## What a node keeps ([`ReceiptStore`])
//!
//! `<base>/<genesis hex>/receipts-node<id>/<session hex>/`: `input-<step>.bin`, the step's
//! request body exactly as received (an activation frame), and `receipts.jsonl`, one JSON
//! receipt per line in step order. Both are written after the step is computed and before
//! its answer is sent, under the session's lock: the input first, then the receipt line (one
//! `write` of a whole line; a reader ignores a trailing line without its newline). They are
//! not `fsync`ed per step: a crash may lose the last steps of open sessions, whose receipts
//! the node has not committed on chain yet either. A session's directory is kept after the
//! session closes and removed when it has not changed for the retention period
//! ([`ReceiptStore::DEFAULT_RETENTION`], 24 h; `serve --keep-receipts-hours`).

use std::{
	path::{Path, PathBuf},
	time::{Duration, SystemTime},
};

use appchain_primitives::{
	pow::Hash256,
	receipt::{activation_hash, LayerMismatch, Receipt},
};
use codec::{DecodeAll, Encode};
use serde::{Deserialize, Serialize};
use subxt_signer::sr25519;

use crate::{error::WorkerError, payments::parse_hex};

/// A receipt with the per-layer output hashes it commits to and its owner's signature.
#[derive(Clone, Debug, PartialEq, Eq, codec::Encode, codec::Decode, Serialize, Deserialize)]
#[serde(into = "ReceiptJson", try_from = "ReceiptJson")]
pub struct SignedReceipt {
	/// What the node states about the step.
	pub receipt: Receipt,
	/// The activation hash of each layer's output, layers `start..end` in order.
	pub layer_hashes: Vec<Hash256>,
	/// The node owner's sr25519 signature of the receipt's signing payload.
	pub signature: [u8; 64],
}

impl SignedReceipt {
	/// `keypair`'s signature of `receipt` on the chain with genesis `genesis`.
	pub fn sign(
		keypair: &sr25519::Keypair,
		genesis: &[u8; 32],
		receipt: Receipt,
		layer_hashes: Vec<Hash256>,
	) -> Self {
		let signature = keypair.sign(&receipt.signing_payload(genesis)).0;
		Self { receipt, layer_hashes, signature }
	}

	/// Whether `owner` signed this receipt for the chain with genesis `genesis`.
	pub fn is_signed_by(&self, owner: &[u8; 32], genesis: &[u8; 32]) -> bool {
		let payload = self.receipt.signing_payload(genesis);
		sr25519::verify(&sr25519::Signature(self.signature), payload, &sr25519::PublicKey(*owner))
	}

	/// The header value: `0x` and the hex of the SCALE encoding.
	pub fn to_hex(&self) -> String {
		format!("0x{}", hex::encode(self.encode()))
	}

	/// Reads a header value written by [`Self::to_hex`] (`0x` optional); nothing may follow
	/// the encoding.
	pub fn from_hex(text: &str) -> Result<Self, String> {
		let text = text.trim();
		let bytes = hex::decode(text.strip_prefix("0x").unwrap_or(text))
			.map_err(|e| format!("the receipt is not hex: {e}"))?;
		Self::decode_all(&mut bytes.as_slice())
			.map_err(|e| format!("the receipt does not decode: {e}"))
	}

	/// Whether this receipt describes `expected`, whose input was `input` and output
	/// `output`, signed by `owner` for the chain with genesis `genesis`.
	pub fn check(
		&self,
		expected: &ExpectedStep,
		input: &[f32],
		output: &[f32],
		owner: &[u8; 32],
		genesis: &[u8; 32],
	) -> Result<(), ReceiptRefusal> {
		let r = &self.receipt;
		let field = |name: &'static str, want: String, got: String| {
			if want == got {
				Ok(())
			} else {
				Err(ReceiptRefusal::Field { field: name, expected: want, got })
			}
		};
		field("node", expected.node.to_string(), r.node.to_string())?;
		field("model", expected.model.to_string(), r.model.to_string())?;
		field(
			"layers",
			format!("[{}, {})", expected.layers.0, expected.layers.1),
			format!("[{}, {})", r.start, r.end),
		)?;
		field("session", hex::encode(expected.session), hex::encode(r.session))?;
		field("step", expected.step.to_string(), r.step.to_string())?;
		field("position", expected.position.to_string(), r.position.to_string())?;
		field("tokens", expected.tokens.to_string(), r.tokens.to_string())?;
		if activation_hash(expected.tokens, expected.hidden, input) != r.input_hash {
			return Err(ReceiptRefusal::InputHash);
		}
		if activation_hash(expected.tokens, expected.hidden, output) != r.output_hash {
			return Err(ReceiptRefusal::OutputHash);
		}
		r.check_layers(&self.layer_hashes).map_err(ReceiptRefusal::Layers)?;
		if !self.is_signed_by(owner, genesis) {
			return Err(ReceiptRefusal::Signature);
		}
		Ok(())
	}
}

/// The step a client asked a node for: what its receipt must say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectedStep {
	/// The node.
	pub node: u64,
	/// The model.
	pub model: u32,
	/// Layers `[start, end)`.
	pub layers: (u32, u32),
	/// The session.
	pub session: [u8; 16],
	/// The step's index in the session.
	pub step: u32,
	/// Position of its first token.
	pub position: u32,
	/// Tokens in the step.
	pub tokens: u32,
	/// Values per token.
	pub hidden: u32,
}

/// Why a client refuses a step's receipt.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptRefusal {
	/// The node sent no receipt and the client requires one.
	#[error("no receipt (header x-appchain-receipt)")]
	Missing,
	/// The header does not decode.
	#[error("{0}")]
	Malformed(String),
	/// A field is not what was asked for.
	#[error("the receipt's {field} is {got}, the step's is {expected}")]
	Field {
		/// The field.
		field: &'static str,
		/// What the step is.
		expected: String,
		/// What the receipt says.
		got: String,
	},
	/// The input hash is not the hash of what was sent.
	#[error("the receipt's input hash is not the hash of the input sent")]
	InputHash,
	/// The output hash is not the hash of what came back.
	#[error("the receipt's output hash is not the hash of the output received")]
	OutputHash,
	/// The per-layer hashes do not match the receipt.
	#[error("{0}")]
	Layers(LayerMismatch),
	/// The node's owner did not sign it for this chain.
	#[error("the receipt is not signed by the node's owner for this chain")]
	Signature,
}

/// A serving node's receipts: signs each step's receipt with the owner's key and keeps it,
/// with the step's input, in a [`ReceiptStore`].
#[derive(Clone)]
pub struct ReceiptSigner {
	node: u64,
	genesis: [u8; 32],
	keypair: sr25519::Keypair,
	store: Option<ReceiptStore>,
}

impl std::fmt::Debug for ReceiptSigner {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("ReceiptSigner")
			.field("node", &self.node)
			.field("owner", &hex::encode(self.owner()))
			.field("store", &self.store)
			.finish_non_exhaustive()
	}
}

impl ReceiptSigner {
	/// Receipts of node `node` signed by `keypair` (its owner's key) for the chain with genesis
	/// `genesis`, kept nowhere.
	pub fn new(node: u64, genesis: [u8; 32], keypair: sr25519::Keypair) -> Self {
		Self { node, genesis, keypair, store: None }
	}

	/// Keeps every signed receipt and its step's input in `store`.
	pub fn keep_in(mut self, store: ReceiptStore) -> Self {
		self.store = Some(store);
		self
	}

	/// The node.
	pub fn node(&self) -> u64 {
		self.node
	}

	/// The owner's public key.
	pub fn owner(&self) -> [u8; 32] {
		self.keypair.public_key().0
	}

	/// Where receipts are kept, if anywhere.
	pub fn store(&self) -> Option<&ReceiptStore> {
		self.store.as_ref()
	}

	/// Signs `receipt`, which commits to `layer_hashes`.
	pub fn sign(&self, receipt: Receipt, layer_hashes: Vec<Hash256>) -> SignedReceipt {
		SignedReceipt::sign(&self.keypair, &self.genesis, receipt, layer_hashes)
	}
}

/// A session's receipts, as `GET /v1/proofs/sessions/{session}/receipts` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionReceipts {
	/// The session, 32 hex digits.
	pub session: String,
	/// Its receipts in step order.
	pub receipts: Vec<SignedReceipt>,
}

/// A batch of a session's receipts committed on chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedBatch {
	/// Its first step.
	pub first: u32,
	/// Its number of steps.
	pub steps: u32,
	/// Its receipts root (`appchain_primitives::receipt::receipts_root`).
	pub root: [u8; 32],
}

/// Name of a session's receipts file.
const RECEIPTS_FILE: &str = "receipts.jsonl";
/// Name of the file naming a session's client (hex of its account).
const CLIENT_FILE: &str = "client";
/// Name of the file listing a session's committed batch roots, one hex root per line.
const COMMITTED_FILE: &str = "committed";

/// A serving node's receipts and step inputs on disk, one directory per session (see the
/// module docs).
#[derive(Clone, Debug)]
pub struct ReceiptStore {
	dir: PathBuf,
	retention: Duration,
}

impl ReceiptStore {
	/// How long a session's directory is kept after its last step, unless told otherwise.
	pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);

	/// The store of node `node` on the chain with genesis `genesis`:
	/// `<base>/<genesis hex>/receipts-node<node>/`.
	pub fn for_node(base: &Path, genesis: &[u8; 32], node: u64) -> Self {
		Self::at(base.join(hex::encode(genesis)).join(format!("receipts-node{node}")))
	}

	/// A store in `dir` (created with the first step kept).
	pub fn at(dir: PathBuf) -> Self {
		Self { dir, retention: Self::DEFAULT_RETENTION }
	}

	/// Keeps sessions `retention` after their last step.
	pub fn with_retention(mut self, retention: Duration) -> Self {
		self.retention = retention;
		self
	}

	/// The directory.
	pub fn dir(&self) -> &Path {
		&self.dir
	}

	/// The retention period.
	pub fn retention(&self) -> Duration {
		self.retention
	}

	fn session_dir(&self, session: &[u8; 16]) -> PathBuf {
		self.dir.join(hex::encode(session))
	}

	/// Keeps a step: its input frame (`frame`, the request body) as `input-<step>.bin`, then its
	/// receipt as a line of `receipts.jsonl`. Not `fsync`ed.
	pub fn keep(&self, signed: &SignedReceipt, frame: &[u8]) -> Result<(), WorkerError> {
		use std::io::Write;
		let dir = self.session_dir(&signed.receipt.session);
		std::fs::create_dir_all(&dir).map_err(|e| WorkerError::journal(&dir, e))?;
		let input = dir.join(format!("input-{}.bin", signed.receipt.step));
		std::fs::write(&input, frame).map_err(|e| WorkerError::journal(&input, e))?;
		let path = dir.join(RECEIPTS_FILE);
		let mut line = serde_json::to_vec(signed).map_err(|e| {
			WorkerError::journal(&path, std::io::Error::new(std::io::ErrorKind::InvalidData, e))
		})?;
		line.push(b'\n');
		std::fs::OpenOptions::new()
			.create(true)
			.append(true)
			.open(&path)
			.and_then(|mut file| file.write_all(&line))
			.map_err(|e| WorkerError::journal(&path, e))
	}

	/// The receipts kept for `session`, in step order; `None` when nothing is kept for it.
	pub fn receipts(&self, session: &[u8; 16]) -> Result<Option<Vec<SignedReceipt>>, WorkerError> {
		let path = self.session_dir(session).join(RECEIPTS_FILE);
		let text = match std::fs::read_to_string(&path) {
			Ok(text) => text,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
			Err(e) => return Err(WorkerError::journal(&path, e)),
		};
		// A last line without its newline is a write in progress: not a receipt yet.
		let complete = text.rfind('\n').map_or("", |end| &text[..end]);
		complete
			.lines()
			.filter(|l| !l.trim().is_empty())
			.map(|l| {
				serde_json::from_str(l).map_err(|e| {
					WorkerError::journal(
						&path,
						std::io::Error::new(std::io::ErrorKind::InvalidData, e),
					)
				})
			})
			.collect::<Result<Vec<_>, _>>()
			.map(Some)
	}

	/// Records `client` as the account `session` is for (its commitment names it).
	pub fn set_client(&self, session: &[u8; 16], client: &[u8; 32]) -> Result<(), WorkerError> {
		let dir = self.session_dir(session);
		std::fs::create_dir_all(&dir).map_err(|e| WorkerError::journal(&dir, e))?;
		let path = dir.join(CLIENT_FILE);
		std::fs::write(&path, hex::encode(client)).map_err(|e| WorkerError::journal(&path, e))
	}

	/// The account `session` is for, if its client named one.
	pub fn client(&self, session: &[u8; 16]) -> Result<Option<[u8; 32]>, WorkerError> {
		let path = self.session_dir(session).join(CLIENT_FILE);
		match std::fs::read_to_string(&path) {
			Ok(text) => {
				let mut client = [0u8; 32];
				hex::decode_to_slice(text.trim(), &mut client).map_err(|e| {
					WorkerError::journal(
						&path,
						std::io::Error::new(std::io::ErrorKind::InvalidData, e),
					)
				})?;
				Ok(Some(client))
			},
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
			Err(e) => Err(WorkerError::journal(&path, e)),
		}
	}

	/// The sessions kept, with how long ago each last changed.
	pub fn sessions(&self, now: SystemTime) -> Result<Vec<([u8; 16], Duration)>, WorkerError> {
		let entries = match std::fs::read_dir(&self.dir) {
			Ok(entries) => entries,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
			Err(e) => return Err(WorkerError::journal(&self.dir, e)),
		};
		let mut out = Vec::new();
		for entry in entries.flatten() {
			let mut session = [0u8; 16];
			let name = entry.file_name();
			let Some(name) = name.to_str() else { continue };
			if hex::decode_to_slice(name, &mut session).is_err() {
				continue;
			}
			let path = entry.path().join(RECEIPTS_FILE);
			let Ok(meta) = std::fs::metadata(&path) else { continue };
			let idle =
				meta.modified().ok().and_then(|m| now.duration_since(m).ok()).unwrap_or_default();
			out.push((session, idle));
		}
		out.sort();
		Ok(out)
	}

	/// The batches of `session` already committed on chain, in order: `(first step, steps,
	/// receipts root)`.
	pub fn committed(&self, session: &[u8; 16]) -> Result<Vec<CommittedBatch>, WorkerError> {
		let path = self.session_dir(session).join(COMMITTED_FILE);
		let text = match std::fs::read_to_string(&path) {
			Ok(text) => text,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
			Err(e) => return Err(WorkerError::journal(&path, e)),
		};
		Ok(text
			.lines()
			.filter_map(|l| {
				let mut parts = l.split_whitespace();
				let first = parts.next()?.parse().ok()?;
				let steps = parts.next()?.parse().ok()?;
				let mut root = [0u8; 32];
				hex::decode_to_slice(parts.next()?, &mut root).ok()?;
				Some(CommittedBatch { first, steps, root })
			})
			.collect())
	}

	/// Records that `batch` of `session` was committed (`fsync`ed: a restarted node does not
	/// commit it twice).
	pub fn mark_committed(
		&self,
		session: &[u8; 16],
		batch: &CommittedBatch,
	) -> Result<(), WorkerError> {
		use std::io::Write;
		let path = self.session_dir(session).join(COMMITTED_FILE);
		let line = format!("{} {} {}\n", batch.first, batch.steps, hex::encode(batch.root));
		std::fs::OpenOptions::new()
			.create(true)
			.append(true)
			.open(&path)
			.and_then(|mut file| {
				file.write_all(line.as_bytes())?;
				file.sync_all()
			})
			.map_err(|e| WorkerError::journal(&path, e))
	}

	/// The input frame of `session`'s step `step`, if kept.
	pub fn input(&self, session: &[u8; 16], step: u32) -> Result<Option<Vec<u8>>, WorkerError> {
		let path = self.session_dir(session).join(format!("input-{step}.bin"));
		match std::fs::read(&path) {
			Ok(bytes) => Ok(Some(bytes)),
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
			Err(e) => Err(WorkerError::journal(&path, e)),
		}
	}

	/// Removes the sessions whose directory has not changed for longer than the retention
	/// period as of `now`; returns how many.
	pub fn prune(&self, now: SystemTime) -> Result<usize, WorkerError> {
		let entries = match std::fs::read_dir(&self.dir) {
			Ok(entries) => entries,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
			Err(e) => return Err(WorkerError::journal(&self.dir, e)),
		};
		let mut removed = 0;
		for entry in entries.flatten() {
			let path = entry.path();
			let Ok(meta) = entry.metadata() else { continue };
			if !meta.is_dir() {
				continue;
			}
			let age = meta.modified().ok().and_then(|m| now.duration_since(m).ok());
			if age.is_some_and(|age| age > self.retention) {
				std::fs::remove_dir_all(&path).map_err(|e| WorkerError::journal(&path, e))?;
				removed += 1;
			}
		}
		Ok(removed)
	}
}

/// [`SignedReceipt`] as JSON (see the module docs).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptJson {
	node: u64,
	model: u32,
	start: u32,
	end: u32,
	session: String,
	step: u32,
	position: u32,
	tokens: u32,
	input_hash: String,
	output_hash: String,
	layer_root: String,
	layer_hashes: Vec<String>,
	signature: String,
}

fn hex0x(bytes: &[u8]) -> String {
	format!("0x{}", hex::encode(bytes))
}

impl From<SignedReceipt> for ReceiptJson {
	fn from(s: SignedReceipt) -> Self {
		let r = s.receipt;
		Self {
			node: r.node,
			model: r.model,
			start: r.start,
			end: r.end,
			session: hex::encode(r.session),
			step: r.step,
			position: r.position,
			tokens: r.tokens,
			input_hash: hex0x(&r.input_hash),
			output_hash: hex0x(&r.output_hash),
			layer_root: hex0x(&r.layer_root),
			layer_hashes: s.layer_hashes.iter().map(|h| hex0x(h)).collect(),
			signature: hex0x(&s.signature),
		}
	}
}

impl TryFrom<ReceiptJson> for SignedReceipt {
	type Error = String;

	fn try_from(j: ReceiptJson) -> Result<Self, String> {
		fn bytes<const N: usize>(name: &str, text: &str) -> Result<[u8; N], String> {
			parse_hex::<N>(text).ok_or_else(|| format!("`{name}` is not {N} bytes of hex"))
		}
		let receipt = Receipt {
			node: j.node,
			model: j.model,
			start: j.start,
			end: j.end,
			session: bytes("session", &j.session)?,
			step: j.step,
			position: j.position,
			tokens: j.tokens,
			input_hash: bytes("inputHash", &j.input_hash)?,
			output_hash: bytes("outputHash", &j.output_hash)?,
			layer_root: bytes("layerRoot", &j.layer_root)?,
		};
		let layer_hashes = j
			.layer_hashes
			.iter()
			.map(|h| bytes::<32>("layerHashes", h))
			.collect::<Result<Vec<_>, _>>()?;
		Ok(Self { receipt, layer_hashes, signature: bytes("signature", &j.signature)? })
	}
}

#[cfg(test)]
mod tests {
	#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
	use appchain_primitives::receipt::layer_root;

	use super::*;

	fn alice() -> sr25519::Keypair {
		crate::keys::keypair_from_suri("//Alice").unwrap()
	}

	const HIDDEN: u32 = 4;

	/// A receipt of node 3 for layers [2, 5) of model 7, one token at position 9.
	fn signed(genesis: &[u8; 32]) -> (SignedReceipt, Vec<f32>, Vec<f32>) {
		let input = vec![1.0, -2.0, 0.5, 0.25];
		let output = vec![0.0, 3.0, -1.5, 8.0];
		let mut layer_hashes: Vec<Hash256> =
			(0..2).map(|i| activation_hash(1, HIDDEN, &[i as f32; 4])).collect();
		layer_hashes.push(activation_hash(1, HIDDEN, &output));
		let receipt = Receipt {
			node: 3,
			model: 7,
			start: 2,
			end: 5,
			session: [0xab; 16],
			step: 4,
			position: 9,
			tokens: 1,
			input_hash: activation_hash(1, HIDDEN, &input),
			output_hash: layer_hashes[2],
			layer_root: layer_root(2, &layer_hashes),
		};
		(SignedReceipt::sign(&alice(), genesis, receipt, layer_hashes), input, output)
	}

	fn expected() -> ExpectedStep {
		ExpectedStep {
			node: 3,
			model: 7,
			layers: (2, 5),
			session: [0xab; 16],
			step: 4,
			position: 9,
			tokens: 1,
			hidden: HIDDEN,
		}
	}

	#[test]
	fn signed_receipts_round_trip_through_scale_hex_and_json() {
		let (s, _, _) = signed(&[1; 32]);
		let encoded = s.encode();
		assert_eq!(encoded.len(), 144 + 1 + 3 * 32 + 64, "the documented layout");
		assert_eq!(&encoded[..144], &s.receipt.encode()[..]);
		assert_eq!(&encoded[..8], &3u64.to_le_bytes());
		assert_eq!(encoded[144], 3 << 2, "compact length of the layer hashes");
		assert_eq!(&encoded[encoded.len() - 64..], &s.signature);
		let header = s.to_hex();
		assert!(header.starts_with("0x"));
		assert_eq!(SignedReceipt::from_hex(&header).unwrap(), s);
		assert_eq!(SignedReceipt::from_hex(&header[2..]).unwrap(), s, "0x is optional");
		assert!(SignedReceipt::from_hex(&format!("{header}00")).is_err(), "trailing bytes");
		assert!(SignedReceipt::from_hex(&header[..header.len() - 2]).is_err(), "truncated");
		assert!(SignedReceipt::from_hex("0xzz").is_err());

		let json = serde_json::to_value(&s).unwrap();
		assert_eq!(json["session"], "abababababababababababababababab");
		assert_eq!(json["step"], 4);
		assert_eq!(json["layerHashes"].as_array().unwrap().len(), 3);
		assert!(json["signature"].as_str().unwrap().starts_with("0x"));
		assert_eq!(serde_json::from_value::<SignedReceipt>(json.clone()).unwrap(), s);
		let mut bad = json;
		bad["inputHash"] = "0x00".into();
		assert!(serde_json::from_value::<SignedReceipt>(bad).is_err());
	}

	#[test]
	fn the_client_check_takes_the_right_receipt_and_names_what_is_wrong() {
		let genesis = [2; 32];
		let owner = alice().public_key().0;
		let (s, input, output) = signed(&genesis);
		let e = expected();
		assert_eq!(s.check(&e, &input, &output, &owner, &genesis), Ok(()));
		let refused = |e: ExpectedStep| s.check(&e, &input, &output, &owner, &genesis).unwrap_err();
		for (what, e) in [
			("node", ExpectedStep { node: 4, ..e }),
			("model", ExpectedStep { model: 8, ..e }),
			("layers", ExpectedStep { layers: (2, 6), ..e }),
			("session", ExpectedStep { session: [0; 16], ..e }),
			("step", ExpectedStep { step: 3, ..e }),
			("position", ExpectedStep { position: 10, ..e }),
			("tokens", ExpectedStep { tokens: 2, ..e }),
		] {
			assert!(matches!(refused(e), ReceiptRefusal::Field { field, .. } if field == what));
		}
		let mut other = output.clone();
		other[0] = f32::from_bits(other[0].to_bits() + 1);
		assert_eq!(s.check(&e, &input, &other, &owner, &genesis), Err(ReceiptRefusal::OutputHash));
		assert_eq!(s.check(&e, &other, &output, &owner, &genesis), Err(ReceiptRefusal::InputHash));
		let bob = crate::keys::keypair_from_suri("//Bob").unwrap().public_key().0;
		assert_eq!(s.check(&e, &input, &output, &bob, &genesis), Err(ReceiptRefusal::Signature));
		assert_eq!(
			s.check(&e, &input, &output, &owner, &[3; 32]),
			Err(ReceiptRefusal::Signature),
			"another chain"
		);
		let mut skipped = s.clone();
		skipped.layer_hashes.remove(0);
		assert!(matches!(
			skipped.check(&e, &input, &output, &owner, &genesis),
			Err(ReceiptRefusal::Layers(LayerMismatch::LayerCount { .. }))
		));
	}

	#[test]
	fn the_store_keeps_inputs_and_receipts_per_session_and_prunes_old_ones() {
		let dir = std::env::temp_dir().join(format!("appchain-receipts-{}", std::process::id()));
		let _ = std::fs::remove_dir_all(&dir);
		let store = ReceiptStore::for_node(&dir, &[9; 32], 5);
		assert!(store.dir().ends_with(format!("{}/receipts-node5", hex::encode([9u8; 32]))));
		let (s, _, _) = signed(&[1; 32]);
		assert_eq!(store.receipts(&s.receipt.session).unwrap(), None);
		let second = SignedReceipt { receipt: Receipt { step: 5, ..s.receipt }, ..s.clone() };
		store.keep(&s, b"frame four").unwrap();
		store.keep(&second, b"frame five").unwrap();
		assert_eq!(store.receipts(&s.receipt.session).unwrap(), Some(vec![s.clone(), second]));
		assert_eq!(store.input(&s.receipt.session, 4).unwrap().unwrap(), b"frame four");
		assert_eq!(store.input(&s.receipt.session, 6).unwrap(), None);
		assert_eq!(store.input(&[0; 16], 4).unwrap(), None);
		// A line being written (no newline yet) is not read.
		let file = store.session_dir(&s.receipt.session).join(RECEIPTS_FILE);
		let mut text = std::fs::read_to_string(&file).unwrap();
		text.push_str("{\"node\":");
		std::fs::write(&file, text).unwrap();
		assert_eq!(store.receipts(&s.receipt.session).unwrap().unwrap().len(), 2);
		// Kept for the retention period after the last step, then removed.
		let now = SystemTime::now();
		assert_eq!(store.prune(now).unwrap(), 0);
		assert_eq!(store.prune(now + ReceiptStore::DEFAULT_RETENTION / 2).unwrap(), 0);
		assert_eq!(store.prune(now + ReceiptStore::DEFAULT_RETENTION * 2).unwrap(), 1);
		assert_eq!(store.receipts(&s.receipt.session).unwrap(), None);
		let _ = std::fs::remove_dir_all(&dir);
	}

	#[test]
	fn the_store_lists_sessions_and_remembers_clients_and_committed_batches() {
		let dir = std::env::temp_dir().join(format!("appchain-committed-{}", std::process::id()));
		let _ = std::fs::remove_dir_all(&dir);
		let store = ReceiptStore::for_node(&dir, &[9; 32], 5);
		assert!(store.sessions(SystemTime::now()).unwrap().is_empty(), "nothing kept yet");
		let (s, _, _) = signed(&[1; 32]);
		let session = s.receipt.session;
		assert_eq!(store.client(&session).unwrap(), None);
		store.set_client(&session, &[7; 32]).unwrap();
		assert_eq!(store.client(&session).unwrap(), Some([7; 32]));
		// A session is listed once it has a receipt, with how long it has been idle.
		assert!(store.sessions(SystemTime::now()).unwrap().is_empty());
		store.keep(&s, b"frame").unwrap();
		let later = SystemTime::now() + Duration::from_secs(30);
		let listed = store.sessions(later).unwrap();
		assert_eq!(listed.len(), 1);
		assert_eq!(listed[0].0, session);
		assert!(listed[0].1 >= Duration::from_secs(29));
		assert!(store.committed(&session).unwrap().is_empty());
		let a = CommittedBatch { first: 0, steps: 3, root: [1; 32] };
		let b = CommittedBatch { first: 3, steps: 2, root: [2; 32] };
		store.mark_committed(&session, &a).unwrap();
		store.mark_committed(&session, &b).unwrap();
		assert_eq!(store.committed(&session).unwrap(), vec![a, b]);
		let _ = std::fs::remove_dir_all(&dir);
	}
}
