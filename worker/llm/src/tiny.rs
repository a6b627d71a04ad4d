//! Tiny random Llama models, written by tests in both layouts from the same weights.
//!
//! The weights are drawn from a seeded generator in the Hugging Face layout. The GGUF copy
//! permutes the rows of Q and K within each head as llama.cpp's converter does
//! (`row 2i ← i`, `row 2i+1 ← i + d/2`), so that interleaved RoPE on it computes exactly what
//! half-split RoPE computes on the safetensors copy: the two files are one model.

use crate::{
	error::{malformed, EngineError, Result},
	weights::{BlockPart, TensorRole},
};
use candle_core::{
	quantized::{gguf_file, GgmlDType, QTensor},
	Device, Tensor,
};
use std::{io::Write, path::Path};

/// Shape and seed of a tiny model.
#[derive(Clone, Debug, PartialEq)]
pub struct TinySpec {
	/// Blocks.
	pub layers: u32,
	/// Hidden size (a multiple of 32 for quantized GGUF).
	pub hidden: usize,
	/// MLP size (a multiple of 32 for quantized GGUF).
	pub intermediate: usize,
	/// Query heads.
	pub heads: usize,
	/// Key/value heads.
	pub kv_heads: usize,
	/// Vocabulary.
	pub vocab: usize,
	/// Context length.
	pub max_context: usize,
	/// Seed of the weights.
	pub seed: u64,
}

impl Default for TinySpec {
	fn default() -> Self {
		Self {
			layers: 6,
			hidden: 64,
			intermediate: 128,
			heads: 4,
			kv_heads: 2,
			vocab: 256,
			max_context: 512,
			seed: 1,
		}
	}
}

const ROPE_THETA: f32 = 10_000.0;
const RMS_EPS: f32 = 1e-5;

/// A seeded splitmix64 generator: the tiny models' weights, and test inputs that must be
/// the same on every run.
pub struct Rng(pub u64);

