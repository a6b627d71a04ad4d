//! Unit tests on the mock runtime, with the real registry. Every test ends with the invariants of
//! both pallets and a check that the total issuance did not change ([`mock::test`]).

// Test arithmetic on small known values; an overflow would fail the test, which is what we want.
#![allow(clippy::arithmetic_side_effects)]

use crate::{
	mock::{Market, *},
	*,
};
use appchain_primitives::{LayerRange, NodeId};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{InspectHold, Mutate},
};
use frame_system::RawOrigin;
use pallet_compute_registry::{ComputeNodes, OnVerifiedWork, SlashReason, WorkOutcome};
use sp_runtime::DispatchError;

fn signed(who: AccountId) -> RuntimeOrigin {
	RawOrigin::Signed(who).into()
}

const SHARD_0: Commodity = Commodity::LayerShard { model: MODEL, shard: 0 };
const FEE: Balance = 3;
/// The most listing fee sellers accept in these tests.
const MAX_FEE: Balance = 10;

fn terms(units: u32, duration: u64, penalty: Balance) -> ServiceTerms<Balance, u64> {
	ServiceTerms { units, max_latency_ms: 250, duration, penalty }
}

/// Opens the market of shard 0 owned by [`OWNER`] with `policy`; returns its id.
fn open(policy: ListingPolicy<Balance>) -> MarketId {
	let id = NextMarketId::<Test>::get();
	assert_ok!(Market::open_market(signed(OWNER), SHARD_0, policy));
	id
}

/// The market of shard 0 with a fixed fee, and nodes of A, B and C on layers 0..2 asking 5, 7
/// and 9, listed in that order.
fn market_5_7_9() -> (MarketId, [NodeId; 3]) {
	let market = open(ListingPolicy::FixedFee { fee: FEE });
	let nodes = [
		inference_node(SELLER_A, (0, 2)),
		inference_node(SELLER_B, (0, 4)),
		inference_node(SELLER_C, (0, 2)),
	];
	for ((seller, node), ask) in
		[SELLER_A, SELLER_B, SELLER_C].into_iter().zip(nodes).zip([5, 7, 9])
	{
		assert_ok!(Market::list(signed(seller), market, node, ask, MAX_FEE));
	}
	(market, nodes)
}

fn inference_work() -> WorkKind {
	WorkKind::LayerInference { model: MODEL, layers: LayerRange::new(0, 2) }
}

fn status(id: AgreementId) -> AgreementStatus<u64> {
	Agreements::<Test>::get(id).unwrap().status
}

fn escrow_held(who: AccountId) -> Balance {
	Balances::balance_on_hold(&RuntimeHoldReason::Market(HoldReason::Escrow), &who)
}

fn collateral(node: NodeId) -> Balance {
	pallet_compute_registry::Nodes::<Test>::get(node).unwrap().collateral
}

/// Keeps every node of the given owners serving up to block `n` by heartbeating every 5 blocks.
fn heartbeat_to(n: u64, nodes: &[(AccountId, NodeId)]) {
	let mut now = System::block_number();
	while now < n {
		now = (now + 5).min(n);
		run_to_block(now);
		for &(owner, node) in nodes {
			let _ = Registry::heartbeat(signed(owner), node);
		}
	}
}

// ---- markets

#[test]
fn open_market_holds_the_deposit_and_indexes_the_commodity() {
	test(|| {
		let before = free(OWNER);
		let market = open(ListingPolicy::FixedFee { fee: FEE });
		assert_eq!(market, 0);
		assert_eq!(free(OWNER), before - MARKET_DEPOSIT);
		assert_eq!(MarketByCommodity::<Test>::get(SHARD_0), Some(0));
		System::assert_last_event(
			Event::MarketOpened {
				market,
				owner: OWNER,
				commodity: SHARD_0,
				policy: ListingPolicy::FixedFee { fee: FEE },
				deposit: MARKET_DEPOSIT,
			}
			.into(),
		);
		// A hash-rate class is a commodity too.
		assert_ok!(Market::open_market(
			signed(CLIENT),
			Commodity::HashRateClass(10),
			ListingPolicy::VariableMaxMin
		));
	});
}

