//! The engine's one error type.

use thiserror::Error;

/// Everything that can go wrong loading a model or running it. Each variant says what the
/// operator or the client has to fix; none of them leaves a session half-updated.
#[derive(Debug, Error)]
pub enum EngineError {
	/// Reading a model file failed.
	#[error("cannot read {path}: {source}")]
	Io {
		/// The file.
		path: String,
		/// The cause.
		source: std::io::Error,
	},
	/// The model file is not a model this engine runs (unknown format, architecture or layout).
	#[error("unsupported model: {0}")]
	Unsupported(String),
	/// The model file is malformed (missing key or tensor, wrong shape or dtype).
	#[error("malformed model: {0}")]
	Malformed(String),
	/// The weights do not have the digest the chain registered for the model.
	#[error("weights digest mismatch: the file has {actual}, the chain expects {expected}")]
	DigestMismatch {
		/// Hex digest the chain expects.
		expected: String,
		/// Hex digest of the file.
		actual: String,
	},
	/// A layer range that is empty or outside the model.
	#[error("layer range [{start}, {end}) is not inside the model's {layers} layers")]
	BadLayerRange {
		/// First layer.
		start: u32,
		/// One past the last layer.
		end: u32,
		/// Layers of the model.
		layers: u32,
	},
	/// A forward step whose position is not where the session is.
	#[error("position {got} does not follow the session, which is at {expected}")]
	PositionGap {
		/// Tokens the session has seen.
		expected: usize,
		/// Position the step claims.
		got: usize,
	},
	/// A forward step would take the session past its context limit.
	#[error("context limit: {needed} tokens needed, the limit is {limit}")]
	ContextFull {
		/// Tokens the session would hold.
		needed: usize,
		/// The limit.
		limit: usize,
	},
	/// Activations whose size does not match the token count and hidden size.
	#[error("activations have {got} values, {expected} expected")]
	BadActivations {
		/// Expected number of f32 values.
		expected: usize,
		/// Number received.
		got: usize,
	},
	/// A token id outside the vocabulary.
	#[error("token {token} is outside the vocabulary of {vocab}")]
	BadToken {
		/// The token.
		token: u32,
		/// Vocabulary size.
		vocab: usize,
	},
	/// Tokenizer failure.
	#[error("tokenizer: {0}")]
	Tokenizer(String),
	/// Invalid sampling parameters.
	#[error("bad sampling parameters: {0}")]
	BadSampling(String),
	/// A tensor operation failed.
	#[error("tensor: {0}")]
	Tensor(#[from] candle_core::Error),
}

/// Result alias of the engine.
pub type Result<T, E = EngineError> = core::result::Result<T, E>;

pub(crate) fn malformed(msg: impl Into<String>) -> EngineError {
	EngineError::Malformed(msg.into())
}
