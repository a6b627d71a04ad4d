//! Unit tests: every call's happy path and an `assert_noop!` for every error, with the
//! invariants checked after each test (`mock::test`).

use crate::{mock::*, *};
use appchain_primitives::{LayerRange, NodeId};
use frame_support::{
	assert_noop, assert_ok,
	dispatch::{GetDispatchInfo, Pays},
	traits::fungible::{Inspect, InspectHold},
	BoundedVec,
};
use sp_arithmetic::Perbill;
use sp_runtime::{DispatchError, DispatchResult};

type Err = Error<Test>;

fn origin(who: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

fn name(s: &str) -> BoundedVec<u8, ConstU32<16>> {
	s.as_bytes().to_vec().try_into().unwrap()
}

use frame_support::traits::ConstU32;

fn endpoint(s: &str) -> BoundedVec<u8, ConstU32<32>> {
	s.as_bytes().to_vec().try_into().unwrap()
}

/// Registers a model of `layers` layers in shards of `shard_size` for ALICE.
fn model(layers: u16, shard_size: u16) -> u32 {
	let id = NextModelId::<Test>::get();
	assert_ok!(Registry::register_model(origin(ALICE), name("tiny"), layers, shard_size, [7; 32]));
	id
}

fn inference(who: AccountId, model: u32, start: u16, end: u16, cost: u32, price: u128) -> NodeId {
	let id = NextNodeId::<Test>::get();
	assert_ok!(Registry::register_inference_node(
		origin(who),
		model,
		LayerRange::new(start, end),
		cost,
		price,
		endpoint("http://127.0.0.1:7000"),
		MIN_COLLATERAL
	));
	id
}

fn hashing(who: AccountId) -> NodeId {
	let id = NextNodeId::<Test>::get();
	assert_ok!(Registry::register_hashing_node(origin(who), 1_000_000, MIN_COLLATERAL));
	id
}

fn shard(model: u32, s: u16) -> Vec<NodeId> {
	ShardNodes::<Test>::get(model, s).into_inner()
}

fn held_collateral(who: AccountId) -> Balance {
	Balances::balance_on_hold(&HoldReason::NodeCollateral.into(), &who)
}

fn last_event() -> Event<Test> {
	System::events()
		.into_iter()
		.rev()
		.find_map(|r| match r.event {
			RuntimeEvent::Registry(e) => Some(e),
			_ => None,
		})
		.expect("a registry event")
}

// ---- models

#[test]
fn register_model_holds_the_deposit() {
	test(|| {
		let m = model(8, 2);
		let info = Models::<Test>::get(m).unwrap();
		assert_eq!(
			(info.owner, info.layers, info.shard_size, info.deposit),
			(ALICE, 8, 2, MODEL_DEPOSIT)
		);
		assert_eq!(
			Balances::balance_on_hold(&HoldReason::ModelDeposit.into(), &ALICE),
			MODEL_DEPOSIT
		);
		System::assert_last_event(
			Event::<Test>::ModelRegistered {
				model: m,
				owner: ALICE,
				layers: 8,
				shard_size: 2,
				deposit: MODEL_DEPOSIT,
			}
			.into(),
		);
		assert_eq!(model(8, 8), m + 1);
	});
}

#[test]
fn register_model_rejects_bad_input() {
	test(|| {
		let call = |who, n: &str, layers, size| {
			Registry::register_model(origin(who), name(n), layers, size, [0; 32])
		};
		assert_noop!(call(ALICE, "", 8, 2), Err::EmptyModelName);
		assert_noop!(call(ALICE, "m", 0, 1), Err::InvalidLayerCount);
		assert_noop!(call(ALICE, "m", 65, 1), Err::InvalidLayerCount);
		assert_noop!(call(ALICE, "m", 8, 0), Err::InvalidShardSize);
		assert_noop!(call(ALICE, "m", 8, 9), Err::InvalidShardSize);
		assert_noop!(call(PAUPER, "m", 8, 2), Err::InsufficientBalance);
		NextModelId::<Test>::put(u32::MAX);
		assert_noop!(call(ALICE, "m", 8, 2), Err::IdsExhausted);
	});
}

// ---- registration

#[test]
fn inference_node_is_listed_in_exactly_the_shards_it_overlaps() {
	test(|| {
		let m = model(8, 2);
		let a = inference(BOB, m, 0, 3, 10, 5); // shards 0, 1
		let b = inference(BOB, m, 3, 8, 20, 7); // shards 1, 2, 3
		let c = inference(CHARLIE, m, 4, 6, 30, 9); // shard 2
		assert_eq!(shard(m, 0), vec![a]);
		assert_eq!(shard(m, 1), vec![a, b]);
		assert_eq!(shard(m, 2), vec![b, c]);
		assert_eq!(shard(m, 3), vec![b]);
		assert_eq!(held_collateral(BOB), 2 * MIN_COLLATERAL);
		assert_eq!(NodesByOwner::<Test>::get(BOB).into_inner(), vec![a, b]);
		assert_eq!(NodeCount::<Test>::get(), 3);
		assert_eq!(TotalCollateral::<Test>::get(), 3 * MIN_COLLATERAL);
		assert_eq!(
			last_event(),
			Event::InferenceNodeRegistered {
				node: c,
				owner: CHARLIE,
				model: m,
				layers: LayerRange::new(4, 6),
				cost_ms: 30,
				price: 9,
				collateral: MIN_COLLATERAL,
			}
		);
		let node = Nodes::<Test>::get(a).unwrap();
		assert_eq!((node.registered_at, node.last_heartbeat), (1, 1));
		assert_eq!(node.status, NodeStatus::Registered);
	});
}

#[test]
fn register_inference_node_rejects_bad_input() {
	test(|| {
		let m = model(8, 2);
		let reg = |who, model, start, end, cost, ep: &str, collateral| {
			Registry::register_inference_node(
				origin(who),
				model,
				LayerRange::new(start, end),
				cost,
				1,
				endpoint(ep),
				collateral,
			)
		};
		let ep = "http://x";
		assert_noop!(reg(BOB, 9, 0, 2, 10, ep, MIN_COLLATERAL), Err::UnknownModel);
		assert_noop!(reg(BOB, m, 3, 3, 10, ep, MIN_COLLATERAL), Err::EmptyLayerRange);
		assert_noop!(reg(BOB, m, 5, 2, 10, ep, MIN_COLLATERAL), Err::EmptyLayerRange);
		assert_noop!(reg(BOB, m, 6, 9, 10, ep, MIN_COLLATERAL), Err::LayerRangeOutsideModel);
		assert_noop!(reg(BOB, m, 0, 0, 10, ep, MIN_COLLATERAL), Err::EmptyLayerRange);
		assert_noop!(reg(BOB, m, 0, 2, 0, ep, MIN_COLLATERAL), Err::ZeroCost);
		assert_noop!(reg(BOB, m, 0, 2, 10, "", MIN_COLLATERAL), Err::EmptyEndpoint);
		assert_noop!(reg(BOB, m, 0, 2, 10, ep, MIN_COLLATERAL - 1), Err::CollateralBelowMinimum);
		assert_noop!(reg(PAUPER, m, 0, 2, 10, ep, MIN_COLLATERAL), Err::InsufficientBalance);
		assert_noop!(reg(BOB, m, 0, 2, 10, ep, ENDOWMENT), Err::InsufficientBalance);

		// A range over more than MAX_SHARDS_PER_NODE shards.
		let wide = model(16, 2);
		assert_noop!(reg(BOB, wide, 0, 9, 10, ep, MIN_COLLATERAL), Err::RangeSpansTooManyShards);
		assert_ok!(reg(BOB, wide, 0, 8, 10, ep, MIN_COLLATERAL));
	});
}

#[test]
fn full_shards_and_accounts_are_refused() {
	test(|| {
		let m = model(8, 2);
		for _ in 0..MAX_NODES_PER_SHARD {
			inference(BOB, m, 2, 4, 10, 1);
		}
		// Shard 1 is full: a range touching it fails, one next to it does not.
		assert_noop!(
			Registry::register_inference_node(
				origin(BOB),
				m,
				LayerRange::new(0, 3),
				10,
				1,
				endpoint("e"),
				MIN_COLLATERAL
			),
			Err::ShardFull
		);
		inference(BOB, m, 0, 2, 10, 1);
		hashing(BOB);
		assert_eq!(NodesByOwner::<Test>::get(BOB).len() as u32, MAX_NODES_PER_ACCOUNT);
		assert_noop!(
			Registry::register_hashing_node(origin(BOB), 5, MIN_COLLATERAL),
			Err::TooManyNodes
		);
	});
}

#[test]
fn register_hashing_node_works_and_checks() {
	test(|| {
		let n = hashing(CHARLIE);
		assert_eq!(
			last_event(),
			Event::HashingNodeRegistered {
				node: n,
				owner: CHARLIE,
				hash_rate: 1_000_000,
				collateral: MIN_COLLATERAL
			}
		);
		assert_eq!(<Registry as ComputeNodes<_, _>>::hash_rate(n), Some(1_000_000));
		assert_eq!(ShardNodes::<Test>::iter().count(), 0);
		assert_noop!(
			Registry::register_hashing_node(origin(CHARLIE), 0, MIN_COLLATERAL),
			Err::ZeroHashRate
		);
		assert_noop!(
			Registry::register_hashing_node(origin(CHARLIE), 1, MIN_COLLATERAL - 1),
			Err::CollateralBelowMinimum
		);
		NextNodeId::<Test>::put(u64::MAX);
		assert_noop!(
			Registry::register_hashing_node(origin(CHARLIE), 1, MIN_COLLATERAL),
			Err::IdsExhausted
		);
	});
}

#[test]
fn collateral_totals_cannot_overflow() {
	test(|| {
		let n = hashing(BOB);
		TotalCollateral::<Test>::put(u128::MAX);
		assert_noop!(
			Registry::register_hashing_node(origin(CHARLIE), 1, MIN_COLLATERAL),
			Err::Overflow
		);
		assert_noop!(Registry::add_collateral(origin(BOB), n, 1), Err::Overflow);
		TotalCollateral::<Test>::put(MIN_COLLATERAL);
	});
}

// ---- updates

#[test]
fn owners_update_price_cost_and_hash_rate() {
	test(|| {
		let m = model(4, 2);
		let n = inference(BOB, m, 0, 4, 10, 5);
		let h = hashing(BOB);
		assert_ok!(Registry::set_price(origin(BOB), n, 11));
		System::assert_last_event(Event::<Test>::PriceSet { node: n, price: 11 }.into());
		assert_ok!(Registry::declare_cost(origin(BOB), n, 42));
		System::assert_last_event(Event::<Test>::CostDeclared { node: n, cost_ms: 42 }.into());
		assert_ok!(Registry::declare_hash_rate(origin(BOB), h, 9));
		System::assert_last_event(Event::<Test>::HashRateDeclared { node: h, hash_rate: 9 }.into());
		match Nodes::<Test>::get(n).unwrap().kind {
			NodeKind::Inference { price, cost_ms, .. } => assert_eq!((price, cost_ms), (11, 42)),
			other => panic!("unexpected {other:?}"),
		}

		assert_noop!(Registry::set_price(origin(BOB), 99, 1), Err::UnknownNode);
		assert_noop!(Registry::set_price(origin(CHARLIE), n, 1), Err::NotOwner);
		assert_noop!(Registry::set_price(origin(BOB), h, 1), Err::NotInferenceNode);
		assert_noop!(Registry::declare_cost(origin(BOB), n, 0), Err::ZeroCost);
		assert_noop!(Registry::declare_cost(origin(BOB), h, 3), Err::NotInferenceNode);
		assert_noop!(Registry::declare_hash_rate(origin(BOB), h, 0), Err::ZeroHashRate);
		assert_noop!(Registry::declare_hash_rate(origin(BOB), n, 3), Err::NotHashingNode);
		assert_noop!(Registry::declare_hash_rate(origin(CHARLIE), h, 3), Err::NotOwner);

		assert_ok!(Registry::unregister(origin(BOB), n));
		assert_noop!(Registry::set_price(origin(BOB), n, 1), Err::NodeUnbonding);
		assert_noop!(Registry::declare_cost(origin(BOB), n, 1), Err::NodeUnbonding);
	});
}

#[test]
fn moving_layers_touches_only_the_shards_involved() {
	test(|| {
		let m = model(8, 2);
		let other = inference(CHARLIE, m, 6, 8, 1, 1);
		let n = inference(BOB, m, 0, 3, 10, 5); // shards 0, 1
		assert_ok!(Registry::move_layers(origin(BOB), n, LayerRange::new(2, 6))); // shards 1, 2
		assert_eq!(shard(m, 0), Vec::<NodeId>::new());
		assert!(!ShardNodes::<Test>::contains_key(m, 0), "an emptied shard is removed");
		assert_eq!(shard(m, 1), vec![n]);
		assert_eq!(shard(m, 2), vec![n]);
		assert_eq!(shard(m, 3), vec![other]);
		System::assert_last_event(
			Event::<Test>::LayersMoved {
				node: n,
				from: LayerRange::new(0, 3),
				to: LayerRange::new(2, 6),
			}
			.into(),
		);

		assert_noop!(
			Registry::move_layers(origin(BOB), n, LayerRange::new(2, 6)),
			Err::LayerRangeUnchanged
		);
		assert_noop!(
			Registry::move_layers(origin(BOB), n, LayerRange::new(2, 9)),
			Err::LayerRangeOutsideModel
		);
		assert_noop!(
			Registry::move_layers(origin(BOB), n, LayerRange::new(4, 4)),
			Err::EmptyLayerRange
		);
		assert_noop!(
			Registry::move_layers(origin(CHARLIE), n, LayerRange::new(0, 2)),
			Err::NotOwner
		);
		let h = hashing(BOB);
		assert_noop!(
			Registry::move_layers(origin(BOB), h, LayerRange::new(0, 2)),
			Err::NotInferenceNode
		);

		// Fill shard 3 and try to move into it.
		for _ in 1..MAX_NODES_PER_SHARD {
			inference(ALICE, m, 6, 8, 1, 1);
		}
		assert_noop!(Registry::move_layers(origin(BOB), n, LayerRange::new(5, 7)), Err::ShardFull);
		// Moving within shards it already holds does not need room.
		assert_ok!(Registry::move_layers(origin(BOB), n, LayerRange::new(3, 5)));
	});
}

#[test]
fn collateral_can_be_added_and_withdrawn_down_to_the_minimum() {
	test(|| {
		let n = hashing(BOB);
		assert_ok!(Registry::add_collateral(origin(BOB), n, 40));
		System::assert_last_event(
			Event::<Test>::CollateralAdded { node: n, amount: 40, collateral: 140 }.into(),
		);
		assert_eq!(held_collateral(BOB), 140);
		assert_ok!(Registry::withdraw_collateral(origin(BOB), n, 40));
		System::assert_last_event(
			Event::<Test>::CollateralWithdrawn { node: n, amount: 40, collateral: 100 }.into(),
		);
		assert_eq!(held_collateral(BOB), 100);
		assert_eq!(Balances::balance(&BOB), ENDOWMENT - 100);

		assert_noop!(Registry::add_collateral(origin(BOB), n, 0), Err::ZeroAmount);
		assert_noop!(Registry::add_collateral(origin(BOB), n, ENDOWMENT), Err::InsufficientBalance);
		assert_noop!(Registry::add_collateral(origin(CHARLIE), n, 1), Err::NotOwner);
		assert_noop!(Registry::withdraw_collateral(origin(BOB), n, 0), Err::ZeroAmount);
		assert_noop!(Registry::withdraw_collateral(origin(BOB), n, 1), Err::CollateralBelowMinimum);
		assert_noop!(
			Registry::withdraw_collateral(origin(BOB), n, 101),
			Err::InsufficientCollateral
		);
		assert_ok!(Registry::unregister(origin(BOB), n));
		assert_noop!(Registry::add_collateral(origin(BOB), n, 1), Err::NodeUnbonding);
	});
}

// ---- heartbeats

#[test]
fn heartbeats_on_schedule_are_free_and_early_ones_fail() {
	test(|| {
		let m = model(2, 1);
		let n = inference(BOB, m, 0, 2, 10, 5);
		assert_noop!(Registry::heartbeat(origin(BOB), n), Err::HeartbeatTooEarly);
		run_to_block(1 + HEARTBEAT_INTERVAL);
		let post = Registry::heartbeat(origin(BOB), n).unwrap();
		assert_eq!(post.pays_fee, Pays::No);
		System::assert_last_event(Event::<Test>::Heartbeat { node: n, revived: false }.into());
		// The declared weight is charged up front; only a successful heartbeat is refunded.
		let call = crate::Call::<Test>::heartbeat { node: n };
		assert_eq!(call.get_dispatch_info().pays_fee, Pays::Yes);
		assert_noop!(Registry::heartbeat(origin(BOB), n), Err::HeartbeatTooEarly);
		assert_noop!(Registry::heartbeat(origin(CHARLIE), n), Err::NotOwner);
		assert_noop!(Registry::heartbeat(origin(BOB), 77), Err::UnknownNode);
	});
}

#[test]
fn nodes_that_miss_heartbeats_leave_the_route_and_come_back() {
	test(|| {
		let m = model(2, 1);
		let cheap = inference(BOB, m, 0, 2, 10, 1);
		let dear = inference(CHARLIE, m, 0, 2, 10, 50);
		let price_only = Perbill::one();
		assert_eq!(Registry::best_route(m, price_only).unwrap().nodes, vec![cheap]);

		// CHARLIE keeps heartbeating, BOB does not.
		let mut now = 1;
		while now <= 1 + HEARTBEAT_TIMEOUT {
			now += HEARTBEAT_INTERVAL;
			run_to_block(now);
			assert_ok!(Registry::heartbeat(origin(CHARLIE), dear));
		}
		assert!(!<Registry as ComputeNodes<_, _>>::is_serving(cheap));
		assert!(<Registry as ComputeNodes<_, _>>::is_serving(dear));
		assert_eq!(Registry::best_route(m, price_only).unwrap().nodes, vec![dear]);
		let listed = Registry::shard_nodes(m, 0).unwrap();
		assert_eq!(
			listed.iter().map(|v| (v.id, v.serving)).collect::<Vec<_>>(),
			vec![(cheap, false), (dear, true)]
		);

		assert_ok!(Registry::heartbeat(origin(BOB), cheap));
		System::assert_last_event(Event::<Test>::Heartbeat { node: cheap, revived: true }.into());
		assert_eq!(Registry::best_route(m, price_only).unwrap().nodes, vec![cheap]);
	});
}

// ---- leaving

#[test]
fn unregister_then_withdraw_after_unbonding() {
	test(|| {
		let m = model(4, 2);
		let n = inference(BOB, m, 0, 4, 10, 5);
		let keep = hashing(BOB);
		assert_noop!(Registry::withdraw(origin(BOB), n), Err::NotUnbonding);
		assert_noop!(Registry::unregister(origin(CHARLIE), n), Err::NotOwner);
		assert_ok!(Registry::unregister(origin(BOB), n));
		let unlocks_at = 1 + UNBONDING_PERIOD;
		System::assert_last_event(Event::<Test>::UnbondingStarted { node: n, unlocks_at }.into());
		assert_eq!(shard(m, 0), Vec::<NodeId>::new());
		assert_eq!(shard(m, 1), Vec::<NodeId>::new());
		assert!(!<Registry as ComputeNodes<_, _>>::is_serving(n));
		assert_eq!(held_collateral(BOB), 2 * MIN_COLLATERAL, "still held while unbonding");
		assert_noop!(Registry::unregister(origin(BOB), n), Err::NodeUnbonding);
		assert_noop!(Registry::heartbeat(origin(BOB), n), Err::NodeUnbonding);

		run_to_block(unlocks_at - 1);
		assert_noop!(Registry::withdraw(origin(BOB), n), Err::UnbondingNotOver);
		assert_noop!(Registry::withdraw(origin(CHARLIE), n), Err::NotOwner);
		run_to_block(unlocks_at);
		assert_ok!(Registry::withdraw(origin(BOB), n));
		System::assert_last_event(
			Event::<Test>::NodeWithdrawn { node: n, owner: BOB, released: MIN_COLLATERAL }.into(),
		);
		assert_eq!(held_collateral(BOB), MIN_COLLATERAL);
		assert_eq!(Balances::balance(&BOB), ENDOWMENT - MIN_COLLATERAL);
		assert_eq!(NodesByOwner::<Test>::get(BOB).into_inner(), vec![keep]);
		assert!(Nodes::<Test>::get(n).is_none());
		assert_noop!(Registry::withdraw(origin(BOB), n), Err::UnknownNode);

		// The last node of an account clears its list.
		assert_ok!(Registry::unregister(origin(BOB), keep));
		run_to_block(unlocks_at + UNBONDING_PERIOD);
		assert_ok!(Registry::withdraw(origin(BOB), keep));
		assert!(!NodesByOwner::<Test>::contains_key(BOB));
		assert_eq!(Balances::balance(&BOB), ENDOWMENT);
	});
}

// ---- slashing and reputation

type Nodes_ = Registry;
fn slash(node: NodeId, amount: Balance, to: Option<&AccountId>) -> Result<SlashOutcome<Balance>, DispatchError> {
	<Nodes_ as ComputeNodes<_, _>>::slash(node, amount, to, SlashReason::InvalidWork)
}
fn slash_reserved(
	node: NodeId,
	amount: Balance,
	to: Option<&AccountId>,
) -> Result<SlashOutcome<Balance>, DispatchError> {
	<Nodes_ as ComputeNodes<_, _>>::slash_reserved(node, amount, to, SlashReason::MissedDeadline)
}
fn reserve(node: NodeId, amount: Balance) -> DispatchResult {
	<Nodes_ as ComputeNodes<_, _>>::reserve(node, amount)
}
fn release(node: NodeId, amount: Balance) -> DispatchResult {
	<Nodes_ as ComputeNodes<_, _>>::release_reservation(node, amount)
}
fn free(node: NodeId) -> Balance {
	<Nodes_ as ComputeNodes<_, _>>::free_collateral(node)
}

#[test]
fn slashing_burns_its_share_and_pays_the_rest_to_the_beneficiary() {
	test(|| {
		let n = hashing(BOB);
		let issuance = Balances::total_issuance();
		let outcome = slash(n, 30, Some(&CHARLIE)).unwrap();
		// A fifth (rounded up) is burnt, the rest paid.
		assert_eq!(outcome, SlashOutcome { taken: 30, burnt: 6 });
		assert_eq!(outcome.paid(), 24);
		assert_eq!(Balances::balance(&CHARLIE), ENDOWMENT + 24);
		assert_eq!(Balances::total_issuance(), issuance - 6);
		assert_eq!(held_collateral(BOB), 70);
		System::assert_last_event(
			Event::<Test>::Slashed {
				node: n,
				amount: 30,
				burnt: 6,
				beneficiary: Some(CHARLIE),
				reason: SlashReason::InvalidWork,
			}
			.into(),
		);
		assert!(!<Registry as ComputeNodes<_, _>>::is_serving(n), "below MinCollateral");

		// Unbonding collateral is still slashable; slashes are capped at what is held; with no
		// beneficiary everything is burnt.
		assert_ok!(Registry::unregister(origin(BOB), n));
		let outcome = slash(n, 1_000, None).unwrap();
		assert_eq!(outcome, SlashOutcome { taken: 70, burnt: 70 });
		assert_eq!(Balances::total_issuance(), issuance - 76, "burnt");
		assert_eq!(<Registry as ComputeNodes<_, _>>::collateral(n), 0);
		assert_eq!(Nodes::<Test>::get(n).unwrap().stats.slashed, 2);
		assert_eq!(slash(n, 5, None).unwrap().taken, 0);

		assert_noop!(slash(n, 0, None), Err::ZeroAmount);
		assert_noop!(slash(99, 1, None), Err::UnknownNode);

		// A fully slashed node can still be withdrawn.
		run_to_block(1 + UNBONDING_PERIOD);
		assert_ok!(Registry::withdraw(origin(BOB), n));
		assert_eq!(TotalCollateral::<Test>::get(), 0);
	});
}

#[test]
fn reservations_back_obligations_and_settle_by_release_or_slash() {
	test(|| {
		let n = hashing(BOB);
		assert_ok!(Registry::add_collateral(origin(BOB), n, 100));
		assert_eq!(free(n), 200);

		assert_ok!(reserve(n, 60));
		System::assert_last_event(
			Event::<Test>::CollateralReserved { node: n, amount: 60, reserved: 60 }.into(),
		);
		assert_ok!(reserve(n, 90));
		assert_eq!(ReservedCollateral::<Test>::get(n), 150);
		assert_eq!(free(n), 50);
		// No obligation beyond the free collateral.
		assert_noop!(reserve(n, 51), Err::InsufficientFreeCollateral);
		assert_noop!(reserve(n, 0), Err::ZeroAmount);
		assert_noop!(reserve(99, 1), Err::UnknownNode);
		assert_noop!(reserve(n, u128::MAX), Err::Overflow);

		// Reserved collateral cannot be withdrawn, even above the minimum.
		assert_noop!(
			Registry::withdraw_collateral(origin(BOB), n, 51),
			Err::ReservedForObligations
		);

		// An obligation that settles without penalty releases its part.
		assert_ok!(release(n, 60));
		System::assert_last_event(
			Event::<Test>::ReservationReleased { node: n, amount: 60, reserved: 90 }.into(),
		);
		// One that fails is slashed from its reservation, not from free collateral.
		let outcome = slash_reserved(n, 90, Some(&CHARLIE)).unwrap();
		assert_eq!(outcome, SlashOutcome { taken: 90, burnt: 18 });
		assert_eq!(ReservedCollateral::<Test>::get(n), 0);
		assert!(!ReservedCollateral::<Test>::contains_key(n), "no zero entries");
		assert_eq!(<Registry as ComputeNodes<_, _>>::collateral(n), 110);
		assert_noop!(slash_reserved(n, 0, None), Err::ZeroAmount);
		assert_noop!(release(99, 1), Err::UnknownNode);
	});
}

#[test]
fn a_slash_for_one_thing_never_takes_what_backs_another_obligation() {
	test(|| {
		let n = hashing(BOB);
		assert_ok!(Registry::add_collateral(origin(BOB), n, 100));
		assert_ok!(reserve(n, 150));
		// An unbacked slash (a quorum, governance) reaches only the free 50.
		assert_eq!(slash(n, 1_000, Some(&CHARLIE)).unwrap().taken, 50);
		assert_eq!(free(n), 0);
		// The obligation is still fully covered.
		assert_eq!(slash_reserved(n, 150, Some(&CHARLIE)).unwrap().taken, 150);
		assert_eq!(<Registry as ComputeNodes<_, _>>::collateral(n), 0);
	});
}

#[test]
fn a_node_leaves_only_after_its_obligations_settle() {
	test(|| {
		let n = hashing(BOB);
		assert_ok!(reserve(n, 10));
		assert_ok!(Registry::unregister(origin(BOB), n));
		run_to_block(1 + UNBONDING_PERIOD);
		assert_noop!(Registry::withdraw(origin(BOB), n), Err::ReservedForObligations);
		assert_ok!(release(n, 10));
		assert_ok!(Registry::withdraw(origin(BOB), n));
		assert_eq!(held_collateral(BOB), 0);
	});
}

/// Issue 12, item 5: dead nodes used to hold their places in a shard for ever (only the owner
/// could unregister them), so 64 of them blocked a shard. Anyone may prune a node that stopped
/// serving; a serving node cannot be pruned.
#[test]
fn anyone_prunes_a_node_that_stopped_serving_and_frees_its_shards() {
	test(|| {
		let m = model(4, 2);
		let dead = inference(BOB, m, 0, 4, 10, 5);
		let alive = inference(CHARLIE, m, 0, 2, 10, 5);
		assert_noop!(Registry::prune(origin(ALICE), dead), Err::StillServing);
		assert_noop!(Registry::prune(origin(ALICE), 99), Err::UnknownNode);
		run_to_block(2 + HEARTBEAT_TIMEOUT);
		assert_ok!(Registry::heartbeat(origin(CHARLIE), alive));
		assert_noop!(Registry::prune(origin(ALICE), alive), Err::StillServing);
		assert_ok!(Registry::prune(origin(ALICE), dead));
		System::assert_last_event(Event::<Test>::NodePruned { node: dead, pruner: ALICE }.into());
		assert_eq!(shard(m, 0), vec![alive]);
		assert!(shard(m, 1).is_empty());
		assert_noop!(Registry::prune(origin(ALICE), dead), Err::NodeUnbonding);
		// The owner keeps its collateral and withdraws it after unbonding.
		run_to_block(2 + HEARTBEAT_TIMEOUT + UNBONDING_PERIOD);
		assert_ok!(Registry::withdraw(origin(BOB), dead));
		assert_eq!(held_collateral(BOB), 0);
	});
}

/// Issue 12, item 9: a model's deposit was held for ever.
#[test]
fn a_model_no_node_serves_can_be_retired_and_its_deposit_returned() {
	test(|| {
		let m = model(4, 2);
		let n = inference(BOB, m, 2, 4, 10, 5);
		assert_noop!(Registry::retire_model(origin(BOB), m), Err::NotModelOwner);
		assert_noop!(Registry::retire_model(origin(ALICE), 9), Err::UnknownModel);
		assert_noop!(Registry::retire_model(origin(ALICE), m), Err::ModelInUse);
		assert_ok!(Registry::unregister(origin(BOB), n));
		let before = Balances::balance(&ALICE);
		assert_ok!(Registry::retire_model(origin(ALICE), m));
		System::assert_last_event(
			Event::<Test>::ModelRetired { model: m, deposit: MODEL_DEPOSIT }.into(),
		);
		assert_eq!(Balances::balance(&ALICE), before + MODEL_DEPOSIT);
		// The unbonding node still withdraws its collateral.
		run_to_block(1 + UNBONDING_PERIOD);
		assert_ok!(Registry::withdraw(origin(BOB), n));
	});
}

#[test]
fn work_is_counted_for_reputation() {
	test(|| {
		let m = model(2, 2);
		let n = inference(BOB, m, 0, 2, 10, 5);
		assert_ok!(<Registry as ComputeNodes<_, _>>::record_work(n, WorkOutcome::Completed));
		assert_ok!(<Registry as ComputeNodes<_, _>>::record_work(n, WorkOutcome::Completed));
		assert_ok!(<Registry as ComputeNodes<_, _>>::record_work(n, WorkOutcome::Failed));
		System::assert_last_event(
			Event::<Test>::WorkRecorded { node: n, outcome: WorkOutcome::Failed }.into(),
		);
		assert_eq!(
			Nodes::<Test>::get(n).unwrap().stats,
			WorkStats { completed: 2, failed: 1, slashed: 0 }
		);
		assert_eq!(<Registry as ComputeNodes<_, _>>::owner(n), Some(BOB));
		assert_eq!(
			<Registry as ComputeNodes<_, _>>::inference_layers(n),
			Some((m, LayerRange::new(0, 2)))
		);
		assert_eq!(
			<Registry as ComputeNodes<_, _>>::record_work(42, WorkOutcome::Failed),
			Err(DispatchError::from(Err::UnknownNode))
		);
	});
}

// ---- queries

#[test]
fn routes_and_shards_are_served_from_the_registry() {
	test(|| {
		let m = model(8, 2);
		let a = inference(BOB, m, 0, 4, 100, 1); // slow and cheap
		let b = inference(BOB, m, 4, 8, 100, 1);
		let c = inference(CHARLIE, m, 0, 8, 20, 10); // fast and dear
		assert_eq!(Registry::best_route(m, Perbill::one()).unwrap().nodes, vec![a, b]);
		assert_eq!(Registry::best_route(m, Perbill::zero()).unwrap().nodes, vec![c]);
		let frontier = Registry::pareto_routes(m).unwrap();
		assert_eq!(
			frontier.iter().map(|r| r.nodes.clone()).collect::<Vec<_>>(),
			vec![vec![a, b], vec![c]]
		);

		assert_eq!(
			Registry::shard_nodes(m, 2).unwrap().iter().map(|v| v.id).collect::<Vec<_>>(),
			vec![b, c]
		);
		let view = &Registry::shard_nodes(m, 0).unwrap()[0];
		assert_eq!((view.owner, view.cost_ms, view.price, view.serving), (BOB, 100, 1, true));
		assert_eq!(view.endpoint, b"http://127.0.0.1:7000".to_vec());
		assert_eq!(Registry::shard_nodes(m, 4), Err(QueryError::UnknownShard));
		assert_eq!(Registry::shard_nodes(9, 0), Err(QueryError::UnknownModel));
		assert_eq!(Registry::best_route(9, Perbill::zero()), Err(QueryError::UnknownModel));

		assert_ok!(Registry::unregister(origin(CHARLIE), c));
		assert_ok!(Registry::unregister(origin(BOB), b));
		assert_eq!(Registry::best_route(m, Perbill::zero()), Err(QueryError::NoRoute));
		assert_eq!(Registry::pareto_routes(m), Err(QueryError::NoRoute));
	});
}

#[test]
fn try_state_catches_broken_invariants() {
	new_test_ext().execute_with(|| {
		let m = model(4, 2);
		let n = inference(BOB, m, 0, 4, 10, 5);
		assert_ok!(Registry::do_try_state());
		// A node missing from a shard its range overlaps.
		ShardNodes::<Test>::remove(m, 1);
		assert!(Registry::do_try_state().is_err());
		ShardNodes::<Test>::insert(m, 1, BoundedVec::truncate_from(vec![n]));
		assert_ok!(Registry::do_try_state());
		// Recorded collateral that is not held.
		Nodes::<Test>::mutate(n, |r| r.as_mut().unwrap().collateral += 1);
		assert!(Registry::do_try_state().is_err());
		Nodes::<Test>::mutate(n, |r| r.as_mut().unwrap().collateral -= 1);
		assert_ok!(Registry::do_try_state());
		// A reservation above the collateral: a penalty no held funds back.
		ReservedCollateral::<Test>::insert(n, MIN_COLLATERAL + 1);
		assert!(Registry::do_try_state().is_err());
		ReservedCollateral::<Test>::insert(n, MIN_COLLATERAL);
		assert_ok!(Registry::do_try_state());
		// A wrong node count.
		NodeCount::<Test>::put(5);
		assert!(Registry::do_try_state().is_err());
	});
}
