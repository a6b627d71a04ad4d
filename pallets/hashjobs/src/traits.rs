//! What the benchmarks need from the runtime.

use appchain_primitives::NodeId;

/// Builds the registry state the benchmarks need.
pub trait BenchmarkHelper<AccountId> {
	/// A fresh serving hashing node owned by `owner` (funded by the helper) declaring
	/// `hash_rate` hashes per second.
	fn hashing_node(owner: &AccountId, hash_rate: u64) -> NodeId;
}

/// [`BenchmarkHelper`] for a runtime whose [`Config::Nodes`](crate::Config::Nodes) is the compute
/// registry: registers nodes through the registry's own call, minting their collateral.
#[cfg(feature = "runtime-benchmarks")]
pub struct RegistryHelper<T>(core::marker::PhantomData<T>);

#[cfg(feature = "runtime-benchmarks")]
#[allow(clippy::arithmetic_side_effects, clippy::expect_used)]
impl<T: pallet_compute_registry::Config> BenchmarkHelper<T::AccountId> for RegistryHelper<T> {
	fn hashing_node(owner: &T::AccountId, hash_rate: u64) -> NodeId {
		use frame_support::traits::{
			fungible::{Inspect, Mutate},
			Get,
		};
		let collateral = T::MinCollateral::get();
		let _ = T::Currency::mint_into(
			owner,
			collateral * 2u32.into() + T::Currency::minimum_balance(),
		);
		let node = pallet_compute_registry::NextNodeId::<T>::get();
		pallet_compute_registry::Pallet::<T>::register_hashing_node(
			frame_system::RawOrigin::Signed(owner.clone()).into(),
			hash_rate,
			collateral,
		)
		.expect("a funded node registers");
		node
	}
}
