//! The worker's errors. Each prints as one line that says what went wrong and, where it
//! helps, what to do; `main` prints it after `error: ` and exits non-zero.

/// Everything that can stop a worker command.
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
	/// A chain query failed.
	#[error("chain query failed: {0}")]
	Chain(String),
	/// The node refused a transaction (bad nonce, no funds for the fee, invalid, dropped).
	#[error("transaction rejected: {0}")]
	Rejected(String),
	/// A transaction was included but its call failed.
	#[error("transaction failed: {0}")]
	Dispatch(String),
	/// No usable signing key.
	#[error("{0}")]
	Key(String),
	/// A job description that the chain would refuse.
	#[error("invalid job: {0}")]
	Job(String),
	/// A command-line value that makes no sense.
	#[error("{0}")]
	Usage(String),
	/// This account has no hashing node (or not the one asked for).
	#[error("{0}")]
	NoNode(String),
	/// The on-disk journal could not be read or written.
	#[error("journal {path}: {reason}")]
	Journal {
		/// The file.
		path: String,
		/// What failed.
		reason: String,
	},
	/// The hashing engine stopped.
	#[error("hashing engine: {0}")]
	Engine(String),
}
