//! The transformer: a node's [`LayerShard`] (blocks `[start, end)` with a KV cache per
//! session) and the client's [`ClientHead`] (embedding, final norm, LM head).

use crate::{
	config::{ModelConfig, RopeLayout},
	error::{EngineError, Result},
	kernels::{Q4Matrix, QuantizedRows},
	weights::{BlockPart, Precision, TensorRole, WeightFile},
};
use appchain_primitives::receipt::activation_hash;
use candle_core::{quantized::QMatMul, DType, Device, Module, Tensor};
use std::fs::File;

/// A weight matrix as the engine multiplies it: our 4-bit kernel for `Q4_1`, candle's
/// otherwise.
enum Linear {
	Q4(Q4Matrix),
	Candle(QMatMul),
}

impl Linear {
	fn new(m: QMatMul) -> Self {
		match &m {
			QMatMul::QTensor(q) => match Q4Matrix::from_qtensor(q) {
				Some(q4) => Self::Q4(q4),
				None => Self::Candle(m),
			},
			_ => Self::Candle(m),
		}
	}

	/// `x` is `[1, t, in]`.
	fn forward(&self, x: &Tensor) -> Result<Tensor> {
		match self {
			Self::Candle(m) => Ok(m.forward(x)?),
			Self::Q4(q) => {
				let (_, t, _) = x.dims3()?;
				let flat = x.flatten_all()?.to_vec1::<f32>()?;
				let y = q.matmul(&QuantizedRows::new(&flat, q.cols()));
				Ok(Tensor::from_vec(y, (1, t, q.rows()), &Device::Cpu)?)
			},
		}
	}
}

/// Rotary position embedding tables for positions `[0, max_context)`.
struct Rope {
	cos: Tensor,
	sin: Tensor,
	layout: RopeLayout,
}

impl Rope {
	fn new(config: &ModelConfig, max_context: usize) -> Result<Self> {
		let half = config.head_dim() / 2;
		let inv: Vec<f32> = (0..half)
			.map(|i| 1.0 / config.rope_theta.powf((2 * i) as f32 / config.head_dim() as f32))
			.collect();
		let inv = Tensor::from_vec(inv, (1, half), &Device::Cpu)?;
		let pos = Tensor::arange(0u32, max_context as u32, &Device::Cpu)?
			.to_dtype(DType::F32)?
			.reshape((max_context, 1))?;
		let freqs = pos.broadcast_mul(&inv)?;
		Ok(Self { cos: freqs.cos()?, sin: freqs.sin()?, layout: config.rope })
	}

	/// Rotates `x` `[1, heads, t, head_dim]` holding positions `[position, position + t)`.
	fn apply(&self, x: &Tensor, position: usize) -> Result<Tensor> {
		let t = x.dim(2)?;
		let cos = self.cos.narrow(0, position, t)?.contiguous()?;
		let sin = self.sin.narrow(0, position, t)?.contiguous()?;
		let x = x.contiguous()?;
		Ok(match self.layout {
			RopeLayout::Interleaved => candle_nn::rotary_emb::rope_i(&x, &cos, &sin)?,
			RopeLayout::HalfSplit => candle_nn::rotary_emb::rope(&x, &cos, &sin)?,
		})
	}
}

/// One pre-norm Llama block: grouped-query attention and a SwiGLU MLP.
struct Block {
	attn_norm: Tensor,
	q: Linear,
	k: Linear,
	v: Linear,
	o: Linear,
	ffn_norm: Tensor,
	gate: Linear,
	up: Linear,
	down: Linear,
}

/// Keys and values of one block for the tokens a session has seen: `[1, kv_heads, len, head_dim]`.
#[derive(Clone, Default)]
struct BlockCache {
	kv: Option<(Tensor, Tensor)>,
}

