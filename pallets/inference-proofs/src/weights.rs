//! Weights for `pallet_inference_proofs`.
//!
//! Not generated yet: these are estimates from the storage each call touches (ParityDB
//! read/write costs plus a compute allowance), to be replaced by `benchmark pallet` output once
//! the pallet is in the runtime.

#![allow(missing_docs)]

use core::marker::PhantomData;
use frame_support::weights::{constants::ParityDbWeight, Weight};

/// Weight functions needed by `pallet_inference_proofs`.
pub trait WeightInfo {
	fn on_initialize(due: u32) -> Weight;
	fn commit() -> Weight;
	fn dispute() -> Weight;
	fn draw() -> Weight;
	fn reveal_receipt() -> Weight;
	fn seal_vote() -> Weight;
	fn open_vote() -> Weight;
	fn settle() -> Weight;
	fn set_challenge_probability() -> Weight;
}

fn estimate(micros: u64, reads: u64, writes: u64) -> Weight {
	Weight::from_parts(micros.saturating_mul(1_000_000), 4_000)
		.saturating_add(ParityDbWeight::get().reads_writes(reads, writes))
}

/// Estimated weights (see the module docs).
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T> WeightInfo for SubstrateWeight<T> {
	fn on_initialize(due: u32) -> Weight {
		estimate(20, 3, 3).saturating_add(estimate(10, 1, 1).saturating_mul(u64::from(due)))
	}
	fn commit() -> Weight {
		estimate(60, 8, 5)
	}
	fn dispute() -> Weight {
		estimate(40, 3, 3)
	}
	fn draw() -> Weight {
		// Up to a shard of candidate verifiers read, five drawn and reserved.
		estimate(400, 160, 20)
	}
	fn reveal_receipt() -> Weight {
		estimate(120, 3, 1)
	}
	fn seal_vote() -> Weight {
		estimate(30, 1, 1)
	}
	fn open_vote() -> Weight {
		estimate(40, 1, 1)
	}
	fn settle() -> Weight {
		// The node's and every verifier's reservation slashed or released, records removed.
		estimate(300, 40, 40)
	}
	fn set_challenge_probability() -> Weight {
		estimate(10, 0, 1)
	}
}

impl WeightInfo for () {
	fn on_initialize(due: u32) -> Weight {
		SubstrateWeight::<()>::on_initialize(due)
	}
	fn commit() -> Weight {
		SubstrateWeight::<()>::commit()
	}
	fn dispute() -> Weight {
		SubstrateWeight::<()>::dispute()
	}
	fn draw() -> Weight {
		SubstrateWeight::<()>::draw()
	}
	fn reveal_receipt() -> Weight {
		SubstrateWeight::<()>::reveal_receipt()
	}
	fn seal_vote() -> Weight {
		SubstrateWeight::<()>::seal_vote()
	}
	fn open_vote() -> Weight {
		SubstrateWeight::<()>::open_vote()
	}
	fn settle() -> Weight {
		SubstrateWeight::<()>::settle()
	}
	fn set_challenge_probability() -> Weight {
		SubstrateWeight::<()>::set_challenge_probability()
	}
}
