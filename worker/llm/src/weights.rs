//! Reading model files tensor by tensor: GGUF (llama.cpp) and Hugging Face safetensors.
//!
//! Neither reader maps or reads the whole file: the GGUF reader parses the header and reads
//! each tensor at its offset when asked; the safetensors reader parses the JSON header and
//! does the same. A node serving layers `[a, b)` therefore only ever holds those blocks in
//! memory.

use crate::{
	config::ModelConfig,
	error::{malformed, EngineError, Result},
};
use candle_core::{
	quantized::{gguf_file, GgmlDType, QMatMul, QTensor},
	DType, Device, Tensor,
};
use std::{
	collections::BTreeMap,
	fs::File,
	io::{Read, Seek, SeekFrom},
	path::{Path, PathBuf},
	sync::Arc,
};

/// How quantized weights are multiplied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
	/// As stored: quantized matrices stay quantized and multiply activations rounded to 8 bits
	/// per block (Q8_1/Q8_K), as llama.cpp does. Fast and small.
	#[default]
	Native,
	/// Every matrix dequantized to f32 at load and multiplied in f32: 4–8× the memory of a
	/// 4-bit file, slower, and within float rounding of an exact reference.
	F32,
}

/// File layout of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
	/// One `.gguf` file (llama.cpp), possibly quantized; RoPE interleaved.
	Gguf,
	/// A directory with `config.json` and `model.safetensors` (F32, F16 or BF16); RoPE
	/// half-split.
	Safetensors,
}

/// The parts of a transformer block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockPart {
	/// RMS-norm weight before attention.
	AttnNorm,
	/// Query projection.
	Q,
	/// Key projection.
	K,
	/// Value projection.
	V,
	/// Attention output projection.
	O,
	/// RMS-norm weight before the MLP.
	FfnNorm,
	/// MLP gate projection.
	Gate,
	/// MLP up projection.
	Up,
	/// MLP down projection.
	Down,
}

/// What a tensor is in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorRole {
	/// Token embedding table `[vocab, hidden]`.
	Embedding,
	/// Final RMS-norm weight.
	FinalNorm,
	/// Output projection `[vocab, hidden]` (absent when tied to the embedding).
	LmHead,
	/// A part of block `layer`.
	Block(u32, BlockPart),
}

impl TensorRole {
	fn gguf_name(self) -> String {
		match self {
			Self::Embedding => "token_embd.weight".into(),
			Self::FinalNorm => "output_norm.weight".into(),
			Self::LmHead => "output.weight".into(),
			Self::Block(l, part) => {
				let p = match part {
					BlockPart::AttnNorm => "attn_norm",
					BlockPart::Q => "attn_q",
					BlockPart::K => "attn_k",
					BlockPart::V => "attn_v",
					BlockPart::O => "attn_output",
					BlockPart::FfnNorm => "ffn_norm",
					BlockPart::Gate => "ffn_gate",
					BlockPart::Up => "ffn_up",
					BlockPart::Down => "ffn_down",
				};
				format!("blk.{l}.{p}.weight")
			},
		}
	}

	fn hf_name(self) -> String {
		match self {
			Self::Embedding => "model.embed_tokens.weight".into(),
			Self::FinalNorm => "model.norm.weight".into(),
			Self::LmHead => "lm_head.weight".into(),
			Self::Block(l, part) => {
				let p = match part {
					BlockPart::AttnNorm => "input_layernorm",
					BlockPart::Q => "self_attn.q_proj",
					BlockPart::K => "self_attn.k_proj",
					BlockPart::V => "self_attn.v_proj",
					BlockPart::O => "self_attn.o_proj",
					BlockPart::FfnNorm => "post_attention_layernorm",
					BlockPart::Gate => "mlp.gate_proj",
					BlockPart::Up => "mlp.up_proj",
					BlockPart::Down => "mlp.down_proj",
				};
				format!("model.layers.{l}.{p}.weight")
			},
		}
	}
}

