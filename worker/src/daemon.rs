//! The daemon: follows the chain and runs the worker's duties at each new best block.
//!
//! 1. One [`Follower`] publishes new best blocks (with the latest finalized one) and
//!    reconnects with backoff when the connection drops.
//! 2. On the first head of every connection, the signer resynchronises: it forgets the old
//!    connection's nonce and in-flight transactions and waits for what this account left in
//!    the node's pool ([`Signer::resync`]); if it had to wait, the duties start at the next
//!    head, otherwise at this one.
//! 3. At each later head every duty runs in turn; a failing duty is logged (`duty_failed`)
//!    and the others still run. A duty still busy when a newer block arrives simply sees the
//!    newest one next.
//! 4. Before the duties run on a block of a new runtime version, the worker checks that the
//!    runtime still has what this build uses ([`compat`]); if not, it logs
//!    `runtime_mismatch` and stops with [`WorkerError::RuntimeMismatch`] instead of signing
//!    transactions the runtime would misread. A compatible upgrade is logged
//!    (`runtime_upgraded`) and work goes on.
//! 5. The shutdown token (SIGINT/SIGTERM) interrupts any step; each duty then shuts down
//!    and the daemon logs `stopped`.

use crate::{
	chain::{compat, Chain, Follower, Resync, Signer},
	duty::{BlockContext, Duty},
	error::{ErrorKind, WorkerError},
	shutdown::Shutdown,
};

/// A worker process: a connection, a signer and its duties.
pub struct Daemon {
	chain: Chain,
	signer: Signer,
	duties: Vec<Box<dyn Duty>>,
	shutdown: Shutdown,
}

impl Daemon {
	/// A daemon over `chain`, signing with `signer`, stopped by `shutdown`.
	pub fn new(chain: Chain, signer: Signer, shutdown: Shutdown) -> Self {
		Self { chain, signer, duties: Vec::new(), shutdown }
	}

	/// Adds a duty; duties run in the order they were added.
	pub fn with(mut self, duty: impl Duty + 'static) -> Self {
		self.duties.push(Box::new(duty));
		self
	}

	/// Runs until the shutdown token fires. Ends with an error if the block follower stops
	/// by itself (it only stops on shutdown).
	pub async fn run(mut self) -> Result<(), WorkerError> {
		let start = self.chain.finalized().await?.block_number();
		let mut follower = Follower::start(self.chain.clone(), start, self.shutdown.clone());
		let mut synced_connection = None;
		let mut runtime_spec = None;
		let mut ended = Ok(());
		'heads: loop {
			let head = match self.shutdown.run_until(follower.next()).await {
				None => break,
				Some(Some(head)) => head,
				Some(None) => {
					ended = Err(WorkerError::Missing("the block follower stopped".into()));
					break;
				},
			};
			if synced_connection != Some(head.connection) {
				match self.signer.resync(&head.chain, &self.shutdown).await {
					Ok(Resync::Stopped) => break,
					Ok(Resync::Ready) => synced_connection = Some(head.connection),
					Ok(Resync::Waited) => {
						// Act on a fresh head, not one that waited.
						synced_connection = Some(head.connection);
						continue;
					},
					Err(e) => {
						tracing::warn!(event = "resync_failed", error = %e, "cannot check the node's pool: {e}");
						continue;
					},
				}
			}
			// A runtime upgrade: say so, and stop before signing anything if it changed what
			// this build uses (`chain::compat`).
			let spec = head.best.spec_version();
			if let Err(e) = compat::ensure_compatible(&head.best) {
				tracing::error!(event = "runtime_mismatch", spec, error = %e, "{e}");
				ended = Err(e);
				break;
			}
			// Logged only once the new runtime is known to be compatible.
			if runtime_spec != Some(spec) {
				if let Some(old) = runtime_spec {
					tracing::info!(
						event = "runtime_upgraded",
						from = old,
						to = spec,
						block = head.number(),
						"the runtime was upgraded from spec {old} to spec {spec}; this worker still matches it"
					);
				}
				runtime_spec = Some(spec);
			}
			let ctx = BlockContext { head, signer: self.signer.clone() };
			let number = ctx.head.number();
			for duty in &mut self.duties {
				let name = duty.name();
				match self.shutdown.run_until(duty.on_block(&ctx)).await {
					None => break 'heads,
					Some(Ok(())) => {},
					Some(Err(e)) if e.kind() == ErrorKind::IncompatibleRuntime => {
						tracing::error!(event = "runtime_mismatch", duty = name, error = %e, "{e}");
						ended = Err(e);
						break 'heads;
					},
					Some(Err(e)) => {
						let kind = e.kind();
						tracing::warn!(
							event = "duty_failed",
							duty = name,
							block = number,
							kind = ?kind,
							error = %e,
							"{name} at block {number}: {e}"
						);
						if kind == ErrorKind::Decode {
							tracing::warn!(
								event = "decode_failed",
								"the node's data did not decode: is this worker built for the chain's runtime?"
							);
						}
					},
				}
			}
		}
		follower.stop();
		for duty in &mut self.duties {
			duty.shut_down().await;
		}
		tracing::info!(event = "stopped", "stopped");
		ended
	}
}
