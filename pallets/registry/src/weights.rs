//! PLACEHOLDER until `scripts/benchmark-weights.sh` generates this file from the benchmarks.
#![allow(missing_docs)]
use frame_support::weights::Weight;
use core::marker::PhantomData;
pub trait WeightInfo {
	fn register_model() -> Weight;
	fn register_inference_node() -> Weight;
	fn register_hashing_node() -> Weight;
	fn set_price() -> Weight;
	fn declare_cost() -> Weight;
	fn declare_hash_rate() -> Weight;
	fn move_layers() -> Weight;
	fn add_collateral() -> Weight;
	fn withdraw_collateral() -> Weight;
	fn heartbeat() -> Weight;
	fn unregister() -> Weight;
	fn withdraw() -> Weight;
}
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register_model() -> Weight { Weight::zero() }
	fn register_inference_node() -> Weight { Weight::zero() }
	fn register_hashing_node() -> Weight { Weight::zero() }
	fn set_price() -> Weight { Weight::zero() }
	fn declare_cost() -> Weight { Weight::zero() }
	fn declare_hash_rate() -> Weight { Weight::zero() }
	fn move_layers() -> Weight { Weight::zero() }
	fn add_collateral() -> Weight { Weight::zero() }
	fn withdraw_collateral() -> Weight { Weight::zero() }
	fn heartbeat() -> Weight { Weight::zero() }
	fn unregister() -> Weight { Weight::zero() }
	fn withdraw() -> Weight { Weight::zero() }
}
impl WeightInfo for () {
	fn register_model() -> Weight { Weight::zero() }
	fn register_inference_node() -> Weight { Weight::zero() }
	fn register_hashing_node() -> Weight { Weight::zero() }
	fn set_price() -> Weight { Weight::zero() }
	fn declare_cost() -> Weight { Weight::zero() }
	fn declare_hash_rate() -> Weight { Weight::zero() }
	fn move_layers() -> Weight { Weight::zero() }
	fn add_collateral() -> Weight { Weight::zero() }
	fn withdraw_collateral() -> Weight { Weight::zero() }
	fn heartbeat() -> Weight { Weight::zero() }
	fn unregister() -> Weight { Weight::zero() }
	fn withdraw() -> Weight { Weight::zero() }
}
