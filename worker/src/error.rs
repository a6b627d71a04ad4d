//! The worker's errors, typed, with their sources.
//!
//! Each prints as one line that says what went wrong and, where it helps, what to do; `main`
//! prints it after `error: ` and exits non-zero. [`WorkerError::kind`] tells a dropped
//! connection from a decoding failure or a refused transaction, for logs (`duty_failed` carries
//! it) and for whoever decides what to do next.

use std::path::PathBuf;

use appchain_primitives::token::AmountError;

/// Everything that can stop a worker command or one part of a daemon step.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
	/// The node could not be reached.
	#[error("cannot connect to the node at {url}: {reason}")]
	Connect {
		/// The URL tried.
		url: String,
		/// Why the last attempt failed.
		reason: String,
	},
	/// A chain query or subscription failed (connection, RPC, decoding).
	#[error("chain: {0}")]
	Chain(#[source] Box<subxt::Error>),
	/// One of the node's own RPC methods failed (unknown model, no route, ...).
	#[error("{method}: {reason}")]
	Rpc {
		/// The method.
		method: String,
		/// The node's answer.
		reason: String,
	},
	/// Something the chain should hold is not there (a job of one of our subjobs, an event).
	#[error("chain: {0}")]
	Missing(String),
	/// The node refused a transaction (bad nonce, no funds for the fee, invalid, dropped).
	#[error("transaction rejected: {0}")]
	Rejected(#[source] Box<subxt::Error>),
	/// A transaction was included but its call failed.
	#[error("transaction failed: {0}")]
	Dispatch(#[source] Box<subxt::Error>),
	/// No usable signing key.
	#[error("{0}")]
	Key(String),
	/// A job description that the chain would refuse.
	#[error("invalid job: {0}")]
	Job(String),
	/// A token amount that does not parse.
	#[error("`{text}` is not an amount of {}: {source}", appchain_primitives::token::SYMBOL)]
	Amount {
		/// What was given.
		text: String,
		/// Why it is not an amount.
		#[source]
		source: AmountError,
	},
	/// A command-line value that makes no sense.
	#[error("{0}")]
	Usage(String),
	/// This account has no node of the kind needed (or not the one asked for).
	#[error("{0}")]
	NoNode(String),
	/// The on-disk journal could not be read or written.
	#[error("journal {}: {source}", path.display())]
	Journal {
		/// The file.
		path: PathBuf,
		/// What failed.
		#[source]
		source: std::io::Error,
	},
	/// The inference engine refused a model file or a step.
	#[error("inference engine: {0}")]
	Inference(#[from] appchain_llm_engine::EngineError),
	/// A hop of an inference route failed.
	#[error("{0}")]
	Hop(String),
	/// An output file (a simulation's CSV or plot) could not be written.
	#[error("cannot write {}: {source}", path.display())]
	Output {
		/// The file.
		path: PathBuf,
		/// What failed.
		#[source]
		source: std::io::Error,
	},
	/// The hashing engine failed or its task stopped.
	#[error("hashing engine: {0}")]
	Engine(String),
	/// A runtime upgrade changed what this worker uses: it must not sign anything more.
	#[error(
		"the chain's runtime (spec {spec_version}) no longer matches this appchain-worker (built \
		 for spec {}): {}. Update appchain-worker to a release built for this runtime; nothing \
		 more will be submitted",
		built_for.map_or_else(|| "unknown".to_string(), |s| s.to_string()),
		differs.join("; ")
	)]
	RuntimeMismatch {
		/// The chain's spec version.
		spec_version: u32,
		/// The spec version the worker's metadata comes from.
		built_for: Option<u32>,
		/// What changed.
		differs: Vec<String>,
	},
}

/// What kind of failure an error is, for deciding what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
	/// The connection to the node dropped or a subscription ended: reconnect.
	ConnectionLost,
	/// Data from the node did not decode (a runtime upgrade the worker does not know?).
	Decode,
	/// The node refused a transaction, or its call failed on chain.
	Transaction,
	/// Local: keys, journal, engine, input.
	Local,
	/// Anything else from the chain.
	Chain,
	/// The runtime changed what this build uses: stop and update the worker.
	IncompatibleRuntime,
}