impl Block {
	fn load(file: &WeightFile, reader: &mut File, layer: u32, p: Precision) -> Result<Self> {
		let c = file.config();
		let (h, kv) = (c.hidden, c.kv_heads * c.head_dim());
		let role = |p| TensorRole::Block(layer, p);
		Ok(Self {
			attn_norm: file.vector(reader, role(BlockPart::AttnNorm), h)?,
			q: Linear::new(file.linear(reader, role(BlockPart::Q), [h, h], p)?),
			k: Linear::new(file.linear(reader, role(BlockPart::K), [kv, h], p)?),
			v: Linear::new(file.linear(reader, role(BlockPart::V), [kv, h], p)?),
			o: Linear::new(file.linear(reader, role(BlockPart::O), [h, h], p)?),
			ffn_norm: file.vector(reader, role(BlockPart::FfnNorm), h)?,
			gate: Linear::new(file.linear(
				reader,
				role(BlockPart::Gate),
				[c.intermediate, h],
				p,
			)?),
			up: Linear::new(file.linear(reader, role(BlockPart::Up), [c.intermediate, h], p)?),
			down: Linear::new(file.linear(
				reader,
				role(BlockPart::Down),
				[h, c.intermediate],
				p,
			)?),
		})
	}

	/// `x` is `[1, t, hidden]` at positions `[position, position + t)`; returns the block's
	/// output and the cache extended by the `t` new keys and values (the old cache is left
	/// untouched, so a failed step changes nothing).
	fn forward(
		&self,
		c: &ModelConfig,
		rope: &Rope,
		x: &Tensor,
		position: usize,
		cache: &BlockCache,
	) -> Result<(Tensor, BlockCache)> {
		let (_, t, hidden) = x.dims3()?;
		let (heads, kv_heads, hd) = (c.heads, c.kv_heads, c.head_dim());
		let eps = c.rms_eps as f32;
		let n = candle_nn::ops::rms_norm(x, &self.attn_norm, eps)?;
		let q = self.q.forward(&n)?.reshape((1, t, heads, hd))?.transpose(1, 2)?;
		let k = self.k.forward(&n)?.reshape((1, t, kv_heads, hd))?.transpose(1, 2)?;
		let v = self.v.forward(&n)?.reshape((1, t, kv_heads, hd))?.transpose(1, 2)?.contiguous()?;
		let q = rope.apply(&q, position)?;
		let k = rope.apply(&k, position)?;
		let (k, v) = match &cache.kv {
			Some((pk, pv)) => (Tensor::cat(&[pk, &k], 2)?, Tensor::cat(&[pv, &v], 2)?),
			None => (k, v),
		};
		let len = k.dim(2)?;
		// Grouped-query attention without copying K/V: the `heads / kv_heads` query heads of a
		// group are stacked along the sequence axis of their shared KV head.
		let rep = heads / kv_heads;
		let qg = q.reshape((1, kv_heads, rep * t, hd))?;
		let scale = 1.0 / (hd as f64).sqrt();
		let scores = (qg.matmul(&k.t()?)? * scale)?.reshape((1, heads, t, len))?;
		let scores = if t > 1 { scores.broadcast_add(&causal_mask(t, position)?)? } else { scores };
		let probs = candle_nn::ops::softmax_last_dim(&scores)?;
		let y = probs
			.reshape((1, kv_heads, rep * t, len))?
			.matmul(&v)?
			.reshape((1, heads, t, hd))?
			.transpose(1, 2)?
			.reshape((1, t, hidden))?;
		let x = (x + self.o.forward(&y)?)?;
		let n = candle_nn::ops::rms_norm(&x, &self.ffn_norm, eps)?;
		let mlp = (candle_nn::ops::silu(&self.gate.forward(&n)?)? * self.up.forward(&n)?)?;
		let x = (x + self.down.forward(&mlp)?)?;
		Ok((x, BlockCache { kv: Some((k, v)) }))
	}
}

/// `[t, position + t]`: 0 where token `i` may attend to position `j`, −∞ after it.
fn causal_mask(t: usize, position: usize) -> Result<Tensor> {
	let len = position + t;
	let mask: Vec<f32> = (0..t)
		.flat_map(|i| (0..len).map(move |j| if j > position + i { f32::NEG_INFINITY } else { 0.0 }))
		.collect();
	Ok(Tensor::from_vec(mask, (t, len), &Device::Cpu)?)
}

