//! One module per command (its arguments and what it does), and what commands share: the
//! global options ([`Global`]: URL, base path, key, log format), amounts and thread counts.
//!
//! - [`key`]: `key generate | inspect`;
//! - [`register`]: `register` a hashing node (measuring the hash rate);
//! - [`bench`]: `bench` the hashing engine;
//! - [`run`]: `run` the daemon with its duties;
//! - [`status`]: `status` of the node, its subjobs and earnings;
//! - [`job`]: `job post | watch`, the client side of hash jobs;
//! - [`model`]: `model inspect | register | list`;
//! - [`serve`]: `serve` a range of a model's layers (the inference node);
//! - [`infer`]: `infer`, text generation through the network;
//! - [`audit`]: `audit`, the client's check of the receipts nodes did not commit;
//! - [`gateway`]: `gateway`, an OpenAI-compatible API paying through channels;
//! - [`channel`]: `channel list | open | top-up | voucher | claim | close | finalize`;
//! - [`simulate`]: `simulate` the P2P-LLM market (prices, moves, equilibrium) off line.

pub mod audit;
pub mod bench;
pub mod channel;
pub mod gateway;
pub mod infer;
pub mod job;
pub mod key;
pub mod model;
pub mod register;
pub mod run;
pub mod serve;
pub mod simulate;
pub mod status;

use std::path::PathBuf;

use crate::{
	chain::{Chain, Signer},
	error::WorkerError,
	keys::KeySource,
	logging::LogFormat,
	shutdown::Shutdown,
};

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
	/// WebSocket URL of an appchain node's RPC.
	#[arg(long, global = true, env = "APPCHAIN_URL", default_value = "ws://127.0.0.1:9944")]
	pub url: String,

	/// Directory for the keystore and the journal of committed results
	/// [default: ~/.local/share/appchain-worker].
	#[arg(long, global = true, env = "APPCHAIN_WORKER_BASE")]
	pub base_path: Option<PathBuf>,

	/// Keystore file holding the secret URI [default: <base-path>/key]. Ignored when
	/// $APPCHAIN_SURI is set.
	#[arg(long, global = true)]
	pub keystore: Option<PathBuf>,

	/// Log format on standard error: `text` or one JSON object per line (`json`).
	#[arg(long, global = true, value_enum, env = "APPCHAIN_LOG_FORMAT", default_value = "text")]
	pub log_format: LogFormat,
}

impl Global {
	/// The base path: `--base-path`, or `~/.local/share/appchain-worker`.
	pub fn base_path(&self) -> PathBuf {
		self.base_path.clone().unwrap_or_else(|| {
			std::env::var_os("HOME")
				.map(PathBuf::from)
				.unwrap_or_else(|| PathBuf::from("."))
				.join(".local/share/appchain-worker")
		})
	}

	/// The keystore file: `--keystore`, or `<base-path>/key`.
	pub fn keystore(&self) -> PathBuf {
		self.keystore.clone().unwrap_or_else(|| self.base_path().join("key"))
	}

	/// Where the key comes from: `$APPCHAIN_SURI`, else the keystore file.
	pub fn key_source(&self) -> KeySource {
		KeySource::pick(&self.keystore())
	}

	/// The account's signer.
	pub fn signer(&self) -> Result<Signer, WorkerError> {
		Ok(Signer::new(self.key_source().load()?))
	}

	/// For a daemon: the signer, a shutdown token fired by SIGINT/SIGTERM, and a connection
	/// (retried with backoff). `None` when a signal came before the connection.
	pub async fn start_daemon(&self) -> Result<Option<(Signer, Shutdown, Chain)>, WorkerError> {
		let signer = self.signer()?;
		let shutdown = Shutdown::new();
		shutdown.on_signals();
		match shutdown.run_until(Chain::connect(&self.url, 6)).await {
			None => Ok(None),
			Some(chain) => Ok(Some((signer, shutdown, chain?))),
		}
	}

	/// Connects for a one-shot command: a few quick silent tries, then one clear error.
	pub async fn connect(&self) -> Result<Chain, WorkerError> {
		Chain::connect(&self.url, 3).await
	}
}

/// The text of a generation as its tokens arrive (`infer`'s output, the gateway's stream):
/// decodes everything so far and hands out what is new, holding back a trailing incomplete
/// UTF-8 sequence (a character split over tokens).
#[derive(Debug, Default)]
pub struct TextStream {
	tokens: Vec<u32>,
	printed: usize,
}

impl TextStream {
	/// Adds `token`; returns the text it completes, if any.
	pub fn push(
		&mut self,
		tokenizer: &appchain_llm_engine::TextTokenizer,
		token: u32,
	) -> Option<String> {
		self.tokens.push(token);
		let text = tokenizer.decode(&self.tokens).ok()?;
		if text.ends_with('\u{fffd}') {
			return None;
		}
		let new = text.get(self.printed..).map(str::to_string);
		self.printed = text.len();
		new.filter(|n| !n.is_empty())
	}
}

/// Fails unless the model file's weights digest is the one registered on chain.
pub fn check_weights(registered: &[u8; 32], file: &[u8; 32]) -> Result<(), WorkerError> {
	use appchain_llm_engine::digest;
	if registered != file {
		return Err(appchain_llm_engine::EngineError::DigestMismatch {
			expected: digest::hex(registered),
			actual: digest::hex(file),
		}
		.into());
	}
	Ok(())
}

/// Parses a token amount given on the command line (`100`, `2.5`).
pub fn parse_amount(text: &str) -> Result<u128, WorkerError> {
	appchain_primitives::token::parse_amount(text)
		.map_err(|source| WorkerError::Amount { text: text.to_string(), source })
}

/// Hashing threads: `requested`, at most 4 per hardware thread, or all hardware threads.
pub fn threads(requested: Option<usize>) -> Result<usize, WorkerError> {
	let available = appchain_hash_engine::available_threads();
	let most = available.saturating_mul(4);
	match requested {
		Some(0) => Err(WorkerError::Usage("--threads must be at least 1".into())),
		Some(n) if n > most => Err(WorkerError::Usage(format!(
			"--threads {n} is more than 4 per hardware thread ({most} here)"
		))),
		Some(n) => Ok(n),
		None => Ok(available),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn amounts_and_threads_are_checked() {
		assert_eq!(parse_amount("2.5").unwrap(), 2_500_000_000_000);
		let bad = parse_amount("1e3").unwrap_err().to_string();
		assert!(bad.contains("`1e3` is not an amount"), "{bad}");
		assert!(threads(Some(0)).is_err());
		assert!(threads(Some(usize::MAX)).is_err());
		assert_eq!(threads(Some(1)).unwrap(), 1);
		assert!(threads(None).unwrap() >= 1);
	}
}
