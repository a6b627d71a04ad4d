//! Weights for `pallet_payment_channels`: replaced by `scripts/benchmark-weights.sh`.

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(missing_docs)]

use frame_support::{traits::Get, weights::{Weight, constants::ParityDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed by `pallet_payment_channels`.
pub trait WeightInfo {
	fn open() -> Weight;
	fn top_up() -> Weight;
	fn claim() -> Weight;
	fn request_close() -> Weight;
	fn finalize() -> Weight;
	fn close() -> Weight;
	fn cooperative_close() -> Weight;
}

pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn open() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8)) }
	fn top_up() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8)) }
	fn claim() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8)) }
	fn request_close() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8)) }
	fn finalize() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8)) }
	fn close() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8)) }
	fn cooperative_close() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8)) }
}

impl WeightInfo for () {
	fn open() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8)) }
	fn top_up() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8)) }
	fn claim() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8)) }
	fn request_close() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8)) }
	fn finalize() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8)) }
	fn close() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8)) }
	fn cooperative_close() -> Weight { Weight::from_parts(200_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8)) }
}