#[test]
fn open_market_rejects_bad_commodities_duplicates_and_paupers() {
	test(|| {
		let policy = ListingPolicy::FixedFee { fee: FEE };
		// Unknown model; shard past the last layer (8 layers in shards of 2: shards 0..=3).
		for commodity in [
			Commodity::LayerShard { model: 7, shard: 0 },
			Commodity::LayerShard { model: MODEL, shard: 4 },
			Commodity::HashRateClass(64),
		] {
			assert_noop!(
				Market::open_market(signed(OWNER), commodity, policy),
				Error::<Test>::InvalidCommodity
			);
		}
		assert_noop!(
			Market::open_market(signed(PAUPER), SHARD_0, policy),
			Error::<Test>::InsufficientBalance
		);
		open(policy);
		assert_noop!(
			Market::open_market(signed(CLIENT), SHARD_0, policy),
			Error::<Test>::MarketExists
		);
		assert_noop!(
			Market::open_market(RuntimeOrigin::none(), SHARD_0, policy),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn only_the_owner_sets_the_policy_and_closes_an_empty_market() {
	test(|| {
		let market = open(ListingPolicy::FixedFee { fee: FEE });
		assert_noop!(
			Market::set_listing_policy(signed(CLIENT), market, ListingPolicy::VariableMaxMin),
			Error::<Test>::NotMarketOwner
		);
		assert_noop!(
			Market::set_listing_policy(signed(OWNER), 9, ListingPolicy::VariableMaxMin),
			Error::<Test>::UnknownMarket
		);
		assert_ok!(Market::set_listing_policy(
			signed(OWNER),
			market,
			ListingPolicy::VariableMaxMin
		));
		System::assert_last_event(
			Event::ListingPolicySet { market, policy: ListingPolicy::VariableMaxMin }.into(),
		);

		let node = inference_node(SELLER_A, (0, 2));
		assert_ok!(Market::list(signed(SELLER_A), market, node, 5, MAX_FEE));
		assert_noop!(Market::close_market(signed(OWNER), market), Error::<Test>::MarketNotEmpty);
		assert_noop!(Market::close_market(signed(CLIENT), market), Error::<Test>::NotMarketOwner);
		assert_noop!(Market::close_market(signed(OWNER), 9), Error::<Test>::UnknownMarket);
		assert_ok!(Market::delist(signed(SELLER_A), market, node));

		let before = free(OWNER);
		assert_ok!(Market::close_market(signed(OWNER), market));
		assert_eq!(free(OWNER), before + MARKET_DEPOSIT);
		assert!(MarketByCommodity::<Test>::get(SHARD_0).is_none());
		System::assert_last_event(Event::MarketClosed { market, deposit: MARKET_DEPOSIT }.into());
		// The commodity can have a new market.
		open(ListingPolicy::VariableMaxMin);
	});
}

// ---- listings

#[test]
fn listing_pays_the_fixed_fee_to_the_owner() {
	test(|| {
		let (owner_before, seller_before) = (free(OWNER), free(SELLER_A));
		let market = open(ListingPolicy::FixedFee { fee: FEE });
		let node = inference_node(SELLER_A, (0, 2));
		assert_ok!(Market::list(signed(SELLER_A), market, node, 5, MAX_FEE));
		assert_eq!(free(OWNER), owner_before - MARKET_DEPOSIT + FEE);
		assert_eq!(free(SELLER_A), seller_before - MIN_COLLATERAL - FEE);
		System::assert_last_event(Event::Listed { market, node, ask: 5, fee: FEE }.into());
		assert_eq!(Listings::<Test>::get(market).into_inner(), vec![Listing { node, ask: 5 }]);

		// De-listing keeps the fee; listing again pays it again.
		assert_ok!(Market::delist(signed(SELLER_A), market, node));
		System::assert_last_event(
			Event::Delisted { market, node, reason: DelistReason::ByOwner }.into(),
		);
		assert_ok!(Market::list(signed(SELLER_A), market, node, 6, MAX_FEE));
		assert_eq!(free(OWNER), owner_before - MARKET_DEPOSIT + 2 * FEE);
	});
}

#[test]
fn variable_markets_and_owners_list_for_free() {
	test(|| {
		let market = open(ListingPolicy::VariableMaxMin);
		let node = inference_node(SELLER_A, (0, 2));
		let before = free(SELLER_A);
		assert_ok!(Market::list(signed(SELLER_A), market, node, 5, MAX_FEE));
		System::assert_last_event(Event::Listed { market, node, ask: 5, fee: 0 }.into());
		assert_eq!(free(SELLER_A), before);

		let fixed = {
			assert_ok!(Market::open_market(
				signed(OWNER),
				Commodity::LayerShard { model: MODEL, shard: 1 },
				ListingPolicy::FixedFee { fee: FEE }
			));
			1
		};
		let own = inference_node(OWNER, (2, 4));
		let before = free(OWNER);
		assert_ok!(Market::list(signed(OWNER), fixed, own, 5, MAX_FEE));
		assert_eq!(free(OWNER), before);
	});
}

#[test]
fn list_rejects_bad_listings() {
	test(|| {
		let market = open(ListingPolicy::FixedFee { fee: FEE });
		let node = inference_node(SELLER_A, (0, 2));
		let elsewhere = inference_node(SELLER_A, (2, 4));
		let half = inference_node(SELLER_A, (1, 3));
		let hasher = hashing_node(SELLER_A, 1 << 20);

		assert_noop!(
			Market::list(signed(SELLER_A), 9, node, 5, MAX_FEE),
			Error::<Test>::UnknownMarket
		);
		assert_noop!(
			Market::list(signed(SELLER_A), market, node, 0, MAX_FEE),
			Error::<Test>::ZeroPrice
		);
		assert_noop!(
			Market::list(signed(SELLER_B), market, node, 5, MAX_FEE),
			Error::<Test>::NotNodeOwner
		);
		assert_noop!(
			Market::list(signed(SELLER_B), market, 99, 5, MAX_FEE),
			Error::<Test>::NotNodeOwner
		);
		for ineligible in [elsewhere, half, hasher] {
			assert_noop!(
				Market::list(signed(SELLER_A), market, ineligible, 5, MAX_FEE),
				Error::<Test>::NodeNotEligible
			);
		}
		assert_ok!(Market::list(signed(SELLER_A), market, node, 5, MAX_FEE));
		assert_noop!(
			Market::list(signed(SELLER_A), market, node, 4, MAX_FEE),
			Error::<Test>::AlreadyListed
		);

		// A fee above what the seller accepts, or above its free balance: the owner may change
		// the fee only while the market is empty.
		assert_noop!(
			Market::set_listing_policy(signed(OWNER), market, ListingPolicy::VariableMaxMin),
			Error::<Test>::MarketNotEmpty
		);
		assert_ok!(Market::delist(signed(SELLER_A), market, node));
		assert_ok!(Market::set_listing_policy(
			signed(OWNER),
			market,
			ListingPolicy::FixedFee { fee: ENDOWMENT }
		));
		let poor = inference_node(SELLER_B, (0, 2));
		assert_noop!(
			Market::list(signed(SELLER_B), market, poor, 5, MAX_FEE),
			Error::<Test>::FeeAboveMaximum
		);
		assert_noop!(
			Market::list(signed(SELLER_B), market, poor, 5, ENDOWMENT),
			Error::<Test>::InsufficientBalance
		);

		// A node without a recent heartbeat.
		run_to_block(2 + HEARTBEAT_TIMEOUT);
		assert_noop!(
			Market::list(signed(SELLER_B), market, poor, 5, ENDOWMENT),
			Error::<Test>::NodeNotServing
		);
	});
}

#[test]
fn markets_hold_a_bounded_number_of_listings() {
	test(|| {
		let market = open(ListingPolicy::VariableMaxMin);
		let sellers = [SELLER_A, SELLER_A, SELLER_B, SELLER_B];
		for (i, seller) in sellers.into_iter().enumerate() {
			let node = inference_node(seller, (0, 2));
			assert_ok!(Market::list(signed(seller), market, node, 5 + i as u128, MAX_FEE));
		}
		// Full: an ask that is not below the highest (8) finds no place.
		let extra = inference_node(SELLER_C, (0, 2));
		assert_noop!(
			Market::list(signed(SELLER_C), market, extra, 8, MAX_FEE),
			Error::<Test>::MarketFull
		);
		// An owner holds at most MAX_LISTINGS_PER_OWNER places.
		let third = inference_node(SELLER_A, (0, 2));
		assert_noop!(
			Market::list(signed(SELLER_A), market, third, 1, MAX_FEE),
			Error::<Test>::TooManyListings
		);
	});
}

/// Issue 12, item 5: a Sybil seller listed first used to hold every place of a market for ever
/// (first come, first served), shutting out cheaper honest sellers and setting the second
/// price. Now one owner gets at most a share of the places, and a cheaper ask evicts the
/// highest.
#[test]
fn a_sybil_seller_cannot_fill_a_market_and_cheaper_sellers_evict_the_highest_ask() {
	test(|| {
		let market = open(ListingPolicy::FixedFee { fee: FEE });
		// The Sybil owner (A) lists as many nodes as it may, at high asks...
		for ask in [50, 60] {
			let node = inference_node(SELLER_A, (0, 2));
			assert_ok!(Market::list(signed(SELLER_A), market, node, ask, MAX_FEE));
		}
		let blocked = inference_node(SELLER_A, (0, 2));
		assert_noop!(
			Market::list(signed(SELLER_A), market, blocked, 55, MAX_FEE),
			Error::<Test>::TooManyListings
		);
		// ... and a second Sybil account (B) fills the rest.
		let mut highest = 0;
		for ask in [70, 80] {
			highest = inference_node(SELLER_B, (0, 2));
			assert_ok!(Market::list(signed(SELLER_B), market, highest, ask, MAX_FEE));
		}
		// An honest seller still gets in by asking less: the highest ask (80) is evicted.
		let honest = inference_node(SELLER_C, (0, 2));
		assert_ok!(Market::list(signed(SELLER_C), market, honest, 7, MAX_FEE));
		System::assert_has_event(
			Event::Delisted { market, node: highest, reason: DelistReason::Evicted }.into(),
		);
		assert_eq!(
			Listings::<Test>::get(market).iter().map(|l| l.ask).collect::<Vec<_>>(),
			vec![50, 60, 70, 7]
		);
		// The honest seller wins at the Sybils' lowest ask instead of the Sybils winning.
		assert_ok!(Market::buy(signed(CLIENT), market, 100, terms(1, 10, 0)));
		let sold = Agreements::<Test>::get(0).unwrap();
		assert_eq!((sold.provider, sold.price_per_unit), (honest, 50));
	});
}

#[test]
fn hash_rate_markets_take_nodes_of_the_class() {
	test(|| {
		assert_ok!(Market::open_market(
			signed(OWNER),
			Commodity::HashRateClass(20),
			ListingPolicy::VariableMaxMin
		));
		let fast = hashing_node(SELLER_A, 1 << 20);
		let slow = hashing_node(SELLER_B, (1 << 20) - 1);
		let inference = inference_node(SELLER_C, (0, 2));
		assert_ok!(Market::list(signed(SELLER_A), 0, fast, 5, MAX_FEE));
		assert_noop!(
			Market::list(signed(SELLER_B), 0, slow, 5, MAX_FEE),
			Error::<Test>::NodeNotEligible
		);
		assert_noop!(
			Market::list(signed(SELLER_C), 0, inference, 5, MAX_FEE),
			Error::<Test>::NodeNotEligible
		);

		assert_ok!(Market::buy(signed(CLIENT), 0, 10, terms(2, 10, 0)));
		let agreement = Agreements::<Test>::get(0).unwrap();
		assert_eq!(agreement.work, WorkKind::HashSubjob);
		assert_eq!((agreement.provider, agreement.price_per_unit), (fast, 6));
	});
}

#[test]
fn delist_rejects_strangers_and_missing_listings() {
	test(|| {
		let (market, [a, ..]) = market_5_7_9();
		assert_noop!(Market::delist(signed(SELLER_B), market, a), Error::<Test>::NotNodeOwner);
		assert_noop!(Market::delist(signed(SELLER_A), 9, a), Error::<Test>::UnknownMarket);
		assert_ok!(Market::delist(signed(SELLER_A), market, a));
		assert_noop!(Market::delist(signed(SELLER_A), market, a), Error::<Test>::NotListed);
	});
}

// ---- sales

#[test]
fn the_lowest_ask_wins_and_is_paid_the_second_lowest() {
	test(|| {
		let (owner_before, client_before) = (free(OWNER), free(CLIENT));
		let (market, [a, b, c]) = market_5_7_9();
		assert_eq!(free(OWNER), owner_before - MARKET_DEPOSIT + 3 * FEE);

		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(4, 10, 20)));
		let agreement = Agreements::<Test>::get(0).unwrap();
		assert_eq!(agreement.provider, a);
		assert_eq!(agreement.provider_owner, SELLER_A);
		assert_eq!(agreement.price_per_unit, 7);
		assert_eq!(agreement.escrow, 28);
		assert_eq!(agreement.market, Some(market));
		assert_eq!(agreement.work, inference_work());
		assert_eq!(agreement.deadline, 11);
		assert_eq!(escrow_held(CLIENT), 28);
		assert_eq!(free(CLIENT), client_before - 28);
		// The winner is de-listed for the sale; the others stay, in order.
		assert_eq!(
			Listings::<Test>::get(market).into_inner(),
			vec![Listing { node: b, ask: 7 }, Listing { node: c, ask: 9 }]
		);
		assert_eq!(Markets::<Test>::get(market).unwrap().sales, 1);
		let events = market_events();
		assert!(events.ends_with(&[
			Event::AgreementOpened {
				agreement: 0,
				client: CLIENT,
				provider: a,
				price_per_unit: 7,
				units: 4,
				deadline: 11,
				escrow: 28
			},
			Event::Delisted { market, node: a, reason: DelistReason::Sold },
			Event::Sold { market, agreement: 0, node: a, ask: 5, price_per_unit: 7, owner_fee: 0 },
		]));

		// The winner may list again, and the next sale is between 5 (again), 7 and 9.
		assert_ok!(Market::list(signed(SELLER_A), market, a, 5, MAX_FEE));
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(1, 10, 0)));
		assert_eq!(Agreements::<Test>::get(1).unwrap().price_per_unit, 7);
		// Then 7 wins against 9.
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(1, 10, 0)));
		assert_eq!(Agreements::<Test>::get(2).unwrap().price_per_unit, 9);
		assert_eq!(Agreements::<Test>::get(2).unwrap().provider, b);
	});
}

