//! Placeholder until `scripts/benchmark-weights.sh pallet_hash_jobs` generates this file.

#![allow(missing_docs)]

use frame_support::weights::Weight;

/// Weight functions needed by `pallet_hash_jobs`.
pub trait WeightInfo {
	fn post_job() -> Weight;
	fn cancel_job() -> Weight;
	fn claim() -> Weight;
	fn commit() -> Weight;
	fn reveal(n: u32) -> Weight;
	fn answer_challenge() -> Weight;
	fn reclaim() -> Weight;
	fn on_initialize() -> Weight;
}

pub struct SubstrateWeight<T>(core::marker::PhantomData<T>);
impl<T> WeightInfo for SubstrateWeight<T> {
	fn post_job() -> Weight {
		Weight::zero()
	}
	fn cancel_job() -> Weight {
		Weight::zero()
	}
	fn claim() -> Weight {
		Weight::zero()
	}
	fn commit() -> Weight {
		Weight::zero()
	}
	fn reveal(_n: u32) -> Weight {
		Weight::zero()
	}
	fn answer_challenge() -> Weight {
		Weight::zero()
	}
	fn reclaim() -> Weight {
		Weight::zero()
	}
	fn on_initialize() -> Weight {
		Weight::zero()
	}
}

impl WeightInfo for () {
	fn post_job() -> Weight {
		Weight::zero()
	}
	fn cancel_job() -> Weight {
		Weight::zero()
	}
	fn claim() -> Weight {
		Weight::zero()
	}
	fn commit() -> Weight {
		Weight::zero()
	}
	fn reveal(_n: u32) -> Weight {
		Weight::zero()
	}
	fn answer_challenge() -> Weight {
		Weight::zero()
	}
	fn reclaim() -> Weight {
		Weight::zero()
	}
	fn on_initialize() -> Weight {
		Weight::zero()
	}
}
