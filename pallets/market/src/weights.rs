//! Placeholder until `scripts/benchmark-weights.sh market` generates this file.

#![allow(missing_docs)]

use frame_support::weights::Weight;

/// Weight functions needed by `pallet_compute_market`.
pub trait WeightInfo {
	fn open_market() -> Weight;
	fn set_listing_policy() -> Weight;
	fn close_market() -> Weight;
	fn list(l: u32) -> Weight;
	fn delist(l: u32) -> Weight;
	fn buy(l: u32) -> Weight;
	fn open_agreement() -> Weight;
	fn accept() -> Weight;
	fn cancel() -> Weight;
	fn complete() -> Weight;
	fn claim_payment() -> Weight;
	fn claim_refund() -> Weight;
	fn reject_work() -> Weight;
}

impl WeightInfo for () {
	fn open_market() -> Weight {
		Weight::zero()
	}
	fn set_listing_policy() -> Weight {
		Weight::zero()
	}
	fn close_market() -> Weight {
		Weight::zero()
	}
	fn list(_l: u32) -> Weight {
		Weight::zero()
	}
	fn delist(_l: u32) -> Weight {
		Weight::zero()
	}
	fn buy(_l: u32) -> Weight {
		Weight::zero()
	}
	fn open_agreement() -> Weight {
		Weight::zero()
	}
	fn accept() -> Weight {
		Weight::zero()
	}
	fn cancel() -> Weight {
		Weight::zero()
	}
	fn complete() -> Weight {
		Weight::zero()
	}
	fn claim_payment() -> Weight {
		Weight::zero()
	}
	fn claim_refund() -> Weight {
		Weight::zero()
	}
	fn reject_work() -> Weight {
		Weight::zero()
	}
}

pub struct SubstrateWeight<T>(core::marker::PhantomData<T>);
impl<T> WeightInfo for SubstrateWeight<T> {
	fn open_market() -> Weight {
		Weight::zero()
	}
	fn set_listing_policy() -> Weight {
		Weight::zero()
	}
	fn close_market() -> Weight {
		Weight::zero()
	}
	fn list(_l: u32) -> Weight {
		Weight::zero()
	}
	fn delist(_l: u32) -> Weight {
		Weight::zero()
	}
	fn buy(_l: u32) -> Weight {
		Weight::zero()
	}
	fn open_agreement() -> Weight {
		Weight::zero()
	}
	fn accept() -> Weight {
		Weight::zero()
	}
	fn cancel() -> Weight {
		Weight::zero()
	}
	fn complete() -> Weight {
		Weight::zero()
	}
	fn claim_payment() -> Weight {
		Weight::zero()
	}
	fn claim_refund() -> Weight {
		Weight::zero()
	}
	fn reject_work() -> Weight {
		Weight::zero()
	}
}
