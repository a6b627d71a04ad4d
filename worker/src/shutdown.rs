//! Clean shutdown: one cancellation token that every task of the daemon watches.
//!
//! As in tokio's mini-redis `shutdown.rs`, but with `tokio_util`'s `CancellationToken`: the
//! command creates a [`Shutdown`], [`Shutdown::on_signals`] cancels it on SIGINT or SIGTERM,
//! and every long step selects on [`Shutdown::cancelled`]. Clones share the one token.

use tokio_util::sync::CancellationToken;

/// A shutdown signal shared by every task.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
	token: CancellationToken,
}

impl Shutdown {
	/// A signal that has not fired.
	pub fn new() -> Self {
		Self::default()
	}

	/// Fires the signal.
	pub fn trigger(&self) {
		self.token.cancel();
	}

	/// Whether the signal has fired.
	pub fn is_triggered(&self) -> bool {
		self.token.is_cancelled()
	}

	/// Resolves once the signal fires.
	pub async fn cancelled(&self) {
		self.token.cancelled().await
	}

	/// Runs `work` unless the signal fires first (then `None`; a fired signal always wins).
	pub async fn run_until<F: std::future::Future>(&self, work: F) -> Option<F::Output> {
		tokio::select! {
			biased;
			_ = self.token.cancelled() => None,
			output = work => Some(output),
		}
	}

	/// Fires the signal on SIGINT or SIGTERM (in a background task).
	pub fn on_signals(&self) {
		let token = self.token.clone();
		tokio::spawn(async move {
			signal().await;
			tracing::info!(event = "stopping", "stop requested");
			token.cancel();
		});
	}
}

/// Resolves on SIGINT or SIGTERM.
async fn signal() {
	#[cfg(unix)]
	{
		use tokio::signal::unix::{signal, SignalKind};
		match signal(SignalKind::terminate()) {
			Ok(mut term) => {
				tokio::select! {
					_ = tokio::signal::ctrl_c() => {},
					_ = term.recv() => {},
				}
			},
			Err(_) => {
				let _ = tokio::signal::ctrl_c().await;
			},
		}
	}
	#[cfg(not(unix))]
	{
		let _ = tokio::signal::ctrl_c().await;
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[tokio::test]
	async fn a_triggered_shutdown_interrupts_work_in_every_clone() {
		let shutdown = Shutdown::new();
		let clone = shutdown.clone();
		assert_eq!(shutdown.run_until(async { 7 }).await, Some(7));
		let waiting =
			tokio::spawn(async move { clone.run_until(std::future::pending::<()>()).await });
		shutdown.trigger();
		assert!(shutdown.is_triggered());
		assert_eq!(waiting.await.ok(), Some(None));
	}
}