#[test]
fn a_lone_seller_is_paid_the_buyers_maximum_and_the_maximum_caps_the_price() {
	test(|| {
		let market = open(ListingPolicy::FixedFee { fee: FEE });
		let a = inference_node(SELLER_A, (0, 2));
		assert_ok!(Market::list(signed(SELLER_A), market, a, 5, MAX_FEE));
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(1, 10, 0)));
		assert_eq!(Agreements::<Test>::get(0).unwrap().price_per_unit, 10);

		let b = inference_node(SELLER_B, (0, 2));
		assert_ok!(Market::list(signed(SELLER_A), market, a, 5, MAX_FEE));
		assert_ok!(Market::list(signed(SELLER_B), market, b, 12, MAX_FEE));
		assert_ok!(Market::buy(signed(CLIENT), market, 8, terms(1, 10, 0)));
		assert_eq!(Agreements::<Test>::get(1).unwrap().price_per_unit, 8);
	});
}

#[test]
fn ties_go_to_the_earlier_listing() {
	test(|| {
		let market = open(ListingPolicy::VariableMaxMin);
		assert_ok!(Market::set_listing_policy(
			signed(OWNER),
			market,
			ListingPolicy::FixedFee { fee: 0 }
		));
		let (b, a) = (inference_node(SELLER_B, (0, 2)), inference_node(SELLER_A, (0, 2)));
		assert_ok!(Market::list(signed(SELLER_B), market, b, 5, MAX_FEE));
		assert_ok!(Market::list(signed(SELLER_A), market, a, 5, MAX_FEE));
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(1, 10, 0)));
		let agreement = Agreements::<Test>::get(0).unwrap();
		assert_eq!((agreement.provider, agreement.price_per_unit), (b, 5));
	});
}

#[test]
fn variable_policy_pays_the_max_min_payoff() {
	test(|| {
		let market = open(ListingPolicy::VariableMaxMin);
		let nodes = [
			inference_node(SELLER_A, (0, 2)),
			inference_node(SELLER_B, (0, 2)),
			inference_node(SELLER_C, (0, 2)),
		];
		for ((seller, node), ask) in
			[SELLER_A, SELLER_B, SELLER_C].into_iter().zip(nodes).zip([7, 5, 9])
		{
			assert_ok!(Market::list(signed(seller), market, node, ask, MAX_FEE));
		}
		let (owner_before, client_before) = (free(OWNER), free(CLIENT));
		// The buyer's maximum covers all it pays: 3 units at 1_700 cover 3 * 6 + 4_938.
		assert_ok!(Market::buy(signed(CLIENT), market, 1_700, terms(3, 10, 0)));
		// MC_1 = 5, MC_N = 9: the seller gets 5 + 1 per unit and the owner
		// floor(10^5 * 4 / 81) = 4_938 from the buyer.
		let fee = PAYOFF_SCALE * 4 / 81;
		assert_eq!(fee, 4_938);
		let agreement = Agreements::<Test>::get(0).unwrap();
		assert_eq!((agreement.provider, agreement.price_per_unit), (nodes[1], 6));
		assert_eq!(free(OWNER), owner_before + fee);
		assert_eq!(free(CLIENT), client_before - fee - 18);
		System::assert_last_event(
			Event::Sold {
				market,
				agreement: 0,
				node: nodes[1],
				ask: 5,
				price_per_unit: 6,
				owner_fee: fee,
			}
			.into(),
		);
		// A buyer who cannot also pay the owner's payoff buys nothing.
		assert_ok!(Market::list(signed(SELLER_B), market, nodes[1], 5, MAX_FEE));
		assert_noop!(
			Market::buy(signed(PAUPER), market, 10_000, terms(1, 10, 0)),
			Error::<Test>::InsufficientBalance
		);
	});
}

#[test]
fn buy_rejects_what_cannot_be_sold() {
	test(|| {
		let market = open(ListingPolicy::FixedFee { fee: FEE });
		assert_noop!(
			Market::buy(signed(CLIENT), 9, 10, terms(1, 10, 0)),
			Error::<Test>::UnknownMarket
		);
		assert_noop!(
			Market::buy(signed(CLIENT), market, 10, terms(1, 10, 0)),
			Error::<Test>::NoSellers
		);

		let a = inference_node(SELLER_A, (0, 2));
		assert_ok!(Market::list(signed(SELLER_A), market, a, 5, MAX_FEE));
		assert_noop!(
			Market::buy(signed(CLIENT), market, 0, terms(1, 10, 0)),
			Error::<Test>::ZeroPrice
		);
		assert_noop!(
			Market::buy(signed(CLIENT), market, 4, terms(1, 10, 0)),
			Error::<Test>::PriceAboveMaximum
		);
		assert_noop!(
			Market::buy(signed(CLIENT), market, 10, terms(0, 10, 0)),
			Error::<Test>::ZeroUnits
		);
		assert_noop!(
			Market::buy(signed(CLIENT), market, 10, terms(1, 0, 0)),
			Error::<Test>::InvalidDuration
		);
		assert_noop!(
			Market::buy(signed(CLIENT), market, 10, terms(1, MAX_DURATION + 1, 0)),
			Error::<Test>::InvalidDuration
		);
		// The buyer's own listing takes no part in its purchase.
		assert_noop!(
			Market::buy(signed(SELLER_A), market, 10, terms(1, 10, 0)),
			Error::<Test>::NoSellers
		);
		assert_noop!(
			Market::buy(signed(PAUPER), market, 10, terms(1, 10, 0)),
			Error::<Test>::InsufficientBalance
		);
		assert_noop!(
			Market::buy(signed(CLIENT), market, Balance::MAX, terms(2, 10, 0)),
			Error::<Test>::Overflow
		);
	});
}

#[test]
fn listings_of_nodes_that_stopped_serving_are_dropped_by_a_sale() {
	test(|| {
		let (market, [a, b, c]) = market_5_7_9();
		// B and C keep heartbeating, A goes silent.
		heartbeat_to(2 + HEARTBEAT_TIMEOUT, &[(SELLER_B, b), (SELLER_C, c)]);
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(1, 10, 0)));
		let agreement = Agreements::<Test>::get(0).unwrap();
		assert_eq!((agreement.provider, agreement.price_per_unit), (b, 9));
		assert!(Listings::<Test>::get(market).iter().all(|l| l.node == c));
		assert!(market_events().contains(&Event::Delisted {
			market,
			node: a,
			reason: DelistReason::NotServing
		}));

		// When nobody serves any more, there are no sellers.
		run_to_block(System::block_number() + HEARTBEAT_TIMEOUT + 1);
		assert_noop!(
			Market::buy(signed(CLIENT), market, 10, terms(1, 10, 0)),
			Error::<Test>::NoSellers
		);
	});
}

// ---- agreements

#[test]
fn a_delivered_agreement_is_paid_after_the_challenge_window() {
	test(|| {
		let (market, [a, ..]) = market_5_7_9();
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(4, 10, 20)));
		let (seller_before, client_before) = (free(SELLER_A), free(CLIENT));

		assert_ok!(Market::accept(signed(SELLER_A), 0));
		System::assert_last_event(Event::AgreementAccepted { agreement: 0 }.into());
		run_to_block(5);
		assert_ok!(Market::complete(signed(SELLER_A), 0));
		System::assert_last_event(
			Event::WorkCompleted { agreement: 0, payable_at: 5 + CHALLENGE_WINDOW }.into(),
		);
		assert_eq!(status(0), AgreementStatus::Completed { at: 5 });

		run_to_block(4 + CHALLENGE_WINDOW);
		assert_noop!(
			Market::claim_payment(signed(SELLER_A), 0),
			Error::<Test>::ChallengeWindowOpen
		);
		run_to_block(5 + CHALLENGE_WINDOW);
		assert_ok!(Market::claim_payment(signed(CLIENT), 0));
		System::assert_has_event(
			pallet_compute_registry::Event::WorkRecorded {
				node: a,
				outcome: WorkOutcome::Completed,
			}
			.into(),
		);
		System::assert_last_event(
			Event::ProviderPaid { agreement: 0, provider: a, to: SELLER_A, amount: 28 }.into(),
		);
		assert_eq!(free(SELLER_A), seller_before + 28);
		assert_eq!(free(CLIENT), client_before);
		assert_eq!(escrow_held(CLIENT), 0);
		// Settled once: the agreement is gone, and double settlement finds nothing.
		assert!(!Agreements::<Test>::contains_key(0));
		assert_noop!(Market::claim_payment(signed(CLIENT), 0), Error::<Test>::UnknownAgreement);
		assert_noop!(Market::claim_refund(signed(CLIENT), 0), Error::<Test>::UnknownAgreement);
		assert_noop!(
			Market::reject_work(RuntimeOrigin::root(), 0),
			Error::<Test>::UnknownAgreement
		);
	});
}