impl Rng {
	/// The next value, uniform in `[-1, 1)`.
	pub fn uniform(&mut self) -> f32 {
		self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
		let mut z = self.0;
		z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
		z ^= z >> 31;
		((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
	}
}

/// Every tensor of the model in the HF layout: (role, shape, values).
fn tensors(spec: &TinySpec) -> Vec<(TensorRole, Vec<usize>, Vec<f32>)> {
	let mut rng = Rng(spec.seed);
	let hd = spec.hidden / spec.heads;
	let kv = spec.kv_heads * hd;
	let mut out = Vec::new();
	let matrix = |role, rows: usize, cols: usize, rng: &mut Rng| {
		let scale = 1.7 / (cols as f32).sqrt();
		let v: Vec<f32> = (0..rows * cols).map(|_| rng.uniform() * scale).collect();
		(role, vec![rows, cols], v)
	};
	let norm = |role, len: usize, rng: &mut Rng| {
		let v: Vec<f32> = (0..len).map(|_| 1.0 + 0.1 * rng.uniform()).collect();
		(role, vec![len], v)
	};
	let emb: Vec<f32> = (0..spec.vocab * spec.hidden).map(|_| rng.uniform()).collect();
	out.push((TensorRole::Embedding, vec![spec.vocab, spec.hidden], emb));
	for l in 0..spec.layers {
		let b = |p| TensorRole::Block(l, p);
		out.push(norm(b(BlockPart::AttnNorm), spec.hidden, &mut rng));
		out.push(matrix(b(BlockPart::Q), spec.hidden, spec.hidden, &mut rng));
		out.push(matrix(b(BlockPart::K), kv, spec.hidden, &mut rng));
		out.push(matrix(b(BlockPart::V), kv, spec.hidden, &mut rng));
		out.push(matrix(b(BlockPart::O), spec.hidden, spec.hidden, &mut rng));
		out.push(norm(b(BlockPart::FfnNorm), spec.hidden, &mut rng));
		out.push(matrix(b(BlockPart::Gate), spec.intermediate, spec.hidden, &mut rng));
		out.push(matrix(b(BlockPart::Up), spec.intermediate, spec.hidden, &mut rng));
		out.push(matrix(b(BlockPart::Down), spec.hidden, spec.intermediate, &mut rng));
	}
	out.push(norm(TensorRole::FinalNorm, spec.hidden, &mut rng));
	out
}

/// Writes `config.json` and `model.safetensors` (F32, tied embeddings) into `dir`.
pub fn write_safetensors(dir: &Path, spec: &TinySpec) -> Result<()> {
	let io = |e: std::io::Error| EngineError::Io { path: dir.display().to_string(), source: e };
	std::fs::create_dir_all(dir).map_err(io)?;
	let config = serde_json::json!({
		"architectures": ["LlamaForCausalLM"],
		"model_type": "llama",
		"num_hidden_layers": spec.layers,
		"hidden_size": spec.hidden,
		"intermediate_size": spec.intermediate,
		"num_attention_heads": spec.heads,
		"num_key_value_heads": spec.kv_heads,
		"vocab_size": spec.vocab,
		"rope_theta": ROPE_THETA,
		"rms_norm_eps": f64::from(RMS_EPS),
		"max_position_embeddings": spec.max_context,
		"tie_word_embeddings": true,
		"torch_dtype": "float32",
	});
	std::fs::write(dir.join("config.json"), config.to_string()).map_err(io)?;
	let mut header = serde_json::Map::new();
	let mut data = Vec::new();
	let mut named: Vec<(String, Vec<usize>, Vec<f32>)> =
		tensors(spec).into_iter().map(|(r, s, v)| (hf_name(r), s, v)).collect();
	named.sort_by(|a, b| a.0.cmp(&b.0));
	for (name, shape, values) in named {
		let start = data.len();
		for v in values {
			data.extend_from_slice(&v.to_le_bytes());
		}
		header.insert(
			name,
			serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
		);
	}
	let mut header = serde_json::Value::Object(header).to_string().into_bytes();
	while !header.len().is_multiple_of(8) {
		header.push(b' ');
	}
	let mut f = std::fs::File::create(dir.join("model.safetensors")).map_err(io)?;
	f.write_all(&(header.len() as u64).to_le_bytes()).map_err(io)?;
	f.write_all(&header).map_err(io)?;
	f.write_all(&data).map_err(io)?;
	Ok(())
}

fn hf_name(role: TensorRole) -> String {
	// The weights module owns the naming; go through a tiny HF file's view of it.
	crate::weights::hf_tensor_name(role)
}

/// Writes the same model as one GGUF file, matrices stored as `dtype` (`F32`, `Q8_0`,
/// `Q4_1`, ...), norms as F32.
pub fn write_gguf(path: &Path, spec: &TinySpec, dtype: GgmlDType) -> Result<()> {
	let hd = spec.hidden / spec.heads;
	let mut qtensors = Vec::new();
	for (role, shape, values) in tensors(spec) {
		let values = match role {
			TensorRole::Block(_, BlockPart::Q) => {
				interleave_rows(&values, spec.heads, hd, spec.hidden)
			},
			TensorRole::Block(_, BlockPart::K) => {
				interleave_rows(&values, spec.kv_heads, hd, spec.hidden)
			},
			_ => values,
		};
		let t = Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)?;
		let q = if shape.len() == 1 {
			QTensor::quantize(&t, GgmlDType::F32)?
		} else {
			QTensor::quantize(&t, dtype)?
		};
		qtensors.push((crate::weights::gguf_tensor_name(role), q));
	}
	use gguf_file::Value;
	let u = |v: usize| Value::U32(v as u32);
	let metadata: Vec<(&str, Value)> = vec![
		("general.architecture", Value::String("llama".into())),
		("general.name", Value::String(format!("tiny-llama-{}", spec.seed))),
		("llama.block_count", Value::U32(spec.layers)),
		("llama.context_length", u(spec.max_context)),
		("llama.embedding_length", u(spec.hidden)),
		("llama.feed_forward_length", u(spec.intermediate)),
		("llama.attention.head_count", u(spec.heads)),
		("llama.attention.head_count_kv", u(spec.kv_heads)),
		("llama.rope.freq_base", Value::F32(ROPE_THETA)),
		("llama.attention.layer_norm_rms_epsilon", Value::F32(RMS_EPS)),
		("llama.vocab_size", u(spec.vocab)),
	];
	let meta_refs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
	let tensor_refs: Vec<(&str, &QTensor)> =
		qtensors.iter().map(|(n, q)| (n.as_str(), q)).collect();
	let mut f = std::fs::File::create(path)
		.map_err(|e| EngineError::Io { path: path.display().to_string(), source: e })?;
	gguf_file::write(&mut f, &meta_refs, &tensor_refs)
		.map_err(|e| malformed(format!("writing GGUF: {e}")))?;
	Ok(())
}

/// llama.cpp's Q/K permutation: within each head, row `2i` takes row `i` and row `2i + 1`
/// takes row `i + d/2`.
fn interleave_rows(values: &[f32], heads: usize, hd: usize, cols: usize) -> Vec<f32> {
	let mut out = vec![0.0; values.len()];
	let half = hd / 2;
	for h in 0..heads {
		for i in 0..half {
			for a in 0..2 {
				let src = (h * hd + a * half + i) * cols;
				let dst = (h * hd + 2 * i + a) * cols;
				out[dst..dst + cols].copy_from_slice(&values[src..src + cols]);
			}
		}
	}
	out
}
