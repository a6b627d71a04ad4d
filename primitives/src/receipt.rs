//! Inference receipts: what a serving node signs for every forward step it computes, so that the
//! step can later be checked (re-executed by verifiers) and a wrong result pinned on its node
//! (P2P-LLM §4.2; issue 17).
//!
//! ## Encoding (version 1)
//!
//! - **Activations.** A step's input and output are `tokens × hidden` f32 values, row-major,
//!   exactly as they travel between nodes. Their hash is
//!   `SHA-256("appchain/activations/v1" ‖ tokens u32 LE ‖ hidden u32 LE ‖ each f32's IEEE-754
//!   bits LE)` ([`activation_hash`]): bit-exact, so two results agree only if every value does.
//! - **Per-layer commitment.** After each layer `l` of the node's range `[start, end)` the
//!   engine hashes the activations as above (`h_l`); the leaf of layer `l` is
//!   `SHA-256("appchain/layer-output/v1" ‖ l u32 LE ‖ h_l)` ([`layer_leaf`]), and the receipt
//!   carries the Merkle root of the leaves in layer order ([`layer_root`], the tree of
//!   [`pow::merkle_root`](crate::pow::merkle_root)). The output hash is `h_{end-1}`. A verifier
//!   that disagrees with the output compares per-layer hashes with a proof for each
//!   ([`layer_proof`], [`verify_layer`]) and finds the first layer that differs: the dispute is
//!   about one layer, not the whole range.
//! - **Signing payload.** [`Receipt::signing_payload`]: the 24-byte tag
//!   `appchain/inference/rcpt1`, the chain's genesis hash, then the fields in declaration order,
//!   integers little-endian, 200 bytes in all. The node's owner signs it with its account key
//!   (the runtime's `MultiSignature`), as vouchers are signed.
//! - **Client check.** [`Receipt::check_layers`]: the range is not empty, there is one hash per
//!   layer, the last is the output hash and `layer_root` is their root.
//! - **Batch commitment.** A node commits to a batch of receipts on chain with
//!   [`receipts_root`]: the Merkle root of each receipt's leaf
//!   `SHA-256("appchain/receipt-leaf/v1" ‖ signing payload)` ([`Receipt::leaf`]). A challenged
//!   receipt is revealed with [`receipt_proof`] and checked with [`verify_receipt`].
//! - **Votes.** A verifier that re-ran a challenged step seals its [`Vote`] with
//!   [`vote_seal`], then opens it.
//! - **Session ids** ([`session_id`]): the serving node's best block number when the session
//!   opened (u32 LE), then 12 random bytes. Every receipt names its session, so it carries the
//!   time it was signed to within a few blocks: the chain accepts a client's audit of a
//!   session only for a while after that block ([`session_block`]), and a node keeps a
//!   session's inputs longer than that. A client refuses a session stamped far from the
//!   chain's head (a node stamping old blocks would make its work unauditable).

use crate::{
	pow::{merkle_proof, merkle_root, verify_merkle_proof, Hash256, Sha2, Sha256 as Sha256Hasher},
	NodeId,
};
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sha2::Digest;

/// Domain tag of a receipt's signing payload.
pub const RECEIPT_TAG: [u8; 24] = *b"appchain/inference/rcpt1";
/// Domain of an activation hash.
pub const ACTIVATIONS_DOMAIN: &[u8] = b"appchain/activations/v1";
/// Domain of a layer's leaf.
pub const LAYER_LEAF_DOMAIN: &[u8] = b"appchain/layer-output/v1";
/// Length of a receipt's signing payload.
pub const RECEIPT_PAYLOAD_LEN: usize = 24 + 32 + 8 + 4 * 3 + 16 + 4 * 3 + 32 * 3;

/// A session: 16 bytes chosen by the serving node when the session opens ([`session_id`]).
pub type SessionId = [u8; 16];

/// A session id stamped with block `block`: its number little-endian, then `random`.
pub fn session_id(block: u32, random: [u8; 12]) -> SessionId {
	let mut id = [0u8; 16];
	let (stamp, rest) = id.split_at_mut(4);
	stamp.copy_from_slice(&block.to_le_bytes());
	rest.copy_from_slice(&random);
	id
}

