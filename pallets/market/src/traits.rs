//! What the market offers other pallets, and what its benchmarks need from the runtime.

use crate::types::{AgreementId, Commodity};
use appchain_primitives::NodeId;
use sp_runtime::DispatchResult;

/// Verdicts on delivered work, for the pallet that verifies it (proof-of-computation).
pub trait WorkVerdicts {
	/// The work of `agreement` is proven wrong: refund the client and slash the provider's
	/// penalty to it. Fails, changing nothing, for an unknown or already settled agreement or one
	/// still waiting for acceptance.
	fn reject(agreement: AgreementId) -> DispatchResult;
}

/// Builds the registry state the benchmarks need.
pub trait BenchmarkHelper<AccountId> {
	/// A commodity that exists in the registry (e.g. shard 0 of a fresh model).
	fn commodity() -> Commodity;

	/// A fresh serving node owned by `owner` (funded by the helper) that is eligible to sell
	/// `commodity`.
	fn serving_node(owner: &AccountId, commodity: &Commodity) -> NodeId;
}

/// [`BenchmarkHelper`] for a runtime whose [`Config::Nodes`](crate::Config::Nodes) is the compute
/// registry: registers a two-layer model with shards of one layer, and nodes through the
/// registry's own calls, minting what they hold.
#[cfg(feature = "runtime-benchmarks")]
pub struct RegistryHelper<T>(core::marker::PhantomData<T>);

#[cfg(feature = "runtime-benchmarks")]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]
impl<T: pallet_compute_registry::Config> BenchmarkHelper<T::AccountId> for RegistryHelper<T> {
	fn commodity() -> Commodity {
		use frame_support::traits::{fungible::Mutate, Get};
		let owner: T::AccountId = frame_benchmarking::account("model-owner", 0, 0);
		let _ = T::Currency::mint_into(&owner, T::ModelDeposit::get() * 4u32.into());
		let model = pallet_compute_registry::NextModelId::<T>::get();
		pallet_compute_registry::Pallet::<T>::register_model(
			frame_system::RawOrigin::Signed(owner).into(),
			alloc::vec![b'm'; 8].try_into().unwrap(),
			2,
			1,
			[1; 32],
		)
		.expect("a fresh model registers");
		Commodity::LayerShard { model, shard: 0 }
	}

	fn serving_node(owner: &T::AccountId, commodity: &Commodity) -> NodeId {
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
		let origin = frame_system::RawOrigin::Signed(owner.clone());
		match *commodity {
			Commodity::LayerShard { model, shard } => {
				let layers = appchain_primitives::LayerRange::new(shard, shard + 1);
				pallet_compute_registry::Pallet::<T>::register_inference_node(
					origin.into(),
					model,
					layers,
					10,
					1u32.into(),
					alloc::vec![b'e'; 8].try_into().unwrap(),
					collateral,
				)
			},
			Commodity::HashRateClass(class) => {
				pallet_compute_registry::Pallet::<T>::register_hashing_node(
					origin.into(),
					Commodity::min_hash_rate(class).unwrap(),
					collateral,
				)
			},
		}
		.expect("a funded node registers");
		node
	}
}