impl WorkerError {
	/// Classifies the error by walking its sources.
	pub fn kind(&self) -> ErrorKind {
		match self {
			WorkerError::Connect { .. } => ErrorKind::ConnectionLost,
			WorkerError::Chain(e) => classify(e),
			WorkerError::Missing(_) | WorkerError::Rpc { .. } => ErrorKind::Chain,
			WorkerError::Hop(_) => ErrorKind::Chain,
			WorkerError::Rejected(_) | WorkerError::Dispatch(_) => ErrorKind::Transaction,
			WorkerError::RuntimeMismatch { .. } => ErrorKind::IncompatibleRuntime,
			WorkerError::Key(_)
			| WorkerError::Job(_)
			| WorkerError::Amount { .. }
			| WorkerError::Usage(_)
			| WorkerError::NoNode(_)
			| WorkerError::Journal { .. }
			| WorkerError::Output { .. }
			| WorkerError::Engine(_)
			| WorkerError::Inference(_) => ErrorKind::Local,
		}
	}

	/// The node refused a transaction.
	pub fn rejected(e: impl Into<subxt::Error>) -> Self {
		WorkerError::Rejected(Box::new(e.into()))
	}

	/// A transaction's call failed on chain.
	pub fn dispatch(e: impl Into<subxt::Error>) -> Self {
		WorkerError::Dispatch(Box::new(e.into()))
	}

	/// A journal I/O failure at `path`.
	pub fn journal(path: &std::path::Path, source: impl Into<std::io::Error>) -> Self {
		WorkerError::Journal { path: path.to_path_buf(), source: source.into() }
	}
}

/// The kind of a subxt error, from the innermost source that says.
fn classify(error: &subxt::Error) -> ErrorKind {
	if error.is_disconnected_will_reconnect() {
		return ErrorKind::ConnectionLost;
	}
	let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
	while let Some(e) = source {
		if let Some(rpc) = e.downcast_ref::<subxt::rpcs::Error>() {
			return match rpc {
				subxt::rpcs::Error::Client(_)
				| subxt::rpcs::Error::DisconnectedWillReconnect(_) => ErrorKind::ConnectionLost,
				subxt::rpcs::Error::Deserialization(_) | subxt::rpcs::Error::Decode(_) => {
					ErrorKind::Decode
				},
				_ => ErrorKind::Chain,
			};
		}
		if let Some(subxt::error::RpcError::SubscriptionDropped) =
			e.downcast_ref::<subxt::error::RpcError>()
		{
			return ErrorKind::ConnectionLost;
		}
		if e.downcast_ref::<codec::Error>().is_some() {
			return ErrorKind::Decode;
		}
		source = e.source();
	}
	ErrorKind::Chain
}

/// `?` on subxt's specific errors: each becomes a [`WorkerError::Chain`].
macro_rules! from_subxt {
	($($error:ty),* $(,)?) => {
		$(impl From<$error> for WorkerError {
			fn from(e: $error) -> Self {
				WorkerError::Chain(Box::new(subxt::Error::from(e)))
			}
		})*
	};
}

from_subxt!(
	subxt::Error,
	subxt::error::BackendError,
	subxt::error::BlocksError,
	subxt::error::ConstantError,
	subxt::error::EventsError,
	subxt::error::OnlineClientAtBlockError,
	subxt::error::OnlineClientError,
	subxt::error::RuntimeApiError,
	subxt::error::StorageError,
	subxt::error::StorageKeyError,
	subxt::error::StorageValueError,
	subxt::rpcs::Error,
	codec::Error,
);

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_dropped_connection_is_told_from_a_decode_error() {
		let dropped = WorkerError::from(subxt::rpcs::Error::Client("connection reset".into()));
		assert_eq!(dropped.kind(), ErrorKind::ConnectionLost);
		let reconnecting =
			WorkerError::from(subxt::rpcs::Error::DisconnectedWillReconnect("eof".into()));
		assert_eq!(reconnecting.kind(), ErrorKind::ConnectionLost);
		let undecodable = WorkerError::from(codec::Error::from("not enough data"));
		assert_eq!(undecodable.kind(), ErrorKind::Decode);
		let subscription = WorkerError::from(subxt::error::BackendError::Rpc(
			subxt::error::RpcError::SubscriptionDropped,
		));
		assert_eq!(subscription.kind(), ErrorKind::ConnectionLost);
		assert_eq!(WorkerError::Usage("x".into()).kind(), ErrorKind::Local);
		// The source is kept for whoever wants the detail.
		assert!(std::error::Error::source(&undecodable).is_some());
	}
}