#[test]
fn a_missed_deadline_refunds_the_client_and_slashes_the_penalty() {
	test(|| {
		let (market, [a, ..]) = market_5_7_9();
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(4, 10, 20)));
		assert_ok!(Market::accept(signed(SELLER_A), 0));
		let client_before = free(CLIENT);

		run_to_block(11);
		assert_noop!(Market::claim_refund(signed(CLIENT), 0), Error::<Test>::DeadlineNotPassed);
		run_to_block(12);
		assert_noop!(Market::complete(signed(SELLER_A), 0), Error::<Test>::DeadlinePassed);
		assert_ok!(Market::claim_refund(signed(OWNER), 0));
		System::assert_has_event(
			pallet_compute_registry::Event::Slashed {
				node: a,
				amount: 20,
				burnt: 4,
				beneficiary: Some(CLIENT),
				reason: SlashReason::MissedDeadline,
			}
			.into(),
		);
		System::assert_has_event(
			pallet_compute_registry::Event::WorkRecorded { node: a, outcome: WorkOutcome::Failed }
				.into(),
		);
		System::assert_last_event(
			Event::AgreementExpired {
				agreement: 0,
				paid: 0,
				refunded: 28,
				penalty: 20,
				compensation: 16,
			}
			.into(),
		);
		// The client gets the penalty less the fifth that is burnt.
		assert_eq!(free(CLIENT), client_before + 28 + 16);
		assert_eq!(collateral(a), MIN_COLLATERAL - 20);
		assert!(!Agreements::<Test>::contains_key(0));
		assert_noop!(Market::claim_refund(signed(CLIENT), 0), Error::<Test>::UnknownAgreement);
	});
}

#[test]
fn an_unaccepted_agreement_expires_without_penalty_and_penalties_are_capped() {
	test(|| {
		let a = inference_node(SELLER_A, (0, 2));
		// Escrow 10: the penalty may be at most twice that.
		assert_ok!(Market::open_agreement(signed(CLIENT), a, inference_work(), 2, terms(5, 3, 20)));
		assert_noop!(
			Market::open_agreement(signed(CLIENT), a, inference_work(), 2, terms(5, 3, 21)),
			Error::<Test>::PenaltyTooHigh
		);
		assert_noop!(
			Market::open_agreement(signed(CLIENT), a, inference_work(), 2, terms(5, 3, u128::MAX)),
			Error::<Test>::PenaltyTooHigh
		);
		let before = free(CLIENT);
		run_to_block(5);
		assert_noop!(Market::accept(signed(SELLER_A), 0), Error::<Test>::DeadlinePassed);
		assert_ok!(Market::claim_refund(signed(CLIENT), 0));
		System::assert_last_event(
			Event::AgreementExpired {
				agreement: 0,
				paid: 0,
				refunded: 10,
				penalty: 0,
				compensation: 0,
			}
			.into(),
		);
		assert_eq!(free(CLIENT), before + 10);
		assert_eq!(collateral(a), MIN_COLLATERAL);
	});
}

#[test]
fn the_client_may_cancel_before_acceptance() {
	test(|| {
		let a = inference_node(SELLER_A, (0, 2));
		let before = free(CLIENT);
		assert_ok!(Market::open_agreement(signed(CLIENT), a, inference_work(), 3, terms(5, 10, 0)));
		assert_eq!(free(CLIENT), before - 15);
		assert_noop!(Market::cancel(signed(SELLER_A), 0), Error::<Test>::NotClient);
		assert_noop!(Market::cancel(signed(CLIENT), 1), Error::<Test>::UnknownAgreement);
		assert_ok!(Market::cancel(signed(CLIENT), 0));
		System::assert_last_event(Event::AgreementCancelled { agreement: 0, refunded: 15 }.into());
		assert_eq!(free(CLIENT), before);
		assert_noop!(Market::cancel(signed(CLIENT), 0), Error::<Test>::UnknownAgreement);
		assert_noop!(Market::accept(signed(SELLER_A), 0), Error::<Test>::UnknownAgreement);

		// Not once accepted.
		assert_ok!(Market::open_agreement(signed(CLIENT), a, inference_work(), 3, terms(5, 10, 0)));
		assert_ok!(Market::accept(signed(SELLER_A), 1));
		assert_noop!(Market::cancel(signed(CLIENT), 1), Error::<Test>::NotProposed);
	});
}

/// Issue 12, item 9: eligibility was checked only when listing and opening. A node that moved
/// to other layers kept winning sales of its old shard and could accept work it no longer
/// serves.
#[test]
fn eligibility_is_checked_again_at_buy_and_accept() {
	test(|| {
		let (market, [a, b, _]) = market_5_7_9();
		// A (the lowest ask) moves off shard 0.
		assert_ok!(Registry::move_layers(signed(SELLER_A), a, LayerRange::new(4, 6)));
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(4, 10, 0)));
		System::assert_has_event(
			Event::Delisted { market, node: a, reason: DelistReason::NotServing }.into(),
		);
		let sold = Agreements::<Test>::get(0).unwrap();
		assert_eq!((sold.provider, sold.price_per_unit), (b, 9));
		// B accepts only while it still serves the agreed layers.
		assert_ok!(Registry::move_layers(signed(SELLER_B), b, LayerRange::new(2, 4)));
		assert_noop!(Market::accept(signed(SELLER_B), 0), Error::<Test>::WorkNotServed);
		assert_ok!(Registry::move_layers(signed(SELLER_B), b, LayerRange::new(0, 4)));
		assert_ok!(Market::accept(signed(SELLER_B), 0));
	});
}

/// Issue 12, item 5: the first owner of a commodity's market kept it for ever, whatever its
/// fee. An idle market now expires and the commodity can be opened again by someone else.
#[test]
fn an_idle_market_expires_and_another_owner_may_open_it() {
	test(|| {
		let (market, [a, ..]) = market_5_7_9();
		assert_noop!(Market::expire_market(signed(CLIENT), 9), Error::<Test>::UnknownMarket);
		assert_noop!(Market::expire_market(signed(CLIENT), market), Error::<Test>::MarketNotIdle);
		// A sale keeps it alive.
		heartbeat_to(50, &[(SELLER_A, a)]);
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(1, 10, 0)));
		run_to_block(50 + MARKET_IDLE_TIMEOUT);
		assert_noop!(Market::expire_market(signed(CLIENT), market), Error::<Test>::MarketNotIdle);
		run_to_block(51 + MARKET_IDLE_TIMEOUT);
		let owner_before = free(OWNER);
		assert_ok!(Market::expire_market(signed(CLIENT), market));
		System::assert_last_event(Event::MarketExpired { market, deposit: MARKET_DEPOSIT }.into());
		assert_eq!(free(OWNER), owner_before + MARKET_DEPOSIT);
		assert!(Listings::<Test>::get(market).is_empty());
		assert!(!MarketByCommodity::<Test>::contains_key(SHARD_0));
		// Someone else opens the commodity's market, with a fee of its own.
		assert_ok!(Market::open_market(
			signed(CLIENT),
			SHARD_0,
			ListingPolicy::FixedFee { fee: 1 }
		));
	});
}

#[test]
fn agreement_steps_are_checked() {
	test(|| {
		let a = inference_node(SELLER_A, (0, 2));
		assert_ok!(Market::open_agreement(signed(CLIENT), a, inference_work(), 3, terms(5, 10, 0)));
		assert_noop!(Market::accept(signed(CLIENT), 0), Error::<Test>::NotProvider);
		assert_noop!(Market::accept(signed(SELLER_A), 7), Error::<Test>::UnknownAgreement);
		assert_noop!(Market::complete(signed(SELLER_A), 0), Error::<Test>::NotAccepted);
		assert_noop!(Market::reject_work(RuntimeOrigin::root(), 0), Error::<Test>::NotAccepted);
		assert_noop!(Market::claim_payment(signed(CLIENT), 0), Error::<Test>::NotCompleted);
		assert_ok!(Market::accept(signed(SELLER_A), 0));
		assert_noop!(Market::accept(signed(SELLER_A), 0), Error::<Test>::NotProposed);
		assert_noop!(Market::complete(signed(CLIENT), 0), Error::<Test>::NotProvider);
		assert_noop!(Market::claim_payment(signed(CLIENT), 0), Error::<Test>::NotCompleted);
		assert_ok!(Market::complete(signed(SELLER_A), 0));
		assert_noop!(Market::complete(signed(SELLER_A), 0), Error::<Test>::AlreadyCompleted);
		run_to_block(20);
		assert_noop!(Market::claim_refund(signed(CLIENT), 0), Error::<Test>::AlreadyCompleted);
		assert_noop!(Market::reject_work(signed(CLIENT), 0), DispatchError::BadOrigin);
	});
}