/// One tensor of a file as the weights digest sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorEntry {
	/// Name in the file.
	pub name: String,
	/// Storage type as the file names it (`Q4_1`, `F32`, `BF16`, ...).
	pub dtype: String,
	/// Dimensions, outermost first.
	pub shape: Vec<usize>,
	/// Bytes of its data in the file.
	pub bytes: u64,
}

#[derive(Clone, Debug)]
struct SafetensorsEntry {
	dtype: DType,
	dtype_name: String,
	shape: Vec<usize>,
	start: u64,
	end: u64,
}

enum Index {
	Gguf(gguf_file::Content),
	Safetensors { data_start: u64, tensors: BTreeMap<String, SafetensorsEntry> },
}

/// An opened model file: its configuration and where each tensor is. Tensors are read on
/// demand; the struct itself holds only the header.
pub struct WeightFile {
	path: PathBuf,
	format: Format,
	config: ModelConfig,
	index: Index,
	/// The directory of a safetensors model (where `tokenizer.json` may be).
	pub(crate) model_dir: Option<PathBuf>,
}

impl core::fmt::Debug for WeightFile {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.debug_struct("WeightFile")
			.field("path", &self.path)
			.field("format", &self.format)
			.field("config", &self.config)
			.finish()
	}
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
	move |source| EngineError::Io { path: path.display().to_string(), source }
}

/// Longest safetensors JSON header accepted (the header of a 70B model is about 100 KiB).
const MAX_SAFETENSORS_HEADER: u64 = 64 << 20;

impl WeightFile {
	/// Opens a `.gguf` file, or a directory holding `config.json` and `model.safetensors`
	/// (or the `model.safetensors` file itself).
	pub fn open(path: &Path) -> Result<Self> {
		let is_gguf = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
		if is_gguf {
			let mut file = File::open(path).map_err(io_err(path))?;
			let content = gguf_file::Content::read(&mut file)
				.map_err(|e| malformed(format!("{}: not a GGUF file: {e}", path.display())))?;
			let config = ModelConfig::from_gguf(&content)?;
			return Ok(Self {
				path: path.to_path_buf(),
				format: Format::Gguf,
				config,
				index: Index::Gguf(content),
				model_dir: None,
			});
		}
		let (dir, st) = if path.is_dir() {
			(path.to_path_buf(), path.join("model.safetensors"))
		} else if path.extension().is_some_and(|e| e == "safetensors") {
			(path.parent().map(Path::to_path_buf).unwrap_or_default(), path.to_path_buf())
		} else {
			return Err(EngineError::Unsupported(format!(
				"{}: expected a .gguf file or a directory with config.json and model.safetensors",
				path.display()
			)));
		};
		let config_path = dir.join("config.json");
		let json = std::fs::read_to_string(&config_path).map_err(io_err(&config_path))?;
		let config = ModelConfig::from_hf_json(&json)?;
		let (data_start, tensors) = read_safetensors_header(&st)?;
		Ok(Self {
			path: st,
			format: Format::Safetensors,
			config,
			index: Index::Safetensors { data_start, tensors },
			model_dir: Some(dir),
		})
	}

	/// The model's hyper-parameters.
	pub fn config(&self) -> &ModelConfig {
		&self.config
	}

	/// The file's layout.
	pub fn format(&self) -> Format {
		self.format
	}

	/// The file read (the `.gguf`, or `model.safetensors`).
	pub fn path(&self) -> &Path {
		&self.path
	}

	/// The GGUF header, for GGUF files.
	pub(crate) fn gguf(&self) -> Option<&gguf_file::Content> {
		match &self.index {
			Index::Gguf(c) => Some(c),
			Index::Safetensors { .. } => None,
		}
	}

	pub(crate) fn reader(&self) -> Result<File> {
		File::open(&self.path).map_err(io_err(&self.path))
	}

	fn name(&self, role: TensorRole) -> String {
		match self.format {
			Format::Gguf => role.gguf_name(),
			Format::Safetensors => role.hf_name(),
		}
	}

