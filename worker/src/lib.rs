//! `appchain-worker`: the binary a worker runs to earn tokens on the compute-marketplace
//! appchain, and the client side that posts and follows jobs.
//!
//! Laid out as tokio's mini-redis: a thin binary (`main.rs`) over this library. Modules, from
//! the process down to the chain (each imports only modules listed after it, never before):
//!
//! - [`cli`]: the command line: the global options and the commands;
//! - [`cmd`]: one module per command (`key`, `register`, `bench`, `run`, `status`, `job`,
//!   `model`, `serve`, `infer`, `gateway`, `channel`, `simulate`)
//!   and what commands share (global options, amounts, thread counts);
//! - [`simulation`]: the P2P-LLM market of `simulate`, scheduling the pricing and
//!   reallocation rules of `appchain_primitives::pricing`;
//! - [`daemon`]: `run`'s loop: follows blocks and runs the duties at each new best block;
//! - [`duty`]: what a running worker does: `heartbeat`, `channels` (a serving node's vouchers
//!   and claims), `hashjobs` (pure planner + executor),
//!   `ledger`, `pricing` (an inference node's pricing agent);
//! - [`pipeline`]: text generation through a route of inference nodes, with failover;
//! - [`node_api`]: the inference node's activation API over HTTP, server and client;
//! - [`proofs`]: inference proofs: the signed receipt of every forward step (`receipts`:
//!   encoding, the client's check, the node's signer and on-disk store) and re-execution of a
//!   step by a verifier (`replay`);
//! - [`payments`]: payment-channel vouchers: signing, checking, and the books of the latest
//!   voucher per channel on disk;
//! - [`journal`]: results and salts on disk before they are committed, and the ledger;
//! - [`chain`]: the only module that talks to the node: typed readers of storage, constants
//!   and events, the calls, the shared [`chain::Signer`] and the block [`chain::Follower`];
//! - [`keys`]: sr25519 keys from `APPCHAIN_SURI` or a 0600 keystore file;
//! - [`shutdown`]: the cancellation token that SIGINT/SIGTERM fire;
//! - [`logging`]: `tracing` to standard error, text or JSON lines, `RUST_LOG` filters;
//! - [`error`]: [`WorkerError`], typed, with sources, and its [`error::ErrorKind`].
//!
//! The hashing engine is the `appchain-hash-engine` crate, the inference engine
//! `appchain-llm-engine`; amounts, the token symbol, its
//! decimals and the SS58 prefix come from `appchain_primitives::token`, shared with the runtime.

pub mod chain;
pub mod cli;
pub mod cmd;
pub mod daemon;
pub mod duty;
pub mod error;
pub mod journal;
pub mod keys;
pub mod logging;
pub mod node_api;
pub mod payments;
pub mod pipeline;
pub mod proofs;
pub mod shutdown;
pub mod simulation;

pub use error::WorkerError;

#[cfg(test)]
mod layering {
	/// The modules in the order of the crate docs: each may use only modules after it.
	const LAYERS: [&str; 15] = [
		"cli",
		"cmd",
		"simulation",
		"daemon",
		"duty",
		"pipeline",
		"node_api",
		"proofs",
		"payments",
		"journal",
		"chain",
		"keys",
		"shutdown",
		"logging",
		"error",
	];

