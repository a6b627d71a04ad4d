//! The channel watcher of a serving node: keeps its [`PaymentGate`] up to date with the
//! channels paying it, and claims what their vouchers promise.
//!
//! At every new best block it reads, at the latest **finalized** block, every open channel that
//! pays this node (payer, deposit, claimed, whether closing) and the node's price (the lower of
//! the finalized and the best block's), so that the gate takes only vouchers that finalized
//! state backs. It claims:
//!
//! - at once, the latest voucher of a channel whose payer asked to close (the node has until
//!   the end of the challenge period; a node that was offline claims when it comes back);
//! - every `claim_every` blocks, the latest voucher of every channel that promises more than
//!   was claimed.
//!
//! A claim is re-checked against the best block (something claimed since finalization is not
//! claimed twice) and sent once at a time per channel ([`Tag`] `channel-claim`). Log events:
//! `channel_claim`, `close_requested`.

use std::{collections::BTreeMap, sync::Arc};

use crate::{
	chain::{self, calls, NodeKind, Tag},
	duty::{BlockContext, Duty, Step},
	error::WorkerError,
	payments::{ChannelTerms, PaymentGate},
};

/// Claims and gate updates for one serving node.
pub struct ChannelWatcher {
	gate: Arc<PaymentGate>,
	claim_every: u64,
	last_claims: u64,
	closing_seen: BTreeMap<u64, u32>,
}

impl ChannelWatcher {
	/// The watcher of `gate`'s node, claiming every `claim_every` blocks (and at once on a
	/// close request).
	pub fn new(gate: Arc<PaymentGate>, claim_every: u64) -> Self {
		Self {
			gate,
			claim_every: claim_every.max(1),
			last_claims: 0,
			closing_seen: BTreeMap::new(),
		}
	}
}

/// The price of `node` at `at` (its registered price per pass), if it is an inference node.
async fn price_at(at: &chain::AtBlock, node: u64) -> Result<Option<u128>, WorkerError> {
	Ok(chain::node(at, node).await?.and_then(|n| match n.kind {
		NodeKind::Inference { price, .. } => Some(price),
		_ => None,
	}))
}

impl Duty for ChannelWatcher {
	fn name(&self) -> &'static str {
		"channels"
	}

	fn on_block<'a>(&'a mut self, ctx: &'a BlockContext) -> Step<'a> {
		Box::pin(async move {
			let node = self.gate.node();
			let finalized = &ctx.head.finalized;
			let best = &ctx.head.best;
			let (p_final, p_best) = (price_at(finalized, node).await?, price_at(best, node).await?);
			if let Some(price) = p_final.into_iter().chain(p_best).min() {
				self.gate.set_price(price);
			}
			let mut terms = BTreeMap::new();
			for (id, c) in chain::channels_paying(finalized, ctx.signer.account()).await? {
				if c.node != node {
					continue;
				}
				if let Some(closes_at) = c.closes_at {
					if self.closing_seen.insert(id, closes_at).is_none() {
						tracing::info!(event = "close_requested", channel = id, closes_at, "the payer of channel {id} asked to close; claiming before block {closes_at}");
					}
				}
				terms.insert(
					id,
					ChannelTerms {
						payer: c.payer.0,
						node: c.node,
						deposit: c.deposit,
						claimed: c.claimed,
						closing: c.closes_at.is_some(),
					},
				);
			}
			self.closing_seen.retain(|id, _| terms.contains_key(id));
			self.gate.set_channels(terms);

			let now = ctx.head.number();
			let periodic = now >= self.last_claims.saturating_add(self.claim_every);
			for voucher in self.gate.claimable() {
				let closing = self.closing_seen.contains_key(&voucher.channel);
				if !closing && !periodic {
					continue;
				}
				// Claimed since finalization (our own claim in a best block)? Then not again.
				let Some(current) = chain::channel(best, voucher.channel).await? else { continue };
				if voucher.cumulative <= current.claimed || current.claimed >= current.deposit {
					continue;
				}
				tracing::info!(
					event = "channel_claim",
					channel = voucher.channel,
					cumulative = %voucher.cumulative,
					claimed = %current.claimed,
					closing,
					"claiming channel {}: {} promised, {} claimed",
					voucher.channel,
					voucher.cumulative,
					current.claimed
				);
				let call =
					calls::claim_channel(voucher.channel, voucher.cumulative, voucher.signature);
				ctx.signer
					.submit(
						&ctx.head.chain,
						best,
						Tag::about("channel-claim", voucher.channel),
						&call,
					)
					.await?;
			}
			if periodic {
				self.last_claims = now;
			}
			Ok(())
		})
	}
}