#[test]
fn unknown_agreements_are_refused_by_every_step() {
	test(|| {
		assert_noop!(Market::accept(signed(SELLER_A), 3), Error::<Test>::UnknownAgreement);
		assert_noop!(Market::complete(signed(SELLER_A), 3), Error::<Test>::UnknownAgreement);
		assert_noop!(Market::cancel(signed(CLIENT), 3), Error::<Test>::UnknownAgreement);
		assert_noop!(Market::claim_payment(signed(CLIENT), 3), Error::<Test>::UnknownAgreement);
		assert_noop!(Market::claim_refund(signed(CLIENT), 3), Error::<Test>::UnknownAgreement);
		assert_noop!(
			Market::reject_work(RuntimeOrigin::root(), 3),
			Error::<Test>::UnknownAgreement
		);
	});
}

#[test]
fn work_cannot_be_rejected_after_the_challenge_window() {
	test(|| {
		let a = inference_node(SELLER_A, (0, 2));
		assert_ok!(Market::open_agreement(
			signed(CLIENT),
			a,
			inference_work(),
			3,
			terms(5, 10, 30)
		));
		assert_ok!(Market::accept(signed(SELLER_A), 0));
		assert_ok!(Market::complete(signed(SELLER_A), 0));
		run_to_block(1 + CHALLENGE_WINDOW);
		assert_noop!(
			Market::reject_work(RuntimeOrigin::root(), 0),
			Error::<Test>::ChallengeWindowClosed
		);
		assert_ok!(Market::claim_payment(signed(SELLER_A), 0));
	});
}

#[test]
fn escrow_must_reach_the_existential_deposit() {
	test(|| {
		let a = inference_node(SELLER_A, (0, 2));
		assert_noop!(
			Market::open_agreement(signed(CLIENT), a, inference_work(), 1, terms(1, 10, 0)),
			Error::<Test>::EscrowBelowMinimum
		);
		assert_ok!(Market::open_agreement(signed(CLIENT), a, inference_work(), 1, terms(2, 10, 0)));
		assert_noop!(
			Market::open_agreement(
				signed(CLIENT),
				a,
				inference_work(),
				1,
				terms(2, MAX_DURATION + 1, 0)
			),
			Error::<Test>::InvalidDuration
		);
	});
}

#[test]
fn anyone_may_clear_the_listing_of_a_node_that_stopped_serving() {
	test(|| {
		let (market, [a, b, _]) = market_5_7_9();
		// B unregisters and withdraws: nobody owns its node any more.
		assert_ok!(Registry::unregister(signed(SELLER_B), b));
		run_to_block(2 + UNBONDING_PERIOD);
		assert_ok!(Registry::withdraw(signed(SELLER_B), b));
		// A's node only timed out; its owner or anyone may clear it.
		assert_ok!(Market::delist(signed(CLIENT), market, b));
		System::assert_last_event(
			Event::Delisted { market, node: b, reason: DelistReason::NotServing }.into(),
		);
		assert_ok!(Market::delist(signed(CLIENT), market, a));
		assert_noop!(Market::delist(signed(CLIENT), market, b), Error::<Test>::NotListed);
	});
}

#[test]
fn the_buyers_maximum_bounds_the_owners_payoff_too() {
	test(|| {
		let market = open(ListingPolicy::VariableMaxMin);
		let (a, b) = (inference_node(SELLER_A, (0, 2)), inference_node(SELLER_B, (0, 2)));
		// MC_1 = 10, MC_N = 20: the payoff is 10^5 * 10 / 400 = 2_500, far above 10 units at
		// 100.
		assert_ok!(Market::list(signed(SELLER_A), market, a, 10, MAX_FEE));
		assert_ok!(Market::list(signed(SELLER_B), market, b, 20, MAX_FEE));
		assert_noop!(
			Market::buy(signed(CLIENT), market, 100, terms(10, 10, 0)),
			Error::<Test>::PriceAboveMaximum
		);
		// 11 (seller) * 10 units + 2_500 = 2_610 fits in 10 units at 261.
		assert_ok!(Market::buy(signed(CLIENT), market, 261, terms(10, 10, 0)));
		System::assert_last_event(
			Event::Sold {
				market,
				agreement: 0,
				node: a,
				ask: 10,
				price_per_unit: 11,
				owner_fee: 2_500,
			}
			.into(),
		);
	});
}

#[test]
fn a_provider_that_stopped_serving_cannot_accept() {
	test(|| {
		let a = inference_node(SELLER_A, (0, 2));
		assert_ok!(Market::open_agreement(
			signed(CLIENT),
			a,
			inference_work(),
			3,
			terms(5, MAX_DURATION, 0)
		));
		run_to_block(2 + HEARTBEAT_TIMEOUT);
		assert_noop!(Market::accept(signed(SELLER_A), 0), Error::<Test>::NodeNotServing);
	});
}

#[test]
fn open_agreement_checks_the_provider_and_the_terms() {
	test(|| {
		let a = inference_node(SELLER_A, (0, 4));
		let hasher = hashing_node(SELLER_B, 1000);
		let work = inference_work();
		assert_noop!(
			Market::open_agreement(signed(CLIENT), 99, work, 3, terms(1, 10, 0)),
			Error::<Test>::NodeNotServing
		);
		assert_noop!(
			Market::open_agreement(signed(CLIENT), a, work, 0, terms(1, 10, 0)),
			Error::<Test>::ZeroPrice
		);
		assert_noop!(
			Market::open_agreement(signed(CLIENT), a, work, 3, terms(0, 10, 0)),
			Error::<Test>::ZeroUnits
		);
		assert_noop!(
			Market::open_agreement(signed(SELLER_A), a, work, 3, terms(1, 10, 0)),
			Error::<Test>::BuyerIsSeller
		);
		assert_noop!(
			Market::open_agreement(signed(PAUPER), a, work, 3, terms(1, 10, 0)),
			Error::<Test>::InsufficientBalance
		);
		assert_noop!(
			Market::open_agreement(signed(CLIENT), a, work, Balance::MAX / 2, terms(3, 10, 0)),
			Error::<Test>::Overflow
		);
		for unserved in [
			WorkKind::LayerInference { model: MODEL, layers: LayerRange::new(2, 6) },
			WorkKind::LayerInference { model: MODEL, layers: LayerRange::new(2, 2) },
			WorkKind::LayerInference { model: 1, layers: LayerRange::new(0, 2) },
			WorkKind::HashSubjob,
		] {
			assert_noop!(
				Market::open_agreement(signed(CLIENT), a, unserved, 3, terms(1, 10, 0)),
				Error::<Test>::WorkNotServed
			);
		}
		assert_noop!(
			Market::open_agreement(signed(CLIENT), hasher, work, 3, terms(1, 10, 0)),
			Error::<Test>::WorkNotServed
		);
		assert_ok!(Market::open_agreement(
			signed(CLIENT),
			hasher,
			WorkKind::HashSubjob,
			3,
			terms(2, 10, 0)
		));
		System::assert_last_event(
			Event::AgreementOpened {
				agreement: 0,
				client: CLIENT,
				provider: hasher,
				price_per_unit: 3,
				units: 2,
				deadline: 11,
				escrow: 6,
			}
			.into(),
		);
		assert_eq!(Agreements::<Test>::get(0).unwrap().market, None);
	});
}

#[test]
fn proven_wrong_work_is_refunded_and_slashed() {
	test(|| {
		let a = inference_node(SELLER_A, (0, 2));
		assert_ok!(Market::open_agreement(
			signed(CLIENT),
			a,
			inference_work(),
			3,
			terms(5, 10, 30)
		));
		assert_ok!(Market::open_agreement(
			signed(CLIENT),
			a,
			inference_work(),
			3,
			terms(5, 10, 30)
		));
		for id in [0, 1] {
			assert_ok!(Market::accept(signed(SELLER_A), id));
		}
		assert_ok!(Market::complete(signed(SELLER_A), 0));
		let before = free(CLIENT);

		// By the verifier origin during the challenge window...
		assert_ok!(Market::reject_work(RuntimeOrigin::root(), 0));
		System::assert_has_event(
			pallet_compute_registry::Event::Slashed {
				node: a,
				amount: 30,
				burnt: 6,
				beneficiary: Some(CLIENT),
				reason: SlashReason::InvalidWork,
			}
			.into(),
		);
		System::assert_last_event(
			Event::WorkRejected { agreement: 0, refunded: 15, penalty: 30, compensation: 24 }
				.into(),
		);
		assert!(!Agreements::<Test>::contains_key(0));
		// ... or by another pallet through `WorkVerdicts`, even before completion.
		assert_ok!(<Market as WorkVerdicts>::reject(1));
		assert!(!Agreements::<Test>::contains_key(1));
		assert_eq!(free(CLIENT), before + 2 * (15 + 24));
		assert_eq!(collateral(a), MIN_COLLATERAL - 60);
		assert_noop!(<Market as WorkVerdicts>::reject(1), Error::<Test>::UnknownAgreement);
		assert_eq!(
			<Market as WorkVerdicts>::reject(5),
			Err(Error::<Test>::UnknownAgreement.into())
		);
	});
}

