//! The ledger duty: this node's rewards, bonuses and penalties, from finalized blocks.
//!
//! At each head it reads the events of the blocks finalized since its cursor (at most 32 per
//! head), appends the ones about its node to the journal's ledger and moves the cursor, so a
//! restart neither skips nor repeats a payment. A new journal starts at the chain as it is.
//! Log events: `paid` (a reward or bonus), `slashed`.

use appchain_primitives::token::format_amount;

use crate::{
	chain::{self, HashJobEvent},
	duty::{BlockContext, Duty, Step},
	error::WorkerError,
	journal::{Journal, LedgerEntry},
};

/// Blocks read per head at most, so a long catch-up does not hold up the other duties.
const BLOCKS_PER_HEAD: u64 = 32;

/// Records the payments of one node.
pub struct Ledger {
	node: u64,
	journal: Journal,
}

impl Ledger {
	/// The ledger of `node`, kept in `journal`.
	pub fn new(node: u64, journal: Journal) -> Self {
		Self { node, journal }
	}

	/// The ledger entries of one block's events for `node`. The bonus event names the
	/// subjob, not the node: it is ours if the subjob's verification in the same block is.
	pub fn entries(node: u64, block: u64, events: &[HashJobEvent]) -> Vec<LedgerEntry> {
		let entry = |subjob, kind: &str, amount: u128| LedgerEntry {
			block,
			subjob,
			kind: kind.into(),
			amount: amount.to_string(),
		};
		let mut out = Vec::new();
		let mut verified = Vec::new();
		for event in events {
			if let HashJobEvent::SubjobVerified { subjob, node: n, reward, .. } = event {
				if *n == node {
					out.push(entry(*subjob, "reward", *reward));
					verified.push(*subjob);
				}
			}
		}
		for event in events {
			match event {
				HashJobEvent::FinderRewarded { subjob, bonus, .. } if verified.contains(subjob) => {
					out.push(entry(*subjob, "bonus", *bonus))
				},
				HashJobEvent::SubjobFailed { subjob, node: n, penalty, .. } if *n == node => {
					out.push(entry(*subjob, "penalty", *penalty))
				},
				_ => {},
			}
		}
		out
	}

	async fn catch_up(&mut self, ctx: &BlockContext) -> Result<(), WorkerError> {
		let finalized = ctx.head.finalized.block_number();
		let Some(cursor) = self.journal.ledger_cursor()? else {
			return self.journal.set_ledger_cursor(finalized);
		};
		let last = finalized.min(cursor.saturating_add(BLOCKS_PER_HEAD));
		for number in cursor.saturating_add(1)..=last {
			let at = ctx.head.chain.at_number(number).await?;
			let events = chain::hash_job_events(&at).await?;
			for entry in Self::entries(self.node, number, &events) {
				let amount = format_amount(entry.amount.parse().unwrap_or_default());
				match entry.kind.as_str() {
					"penalty" => tracing::warn!(
						event = "slashed",
						subjob = entry.subjob,
						block = number,
						amount = %entry.amount,
						"subjob {} failed: slashed {amount}",
						entry.subjob
					),
					kind => tracing::info!(
						event = "paid",
						kind,
						subjob = entry.subjob,
						block = number,
						amount = %entry.amount,
						"subjob {}: {kind} of {amount}",
						entry.subjob
					),
				}
				self.journal.append_ledger(&entry)?;
			}
			self.journal.set_ledger_cursor(number)?;
		}
		Ok(())
	}
}

impl Duty for Ledger {
	fn name(&self) -> &'static str {
		"ledger"
	}

	fn on_block<'a>(&'a mut self, ctx: &'a BlockContext) -> Step<'a> {
		Box::pin(self.catch_up(ctx))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn only_our_payments_enter_the_ledger() {
		let events = vec![
			HashJobEvent::SubjobVerified { job: 0, subjob: 1, node: 5, hashed: 64, reward: 9 },
			HashJobEvent::SubjobVerified { job: 0, subjob: 2, node: 6, hashed: 64, reward: 8 },
			HashJobEvent::FinderRewarded { subjob: 1, nonce: 3, bonus: 2 },
			HashJobEvent::FinderRewarded { subjob: 2, nonce: 4, bonus: 7 },
			HashJobEvent::SubjobFailed {
				job: 0,
				subjob: 3,
				node: 5,
				reason: "MissedDeadline".into(),
				penalty: 10,
			},
			HashJobEvent::SubjobFailed {
				job: 0,
				subjob: 4,
				node: 6,
				reason: "MissedDeadline".into(),
				penalty: 10,
			},
		];
		let kinds: Vec<(u64, String, String)> = Ledger::entries(5, 40, &events)
			.into_iter()
			.map(|e| {
				assert_eq!(e.block, 40);
				(e.subjob, e.kind, e.amount)
			})
			.collect();
		assert_eq!(
			kinds,
			vec![
				(1, "reward".into(), "9".into()),
				(1, "bonus".into(), "2".into()),
				(3, "penalty".into(), "10".into()),
			]
		);
	}
}
