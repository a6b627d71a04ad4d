//! The hash-job rules that both the runtime and the worker apply: when an open subjob may be
//! reclaimed, and when a job has work for a claim. The runtime enforces them in its calls and
//! answers its runtime API with them; the worker plans its next transactions with them, so it
//! never sends a `reclaim` or a `claim` the runtime would refuse for these reasons.

use sp_arithmetic::traits::Saturating;

/// What an open subjob waits for, as far as reclaiming it goes (block numbers of type `B`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Awaiting<B> {
	/// Claimed or committed: its reveal is due by `deadline` (inclusive).
	Reveal {
		/// The last block for the reveal.
		deadline: B,
	},
	/// Revealed and challenged at `challenge_at`: its answer is due within the answer window.
	Answer {
		/// The block whose randomness chose the spot-checked chunks.
		challenge_at: B,
	},
}

/// Whether a `reclaim` of a subjob awaiting `awaiting`, included in block `block`, succeeds:
/// the reveal's deadline has passed, or the answer window (`answer_window` blocks after the
/// challenge) has closed.
pub fn reclaimable_in<B: Ord + Saturating + Copy>(
	awaiting: Awaiting<B>,
	block: B,
	answer_window: B,
) -> bool {
	match awaiting {
		Awaiting::Reveal { deadline } => block > deadline,
		Awaiting::Answer { challenge_at } => block > challenge_at.saturating_add(answer_window),
	}
}

/// Whether a claim on a job can hand out nonces: a range returned by a failed subjob, or fresh
/// nonces (`next < end`) and room for another open subjob (`open_subjobs + returned` below
/// `max_open_subjobs`). A claimer too small for a returned range may still have to wait: the
/// claim cuts the range only while that keeps the job within `max_open_subjobs`.
pub fn has_work_for_a_claim(
	returned: u32,
	open_subjobs: u32,
	next: u64,
	end: u64,
	max_open_subjobs: u32,
) -> bool {
	let tracked = open_subjobs.saturating_add(returned);
	returned > 0 || (next < end && tracked < max_open_subjobs)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_reveal_is_reclaimable_from_the_block_after_its_deadline() {
		let awaiting = Awaiting::Reveal { deadline: 10u32 };
		assert!(!reclaimable_in(awaiting, 10, 5));
		assert!(reclaimable_in(awaiting, 11, 5));
	}

	#[test]
	fn an_answer_is_reclaimable_once_its_window_closed() {
		let awaiting = Awaiting::Answer { challenge_at: 10u64 };
		assert!(!reclaimable_in(awaiting, 15, 5));
		assert!(reclaimable_in(awaiting, 16, 5));
		// A window reaching past the last block never closes.
		assert!(!reclaimable_in(Awaiting::Answer { challenge_at: u64::MAX - 1 }, u64::MAX, 5));
	}

	#[test]
	fn a_job_has_work_while_a_range_is_returned_or_fresh_nonces_fit() {
		assert!(has_work_for_a_claim(1, 8, 100, 100, 8), "a returned range, even when full");
		assert!(has_work_for_a_claim(0, 7, 0, 100, 8));
		assert!(!has_work_for_a_claim(0, 8, 0, 100, 8), "no room for another subjob");
		assert!(!has_work_for_a_claim(0, 0, 100, 100, 8), "every nonce handed out");
		assert!(!has_work_for_a_claim(0, u32::MAX, 0, 100, u32::MAX));
	}
}
