//! The heartbeat duty: keeps a registered node *serving*.
//!
//! The registry counts a node as serving while its last heartbeat is at most
//! `HeartbeatTimeout` blocks old; this duty sends one every `HeartbeatInterval` blocks while
//! the node is registered (not unbonding). Log events: `heartbeat_due` (debug).

use crate::{
	chain::{self, calls, NodeStatus, RegistryConstants, Tag},
	duty::{BlockContext, Duty, Step},
	error::WorkerError,
};

/// The tag of heartbeat transactions.
pub const HEARTBEAT: Tag = Tag::only("heartbeat");

/// Sends the heartbeats of one node.
pub struct Heartbeat {
	node: u64,
	consts: RegistryConstants,
}

impl Heartbeat {
	/// The heartbeat duty of `node`.
	pub fn new(node: u64, consts: RegistryConstants) -> Self {
		Self { node, consts }
	}
}

/// Whether a node whose last heartbeat was at `last` should send one after block `now`.
pub fn heartbeat_due(now: u64, last: u64, interval: u64) -> bool {
	now >= last.saturating_add(interval)
}

impl Duty for Heartbeat {
	fn name(&self) -> &'static str {
		"heartbeat"
	}

	fn on_block<'a>(&'a mut self, ctx: &'a BlockContext) -> Step<'a> {
		Box::pin(async move {
			let at = &ctx.head.best;
			let node = chain::node(at, self.node)
				.await?
				.ok_or_else(|| WorkerError::Missing(format!("node {} is gone", self.node)))?;
			let last = u64::from(node.last_heartbeat);
			if matches!(node.status, NodeStatus::Registered)
				&& heartbeat_due(at.block_number(), last, self.consts.heartbeat_interval)
			{
				tracing::debug!(event = "heartbeat_due", node = self.node, last, "heartbeat due");
				ctx.signer
					.submit(&ctx.head.chain, at, HEARTBEAT, &calls::heartbeat(self.node))
					.await?;
			}
			Ok(())
		})
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_heartbeat_is_due_every_interval() {
		assert!(!heartbeat_due(14, 10, 5));
		assert!(heartbeat_due(15, 10, 5));
		assert!(heartbeat_due(40, 10, 5));
		assert!(!heartbeat_due(u64::MAX - 1, u64::MAX, 5));
	}
}