/// The block a session id is stamped with ([`session_id`]).
pub fn session_block(session: &SessionId) -> u32 {
	u32::from_le_bytes([session[0], session[1], session[2], session[3]])
}

/// What a node's results are bit-for-bit reproducible within: a digest of its engine build and
/// CPU feature class (see the README's *Determinism and receipts*). A node declares it on chain,
/// and its steps are re-run only by verifiers of the same class.
pub type EngineClass = [u8; 16];

/// What a node states about one forward step it computed.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct Receipt {
	/// The node that computed the step.
	pub node: NodeId,
	/// The model.
	pub model: u32,
	/// First layer computed.
	pub start: u32,
	/// One past the last layer computed.
	pub end: u32,
	/// The session.
	pub session: SessionId,
	/// The step's index in the session (0 for the prompt, then one per generated token).
	pub step: u32,
	/// Position of the step's first token.
	pub position: u32,
	/// Tokens in the step.
	pub tokens: u32,
	/// [`activation_hash`] of the input.
	pub input_hash: Hash256,
	/// [`activation_hash`] of the output.
	pub output_hash: Hash256,
	/// [`layer_root`] of the per-layer outputs.
	pub layer_root: Hash256,
}

/// Why a receipt does not describe the per-layer outputs it came with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerMismatch {
	/// `end <= start`: a receipt covers at least one layer.
	EmptyRange,
	/// The number of per-layer hashes is not `end - start`.
	LayerCount {
		/// Layers in the receipt's range.
		expected: u32,
		/// Hashes given.
		got: usize,
	},
	/// `output_hash` is not the last layer's output hash.
	OutputNotLastLayer,
	/// `layer_root` is not the root of the per-layer hashes.
	LayerRoot,
}

impl core::fmt::Display for LayerMismatch {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match self {
			Self::EmptyRange => f.write_str("the receipt's layer range is empty"),
			Self::LayerCount { expected, got } => {
				write!(f, "{got} per-layer hashes for a range of {expected} layers")
			},
			Self::OutputNotLastLayer => {
				f.write_str("the output hash is not the last layer's output hash")
			},
			Self::LayerRoot => {
				f.write_str("the layer root does not commit to the per-layer hashes")
			},
		}
	}
}

/// Domain of a receipt's leaf in a session commitment.
pub const RECEIPT_LEAF_DOMAIN: &[u8] = b"appchain/receipt-leaf/v1";

impl Receipt {
	/// Whether `layer_hashes` (layers `start..end` in order) are what this receipt commits to:
	/// one per layer of a non-empty range, the last one the output hash, and `layer_root` their
	/// root. A client checks this for every step it receives.
	pub fn check_layers(&self, layer_hashes: &[Hash256]) -> Result<(), LayerMismatch> {
		let expected = self.end.checked_sub(self.start).filter(|n| *n > 0);
		let expected = expected.ok_or(LayerMismatch::EmptyRange)?;
		if usize::try_from(expected).ok() != Some(layer_hashes.len()) {
			return Err(LayerMismatch::LayerCount { expected, got: layer_hashes.len() });
		}
		if layer_hashes.last() != Some(&self.output_hash) {
			return Err(LayerMismatch::OutputNotLastLayer);
		}
		if layer_root(self.start, layer_hashes) != self.layer_root {
			return Err(LayerMismatch::LayerRoot);
		}
		Ok(())
	}

	/// The receipt's leaf in a session commitment:
	/// `SHA-256("appchain/receipt-leaf/v1" ‖ signing payload)`.
	pub fn leaf<H: Sha256Hasher>(&self, genesis: &[u8; 32]) -> Hash256 {
		let payload = self.signing_payload(genesis);
		let mut bytes = [0u8; RECEIPT_LEAF_DOMAIN.len() + RECEIPT_PAYLOAD_LEN];
		let (domain, rest) = bytes.split_at_mut(RECEIPT_LEAF_DOMAIN.len());
		domain.copy_from_slice(RECEIPT_LEAF_DOMAIN);
		rest.copy_from_slice(&payload);
		H::hash(&bytes)
	}

