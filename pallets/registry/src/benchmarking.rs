//! Benchmarks of every call's worst case.
//!
//! The costly part of the registry is the shard lists: the worst registration, move or
//! unregistration touches `MaxShardsPerNode` shards (twice that for a move), each already holding
//! `MaxNodesPerShard - 1` nodes, by an account that already owns `MaxNodesPerAccount - 1` nodes.
//! Setup builds exactly that state through the pallet's own logic, so the invariants hold in it.

// Benchmark setup may fail loudly: it only runs with `runtime-benchmarks`, never on chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use super::*;
use crate::Pallet as Registry;
use alloc::vec;
use appchain_primitives::{LayerRange, ModelId, NodeId};
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{
		fungible::{Inspect, Mutate},
		Get,
	},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::traits::Saturating;

/// Enough for a model deposit and the collateral of every node an account may own, many times
/// over; small enough that funding hundreds of accounts cannot overflow the total issuance.
fn endowment<T: Config>() -> BalanceOf<T> {
	let per_node = T::MinCollateral::get().saturating_mul(4u32.into());
	per_node
		.saturating_mul(T::MaxNodesPerAccount::get().into())
		.saturating_add(T::ModelDeposit::get().saturating_mul(4u32.into()))
		.saturating_add(T::Currency::minimum_balance())
}

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, 0);
	T::Currency::set_balance(&who, endowment::<T>());
	who
}

fn caller<T: Config>() -> T::AccountId {
	let who: T::AccountId = whitelisted_caller();
	T::Currency::set_balance(&who, endowment::<T>());
	who
}

/// Shards one node may span, and the layers that takes with one layer per shard.
fn span<T: Config>() -> u16 {
	let shards = u16::try_from(T::MaxShardsPerNode::get()).unwrap_or(u16::MAX);
	shards.min(T::MaxLayers::get() / 2).max(1)
}

/// A model with `MaxLayers` layers, one layer per shard.
fn widest_model<T: Config>() -> ModelId {
	let owner = funded::<T>("model-owner", 0);
	let name = BoundedVec::try_from(vec![b'm'; T::MaxModelNameLen::get() as usize]).unwrap();
	Registry::<T>::do_register_model(owner, name, T::MaxLayers::get(), 1, [9; 32]).unwrap()
}

fn endpoint<T: Config>() -> Endpoint<T> {
	BoundedVec::try_from(vec![b'e'; T::MaxEndpointLen::get() as usize]).unwrap()
}

fn inference_kind<T: Config>(model: ModelId, layers: LayerRange) -> NodeKindOf<T> {
	NodeKind::Inference {
		model,
		layers,
		cost_ms: 100,
		price: 1u32.into(),
		endpoint: endpoint::<T>(),
	}
}

/// Fills every shard of `layers` with `MaxNodesPerShard - 1` nodes of other accounts.
fn fill_shards<T: Config>(model: ModelId, layers: LayerRange, tag: u32) {
	let per_account = T::MaxNodesPerAccount::get();
	for i in 0..T::MaxNodesPerShard::get().saturating_sub(1) {
		let owner = funded::<T>("filler", tag * 10_000 + i / per_account);
		Registry::<T>::do_register_node(
			owner,
			inference_kind::<T>(model, layers),
			T::MinCollateral::get(),
		)
		.unwrap();
	}
}

/// Gives `who` `MaxNodesPerAccount - 1` hashing nodes.
fn own_many<T: Config>(who: &T::AccountId) {
	for _ in 0..T::MaxNodesPerAccount::get().saturating_sub(1) {
		Registry::<T>::do_register_node(
			who.clone(),
			NodeKind::Hashing { hash_rate: 1 },
			T::MinCollateral::get(),
		)
		.unwrap();
	}
}

fn hashing_node<T: Config>(who: &T::AccountId) -> NodeId {
	Registry::<T>::do_register_node(
		who.clone(),
		NodeKind::Hashing { hash_rate: 1 },
		T::MinCollateral::get(),
	)
	.unwrap()
}

/// An inference node of `who` over the first `span` layers of the widest model, every shard
/// of it full but for this node.
fn node_in_full_shards<T: Config>(who: &T::AccountId) -> (ModelId, NodeId) {
	let model = widest_model::<T>();
	let layers = LayerRange::new(0, span::<T>());
	fill_shards::<T>(model, layers, 0);
	let node = Registry::<T>::do_register_node(
		who.clone(),
		inference_kind::<T>(model, layers),
		T::MinCollateral::get(),
	)
	.unwrap();
	(model, node)
}

