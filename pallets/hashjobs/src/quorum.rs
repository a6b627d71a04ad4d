//! Majority decision over redundant results: `k` nodes run the same work; the result more than
//! half of them returned wins and the others are proven wrong. Without a strict majority nothing
//! is decided and nobody is slashed.

use crate::types::QuorumOutcome;
use alloc::vec::Vec;
use appchain_primitives::NodeId;

/// Decides `results` (one per node) by strict majority.
pub fn decide<R: PartialEq + Clone>(results: &[(NodeId, R)]) -> QuorumOutcome<R> {
	let winner = results.iter().map(|(_, r)| r).find(|candidate| {
		let votes = results.iter().filter(|(_, r)| r == *candidate).count();
		votes.saturating_mul(2) > results.len()
	});
	match winner {
		Some(result) => {
			let (majority, minority): (Vec<_>, Vec<_>) =
				results.iter().partition(|(_, r)| r == result);
			QuorumOutcome {
				result: Some(result.clone()),
				majority: majority.into_iter().map(|(n, _)| *n).collect(),
				minority: minority.into_iter().map(|(n, _)| *n).collect(),
			}
		},
		None => QuorumOutcome { result: None, majority: Vec::new(), minority: Vec::new() },
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_majority_wins_and_the_minority_is_named() {
		let outcome = decide(&[(1, 'a'), (2, 'b'), (3, 'a')]);
		assert_eq!(outcome.result, Some('a'));
		assert_eq!(outcome.majority, vec![1, 3]);
		assert_eq!(outcome.minority, vec![2]);
	}

	#[test]
	fn without_a_strict_majority_nobody_is_proven_wrong() {
		for results in [vec![(1, 'a'), (2, 'b')], vec![(1, 'a'), (2, 'b'), (3, 'c')], vec![]] {
			let outcome = decide(&results);
			assert_eq!(outcome.result, None);
			assert!(outcome.minority.is_empty() && outcome.majority.is_empty());
		}
		assert_eq!(decide(&[(1, 'a')]).result, Some('a'));
	}
}