	/// The bytes the node's owner signs.
	pub fn signing_payload(&self, genesis: &[u8; 32]) -> [u8; RECEIPT_PAYLOAD_LEN] {
		crate::concat_fixed(&[
			&RECEIPT_TAG,
			genesis,
			&self.node.to_le_bytes(),
			&self.model.to_le_bytes(),
			&self.start.to_le_bytes(),
			&self.end.to_le_bytes(),
			&self.session,
			&self.step.to_le_bytes(),
			&self.position.to_le_bytes(),
			&self.tokens.to_le_bytes(),
			&self.input_hash,
			&self.output_hash,
			&self.layer_root,
		])
	}
}

/// The hash of `tokens × hidden` activations (`values`, row-major).
pub fn activation_hash(tokens: u32, hidden: u32, values: &[f32]) -> Hash256 {
	let mut hasher = sha2::Sha256::new();
	hasher.update(ACTIVATIONS_DOMAIN);
	hasher.update(tokens.to_le_bytes());
	hasher.update(hidden.to_le_bytes());
	for value in values {
		hasher.update(value.to_bits().to_le_bytes());
	}
	hasher.finalize().into()
}

/// The Merkle leaf of layer `layer`'s output hash.
pub fn layer_leaf(layer: u32, output_hash: &Hash256) -> Hash256 {
	let mut bytes = [0u8; LAYER_LEAF_DOMAIN.len() + 4 + 32];
	let (domain, rest) = bytes.split_at_mut(LAYER_LEAF_DOMAIN.len());
	domain.copy_from_slice(LAYER_LEAF_DOMAIN);
	let (index, hash) = rest.split_at_mut(4);
	index.copy_from_slice(&layer.to_le_bytes());
	hash.copy_from_slice(output_hash);
	Sha2::hash(&bytes)
}

/// The leaves of layers `start, start + 1, …`; stops at the last layer number a `u32` holds
/// (a receipt's range, `end` a `u32`, never reaches past it).
fn leaves(start: u32, layer_hashes: &[Hash256]) -> Vec<Hash256> {
	layer_hashes
		.iter()
		.enumerate()
		.map_while(|(index, hash)| {
			let layer = start.checked_add(u32::try_from(index).ok()?)?;
			Some(layer_leaf(layer, hash))
		})
		.collect()
}

/// The commitment to the outputs of layers `start, start + 1, …` (`layer_hashes` in order).
pub fn layer_root(start: u32, layer_hashes: &[Hash256]) -> Hash256 {
	merkle_root::<Sha2>(&leaves(start, layer_hashes))
}

/// The proof that layer `layer`'s output hash is in [`layer_root`]`(start, layer_hashes)`;
/// `None` if `layer` is outside the range.
pub fn layer_proof(start: u32, layer_hashes: &[Hash256], layer: u32) -> Option<Vec<Hash256>> {
	let index = usize::try_from(layer.checked_sub(start)?).ok()?;
	(index < layer_hashes.len()).then(|| merkle_proof::<Sha2>(&leaves(start, layer_hashes), index))
}

/// Whether `proof` shows that layer `layer` of `receipt`'s range output `output_hash`.
pub fn verify_layer(
	receipt: &Receipt,
	layer: u32,
	output_hash: &Hash256,
	proof: &[Hash256],
) -> bool {
	if layer < receipt.start || layer >= receipt.end {
		return false;
	}
	let count = u64::from(receipt.end.saturating_sub(receipt.start));
	let index = u64::from(layer.saturating_sub(receipt.start));
	let leaf = layer_leaf(layer, output_hash);
	verify_merkle_proof::<Sha2>(&receipt.layer_root, &leaf, index, count, proof)
}

/// The commitment a node puts on chain for a batch of its receipts (steps of sessions, in the
/// order it lists them): the Merkle root of their [`Receipt::leaf`]s.
pub fn receipts_root<H: Sha256Hasher>(genesis: &[u8; 32], receipts: &[Receipt]) -> Hash256 {
	let leaves: Vec<Hash256> = receipts.iter().map(|r| r.leaf::<H>(genesis)).collect();
	merkle_root::<H>(&leaves)
}

