//! What the benchmarks need from the runtime.

use appchain_primitives::{ModelId, NodeId};

/// Builds the registry state the benchmarks need.
pub trait BenchmarkHelper<AccountId> {
	/// A fresh model of `layers` layers, all in one shard.
	fn model(layers: u16) -> ModelId;

	/// A fresh serving inference node of `owner` (funded by the helper) over all `layers` of
	/// `model`, with collateral enough for many commitments and verifier bonds.
	fn inference_node(owner: &AccountId, model: ModelId, layers: u16) -> NodeId;

	/// Most nodes one shard lists: the candidates a verifier draw reads.
	fn max_nodes_per_shard() -> u32;
}

/// [`BenchmarkHelper`] for a runtime whose [`Config::Nodes`](crate::Config::Nodes) is the compute
/// registry: registers through the registry's own calls, minting what they hold.
#[cfg(feature = "runtime-benchmarks")]
pub struct RegistryHelper<T>(core::marker::PhantomData<T>);

#[cfg(feature = "runtime-benchmarks")]
#[allow(clippy::arithmetic_side_effects, clippy::expect_used)]
impl<T: pallet_compute_registry::Config> BenchmarkHelper<T::AccountId> for RegistryHelper<T> {
	fn model(layers: u16) -> ModelId {
		use frame_support::traits::{
			fungible::{Inspect, Mutate},
			Get,
		};
		let owner: T::AccountId = frame_benchmarking::account("model-owner", layers.into(), 0);
		let _ = T::Currency::mint_into(
			&owner,
			T::ModelDeposit::get() * 2u32.into() + T::Currency::minimum_balance(),
		);
		let model = pallet_compute_registry::NextModelId::<T>::get();
		pallet_compute_registry::Pallet::<T>::register_model(
			frame_system::RawOrigin::Signed(owner).into(),
			alloc::vec![b'm'; 4].try_into().expect("a short name fits"),
			layers,
			layers,
			[7; 32],
		)
		.expect("a funded model registers");
		model
	}

	fn inference_node(owner: &T::AccountId, model: ModelId, layers: u16) -> NodeId {
		use frame_support::traits::{
			fungible::{Inspect, Mutate},
			Get,
		};
		let collateral = T::MinCollateral::get() * 1_000u32.into();
		let _ = T::Currency::mint_into(
			owner,
			collateral * 2u32.into() + T::Currency::minimum_balance(),
		);
		let node = pallet_compute_registry::NextNodeId::<T>::get();
		pallet_compute_registry::Pallet::<T>::register_inference_node(
			frame_system::RawOrigin::Signed(owner.clone()).into(),
			model,
			appchain_primitives::LayerRange::new(0, layers),
			10,
			T::MinCollateral::get() / 1_000u32.into(),
			alloc::vec![b'h'; 8].try_into().expect("a short endpoint fits"),
			collateral,
		)
		.expect("a funded node registers");
		node
	}

	fn max_nodes_per_shard() -> u32 {
		<T::MaxNodesPerShard as frame_support::traits::Get<u32>>::get()
	}
}

/// Accounts whose receipt signatures the benchmarks can make.
pub trait BenchmarkSigner<AccountId, Signature> {
	/// An account that can sign (the same one for the same `index`).
	fn signer(index: u32) -> AccountId;

	/// `signer`'s signature over `payload`.
	fn sign(signer: &AccountId, payload: &[u8]) -> Signature;
}
