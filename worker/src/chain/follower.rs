//! One block follower: the node's best and finalized heads, for every duty.
//!
//! [`Follower::start`] spawns a task that subscribes to the node's best and finalized
//! blocks and publishes a [`Head`] for each new best block (with the latest finalized block
//! beside it). Readers always see the newest head: a reader that is still busy with an older
//! block skips the ones in between, which is what a worker acting on chain state wants.
//!
//! When the connection drops or a subscription ends, the follower reconnects with backoff
//! (forever, until shutdown) and carries on from the new connection; [`Head::connection`]
//! counts connections, so readers know when to resynchronise (the signer's nonce, the pool).
//!
//! Log events: `following`, `reconnecting`, `reconnected`.

use std::sync::Arc;

use tokio::sync::watch;

use super::{AtBlock, Chain};
use crate::{error::WorkerError, shutdown::Shutdown};

/// A new best block, as the duties see it.
pub struct Head {
	/// The connection it came from.
	pub chain: Chain,
	/// Counts connections: 0 for the first, one more after each reconnection.
	pub connection: u64,
	/// The best block.
	pub best: AtBlock,
	/// The latest finalized block known when `best` arrived.
	pub finalized: AtBlock,
}

impl Head {
	/// The best block's number.
	pub fn number(&self) -> u64 {
		self.best.block_number()
	}
}

/// Reads the heads published by the follower task.
pub struct Follower {
	heads: watch::Receiver<Option<Arc<Head>>>,
	task: tokio::task::JoinHandle<()>,
}

impl Follower {
	/// Starts following `chain` from the block after `after` (blocks up to it are history).
	pub fn start(chain: Chain, after: u64, shutdown: Shutdown) -> Self {
		let (publish, heads) = watch::channel(None);
		let task = tokio::spawn(follow(chain, after, publish, shutdown));
		Self { heads, task }
	}

	/// The next head newer than the last one returned; `None` once the follower stopped.
	pub async fn next(&mut self) -> Option<Arc<Head>> {
		self.heads.changed().await.ok()?;
		self.heads.borrow_and_update().clone()
	}

	/// Stops the follower task.
	pub fn stop(self) {
		self.task.abort();
	}
}

/// The shortest and longest pause before reconnecting after a connection that delivered no
/// block.
const MIN_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);
const MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a connection's streams ended.
enum Ended {
	Stopped,
	Lost(String),
}

async fn follow(
	mut chain: Chain,
	mut last: u64,
	publish: watch::Sender<Option<Arc<Head>>>,
	shutdown: Shutdown,
) {
	let mut connection = 0u64;
	let mut pause = MIN_PAUSE;
	loop {
		let before = last;
		match follow_connection(&chain, connection, &mut last, &publish, &shutdown).await {
			Ended::Stopped => return,
			Ended::Lost(reason) => tracing::info!(
				event = "reconnecting",
				%reason,
				"cannot follow blocks ({reason}); reconnecting"
			),
		}
		// A connection that delivered blocks was healthy: reconnect at once. One that failed
		// before its first block waits longer each time, so a node that accepts connections
		// but cannot serve them is not hammered.
		if last > before {
			pause = MIN_PAUSE;
		} else {
			if shutdown.run_until(tokio::time::sleep(pause)).await.is_none() {
				return;
			}
			pause = pause.saturating_mul(2).min(MAX_PAUSE);
		}
		let url = chain.url.clone();
		match shutdown.run_until(Chain::connect(&url, u32::MAX)).await {
			None => return,
			Some(Ok(new)) => {
				chain = new;
				connection = connection.saturating_add(1);
				tracing::info!(event = "reconnected", url, "reconnected to {url}");
			},
			// Unreachable with unlimited attempts; try again from the old client's URL.
			Some(Err(e)) => tracing::warn!(error = %e, "reconnecting failed"),
		}
	}
}

/// Publishes the heads of one connection until it fails or the worker stops.
async fn follow_connection(
	chain: &Chain,
	connection: u64,
	last: &mut u64,
	publish: &watch::Sender<Option<Arc<Head>>>,
	shutdown: &Shutdown,
) -> Ended {
	let streams = async {
		let best = chain.api.stream_best_blocks().await?;
		let finalized_blocks = chain.api.stream_blocks().await?;
		let finalized = chain.finalized().await?;
		Ok::<_, WorkerError>((best, finalized_blocks, finalized))
	};
	let (mut best, mut finalized_blocks, mut finalized) = match shutdown.run_until(streams).await {
		None => return Ended::Stopped,
		Some(Ok(streams)) => streams,
		Some(Err(e)) => return Ended::Lost(e.to_string()),
	};
	tracing::debug!(event = "following", connection, "following best and finalized blocks");
	loop {
		let next = tokio::select! {
			_ = shutdown.cancelled() => return Ended::Stopped,
			block = finalized_blocks.next() => Err(block),
			block = best.next() => Ok(block),
		};
		match next {
			Err(Some(Ok(block))) => {
				if block.number() > finalized.block_number() {
					match block.at().await {
						Ok(at) => finalized = at,
						Err(e) => return Ended::Lost(e.to_string()),
					}
				}
			},
			Ok(Some(Ok(block))) => {
				let number = block.number();
				if number <= *last {
					// `stream_best_blocks` starts with a few blocks already seen.
					continue;
				}
				let at = match block.at().await {
					Ok(at) => at,
					Err(e) => return Ended::Lost(e.to_string()),
				};
				*last = number;
				let head = Head {
					chain: chain.clone(),
					connection,
					best: at,
					finalized: finalized.clone(),
				};
				if publish.send(Some(Arc::new(head))).is_err() {
					// Nobody reads any more.
					return Ended::Stopped;
				}
			},
			Err(Some(Err(e))) | Ok(Some(Err(e))) => return Ended::Lost(e.to_string()),
			Err(None) | Ok(None) => return Ended::Lost("block stream ended".into()),
		}
	}
}
