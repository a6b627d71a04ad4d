//! Fees follow demand (issue 12, item 6): a length fee that makes bytes cost, a fee multiplier
//! that rises while blocks are fuller than the target, and deadline-bound calls in the
//! operational class, which the pool ranks higher and blocks keep room for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use appchain_runtime::{
	configs::{MinimumMultiplier, SlowAdjustingFeeUpdate, TransactionByteFee},
	Runtime, RuntimeCall,
};
use frame_support::{
	dispatch::{DispatchClass, GetDispatchInfo},
	weights::Weight,
};
use pallet_transaction_payment::Multiplier;
use sp_runtime::{traits::Convert, FixedPointNumber};

fn ext() -> sp_io::TestExternalities {
	sp_io::TestExternalities::new(Default::default())
}

/// The multiplier after one block that used `fraction` of the normal class's weight.
fn next_multiplier(previous: Multiplier, fraction: u64) -> Multiplier {
	let mut next = previous;
	ext().execute_with(|| {
		let max = <Runtime as frame_system::Config>::BlockWeights::get()
			.get(DispatchClass::Normal)
			.max_total
			.unwrap_or(Weight::MAX);
		let used = max.mul(fraction) / 100;
		frame_system::Pallet::<Runtime>::set_block_consumed_resources(used, 0);
		next = SlowAdjustingFeeUpdate::<Runtime>::convert(previous);
	});
	next
}

#[test]
fn full_blocks_raise_the_fee_multiplier_and_empty_ones_lower_it_to_a_floor() {
	let one = Multiplier::saturating_from_integer(1);
	// Spamming full blocks: the multiplier rises block after block.
	let mut m = one;
	for _ in 0..100 {
		let next = next_multiplier(m, 100);
		assert!(next > m, "a full block raises the multiplier");
		m = next;
	}
	// About 0.75% per block: 100 full blocks (5 minutes) double the fees.
	assert!(m > Multiplier::saturating_from_integer(2), "100 full blocks: {m:?}");
	// At the target (25%) it holds still; below it falls, but never under the floor.
	let held = next_multiplier(one, 25);
	assert!(held <= one && held > Multiplier::saturating_from_rational(999, 1000));
	let mut m = one;
	for _ in 0..10_000 {
		m = next_multiplier(m, 0);
	}
	assert_eq!(m, MinimumMultiplier::get());
}

#[test]
fn bytes_cost_ten_micro_units_each() {
	assert_eq!(TransactionByteFee::get(), 10 * appchain_runtime::currency::MICRO_UNITS);
}

#[test]
fn deadline_bound_calls_are_operational() {
	let operational = [
		RuntimeCall::HashJobs(pallet_hash_jobs::Call::commit { subjob: 0, commitment: [0; 32] }),
		RuntimeCall::HashJobs(pallet_hash_jobs::Call::reveal {
			subjob: 0,
			root: [0; 32],
			salt: [0; 32],
			nonces: Default::default(),
		}),
		RuntimeCall::HashJobs(pallet_hash_jobs::Call::answer_challenge {
			subjob: 0,
			answers: Default::default(),
		}),
		RuntimeCall::Market(pallet_compute_market::Call::complete { agreement: 0 }),
		RuntimeCall::Market(pallet_compute_market::Call::dispute { agreement: 0 }),
	];
	for call in operational {
		assert_eq!(call.get_dispatch_info().class, DispatchClass::Operational, "{call:?}");
	}
	let normal = RuntimeCall::HashJobs(pallet_hash_jobs::Call::claim { job: 0, node: 0 });
	assert_eq!(normal.get_dispatch_info().class, DispatchClass::Normal);
}