/// The proof that `receipts[index]` is in [`receipts_root`]; `None` past the end.
pub fn receipt_proof<H: Sha256Hasher>(
	genesis: &[u8; 32],
	receipts: &[Receipt],
	index: usize,
) -> Option<Vec<Hash256>> {
	let leaves: Vec<Hash256> = receipts.iter().map(|r| r.leaf::<H>(genesis)).collect();
	(index < leaves.len()).then(|| merkle_proof::<H>(&leaves, index))
}

/// Whether `proof` shows that `receipt` is entry `index` of a batch of `count` receipts
/// committed to by `root`.
pub fn verify_receipt<H: Sha256Hasher>(
	genesis: &[u8; 32],
	root: &Hash256,
	receipt: &Receipt,
	index: u64,
	count: u64,
	proof: &[Hash256],
) -> bool {
	index < count
		&& verify_merkle_proof::<H>(root, &receipt.leaf::<H>(genesis), index, count, proof)
}

/// What a verifier states about a challenged step after re-running it.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum Vote {
	/// The [`layer_root`] of its own run of the step, and the first layer whose output differs
	/// from the node's, if it found one.
	Computed {
		/// Root of the verifier's per-layer output hashes.
		layer_root: Hash256,
		/// First layer whose output differs from the node's per-layer hashes.
		first_divergent_layer: Option<u32>,
	},
	/// The node did not serve the step's inputs (or their prefix), so the step cannot be re-run:
	/// the node failed to keep available what it committed to.
	InputsUnavailable,
}

/// Domain of a vote's seal.
pub const VOTE_SEAL_DOMAIN: &[u8] = b"appchain/vote-seal/v1";

/// The seal a verifier commits before opening its vote:
/// `SHA-256("appchain/vote-seal/v1" ‖ SCALE(commitment u64, verifier u64, vote, salt))`.
/// Binding the commitment and the verifier keeps one verifier from copying another's seal.
pub fn vote_seal<H: Sha256Hasher>(
	commitment: u64,
	verifier: NodeId,
	vote: &Vote,
	salt: &Hash256,
) -> Hash256 {
	let mut bytes = VOTE_SEAL_DOMAIN.to_vec();
	(commitment, verifier, vote, salt).encode_to(&mut bytes);
	H::hash(&bytes)
}

/// The first layer whose output differs between two runs of the same range from `start`
/// (`None` when all agree): where a dispute is settled.
pub fn first_divergent_layer(start: u32, ours: &[Hash256], theirs: &[Hash256]) -> Option<u32> {
	let differs = ours.iter().zip(theirs).position(|(a, b)| a != b);
	let index = differs.or((ours.len() != theirs.len()).then(|| ours.len().min(theirs.len())))?;
	start.checked_add(u32::try_from(index).ok()?)
}

#[cfg(test)]
mod tests {
	#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
	use super::*;

	#[test]
	fn a_session_id_carries_its_block() {
		let id = super::session_id(0x0102_0304, [9; 12]);
		assert_eq!(&id[..4], &[4, 3, 2, 1]);
		assert_eq!(&id[4..], &[9; 12]);
		assert_eq!(super::session_block(&id), 0x0102_0304);
		assert_eq!(super::session_block(&[0xff; 16]), u32::MAX);
	}

	fn hashes(n: u32) -> Vec<Hash256> {
		(0..n).map(|i| activation_hash(1, 4, &[i as f32, 1.0, -2.5, 0.0])).collect()
	}

	fn receipt(start: u32, layer_hashes: &[Hash256]) -> Receipt {
		Receipt {
			node: 7,
			model: 1,
			start,
			end: start + layer_hashes.len() as u32,
			session: [9; 16],
			step: 3,
			position: 12,
			tokens: 1,
			input_hash: [1; 32],
			output_hash: *layer_hashes.last().unwrap(),
			layer_root: layer_root(start, layer_hashes),
		}
	}