#[test]
fn a_provider_that_unregisters_after_accepting_cannot_leave_before_settling() {
	test(|| {
		let a = inference_node(SELLER_A, (0, 2));
		assert_ok!(Market::open_agreement(
			signed(CLIENT),
			a,
			inference_work(),
			3,
			terms(5, 10, 30)
		));
		assert_ok!(Market::accept(signed(SELLER_A), 0));
		assert_ok!(Registry::unregister(signed(SELLER_A), a));
		run_to_block(1 + UNBONDING_PERIOD);
		// Unbonding is over, but the accepted penalty still holds the node.
		assert_noop!(
			Registry::withdraw(signed(SELLER_A), a),
			pallet_compute_registry::Error::<Test>::ReservedForObligations
		);
		let before = free(CLIENT);
		assert_ok!(Market::claim_refund(signed(CLIENT), 0));
		System::assert_last_event(
			Event::AgreementExpired {
				agreement: 0,
				paid: 0,
				refunded: 15,
				penalty: 30,
				compensation: 24,
			}
			.into(),
		);
		assert_eq!(free(CLIENT), before + 15 + 24);
		assert_ok!(Registry::withdraw(signed(SELLER_A), a));
	});
}

// ---- attacks on collateral (issue: collateral that backs every promise)

/// A node owner's second account ([`SELLER_B`] here) opens agreements on the owner's own node
/// to default on them and move the collateral out ahead of an honest client's penalty. Before
/// reservations, `penalty = u128::MAX` with a dust escrow took all collateral at once and left
/// the honest client nothing.
#[test]
fn self_dealing_cannot_drain_collateral_ahead_of_honest_clients() {
	test(|| {
		let a = inference_node(SELLER_A, (0, 2));
		assert_ok!(Registry::add_collateral(signed(SELLER_A), a, 100));
		let wealth = |who| free(who) + Balances::total_balance_on_hold(&who);
		let owner_before = wealth(SELLER_A) + wealth(SELLER_B);
		// The honest client's agreement: penalty 30 on an escrow of 15, accepted.
		assert_ok!(Market::open_agreement(
			signed(CLIENT),
			a,
			inference_work(),
			3,
			terms(5, 10, 30)
		));
		assert_ok!(Market::accept(signed(SELLER_A), 0));
		assert_eq!(<Registry as ComputeNodes<_, _>>::free_collateral(a), 170);

		// The drain of the review: an unbounded penalty on a dust escrow.
		assert_noop!(
			Market::open_agreement(
				signed(SELLER_B),
				a,
				inference_work(),
				1,
				terms(2, 1, u128::MAX)
			),
			Error::<Test>::PenaltyTooHigh
		);
		// At the cap, a penalty above the free collateral cannot be accepted...
		assert_ok!(Market::open_agreement(
			signed(SELLER_B),
			a,
			inference_work(),
			5,
			terms(20, 1, 200)
		));
		assert_noop!(Market::accept(signed(SELLER_A), 1), Error::<Test>::InsufficientCollateral);
		assert_ok!(Market::cancel(signed(SELLER_B), 1));
		// ... and one that fits takes only the free part, at a loss of the burnt fifth.
		assert_ok!(Market::open_agreement(
			signed(SELLER_B),
			a,
			inference_work(),
			5,
			terms(17, 1, 170)
		));
		assert_ok!(Market::accept(signed(SELLER_A), 2));
		assert_eq!(<Registry as ComputeNodes<_, _>>::free_collateral(a), 0);
		// Nothing can be withdrawn from under the obligations, even above the minimum.
		assert_noop!(
			Registry::withdraw_collateral(signed(SELLER_A), a, 1),
			pallet_compute_registry::Error::<Test>::ReservedForObligations
		);
		run_to_block(3);
		assert_ok!(Market::claim_refund(signed(SELLER_B), 2));

		// The honest client's penalty is still fully backed when the node defaults on it.
		run_to_block(12);
		let client_before = free(CLIENT);
		assert_ok!(Market::claim_refund(signed(CLIENT), 0));
		assert_eq!(free(CLIENT), client_before + 15 + 24, "escrow back, penalty less the burn");
		// The owner's two accounts together lost the honest penalty and the burnt fifth of the
		// self-dealt one: self-dealing cost 34 and moved nothing faster than withdrawal would.
		assert_eq!(owner_before - (wealth(SELLER_A) + wealth(SELLER_B)), 30 + 34);
		assert_eq!(collateral(a), 0);
	});
}

#[test]
fn a_seller_whose_free_collateral_cannot_back_the_penalty_does_not_win() {
	test(|| {
		let (market, [a, b, _]) = market_5_7_9();
		// A's collateral is reserved by another accepted agreement.
		assert_ok!(Market::open_agreement(
			signed(CLIENT),
			a,
			inference_work(),
			50,
			terms(2, 10, 90)
		));
		assert_ok!(Market::accept(signed(SELLER_A), 0));
		// A penalty of 20 is above A's free 10: B (7) wins at C's 9.
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(4, 10, 20)));
		let sold = Agreements::<Test>::get(1).unwrap();
		assert_eq!((sold.provider, sold.price_per_unit), (b, 9));
		assert_ok!(Market::cancel(signed(CLIENT), 1));
	});
}

// ---- hash-subjob agreements are paid on verdicts

/// Hashes a second at the rate of the nodes below: one unit of hash work.
const UNIT: u64 = 1_000_000;

fn hash_agreement(units: u32) -> (NodeId, AgreementId) {
	let h = hashing_node(SELLER_A, UNIT);
	let id = NextAgreementId::<Test>::get();
	assert_ok!(Market::open_agreement(
		signed(CLIENT),
		h,
		WorkKind::HashSubjob,
		4,
		terms(units, 10, 0)
	));
	assert_ok!(Market::accept(signed(SELLER_A), id));
	(h, id)
}

fn verified(client: AccountId, node: NodeId, work: u64) {
	assert_ok!(<Market as OnVerifiedWork<_>>::on_verified_work(&client, node, work));
}

#[test]
fn hash_subjob_work_is_paid_on_verified_subjobs_not_on_the_providers_word() {
	test(|| {
		// No penalty on hash work: the client's jobs decide whether there is work to do.
		let h0 = hashing_node(SELLER_B, UNIT);
		assert_noop!(
			Market::open_agreement(signed(CLIENT), h0, WorkKind::HashSubjob, 4, terms(3, 10, 1)),
			Error::<Test>::PenaltyOnHashWork
		);
		let (h, id) = hash_agreement(3);
		// The provider's word is not enough.
		assert_noop!(Market::complete(signed(SELLER_A), id), Error::<Test>::PaidOnVerdict);
		let seller_before = free(SELLER_A);
		// Verified work of another client, by another node, or smaller than a second at the
		// rate declared when accepting does not count (declaring a tiny rate afterwards to
		// claim tiny subjobs delivers nothing).
		verified(SELLER_B, h, UNIT);
		verified(CLIENT, h0, UNIT);
		assert_ok!(Registry::declare_hash_rate(signed(SELLER_A), h, 1));
		verified(CLIENT, h, UNIT - 1);
		assert_eq!(HashDeliveries::<Test>::get(CLIENT, h).unwrap().delivered, 0);
		for delivered in 1..=2 {
			verified(CLIENT, h, UNIT);
			System::assert_last_event(
				Event::UnitDelivered { agreement: id, delivered, units: 3 }.into(),
			);
		}
		verified(CLIENT, h, 30 * UNIT);
		System::assert_last_event(
			Event::ProviderPaid { agreement: id, provider: h, to: SELLER_A, amount: 12 }.into(),
		);
		assert_eq!(free(SELLER_A), seller_before + 12);
		assert!(!HashDeliveries::<Test>::contains_key(CLIENT, h));
	});
}

#[test]
fn a_partly_delivered_hash_agreement_pays_what_was_verified_and_refunds_the_rest() {
	test(|| {
		let (h, id) = hash_agreement(3);
		// One pair, one accepted hash agreement at a time.
		assert_ok!(Market::open_agreement(
			signed(CLIENT),
			h,
			WorkKind::HashSubjob,
			4,
			terms(3, 10, 0)
		));
		assert_noop!(Market::accept(signed(SELLER_A), id + 1), Error::<Test>::AgreementExists);
		verified(CLIENT, h, UNIT);
		let (seller_before, client_before) = (free(SELLER_A), free(CLIENT));
		run_to_block(12);
		// Verified after the deadline: too late to count.
		verified(CLIENT, h, UNIT);
		assert_ok!(Market::claim_refund(signed(CLIENT), id));
		System::assert_last_event(
			Event::AgreementExpired {
				agreement: id,
				paid: 4,
				refunded: 8,
				penalty: 0,
				compensation: 0,
			}
			.into(),
		);
		assert_eq!(free(SELLER_A), seller_before + 4);
		assert_eq!(free(CLIENT), client_before + 8);
		assert!(!HashDeliveries::<Test>::contains_key(CLIENT, h));
		// No failure is counted against the provider: the client may simply have posted no
		// job.
		assert_eq!(pallet_compute_registry::Nodes::<Test>::get(h).unwrap().stats.failed, 0);
		assert_ok!(Market::claim_refund(signed(CLIENT), id + 1));
	});
}

