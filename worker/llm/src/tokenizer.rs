//! Text to tokens and back, and the chat template.
//!
//! GGUF files carry their byte-level BPE (tokens, merges, token types); it is rebuilt here with
//! the `tokenizers` crate. SmolLM2 (`tokenizer.ggml.pre = smollm`) splits every digit into its
//! own pre-token before the GPT-2 byte-level split, as its `tokenizer.json` does. Control
//! tokens (`<|im_start|>`, `<|im_end|>`, ...) are matched whole in the input. A safetensors
//! model directory brings its own `tokenizer.json`.

use crate::{
	config::meta,
	error::{EngineError, Result},
	weights::WeightFile,
};
use tokenizers::{
	decoders::byte_level::ByteLevel as ByteLevelDecoder,
	models::bpe::{Vocab, BPE},
	pre_tokenizers::{byte_level::ByteLevel, digits::Digits, sequence::Sequence},
	AddedToken, Tokenizer,
};

/// GGUF token type of control tokens.
const CONTROL: i32 = 3;

/// A tokenizer with the model's end-of-turn token.
pub struct TextTokenizer {
	inner: Tokenizer,
	/// Tokens that end generation (end of text, end of turn).
	pub stop_tokens: Vec<u32>,
}

fn tok_err(e: impl core::fmt::Display) -> EngineError {
	EngineError::Tokenizer(e.to_string())
}

impl TextTokenizer {
	/// The tokenizer of a model file: from GGUF metadata, or `tokenizer.json` next to a
	/// safetensors model.
	pub fn from_model(file: &WeightFile) -> Result<Self> {
		if let Some(content) = file.gguf() {
			return Self::from_gguf(content);
		}
		let dir = file.model_dir.clone().unwrap_or_default();
		let path = dir.join("tokenizer.json");
		let inner = Tokenizer::from_file(&path)
			.map_err(|e| EngineError::Tokenizer(format!("{}: {e}", path.display())))?;
		let stop_tokens = ["<|im_end|>", "<|endoftext|>", "</s>"]
			.iter()
			.filter_map(|t| inner.token_to_id(t))
			.collect();
		Ok(Self { inner, stop_tokens })
	}

	fn from_gguf(content: &candle_core::quantized::gguf_file::Content) -> Result<Self> {
		let strings = |key: &str| -> Result<Vec<String>> {
			meta(content, key)?
				.to_vec()
				.map_err(tok_err)?
				.iter()
				.map(|v| v.to_string().cloned().map_err(tok_err))
				.collect()
		};
		let model = meta(content, "tokenizer.ggml.model")?.to_string().map_err(tok_err)?;
		if model != "gpt2" {
			return Err(EngineError::Unsupported(format!(
				"tokenizer model `{model}` (only gpt2 BPE)"
			)));
		}
		let tokens = strings("tokenizer.ggml.tokens")?;
		let merges = strings("tokenizer.ggml.merges")?
			.into_iter()
			.map(|m| {
				m.split_once(' ')
					.map(|(a, b)| (a.to_string(), b.to_string()))
					.ok_or_else(|| tok_err(format!("bad merge `{m}`")))
			})
			.collect::<Result<Vec<_>>>()?;
		let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
		let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(tok_err)?;
		let mut inner = Tokenizer::new(bpe);
		let pre = meta(content, "tokenizer.ggml.pre")
			.ok()
			.and_then(|v| v.to_string().ok())
			.cloned()
			.unwrap_or_default();
		let byte_level = ByteLevel::new(false, true, true);
		match pre.as_str() {
			"smollm" => {
				inner.with_pre_tokenizer(Some(Sequence::new(vec![
					Digits::new(true).into(),
					byte_level.into(),
				])));
			},
			"" | "gpt2" | "default" => {
				inner.with_pre_tokenizer(Some(byte_level));
			},
			other => {
				return Err(EngineError::Unsupported(format!("pre-tokenizer `{other}`")));
			},
		}
		inner.with_decoder(Some(ByteLevelDecoder::default()));
		let types: Vec<i32> = match meta(content, "tokenizer.ggml.token_type") {
			Ok(v) => v
				.to_vec()
				.map_err(tok_err)?
				.iter()
				.map(|t| t.to_i32().map_err(tok_err))
				.collect::<Result<_>>()?,
			Err(_) => Vec::new(),
		};
		let special: Vec<AddedToken> = types
			.iter()
			.zip(&tokens)
			.filter(|(ty, _)| **ty == CONTROL)
			.map(|(_, t)| AddedToken::from(t.clone(), true))
			.collect();
		inner.add_special_tokens(special).map_err(tok_err)?;
		let id = |key: &str| meta(content, key).ok().and_then(|v| v.to_u32().ok());
		let mut stop_tokens: Vec<u32> =
			["tokenizer.ggml.eos_token_id"].iter().filter_map(|k| id(k)).collect();
		for t in ["<|im_end|>", "<|endoftext|>"] {
			if let Some(i) = inner.token_to_id(t) {
				if !stop_tokens.contains(&i) {
					stop_tokens.push(i);
				}
			}
		}
		Ok(Self { inner, stop_tokens })
	}

	/// Token ids of `text` (control tokens in it are matched whole; no BOS is added).
	pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
		Ok(self.inner.encode(text, false).map_err(tok_err)?.get_ids().to_vec())
	}

	/// Text of `ids`, control tokens left out.
	pub fn decode(&self, ids: &[u32]) -> Result<String> {
		self.inner.decode(ids, true).map_err(tok_err)
	}

	/// Whether `token` ends generation.
	pub fn is_stop(&self, token: u32) -> bool {
		self.stop_tokens.contains(&token)
	}
}

/// The ChatML prompt for one user message, as SmolLM2's template renders it with
/// `add_generation_prompt`: its default system message (unless `system` is given), the user
/// turn, and the opening of the assistant's turn.
pub fn chatml_prompt(system: Option<&str>, user: &str) -> String {
	let system =
		system.unwrap_or("You are a helpful AI assistant named SmolLM, trained by Hugging Face");
	format!(
		"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
	)
}
