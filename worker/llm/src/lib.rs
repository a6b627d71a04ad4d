//! # appchain-llm-engine
//!
//! The inference engine of the worker: a node runs a contiguous range of a Llama-architecture
//! model's transformer blocks; the client runs the two ends (embedding in, final norm and LM
//! head out) and drives the pipeline. CPU only, on candle.
//!
//! Modules, each using only those listed below it:
//!
//! - [`decode`]: the generation loop as a state machine ([`Decoder`]) and in-process generation.
//! - [`model`]: [`LayerShard`] (blocks `[a, b)`, a KV cache per session) and [`ClientHead`].
//! - [`tokenizer`]: byte-level BPE from GGUF metadata or `tokenizer.json`; the ChatML prompt.
//! - [`sampling`]: greedy and seeded temperature/top-p sampling.
//! - [`digest`]: the weights digest registered on chain, and its definition.
//! - [`tiny`]: tiny random models in both layouts, for tests.
//! - [`kernels`]: the 4-bit (`Q4_1`) matrix kernel.
//! - [`weights`]: GGUF and safetensors files read tensor by tensor.
//! - [`config`]: model hyper-parameters and RoPE layouts.
//! - [`wire`]: the activation frame of the node's HTTP API.
//! - [`error`]: the engine's error type, [`EngineError`].

pub mod config;
pub mod decode;
pub mod digest;
pub mod error;
pub mod kernels;
pub mod model;
pub mod sampling;
pub mod tiny;
pub mod tokenizer;
pub mod weights;
pub mod wire;

pub use config::{ModelConfig, RopeLayout};
pub use decode::{generate_local, Decoder, Step};
pub use error::{EngineError, Result};
pub use model::{ClientHead, LayerShard, SessionCache};
pub use sampling::{Sampler, Sampling};
pub use tokenizer::{chatml_prompt, TextTokenizer};
pub use weights::{Format, Precision, WeightFile};