/// The costliest registry the route queries can meet: the widest model, every one-layer shard
/// full, shaped so that the Pareto frontier is full at every layer boundary: on the last layer
/// nodes trade price for cost one for one, on every other layer one cheap fast node and the rest
/// dominated. Each node is registered through the pallet's own logic.
fn fullest_routing<T: Config>() -> ModelId {
	let model = widest_model::<T>();
	let per_shard = T::MaxNodesPerShard::get();
	let trade_offs = per_shard.min(T::MaxFrontierRoutes::get());
	let last = T::MaxLayers::get() - 1;
	let per_account = T::MaxNodesPerAccount::get();
	let mut registered = 0u32;
	for layer in 0..=last {
		for j in 0..per_shard {
			let (price, cost) = if layer == last && j < trade_offs {
				(1 + j, trade_offs - j)
			} else if layer != last && j == 0 {
				(1, 1)
			} else {
				(1_000, 1_000)
			};
			let owner = funded::<T>("router", registered / per_account);
			let kind = NodeKind::Inference {
				model,
				layers: LayerRange::new(layer, layer + 1),
				cost_ms: cost,
				price: price.into(),
				endpoint: endpoint::<T>(),
			};
			Registry::<T>::do_register_node(owner, kind, T::MinCollateral::get()).unwrap();
			registered += 1;
		}
	}
	model
}