	/// Whether the file has the tensor.
	pub fn has(&self, role: TensorRole) -> bool {
		let name = self.name(role);
		match &self.index {
			Index::Gguf(c) => c.tensor_infos.contains_key(&name),
			Index::Safetensors { tensors, .. } => tensors.contains_key(&name),
		}
	}

	/// Every tensor of the file, in byte order of their names.
	pub fn tensors(&self) -> Vec<TensorEntry> {
		let mut out: Vec<TensorEntry> = match &self.index {
			Index::Gguf(c) => c
				.tensor_infos
				.iter()
				.map(|(name, info)| TensorEntry {
					name: name.clone(),
					dtype: format!("{:?}", info.ggml_dtype),
					shape: info.shape.dims().to_vec(),
					bytes: gguf_bytes(info.ggml_dtype, info.shape.elem_count()),
				})
				.collect(),
			Index::Safetensors { tensors, .. } => tensors
				.iter()
				.map(|(name, e)| TensorEntry {
					name: name.clone(),
					dtype: e.dtype_name.clone(),
					shape: e.shape.clone(),
					bytes: e.end.saturating_sub(e.start),
				})
				.collect(),
		};
		out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
		out
	}

	/// The raw bytes of a tensor as stored in the file.
	pub(crate) fn raw_bytes(&self, reader: &mut File, name: &str) -> Result<Vec<u8>> {
		let (start, len) = match &self.index {
			Index::Gguf(c) => {
				let info = c
					.tensor_infos
					.get(name)
					.ok_or_else(|| malformed(format!("no tensor `{name}`")))?;
				let start = c.tensor_data_offset.saturating_add(info.offset);
				(start, gguf_bytes(info.ggml_dtype, info.shape.elem_count()))
			},
			Index::Safetensors { data_start, tensors } => {
				let e =
					tensors.get(name).ok_or_else(|| malformed(format!("no tensor `{name}`")))?;
				(data_start.saturating_add(e.start), e.end.saturating_sub(e.start))
			},
		};
		let len = usize::try_from(len).map_err(|_| malformed("tensor too large"))?;
		let mut buf = vec![0u8; len];
		reader.seek(SeekFrom::Start(start)).map_err(io_err(&self.path))?;
		reader.read_exact(&mut buf).map_err(io_err(&self.path))?;
		Ok(buf)
	}

	/// Reads a tensor as stored: quantized for GGUF, f32 for safetensors.
	fn read(&self, reader: &mut File, role: TensorRole, shape: &[usize]) -> Result<Stored> {
		let name = self.name(role);
		let stored = match &self.index {
			Index::Gguf(c) => {
				let q = c.tensor(reader, &name, &Device::Cpu).map_err(|e| {
					malformed(format!("{}: tensor `{name}`: {e}", self.path.display()))
				})?;
				Stored::Quantized(q)
			},
			Index::Safetensors { tensors, .. } => {
				let e =
					tensors.get(&name).ok_or_else(|| malformed(format!("no tensor `{name}`")))?;
				let bytes = self.raw_bytes(reader, &name)?;
				let t = Tensor::from_raw_buffer(&bytes, e.dtype, &e.shape, &Device::Cpu)?
					.to_dtype(DType::F32)?;
				Stored::Dense(t)
			},
		};
		if stored.dims() != shape {
			return Err(malformed(format!(
				"tensor `{name}` has shape {:?}, the config implies {shape:?}",
				stored.dims()
			)));
		}
		Ok(stored)
	}

	/// A weight matrix `[out, in]` as a matmul operand: kept quantized when it is and
	/// `precision` is [`Precision::Native`], else dequantized to f32.
	pub(crate) fn linear(
		&self,
		reader: &mut File,
		role: TensorRole,
		shape: [usize; 2],
		precision: Precision,
	) -> Result<QMatMul> {
		Ok(match (self.read(reader, role, &shape)?, precision) {
			(Stored::Quantized(q), Precision::Native) => QMatMul::from_arc(Arc::new(q))?,
			(Stored::Quantized(q), Precision::F32) => QMatMul::Tensor(q.dequantize(&Device::Cpu)?),
			(Stored::Dense(t), _) => QMatMul::Tensor(t),
		})
	}