	#[test]
	fn the_payload_is_the_documented_layout() {
		let r = receipt(4, &hashes(3));
		let genesis = [0xaa; 32];
		let p = r.signing_payload(&genesis);
		assert_eq!(p.len(), 200);
		assert_eq!(&p[..24], b"appchain/inference/rcpt1");
		assert_eq!(&p[24..56], &genesis);
		assert_eq!(&p[56..64], &7u64.to_le_bytes());
		assert_eq!(&p[64..76], &[1, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0]);
		assert_eq!(&p[76..92], &[9; 16]);
		assert_eq!(&p[92..104], &[3, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0]);
		assert_eq!(&p[104..136], &[1; 32]);
		assert_eq!(&p[136..168], &r.output_hash);
		assert_eq!(&p[168..200], &r.layer_root);
	}

	#[test]
	fn every_field_and_the_chain_change_the_payload() {
		let r = receipt(0, &hashes(2));
		let base = r.signing_payload(&[0; 32]);
		let variants = [
			Receipt { node: 8, ..r },
			Receipt { model: 2, ..r },
			Receipt { start: 1, ..r },
			Receipt { end: 3, ..r },
			Receipt { session: [8; 16], ..r },
			Receipt { step: 4, ..r },
			Receipt { position: 13, ..r },
			Receipt { tokens: 2, ..r },
			Receipt { input_hash: [2; 32], ..r },
			Receipt { output_hash: [2; 32], ..r },
			Receipt { layer_root: [2; 32], ..r },
		];
		for v in variants {
			assert_ne!(v.signing_payload(&[0; 32]), base, "{v:?}");
		}
		assert_ne!(r.signing_payload(&[1; 32]), base);
	}

	#[test]
	fn activation_hashes_are_bit_exact() {
		let a = activation_hash(1, 2, &[1.0, 2.0]);
		assert_eq!(a, activation_hash(1, 2, &[1.0, 2.0]));
		// One ULP, a sign of zero, or the shape: each is another hash.
		assert_ne!(a, activation_hash(1, 2, &[f32::from_bits(1.0f32.to_bits() + 1), 2.0]));
		assert_ne!(activation_hash(1, 1, &[0.0]), activation_hash(1, 1, &[-0.0]));
		assert_ne!(a, activation_hash(2, 1, &[1.0, 2.0]));
		// Independent reference: SHA-256 of the documented bytes, built by hand.
		let mut bytes = b"appchain/activations/v1".to_vec();
		bytes.extend([1, 0, 0, 0, 2, 0, 0, 0]);
		bytes.extend([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40]);
		assert_eq!(a, Sha2::hash(&bytes));
	}

	#[test]
	fn every_layer_is_proven_against_the_root_and_nothing_else_is() {
		for n in 1..=9u32 {
			let hs = hashes(n);
			let r = receipt(5, &hs);
			for (i, h) in hs.iter().enumerate() {
				let layer = 5 + i as u32;
				let proof = layer_proof(5, &hs, layer).unwrap();
				assert!(verify_layer(&r, layer, h, &proof), "{n} layers, layer {layer}");
				assert!(!verify_layer(&r, layer, &[0; 32], &proof), "a wrong hash");
				if n > 1 {
					let other = if i == 0 { 6 } else { layer - 1 };
					assert!(!verify_layer(&r, other, h, &proof), "the proof of another layer");
				}
			}
			assert!(layer_proof(5, &hs, 4).is_none());
			assert!(layer_proof(5, &hs, 5 + n).is_none());
			assert!(!verify_layer(&r, 5 + n, &hs[0], &[]));
		}
	}

	#[test]
	fn the_root_binds_the_layer_numbers() {
		let hs = hashes(4);
		assert_ne!(layer_root(0, &hs), layer_root(1, &hs), "the same outputs at other layers");
		let mut swapped = hs.clone();
		swapped.swap(1, 2);
		assert_ne!(layer_root(0, &hs), layer_root(0, &swapped));
	}

	#[test]
	fn ranges_ending_at_the_last_layer_number_do_not_overflow() {
		let hs = hashes(3);
		let start = u32::MAX - 3;
		let r = receipt(start, &hs);
		assert_eq!(r.end, u32::MAX);
		assert_eq!(r.check_layers(&hs), Ok(()));
		let proof = layer_proof(start, &hs, u32::MAX - 1).unwrap();
		assert!(verify_layer(&r, u32::MAX - 1, &hs[2], &proof));
	}