	/// Every source file, with the top-level module it belongs to.
	const SOURCES: &[(&str, &str)] = &[
		("cli", include_str!("cli.rs")),
		("cmd", include_str!("cmd/mod.rs")),
		("cmd", include_str!("cmd/bench.rs")),
		("cmd", include_str!("cmd/job.rs")),
		("cmd", include_str!("cmd/key.rs")),
		("cmd", include_str!("cmd/register.rs")),
		("cmd", include_str!("cmd/run.rs")),
		("cmd", include_str!("cmd/status.rs")),
		("cmd", include_str!("cmd/model.rs")),
		("cmd", include_str!("cmd/serve.rs")),
		("cmd", include_str!("cmd/infer.rs")),
		("cmd", include_str!("cmd/audit.rs")),
		("cmd", include_str!("cmd/simulate.rs")),
		("cmd", include_str!("cmd/channel.rs")),
		("cmd", include_str!("cmd/gateway.rs")),
		("payments", include_str!("payments.rs")),
		("simulation", include_str!("simulation.rs")),
		("pipeline", include_str!("pipeline.rs")),
		("node_api", include_str!("node_api/mod.rs")),
		("node_api", include_str!("node_api/server.rs")),
		("node_api", include_str!("node_api/client.rs")),
		("proofs", include_str!("proofs/mod.rs")),
		("proofs", include_str!("proofs/receipts.rs")),
		("proofs", include_str!("proofs/replay.rs")),
		("daemon", include_str!("daemon.rs")),
		("duty", include_str!("duty/mod.rs")),
		("duty", include_str!("duty/heartbeat.rs")),
		("duty", include_str!("duty/channels.rs")),
		("duty", include_str!("duty/ledger.rs")),
		("duty", include_str!("duty/pricing.rs")),
		("duty", include_str!("duty/proofs.rs")),
		("duty", include_str!("duty/hashjobs/mod.rs")),
		("duty", include_str!("duty/hashjobs/planner.rs")),
		("duty", include_str!("duty/hashjobs/hashing.rs")),
		("journal", include_str!("journal.rs")),
		("chain", include_str!("chain/mod.rs")),
		("chain", include_str!("chain/signer.rs")),
		("chain", include_str!("chain/compat.rs")),
		("chain", include_str!("chain/follower.rs")),
		("keys", include_str!("keys.rs")),
		("shutdown", include_str!("shutdown.rs")),
		("logging", include_str!("logging.rs")),
		("error", include_str!("error.rs")),
	];

	/// The crate modules a source names: `crate::x` paths and the `x` of `use crate::{x, …}`.
	fn used_modules(source: &str) -> Vec<String> {
		let mut used = Vec::new();
		for (at, _) in source.match_indices("crate::") {
			let rest = &source[at + "crate::".len()..];
			if let Some(group) = rest.strip_prefix('{') {
				// `use crate::{a::b, c, d::{e, f}}`: the first segment after each top-level comma.
				let mut depth = 0;
				let mut segment_start = true;
				let mut name = String::new();
				for c in group.chars() {
					match c {
						'{' => depth += 1,
						'}' if depth == 0 => break,
						'}' => depth -= 1,
						',' if depth == 0 => segment_start = true,
						c if segment_start && (c.is_alphanumeric() || c == '_') => name.push(c),
						_ if segment_start && !name.is_empty() => {
							used.push(std::mem::take(&mut name));
							segment_start = false;
						},
						_ => {},
					}
				}
				if !name.is_empty() {
					used.push(name);
				}
			} else {
				let name: String =
					rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
				used.push(name);
			}
		}
		used
	}

	#[test]
	fn modules_use_only_the_layers_below_them() {
		let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
		for (module, source) in SOURCES {
			let own = rank(module).unwrap();
			for used in used_modules(source) {
				// Re-exports at the crate root (`crate::WorkerError`) are the error layer.
				let used = if used == "WorkerError" { "error".to_string() } else { used };
				let Some(theirs) = rank(&used) else { continue };
				assert!(
					theirs >= own,
					"`{module}` uses `{used}`, a layer above it: that would allow an import cycle"
				);
			}
		}
	}

	#[test]
	fn the_layer_check_reads_grouped_imports() {
		assert_eq!(
			used_modules("use crate::{chain::{self, Tag}, error::WorkerError, keys};"),
			vec!["chain", "error", "keys"]
		);
		assert_eq!(used_modules("crate::keys::ss58(x)"), vec!["keys"]);
	}
}