fn assert_last_event<T: Config>(event: Event<T>) {
	frame_system::Pallet::<T>::assert_last_event(event.into());
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_model() {
		let who = caller::<T>();
		let name: ModelName<T> =
			BoundedVec::try_from(vec![b'm'; T::MaxModelNameLen::get() as usize]).unwrap();
		let layers = T::MaxLayers::get();

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), name, layers, 1, [1; 32]);

		assert!(Models::<T>::contains_key(0));
	}

	/// The widest model, one shard per layer: every shard is checked to be empty.
	#[benchmark]
	fn retire_model() {
		let who = caller::<T>();
		let name: ModelName<T> = BoundedVec::try_from(vec![b'm'; 4]).unwrap();
		Registry::<T>::do_register_model(who.clone(), name, T::MaxLayers::get(), 1, [1; 32])
			.unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(who), 0);

		assert!(!Models::<T>::contains_key(0));
	}

	#[benchmark]
	fn register_inference_node() {
		let who = caller::<T>();
		own_many::<T>(&who);
		let model = widest_model::<T>();
		let layers = LayerRange::new(0, span::<T>());
		fill_shards::<T>(model, layers, 0);
		let id = NextNodeId::<T>::get();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(who.clone()),
			model,
			layers,
			100,
			1u32.into(),
			endpoint::<T>(),
			T::MinCollateral::get(),
		);

		assert_eq!(ShardNodes::<T>::get(model, 0).last(), Some(&id));
	}

	#[benchmark]
	fn register_hashing_node() {
		let who = caller::<T>();
		own_many::<T>(&who);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), 1_000_000, T::MinCollateral::get());

		assert_eq!(NodesByOwner::<T>::get(&who).len() as u32, T::MaxNodesPerAccount::get());
	}

	#[benchmark]
	fn set_price() {
		let who = caller::<T>();
		let (_, node) = node_in_full_shards::<T>(&who);

		#[extrinsic_call]
		_(RawOrigin::Signed(who), node, 77u32.into());

		assert_last_event::<T>(Event::PriceSet { node, price: 77u32.into() });
	}

	#[benchmark]
	fn declare_cost() {
		let who = caller::<T>();
		let (_, node) = node_in_full_shards::<T>(&who);

		#[extrinsic_call]
		_(RawOrigin::Signed(who), node, 55);

		assert_last_event::<T>(Event::CostDeclared { node, cost_ms: 55 });
	}

	#[benchmark]
	fn declare_hash_rate() {
		let who = caller::<T>();
		let node = hashing_node::<T>(&who);

		#[extrinsic_call]
		_(RawOrigin::Signed(who), node, 5);

		assert_last_event::<T>(Event::HashRateDeclared { node, hash_rate: 5 });
	}

	#[benchmark]
	fn move_layers() {
		let who = caller::<T>();
		let s = span::<T>();
		let (model, node) = node_in_full_shards::<T>(&who);
		// Leave `s` full shards and join `s` other full shards.
		let to = LayerRange::new(s, s.saturating_mul(2));
		fill_shards::<T>(model, to, 1);

		#[extrinsic_call]
		_(RawOrigin::Signed(who), node, to);

		assert!(ShardNodes::<T>::get(model, s).contains(&node));
		assert!(!ShardNodes::<T>::get(model, 0).contains(&node));
	}

	#[benchmark]
	fn add_collateral() {
		let who = caller::<T>();
		let node = hashing_node::<T>(&who);
		let amount = T::MinCollateral::get();

		#[extrinsic_call]
		_(RawOrigin::Signed(who), node, amount);

		assert_eq!(Nodes::<T>::get(node).unwrap().collateral, amount.saturating_mul(2u32.into()));
	}

	#[benchmark]
	fn withdraw_collateral() {
		let who = caller::<T>();
		let node = hashing_node::<T>(&who);
		let amount = T::MinCollateral::get();
		Registry::<T>::do_add_collateral(&who, node, amount).unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(who), node, amount);

		assert_eq!(Nodes::<T>::get(node).unwrap().collateral, amount);
	}

	#[benchmark]
	fn heartbeat() {
		let who = caller::<T>();
		let (_, node) = node_in_full_shards::<T>(&who);
		// Long after the timeout, so the heartbeat also revives the node.
		let later = frame_system::Pallet::<T>::block_number()
			.saturating_add(T::HeartbeatTimeout::get())
			.saturating_add(1u32.into());
		frame_system::Pallet::<T>::set_block_number(later);

		#[extrinsic_call]
		_(RawOrigin::Signed(who), node);

		assert_last_event::<T>(Event::Heartbeat { node, revived: true });
	}

	#[benchmark]
	fn unregister() {
		let who = caller::<T>();
		let (model, node) = node_in_full_shards::<T>(&who);

		#[extrinsic_call]
		_(RawOrigin::Signed(who), node);

		assert!(!ShardNodes::<T>::get(model, 0).contains(&node));
	}

	/// The same worst case as `unregister`: a node in full shards, pruned after its heartbeat
	/// timed out.
	#[benchmark]
	fn prune() {
		let who = caller::<T>();
		let (model, node) = node_in_full_shards::<T>(&who);
		let later = frame_system::Pallet::<T>::block_number()
			.saturating_add(T::HeartbeatTimeout::get())
			.saturating_add(1u32.into());
		frame_system::Pallet::<T>::set_block_number(later);
		let pruner: T::AccountId = account("pruner", 0, 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(pruner), node);

		assert!(!ShardNodes::<T>::get(model, 0).contains(&node));
	}

	#[benchmark]
	fn withdraw() {
		let who = caller::<T>();
		let node = hashing_node::<T>(&who);
		own_many::<T>(&who);
		Registry::<T>::do_unregister(&who, node).unwrap();
		let later =
			frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingPeriod::get());
		frame_system::Pallet::<T>::set_block_number(later);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), node);

		assert!(!Nodes::<T>::contains_key(node));
	}

	/// Not a call: the `registry_route` RPC (runtime API `best_route`) on the fullest registry.
	#[benchmark]
	fn best_route() {
		let model = fullest_routing::<T>();
		let route;

		#[block]
		{
			route = Registry::<T>::best_route(model, sp_runtime::Perbill::from_percent(50));
		}

		assert_eq!(route.unwrap().nodes.len(), usize::from(T::MaxLayers::get()));
	}

	/// Not a call: the `registry_paretoRoutes` RPC (runtime API `pareto_routes`) on the fullest
	/// registry, every boundary's frontier full.
	#[benchmark]
	fn pareto_routes() {
		let model = fullest_routing::<T>();
		let routes;

		#[block]
		{
			routes = Registry::<T>::pareto_routes(model);
		}

		let full = T::MaxNodesPerShard::get().min(T::MaxFrontierRoutes::get());
		assert_eq!(routes.unwrap().len(), full as usize);
	}

	impl_benchmark_test_suite!(Registry, crate::mock::new_test_ext(), crate::mock::Test);
}