	#[test]
	fn a_receipt_is_checked_against_its_layer_hashes() {
		let hs = hashes(4);
		let r = receipt(2, &hs);
		assert_eq!(r.check_layers(&hs), Ok(()));
		assert_eq!(Receipt { end: 2, ..r }.check_layers(&hs), Err(LayerMismatch::EmptyRange));
		assert_eq!(Receipt { end: 1, ..r }.check_layers(&hs), Err(LayerMismatch::EmptyRange));
		assert_eq!(
			r.check_layers(&hs[..3]),
			Err(LayerMismatch::LayerCount { expected: 4, got: 3 }),
			"a skipped layer"
		);
		assert_eq!(
			Receipt { output_hash: hs[2], ..r }.check_layers(&hs),
			Err(LayerMismatch::OutputNotLastLayer)
		);
		let mut other = hs.clone();
		other[1] = [0; 32];
		assert_eq!(r.check_layers(&other), Err(LayerMismatch::LayerRoot), "another layer 3");
	}

	#[test]
	fn a_batch_of_receipts_proves_each_and_only_each() {
		let genesis = [3; 32];
		let batch: Vec<Receipt> =
			(0..5).map(|step| Receipt { step, ..receipt(0, &hashes(2)) }).collect();
		let root = receipts_root::<Sha2>(&genesis, &batch);
		for (i, r) in batch.iter().enumerate() {
			let proof = receipt_proof::<Sha2>(&genesis, &batch, i).unwrap();
			assert!(verify_receipt::<Sha2>(&genesis, &root, r, i as u64, 5, &proof));
			assert!(
				!verify_receipt::<Sha2>(&[4; 32], &root, r, i as u64, 5, &proof),
				"another chain"
			);
			let forged = Receipt { output_hash: [0; 32], ..*r };
			assert!(!verify_receipt::<Sha2>(&genesis, &root, &forged, i as u64, 5, &proof));
			assert!(!verify_receipt::<Sha2>(&genesis, &root, r, 5, 5, &proof), "past the end");
		}
		assert!(receipt_proof::<Sha2>(&genesis, &batch, 5).is_none());
		// Independent reference for the leaf: SHA-256 of the documented bytes.
		let mut bytes = b"appchain/receipt-leaf/v1".to_vec();
		bytes.extend(batch[0].signing_payload(&genesis));
		assert_eq!(batch[0].leaf::<Sha2>(&genesis), Sha2::hash(&bytes));
	}

	#[test]
	fn a_vote_seal_binds_commitment_verifier_vote_and_salt() {
		let vote = Vote::Computed { layer_root: [1; 32], first_divergent_layer: Some(3) };
		let seal = vote_seal::<Sha2>(5, 7, &vote, &[9; 32]);
		assert_ne!(seal, vote_seal::<Sha2>(6, 7, &vote, &[9; 32]));
		assert_ne!(seal, vote_seal::<Sha2>(5, 8, &vote, &[9; 32]));
		assert_ne!(seal, vote_seal::<Sha2>(5, 7, &Vote::InputsUnavailable, &[9; 32]));
		assert_ne!(seal, vote_seal::<Sha2>(5, 7, &vote, &[8; 32]));
		// Independent reference: the documented bytes, SCALE written out by hand.
		let mut bytes = b"appchain/vote-seal/v1".to_vec();
		bytes.extend(5u64.to_le_bytes());
		bytes.extend(7u64.to_le_bytes());
		bytes.push(0); // Computed
		bytes.extend([1; 32]);
		bytes.extend([1, 3, 0, 0, 0]); // Some(3u32)
		bytes.extend([9; 32]);
		assert_eq!(seal, Sha2::hash(&bytes));
	}

	#[test]
	fn the_first_divergent_layer_is_found() {
		let ours = hashes(5);
		let mut theirs = ours.clone();
		assert_eq!(first_divergent_layer(10, &ours, &theirs), None);
		theirs[3] = [0; 32];
		theirs[4] = [0; 32];
		assert_eq!(first_divergent_layer(10, &ours, &theirs), Some(13));
		assert_eq!(first_divergent_layer(10, &ours, &ours[..2]), Some(12), "a skipped layer");
	}
}
