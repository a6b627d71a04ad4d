//! The shape of a Llama-architecture model, read from GGUF metadata or an HF `config.json`.

use crate::error::{malformed, EngineError, Result};
use candle_core::quantized::gguf_file;
use serde::Deserialize;

/// How rotary position embedding pairs the dimensions of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeLayout {
	/// Dimension `2i` rotates with `2i + 1` (GGUF: llama.cpp permutes Q and K at conversion).
	Interleaved,
	/// Dimension `i` rotates with `i + d/2` (Hugging Face checkpoints).
	HalfSplit,
}

/// Hyper-parameters of a Llama-architecture decoder.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
	/// Transformer blocks.
	pub layers: u32,
	/// Hidden (embedding) size.
	pub hidden: usize,
	/// Inner size of the gated MLP.
	pub intermediate: usize,
	/// Query heads.
	pub heads: usize,
	/// Key/value heads (grouped-query attention when fewer than `heads`).
	pub kv_heads: usize,
	/// Vocabulary size.
	pub vocab: usize,
	/// RoPE base frequency.
	pub rope_theta: f32,
	/// RMS-norm epsilon.
	pub rms_eps: f64,
	/// Longest context the model was trained for.
	pub max_context: usize,
	/// RoPE dimension pairing.
	pub rope: RopeLayout,
}

impl ModelConfig {
	/// Size of one attention head.
	pub fn head_dim(&self) -> usize {
		self.hidden / self.heads.max(1)
	}

	/// The line that binds these hyper-parameters into the weights digest (see [`crate::digest`]);
	/// the two floats are written as the hex bits of their f32 values, so every language
	/// prints them the same.
	pub fn canonical_line(&self) -> String {
		format!(
			"config layers={} hidden={} intermediate={} heads={} kv_heads={} vocab={} rope_theta=0x{:08x} rms_eps=0x{:08x} rope={}",
			self.layers,
			self.hidden,
			self.intermediate,
			self.heads,
			self.kv_heads,
			self.vocab,
			self.rope_theta.to_bits(),
			(self.rms_eps as f32).to_bits(),
			match self.rope {
				RopeLayout::Interleaved => "interleaved",
				RopeLayout::HalfSplit => "half-split",
			},
		)
	}

	/// Rejects shapes the engine cannot run.
	pub(crate) fn validate(self) -> Result<Self> {
		let ok = self.layers > 0
			&& self.hidden > 0
			&& self.heads > 0
			&& self.kv_heads > 0
			&& self.hidden.is_multiple_of(self.heads)
			&& self.heads.is_multiple_of(self.kv_heads)
			&& self.head_dim().is_multiple_of(2)
			&& self.vocab > 0
			&& self.intermediate > 0
			&& self.max_context > 0;
		if ok {
			Ok(self)
		} else {
			Err(EngineError::Unsupported(format!("inconsistent model shape {self:?}")))
		}
	}

	/// From the `llama.*` keys of a GGUF file.
	pub(crate) fn from_gguf(content: &gguf_file::Content) -> Result<Self> {
		let arch = meta(content, "general.architecture")?
			.to_string()
			.map_err(|_| malformed("general.architecture is not a string"))?;
		if arch != "llama" {
			return Err(EngineError::Unsupported(format!("architecture `{arch}` (only llama)")));
		}
		let int = |key: &str| -> Result<usize> {
			let v = meta(content, key)?;
			v.to_u32()
				.map(|v| v as usize)
				.or_else(|_| v.to_u64().map(|v| v as usize))
				.map_err(|_| malformed(format!("{key} is not an integer")))
		};
		let float = |key: &str| -> Result<f32> {
			meta(content, key)?.to_f32().map_err(|_| malformed(format!("{key} is not a float")))
		};
		let hidden = int("llama.embedding_length")?;
		let vocab = match int("llama.vocab_size") {
			Ok(v) => v,
			Err(_) => meta(content, "tokenizer.ggml.tokens")?
				.to_vec()
				.map_err(|_| malformed("tokenizer.ggml.tokens is not an array"))?
				.len(),
		};
		Self {
			layers: u32::try_from(int("llama.block_count")?)
				.map_err(|_| malformed("block_count too large"))?,
			hidden,
			intermediate: int("llama.feed_forward_length")?,
			heads: int("llama.attention.head_count")?,
			kv_heads: int("llama.attention.head_count_kv")?,
			vocab,
			rope_theta: float("llama.rope.freq_base").unwrap_or(10_000.0),
			rms_eps: f64::from(float("llama.attention.layer_norm_rms_epsilon")?),
			max_context: int("llama.context_length")?,
			rope: RopeLayout::Interleaved,
		}
		.validate()
	}

	/// From a Hugging Face `config.json` of a `LlamaForCausalLM`.
	pub(crate) fn from_hf_json(json: &str) -> Result<Self> {
		#[derive(Deserialize)]
		struct Hf {
			num_hidden_layers: u32,
			hidden_size: usize,
			intermediate_size: usize,
			num_attention_heads: usize,
			num_key_value_heads: Option<usize>,
			vocab_size: usize,
			rope_theta: Option<f32>,
			rms_norm_eps: f64,
			max_position_embeddings: usize,
		}
		let hf: Hf =
			serde_json::from_str(json).map_err(|e| malformed(format!("config.json: {e}")))?;
		Self {
			layers: hf.num_hidden_layers,
			hidden: hf.hidden_size,
			intermediate: hf.intermediate_size,
			heads: hf.num_attention_heads,
			kv_heads: hf.num_key_value_heads.unwrap_or(hf.num_attention_heads),
			vocab: hf.vocab_size,
			rope_theta: hf.rope_theta.unwrap_or(10_000.0),
			rms_eps: hf.rms_norm_eps,
			max_context: hf.max_position_embeddings,
			rope: RopeLayout::HalfSplit,
		}
		.validate()
	}
}

pub(crate) fn meta<'a>(content: &'a gguf_file::Content, key: &str) -> Result<&'a gguf_file::Value> {
	content.metadata.get(key).ok_or_else(|| malformed(format!("missing GGUF key `{key}`")))
}