/// A dispute that nobody decided in time has lapsed: it can no longer be rejected.
#[test]
fn a_lapsed_dispute_can_only_be_paid() {
	test(|| {
		let (_, id) = completed();
		assert_ok!(Market::dispute(signed(CLIENT), id));
		run_to_block(2 + DISPUTE_TIMEOUT);
		assert_noop!(
			Market::reject_work(RuntimeOrigin::root(), id),
			Error::<Test>::DisputeTimedOut
		);
		assert_ok!(Market::claim_payment(signed(SELLER_A), id));
	});
}

// ---- disputes

/// A completed inference agreement (penalty 30, escrow 15) of [`CLIENT`] with a node of
/// [`SELLER_A`], reported at block 1.
fn completed() -> (NodeId, AgreementId) {
	let a = inference_node(SELLER_A, (0, 2));
	assert_ok!(Market::open_agreement(signed(CLIENT), a, inference_work(), 3, terms(5, 10, 30)));
	assert_ok!(Market::accept(signed(SELLER_A), 0));
	assert_ok!(Market::complete(signed(SELLER_A), 0));
	(a, 0)
}

fn bond_held(who: AccountId) -> Balance {
	Balances::balance_on_hold(&RuntimeHoldReason::Market(HoldReason::DisputeBond), &who)
}

/// The provider reports work it never did; without a dispute it would be paid after the
/// window. The client disputes, the verifiers find the work wrong: refund, penalty, bond back.
#[test]
fn a_disputed_false_completion_is_refunded_with_the_penalty() {
	test(|| {
		let (a, id) = completed();
		let client_before = free(CLIENT);
		assert_ok!(Market::dispute(signed(CLIENT), id));
		System::assert_last_event(
			Event::WorkDisputed {
				agreement: id,
				bond: DISPUTE_BOND,
				decide_by: 1 + DISPUTE_TIMEOUT,
			}
			.into(),
		);
		assert_eq!(bond_held(CLIENT), DISPUTE_BOND);
		assert_eq!(status(id), AgreementStatus::Disputed);
		// The provider cannot collect while the dispute waits.
		run_to_block(1 + CHALLENGE_WINDOW);
		assert_noop!(Market::claim_payment(signed(SELLER_A), id), Error::<Test>::DisputeOpen);
		assert_noop!(Market::resolve_dispute(signed(CLIENT), id, true), DispatchError::BadOrigin);
		assert_ok!(Market::resolve_dispute(RuntimeOrigin::root(), id, true));
		System::assert_has_event(
			Event::DisputeResolved { agreement: id, work_was_wrong: true, bond: DISPUTE_BOND }
				.into(),
		);
		assert_eq!(free(CLIENT), client_before + 15 + 24);
		assert_eq!(bond_held(CLIENT), 0);
		assert_eq!(collateral(a), MIN_COLLATERAL - 30);
		assert!(!Disputes::<Test>::contains_key(id));
	});
}

/// A client disputes honest work to delay or dodge payment: it loses its bond to the provider.
#[test]
fn disputing_honest_work_costs_the_client_its_bond() {
	test(|| {
		let (a, id) = completed();
		let (client_before, seller_before) = (free(CLIENT), free(SELLER_A));
		assert_ok!(Market::dispute(signed(CLIENT), id));
		assert_ok!(Market::resolve_dispute(RuntimeOrigin::root(), id, false));
		System::assert_has_event(
			Event::DisputeResolved { agreement: id, work_was_wrong: false, bond: DISPUTE_BOND }
				.into(),
		);
		assert_eq!(free(CLIENT), client_before - DISPUTE_BOND);
		assert_eq!(free(SELLER_A), seller_before + 15 + DISPUTE_BOND);
		assert_eq!(<Registry as ComputeNodes<_, _>>::free_collateral(a), MIN_COLLATERAL);
		assert!(!Agreements::<Test>::contains_key(id));
	});
}

#[test]
fn an_undecided_dispute_lapses_and_the_work_is_paid() {
	test(|| {
		let (_, id) = completed();
		let (client_before, seller_before) = (free(CLIENT), free(SELLER_A));
		assert_ok!(Market::dispute(signed(CLIENT), id));
		run_to_block(1 + DISPUTE_TIMEOUT);
		assert_noop!(Market::claim_payment(signed(SELLER_A), id), Error::<Test>::DisputeOpen);
		run_to_block(2 + DISPUTE_TIMEOUT);
		assert_noop!(
			Market::resolve_dispute(RuntimeOrigin::root(), id, true),
			Error::<Test>::DisputeTimedOut
		);
		assert_ok!(Market::claim_payment(signed(SELLER_A), id));
		System::assert_has_event(Event::DisputeLapsed { agreement: id, bond: DISPUTE_BOND }.into());
		assert_eq!(free(CLIENT), client_before);
		assert_eq!(free(SELLER_A), seller_before + 15);
	});
}

#[test]
fn disputes_are_checked() {
	test(|| {
		let a = inference_node(SELLER_A, (0, 2));
		assert_ok!(Market::open_agreement(signed(CLIENT), a, inference_work(), 3, terms(5, 10, 0)));
		assert_noop!(Market::dispute(signed(CLIENT), 0), Error::<Test>::NotDisputable);
		assert_noop!(
			Market::resolve_dispute(RuntimeOrigin::root(), 0, true),
			Error::<Test>::NotDisputed
		);
		assert_noop!(Market::dispute(signed(CLIENT), 9), Error::<Test>::UnknownAgreement);
		assert_ok!(Market::accept(signed(SELLER_A), 0));
		assert_ok!(Market::complete(signed(SELLER_A), 0));
		assert_noop!(Market::dispute(signed(SELLER_A), 0), Error::<Test>::NotClient);
		run_to_block(1 + CHALLENGE_WINDOW);
		assert_noop!(Market::dispute(signed(CLIENT), 0), Error::<Test>::ChallengeWindowClosed);
		// A client that cannot hold the bond cannot dispute.
		let p = inference_node(SELLER_B, (0, 2));
		assert_ok!(<Balances as Mutate<_>>::transfer(
			&SELLER_C,
			&PAUPER,
			18,
			frame_support::traits::tokens::Preservation::Preserve
		));
		assert_ok!(Market::open_agreement(signed(PAUPER), p, inference_work(), 3, terms(5, 30, 0)));
		assert_ok!(Market::accept(signed(SELLER_B), 1));
		assert_ok!(Market::complete(signed(SELLER_B), 1));
		assert_noop!(Market::dispute(signed(PAUPER), 1), Error::<Test>::InsufficientBalance);
	});
}

#[test]
fn try_state_catches_escrow_that_does_not_match() {
	new_test_ext().execute_with(|| {
		let a = inference_node(SELLER_A, (0, 2));
		assert_ok!(Market::open_agreement(signed(CLIENT), a, inference_work(), 3, terms(5, 10, 0)));
		assert_ok!(Market::do_try_state());
		Agreements::<Test>::mutate(0, |a| a.as_mut().unwrap().escrow = 14);
		assert!(Market::do_try_state().is_err());
		// Removed without releasing the hold.
		Agreements::<Test>::remove(0);
		assert_ok!(Market::do_try_state());
		assert_ok!(Market::open_agreement(signed(CLIENT), a, inference_work(), 3, terms(5, 10, 0)));
		assert!(Market::do_try_state().is_err(), "the hold of the removed agreement is left");
	});
}

/// Lists nodes with `asks` (in order) in a fresh fixed-fee market and has [`CLIENT`] buy two units
/// at no more than `max`; returns the position of the winner and the price, if there was a sale.
fn sale_through_the_pallet(asks: &[Balance], max: Balance) -> Option<(usize, Balance)> {
	let mut outcome = None;
	test(|| {
		let market = open(ListingPolicy::FixedFee { fee: 1 });
		// Sellers of their own (at most MAX_LISTINGS_PER_OWNER listings per owner).
		let sellers = [SELLER_A, SELLER_B, SELLER_C, PAUPER + 1, PAUPER + 2, PAUPER + 3];
		let nodes: Vec<NodeId> = asks
			.iter()
			.enumerate()
			.map(|(i, &ask)| {
				let seller = sellers[i % sellers.len()];
				if free(seller) < 1_000 {
					assert_ok!(<Balances as Mutate<_>>::transfer(
						&OWNER,
						&seller,
						1_000,
						frame_support::traits::tokens::Preservation::Preserve
					));
				}
				let node = inference_node(seller, (0, 2));
				assert_ok!(Market::list(signed(seller), market, node, ask, MAX_FEE));
				node
			})
			.collect();
		let client_before = free(CLIENT);
		if Market::buy(signed(CLIENT), market, max, terms(2, 10, 0)).is_ok() {
			let agreement = Agreements::<Test>::get(0).unwrap();
			let winner = nodes.iter().position(|n| *n == agreement.provider).unwrap();
			// The escrow is exactly what the buyer's free balance lost.
			assert_eq!(client_before - free(CLIENT), agreement.escrow);
			outcome = Some((winner, agreement.price_per_unit));
		}
	});
	outcome
}