/// What a session of a [`LayerShard`] remembers: the keys and values of every token so far.
#[derive(Clone)]
pub struct SessionCache {
	blocks: Vec<BlockCache>,
	len: usize,
}

impl SessionCache {
	/// Tokens seen, i.e. the position of the next step.
	pub fn len(&self) -> usize {
		self.len
	}

	/// Whether no token has been seen.
	pub fn is_empty(&self) -> bool {
		self.len == 0
	}
}

/// The transformer blocks `[start, end)` of a model, loaded alone.
pub struct LayerShard {
	config: ModelConfig,
	start: u32,
	end: u32,
	blocks: Vec<Block>,
	rope: Rope,
	max_context: usize,
}

impl LayerShard {
	/// Loads blocks `[start, end)` of `file` and nothing else. `max_context` bounds every
	/// session (and is capped by the model's own context length).
	pub fn load(file: &WeightFile, start: u32, end: u32, max_context: usize) -> Result<Self> {
		Self::load_with(file, start, end, max_context, Precision::Native)
	}

	/// [`Self::load`] with a choice of [`Precision`].
	pub fn load_with(
		file: &WeightFile,
		start: u32,
		end: u32,
		max_context: usize,
		precision: Precision,
	) -> Result<Self> {
		let config = file.config().clone();
		if start >= end || end > config.layers {
			return Err(EngineError::BadLayerRange { start, end, layers: config.layers });
		}
		let max_context = max_context.clamp(1, config.max_context);
		let mut reader = file.reader()?;
		let blocks = (start..end)
			.map(|l| Block::load(file, &mut reader, l, precision))
			.collect::<Result<Vec<_>>>()?;
		let rope = Rope::new(&config, max_context)?;
		Ok(Self { config, start, end, blocks, rope, max_context })
	}

	/// The model's hyper-parameters.
	pub fn config(&self) -> &ModelConfig {
		&self.config
	}

	/// The layers served, `[start, end)`.
	pub fn layers(&self) -> (u32, u32) {
		(self.start, self.end)
	}

	/// Longest session, in tokens.
	pub fn max_context(&self) -> usize {
		self.max_context
	}

	/// Bytes of KV cache one token takes in a session of this shard.
	pub fn cache_bytes_per_token(&self) -> usize {
		2 * self.blocks.len() * self.config.kv_heads * self.config.head_dim() * 4
	}

	/// An empty session.
	pub fn new_session(&self) -> SessionCache {
		SessionCache { blocks: vec![BlockCache::default(); self.blocks.len()], len: 0 }
	}

	/// Runs the blocks over `hidden` (`t × hidden` row-major f32, the activations of `t`
	/// tokens at positions `[position, position + t)`) and returns the same shape. The
	/// session is extended only if the whole step succeeds.
	pub fn forward(
		&self,
		session: &mut SessionCache,
		position: usize,
		hidden: &[f32],
	) -> Result<Vec<f32>> {
		self.run(session, position, hidden, None)
	}

	/// [`Self::forward`], also returning the hash of every layer's output, in layer order
	/// ([`appchain_primitives::receipt::activation_hash`]; the last is the output's): what a
	/// receipt commits to. Hashing copies each layer's activations once.
	pub fn forward_traced(
		&self,
		session: &mut SessionCache,
		position: usize,
		hidden: &[f32],
	) -> Result<(Vec<f32>, Vec<[u8; 32]>)> {
		let mut hashes = Vec::with_capacity(self.blocks.len());
		let out = self.run(session, position, hidden, Some(&mut hashes))?;
		Ok((out, hashes))
	}

