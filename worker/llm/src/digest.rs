//! The weights digest a model is registered with on chain.
//!
//! **Definition (v1).** The digest is the SHA-256 of this UTF-8 text, one item per line, each
//! line ending in `\n`:
//!
//! 1. `appchain-weights-v1`
//! 2. the model's hyper-parameters, [`ModelConfig::canonical_line`], e.g. `config layers=30
//!    hidden=576 intermediate=1536 heads=9 kv_heads=3 vocab=49152 rope_theta=0x47c35000
//!    rms_eps=0x3727c5ac rope=interleaved` (floats as the hex bits of their f32 values);
//! 3. for every tensor of the file, in byte order of its name:
//!    `<name> <dtype> <d0>x<d1>... <sha256 of its stored bytes, lower-case hex>`, with the
//!    tensor's name and storage type as the file names them (`blk.0.attn_q.weight Q4_1`,
//!    `model.norm.weight BF16`) and its dimensions outermost first.
//!
//! The digest therefore binds the exact stored bytes of every tensor (a re-quantized or
//! fine-tuned file differs) and the shape parameters the engine computes with, but not the
//! file's container details (metadata order, alignment padding, the tokenizer). It is
//! computed by streaming every tensor once through SHA-256 — the other layers' tensors are
//! hashed, never kept — so a node serving 10 of 30 layers can check the file it loaded against
//! the chain without holding the whole model. A future version could publish the per-tensor
//! lines as a Merkle tree so a node checks only its own tensors; v1 keeps the definition
//! short enough to reproduce in a few lines of Python (see `worker/llm/tests/reference.py`).

use crate::{error::Result, weights::WeightFile, EngineError};
use sha2::{Digest, Sha256};

/// Domain line of digest version 1.
pub const DIGEST_DOMAIN: &str = "appchain-weights-v1";

/// One manifest line: a tensor and the SHA-256 of its stored bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestLine {
	/// Tensor name.
	pub name: String,
	/// Storage type.
	pub dtype: String,
	/// Dimensions, outermost first.
	pub shape: Vec<usize>,
	/// SHA-256 of the stored bytes.
	pub sha256: [u8; 32],
}

impl ManifestLine {
	fn text(&self) -> String {
		let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
		format!("{} {} {} {}", self.name, self.dtype, dims.join("x"), hex(&self.sha256))
	}
}

/// The manifest of a file: every tensor with its hash. Reads the whole file once.
pub fn manifest(file: &WeightFile) -> Result<Vec<ManifestLine>> {
	let mut reader = file.reader()?;
	file.tensors()
		.into_iter()
		.map(|entry| {
			let bytes = file.raw_bytes(&mut reader, &entry.name)?;
			Ok(ManifestLine {
				name: entry.name,
				dtype: entry.dtype,
				shape: entry.shape,
				sha256: Sha256::digest(&bytes).into(),
			})
		})
		.collect()
}

/// The digest of a manifest, as defined in the module docs.
pub fn digest_of(config_line: &str, lines: &[ManifestLine]) -> [u8; 32] {
	let mut h = Sha256::new();
	h.update(DIGEST_DOMAIN.as_bytes());
	h.update(b"\n");
	h.update(config_line.as_bytes());
	h.update(b"\n");
	for line in lines {
		h.update(line.text().as_bytes());
		h.update(b"\n");
	}
	h.finalize().into()
}

/// The weights digest of a file (reads every tensor once).
pub fn weights_digest(file: &WeightFile) -> Result<[u8; 32]> {
	Ok(digest_of(&file.config().canonical_line(), &manifest(file)?))
}

/// Checks a file against the digest the chain registered for its model.
pub fn verify(file: &WeightFile, expected: &[u8; 32]) -> Result<()> {
	let actual = weights_digest(file)?;
	if &actual == expected {
		Ok(())
	} else {
		Err(EngineError::DigestMismatch { expected: hex(expected), actual: hex(&actual) })
	}
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
	bytes.iter().map(|b| format!("{b:02x}")).collect()
}