	/// A vector (norm weight) as f32.
	pub(crate) fn vector(&self, reader: &mut File, role: TensorRole, len: usize) -> Result<Tensor> {
		Ok(match self.read(reader, role, &[len])? {
			Stored::Quantized(q) => q.dequantize(&Device::Cpu)?,
			Stored::Dense(t) => t,
		})
	}
}

/// The GGUF name of a tensor.
pub(crate) fn gguf_tensor_name(role: TensorRole) -> String {
	role.gguf_name()
}

/// The Hugging Face name of a tensor.
pub(crate) fn hf_tensor_name(role: TensorRole) -> String {
	role.hf_name()
}

enum Stored {
	Quantized(QTensor),
	Dense(Tensor),
}

impl Stored {
	fn dims(&self) -> &[usize] {
		match self {
			Self::Quantized(q) => q.shape().dims(),
			Self::Dense(t) => t.dims(),
		}
	}
}

fn gguf_bytes(dtype: GgmlDType, elems: usize) -> u64 {
	let blocks = elems / dtype.block_size().max(1);
	(blocks as u64).saturating_mul(dtype.type_size() as u64)
}

fn read_safetensors_header(path: &Path) -> Result<(u64, BTreeMap<String, SafetensorsEntry>)> {
	let mut file = File::open(path).map_err(io_err(path))?;
	let file_len = file.metadata().map_err(io_err(path))?.len();
	let mut len = [0u8; 8];
	file.read_exact(&mut len).map_err(io_err(path))?;
	let header_len = u64::from_le_bytes(len);
	if header_len > MAX_SAFETENSORS_HEADER || header_len.saturating_add(8) > file_len {
		return Err(malformed(format!("{}: bad safetensors header length", path.display())));
	}
	let mut header = vec![0u8; header_len as usize];
	file.read_exact(&mut header).map_err(io_err(path))?;
	let json: serde_json::Value = serde_json::from_slice(&header)
		.map_err(|e| malformed(format!("{}: safetensors header: {e}", path.display())))?;
	let obj = json.as_object().ok_or_else(|| malformed("safetensors header is not an object"))?;
	let data_start = 8 + header_len;
	let data_len = file_len - data_start;
	let mut tensors = BTreeMap::new();
	for (name, v) in obj {
		if name == "__metadata__" {
			continue;
		}
		let bad = || malformed(format!("safetensors entry `{name}` is malformed"));
		let dtype_name = v.get("dtype").and_then(|d| d.as_str()).ok_or_else(bad)?.to_string();
		let dtype = match dtype_name.as_str() {
			"F32" => DType::F32,
			"F16" => DType::F16,
			"BF16" => DType::BF16,
			other => {
				return Err(EngineError::Unsupported(format!("tensor `{name}` has dtype {other}")))
			},
		};
		let shape: Vec<usize> = v
			.get("shape")
			.and_then(|s| s.as_array())
			.ok_or_else(bad)?
			.iter()
			.map(|d| d.as_u64().map(|d| d as usize).ok_or_else(bad))
			.collect::<Result<_>>()?;
		let offsets = v.get("data_offsets").and_then(|s| s.as_array()).ok_or_else(bad)?;
		let (start, end) = match offsets.as_slice() {
			[a, b] => (a.as_u64().ok_or_else(bad)?, b.as_u64().ok_or_else(bad)?),
			_ => return Err(bad()),
		};
		let elems: u64 = shape.iter().map(|&d| d as u64).product();
		let expected = elems.saturating_mul(dtype.size_in_bytes() as u64);
		if start > end || end > data_len || end - start != expected {
			return Err(bad());
		}
		tensors.insert(name.clone(), SafetensorsEntry { dtype, dtype_name, shape, start, end });
	}
	Ok((data_start, tensors))
}