	fn run(
		&self,
		session: &mut SessionCache,
		position: usize,
		hidden: &[f32],
		mut trace: Option<&mut Vec<[u8; 32]>>,
	) -> Result<Vec<f32>> {
		let h = self.config.hidden;
		if hidden.is_empty() || !hidden.len().is_multiple_of(h) {
			let expected = (hidden.len() / h).max(1) * h;
			return Err(EngineError::BadActivations { expected, got: hidden.len() });
		}
		let t = hidden.len() / h;
		if position != session.len {
			return Err(EngineError::PositionGap { expected: session.len, got: position });
		}
		let needed = position.saturating_add(t);
		if needed > self.max_context {
			return Err(EngineError::ContextFull { needed, limit: self.max_context });
		}
		let mut x = Tensor::from_slice(hidden, (1, t, h), &Device::Cpu)?;
		let mut caches = Vec::with_capacity(self.blocks.len());
		for (block, cache) in self.blocks.iter().zip(&session.blocks) {
			let (y, c) = block.forward(&self.config, &self.rope, &x, position, cache)?;
			if let Some(hashes) = trace.as_deref_mut() {
				let values = y.flatten_all()?.to_vec1::<f32>()?;
				let shape = (u32::try_from(t), u32::try_from(h));
				let (Ok(tokens), Ok(width)) = shape else {
					return Err(EngineError::BadActivations { expected: h, got: hidden.len() });
				};
				hashes.push(activation_hash(tokens, width, &values));
			}
			x = y;
			caches.push(c);
		}
		let out = x.flatten_all()?.to_vec1::<f32>()?;
		session.blocks = caches;
		session.len = needed;
		Ok(out)
	}
}

/// The client's ends of the model: token embedding in, final norm and LM head out.
pub struct ClientHead {
	config: ModelConfig,
	embedding: QMatMul,
	final_norm: Tensor,
	lm_head: QMatMul,
}

impl ClientHead {
	/// Loads the embedding, final norm and LM head (tied to the embedding when the file has
	/// no output matrix).
	pub fn load(file: &WeightFile) -> Result<Self> {
		Self::load_with(file, Precision::Native)
	}

	/// [`Self::load`] with a choice of [`Precision`] for the LM head (the embedding is a
	/// table lookup, exact either way).
	pub fn load_with(file: &WeightFile, precision: Precision) -> Result<Self> {
		let config = file.config().clone();
		let mut reader = file.reader()?;
		let shape = [config.vocab, config.hidden];
		let embedding =
			file.linear(&mut reader, TensorRole::Embedding, shape, Precision::Native)?;
		let lm_role =
			if file.has(TensorRole::LmHead) { TensorRole::LmHead } else { TensorRole::Embedding };
		let lm_head = match (lm_role, precision) {
			(TensorRole::Embedding, Precision::Native) => embedding.clone(),
			_ => file.linear(&mut reader, lm_role, shape, precision)?,
		};
		let final_norm = file.vector(&mut reader, TensorRole::FinalNorm, config.hidden)?;
		Ok(Self { config, embedding, final_norm, lm_head })
	}

	/// The model's hyper-parameters.
	pub fn config(&self) -> &ModelConfig {
		&self.config
	}

	/// The embeddings of `tokens`, `t × hidden` row-major.
	pub fn embed(&self, tokens: &[u32]) -> Result<Vec<f32>> {
		if let Some(&token) = tokens.iter().find(|&&t| t as usize >= self.config.vocab) {
			return Err(EngineError::BadToken { token, vocab: self.config.vocab });
		}
		let ids = Tensor::from_slice(tokens, tokens.len(), &Device::Cpu)?;
		let e = self.embedding.embedding(&ids)?;
		Ok(e.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?)
	}

	/// Logits over the vocabulary for the last row of `hidden` (the output of the last block).
	pub fn logits(&self, hidden: &[f32]) -> Result<Vec<f32>> {
		let h = self.config.hidden;
		if hidden.len() < h || !hidden.len().is_multiple_of(h) {
			return Err(EngineError::BadActivations { expected: h, got: hidden.len() });
		}
		let last = &hidden[hidden.len() - h..];
		let x = Tensor::from_slice(last, (1, 1, h), &Device::Cpu)?;
		let x = candle_nn::ops::rms_norm(&x, &self.final_norm, self.config.rms_eps as f32)?;
		let logits = self.lm_head.forward(&x)?.squeeze(0)?.squeeze(0)?;
		Ok(logits.to_dtype(DType::F32)?.to_vec1::<f32>()?)
	}

	/// Index of the largest logit (greedy decoding), used by tests.
	pub fn argmax(logits: &[f32]) -> Option<u32> {
		crate::sampling::argmax(logits)
	}
}