proptest::proptest! {
	#![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

	/// Truthfulness through the pallet itself: on random markets, a seller who asks anything but
	/// its true cost never makes more profit than asking its cost, and a winner is never paid
	/// less than its ask (nor more than the buyer's maximum).
	#[test]
	fn pallet_sales_are_truthful(
		costs in proptest::collection::vec(1u128..20, 1..=4),
		seller in proptest::prelude::any::<proptest::sample::Index>(),
		lie in 1u128..25,
		max in 1u128..25,
	) {
		let seller = seller.index(costs.len());
		let cost = costs[seller];
		let profit = |asks: &[Balance]| -> i128 {
			match sale_through_the_pallet(asks, max) {
				Some((winner, price)) if winner == seller => price as i128 - cost as i128,
				_ => 0,
			}
		};
		if let Some((winner, price)) = sale_through_the_pallet(&costs, max) {
			proptest::prop_assert!(price >= costs[winner] && price <= max);
			proptest::prop_assert_eq!(
				Some((winner, price)),
				auction::settle_second_price(&costs, max).ok().map(|s| (s.winner, s.price_per_unit))
			);
		}
		let mut lied = costs.clone();
		lied[seller] = lie;
		proptest::prop_assert!(profit(&costs) >= profit(&lied));
	}
}

/// Issue 12, item 5: a buyer listing a node of its own just above the lowest ask used to set
/// the second price, so the winner was paid the buyer's made-up ask instead of the next honest
/// one; the market's owner could likewise price its own sales.
#[test]
fn the_buyers_and_the_owners_listings_do_not_price_a_sale() {
	test(|| {
		let (market, [a, _, _]) = market_5_7_9();
		// The buyer lists at 6: the second-lowest ask if it counted.
		let own = inference_node(CLIENT, (0, 2));
		assert_ok!(Market::list(signed(CLIENT), market, own, 6, MAX_FEE));
		let agreement = NextAgreementId::<Test>::get();
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(1, 10, 0)));
		let sold = Agreements::<Test>::get(agreement).unwrap();
		assert_eq!((sold.provider, sold.price_per_unit), (a, 7), "paid the next honest ask");
		// The buyer's listing is still there for other buyers.
		assert!(Listings::<Test>::get(market).iter().any(|l| l.node == own));

		// The owner's listing neither wins nor prices the owner's own market.
		let owners = inference_node(OWNER, (0, 2));
		assert_ok!(Market::list(signed(OWNER), market, owners, 1, MAX_FEE));
		let next = NextAgreementId::<Test>::get();
		assert_ok!(Market::buy(signed(SELLER_A), market, 10, terms(1, 10, 0)));
		let sold = Agreements::<Test>::get(next).unwrap();
		// Eligible for SELLER_A: B at 7, C at 9, the client's node at 6 (A's own node is sold).
		assert_eq!(sold.price_per_unit, 7);
		assert_ne!(sold.provider, owners);
	});
}

// ---- reads for the runtime API

#[test]
fn listings_read_lowest_ask_first_with_ties_in_listing_order() {
	test(|| {
		let market = open(ListingPolicy::FixedFee { fee: FEE });
		let nodes = [
			inference_node(SELLER_A, (0, 2)),
			inference_node(SELLER_B, (0, 2)),
			inference_node(SELLER_C, (0, 2)),
			inference_node(SELLER_A, (0, 2)),
		];
		for ((seller, node), ask) in
			[SELLER_A, SELLER_B, SELLER_C, SELLER_A].into_iter().zip(nodes).zip([9, 5, 7, 5])
		{
			assert_ok!(Market::list(signed(seller), market, node, ask, MAX_FEE));
		}
		let read: Vec<(NodeId, Balance)> =
			Market::listings_by_price(market).into_iter().map(|l| (l.node, l.ask)).collect();
		assert_eq!(read, vec![(nodes[1], 5), (nodes[3], 5), (nodes[2], 7), (nodes[0], 9)]);
		// The sale agrees: the first of the two fives wins.
		assert_ok!(Market::buy(signed(CLIENT), market, 10, terms(1, 10, 0)));
		assert_eq!(Agreements::<Test>::get(0).unwrap().provider, nodes[1]);
		assert!(Market::listings_by_price(99).is_empty());
	});
}

#[test]
fn a_quote_is_what_the_buy_then_does() {
	test(|| {
		// Both policies: the fixed fee (second price) and the max-min payoff to the owner.
		let market = open(ListingPolicy::FixedFee { fee: FEE });
		for policy in [ListingPolicy::FixedFee { fee: FEE }, ListingPolicy::VariableMaxMin] {
			assert_ok!(Market::set_listing_policy(signed(OWNER), market, policy));
			let nodes = [inference_node(SELLER_A, (0, 4)), inference_node(SELLER_B, (0, 4))];
			for (seller, (node, ask)) in
				[SELLER_A, SELLER_B].into_iter().zip(nodes.into_iter().zip([6, 8]))
			{
				assert_ok!(Market::list(signed(seller), market, node, ask, MAX_FEE));
			}
			let t = terms(3, 10, 5);
			// The max-min payoff here is 100_000 * (8 - 6) / 8^2 = 3_125: the maximum covers it.
			let quote = Market::quote_buy(&CLIENT, market, 2_000, &t).unwrap();
			let before = free(CLIENT);
			let agreement = NextAgreementId::<Test>::get();
			assert_ok!(Market::buy(signed(CLIENT), market, 2_000, t));
			let a = Agreements::<Test>::get(agreement).unwrap();
			assert_eq!((quote.node, quote.ask), (nodes[0], 6));
			assert_eq!(quote.price_per_unit, a.price_per_unit);
			assert_eq!(quote.escrow, a.escrow);
			assert_eq!(quote.total, quote.escrow + quote.owner_fee);
			assert_eq!(before - free(CLIENT), quote.total, "the buy took what was quoted");
			assert!(market_events().contains(&Event::Sold {
				market,
				agreement,
				node: nodes[0],
				ask: 6,
				price_per_unit: quote.price_per_unit,
				owner_fee: quote.owner_fee,
			}));
			assert_ok!(Market::cancel(signed(CLIENT), agreement));
			// The policy changes only on an empty market.
			assert_ok!(Market::delist(signed(SELLER_B), market, nodes[1]));
		}
	});
}

#[test]
fn a_quote_fails_as_the_buy_would_and_changes_nothing() {
	test(|| {
		let (market, _) = market_5_7_9();
		let cases: [(AccountId, MarketId, Balance, ServiceTerms<Balance, u64>); 6] = [
			(CLIENT, 9, 10, terms(1, 10, 0)),
			(CLIENT, market, 0, terms(1, 10, 0)),
			(CLIENT, market, 4, terms(1, 10, 0)),
			(CLIENT, market, 10, terms(0, 10, 0)),
			(PAUPER, market, 10, terms(1, 10, 0)),
			(CLIENT, market, Balance::MAX, terms(2, 10, 0)),
		];
		for (buyer, m, max, t) in cases {
			let quoted = Market::quote_buy(&buyer, m, max, &t).unwrap_err();
			assert_noop!(Market::buy(signed(buyer), m, max, t), quoted);
		}
		// A quote never writes (`assert_noop!` above covers the buy only).
		let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
		let _ = Market::quote_buy(&CLIENT, market, 10, &terms(1, 10, 0)).unwrap();
		assert_eq!(root, sp_io::storage::root(sp_runtime::StateVersion::V1));
	});
}

#[test]
fn agreements_are_read_by_client_provider_and_owner_in_pages() {
	test(|| {
		let (_, [a, b, _]) = market_5_7_9();
		// Seven agreements: four for CLIENT (market sales and direct), three for OWNER.
		let mut by_client = Vec::new();
		for i in 0..7u32 {
			let client = if i % 2 == 0 { CLIENT } else { OWNER };
			let id = NextAgreementId::<Test>::get();
			let node = if i % 3 == 0 { a } else { b };
			assert_ok!(Market::open_agreement(
				signed(client),
				node,
				inference_work(),
				4,
				terms(1, 10, 0)
			));
			if client == CLIENT {
				by_client.push(id);
			}
		}
		let read = |filter: AgreementFilter<AccountId>, limit: u32| {
			let (mut ids, mut after, mut pages) = (Vec::new(), None, 0);
			loop {
				let page = Market::agreements_where(&filter, after, limit);
				pages += 1;
				ids.extend(page.items.iter().map(|(id, _)| *id));
				match page.next {
					Some(n) => after = Some(n),
					None => break,
				}
			}
			ids.sort();
			(ids, pages)
		};
		let (ids, pages) = read(AgreementFilter::Client(CLIENT), 2);
		assert_eq!(ids, by_client);
		assert!(pages >= 2, "pages of two");
		let (ids, _) = read(AgreementFilter::Provider(a), 100);
		assert_eq!(ids, vec![0, 3, 6]);
		let (ids, _) = read(AgreementFilter::ProviderOwner(SELLER_B), 1);
		assert_eq!(ids, vec![1, 2, 4, 5]);
		assert_eq!(read(AgreementFilter::Client(PAUPER), 100).0, Vec::<AgreementId>::new());
	});
}
