//! Benchmarks of every call's worst case.
//!
//! The costly calls scan a market's listings: `list` checks the new node is not listed yet,
//! `delist` finds and removes one, and `buy` asks the registry whether every listed node is still
//! serving before it settles. They are measured over `l` listings up to [`Config::MaxListings`],
//! each of its own node and owner. `buy` runs in the variable-policy mode, which also pays the
//! market owner. The settling calls take the slashing paths (`claim_refund` of an accepted
//! agreement, `reject_work` of a completed one); `claim_payment` pays a lapsed dispute, which
//! also releases the client's bond.

// Benchmark setup may fail loudly: it only runs with `runtime-benchmarks`, never on chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use super::*;
use crate::Pallet as Market;
use alloc::vec::Vec;
use appchain_primitives::NodeId;
use frame_benchmarking::v2::*;
use frame_support::traits::{
	fungible::{Inspect, Mutate},
	EnsureOrigin, Get,
};
use frame_system::RawOrigin;

fn ed<T: Config>() -> BalanceOf<T> {
	T::Currency::minimum_balance().max(1u32.into())
}

/// The smallest ask of the benchmarks: `sqrt(S)`, so that the max-min payoff, at most
/// `S / (4 MC_1)`, stays below one ask.
fn base_ask<T: Config>() -> BalanceOf<T> {
	use sp_runtime::traits::IntegerSquareRoot;
	T::VariablePayoffScale::get().integer_sqrt().max(ed::<T>())
}

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, 0);
	let amount = T::MarketDeposit::get() * 4u32.into()
		+ T::DisputeBond::get()
		+ ed::<T>() * 1_000_000u32.into()
		+ (base_ask::<T>() + T::VariableSellerMargin::get()) * 100u32.into();
	let _ = T::Currency::mint_into(&who, amount);
	who
}

fn terms<T: Config>() -> ServiceTermsOf<T> {
	ServiceTerms {
		units: 10,
		max_latency_ms: 1_000,
		duration: T::MaxAgreementDuration::get(),
		penalty: ed::<T>() * 10u32.into(),
	}
}

/// An open market owned by a funded account, with `policy`.
fn market<T: Config>(policy: ListingPolicy<BalanceOf<T>>) -> (MarketId, Commodity) {
	let commodity = T::BenchmarkHelper::commodity();
	let owner = funded::<T>("owner", 0);
	let market = Market::<T>::do_open_market(owner, commodity, policy).unwrap();
	(market, commodity)
}

/// `count` listings, each of a new node of a new owner, with asks rising from [`base_ask`].
fn listed<T: Config>(market: MarketId, commodity: &Commodity, count: u32) -> Vec<NodeId> {
	(0..count)
		.map(|i| {
			let seller = funded::<T>("seller", i);
			let node = T::BenchmarkHelper::serving_node(&seller, commodity);
			Market::<T>::do_list(
				&seller,
				market,
				node,
				base_ask::<T>() * (i + 1).into(),
				ed::<T>(),
			)
			.unwrap();
			node
		})
		.collect()
}

/// The work a node from [`BenchmarkHelper::serving_node`] serves.
fn work_for(commodity: &Commodity) -> WorkKind {
	match *commodity {
		Commodity::LayerShard { model, shard } => WorkKind::LayerInference {
			model,
			layers: appchain_primitives::LayerRange::new(shard, shard + 1),
		},
		Commodity::HashRateClass(_) => WorkKind::HashSubjob,
	}
}

/// An agreement opened directly by a funded client with a fresh node, and the node's owner.
fn agreement<T: Config>() -> (AgreementId, T::AccountId, T::AccountId) {
	let commodity = T::BenchmarkHelper::commodity();
	let provider_owner = funded::<T>("provider", 0);
	let node = T::BenchmarkHelper::serving_node(&provider_owner, &commodity);
	let client = funded::<T>("client", 0);
	let work = work_for(&commodity);
	let id = Market::<T>::do_open_direct(
		client.clone(),
		node,
		work,
		ed::<T>() * 7u32.into(),
		terms::<T>(),
	)
	.unwrap();
	(id, client, provider_owner)
}

fn status<T: Config>(id: AgreementId) -> AgreementStatus<BlockNumberOf<T>> {
	Agreements::<T>::get(id).unwrap().status
}

fn advance<T: Config>(blocks: BlockNumberOf<T>) {
	let now = frame_system::Pallet::<T>::block_number();
	frame_system::Pallet::<T>::set_block_number(now + blocks);
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn open_market() {
		let commodity = T::BenchmarkHelper::commodity();
		let owner = funded::<T>("owner", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), commodity, ListingPolicy::FixedFee { fee: ed::<T>() });

		assert!(MarketByCommodity::<T>::contains_key(commodity));
	}

	#[benchmark]
	fn set_listing_policy() {
		let (market, _) = market::<T>(ListingPolicy::FixedFee { fee: ed::<T>() });
		let owner = Markets::<T>::get(market).unwrap().owner;

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), market, ListingPolicy::VariableMaxMin);

		assert_eq!(Markets::<T>::get(market).unwrap().policy, ListingPolicy::VariableMaxMin);
	}

	#[benchmark]
	fn close_market() {
		let (market, _) = market::<T>(ListingPolicy::FixedFee { fee: ed::<T>() });
		let owner = Markets::<T>::get(market).unwrap().owner;

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), market);

		assert!(!Markets::<T>::contains_key(market));
	}

	#[benchmark]
	fn list(l: Linear<0, { T::MaxListings::get() - 1 }>) {
		let (market, commodity) = market::<T>(ListingPolicy::FixedFee { fee: ed::<T>() });
		listed::<T>(market, &commodity, l);
		let seller = funded::<T>("last-seller", 0);
		let node = T::BenchmarkHelper::serving_node(&seller, &commodity);

		#[extrinsic_call]
		_(RawOrigin::Signed(seller), market, node, ed::<T>(), ed::<T>());

		assert_eq!(Listings::<T>::get(market).len() as u32, l + 1);
	}

	#[benchmark]
	fn delist(l: Linear<1, { T::MaxListings::get() }>) {
		let (market, commodity) = market::<T>(ListingPolicy::FixedFee { fee: ed::<T>() });
		let nodes = listed::<T>(market, &commodity, l);
		// The last listing: found at the end of the scan.
		let node = *nodes.last().unwrap();
		let seller: T::AccountId = account("seller", l - 1, 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(seller), market, node);

		assert_eq!(Listings::<T>::get(market).len() as u32, l - 1);
	}

	#[benchmark]
	fn buy(l: Linear<1, { T::MaxListings::get() }>) {
		let (market, commodity) = market::<T>(ListingPolicy::VariableMaxMin);
		listed::<T>(market, &commodity, l);
		let client = funded::<T>("client", 0);
		let max = base_ask::<T>() * 2u32.into() + T::VariableSellerMargin::get();

		#[extrinsic_call]
		_(RawOrigin::Signed(client), market, max, terms::<T>());

		assert_eq!(Listings::<T>::get(market).len() as u32, l - 1);
		assert_eq!(NextAgreementId::<T>::get(), 1);
	}

	#[benchmark]
	fn open_agreement() {
		let commodity = T::BenchmarkHelper::commodity();
		let provider_owner = funded::<T>("provider", 0);
		let node = T::BenchmarkHelper::serving_node(&provider_owner, &commodity);
		let client = funded::<T>("client", 0);
		let work = work_for(&commodity);

		#[extrinsic_call]
		_(RawOrigin::Signed(client), node, work, ed::<T>(), terms::<T>());

		assert_eq!(status::<T>(0), AgreementStatus::Proposed);
	}

	#[benchmark]
	fn accept() {
		let (id, _, provider_owner) = agreement::<T>();

		#[extrinsic_call]
		_(RawOrigin::Signed(provider_owner), id);

		assert_eq!(status::<T>(id), AgreementStatus::Accepted);
	}

	#[benchmark]
	fn cancel() {
		let (id, client, _) = agreement::<T>();

		#[extrinsic_call]
		_(RawOrigin::Signed(client), id);

		assert!(!Agreements::<T>::contains_key(id));
	}

	#[benchmark]
	fn complete() {
		let (id, _, provider_owner) = agreement::<T>();
		Market::<T>::do_accept(&provider_owner, id).unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(provider_owner), id);

		assert!(matches!(status::<T>(id), AgreementStatus::Completed { .. }));
	}

	/// The heavier path: a dispute that lapsed, so the bond is released as well.
	#[benchmark]
	fn claim_payment() {
		let (id, client, provider_owner) = agreement::<T>();
		Market::<T>::do_accept(&provider_owner, id).unwrap();
		Market::<T>::do_complete(&provider_owner, id).unwrap();
		Market::<T>::do_dispute(&client, id).unwrap();
		advance::<T>(T::DisputeTimeout::get() + 1u32.into());

		#[extrinsic_call]
		_(RawOrigin::Signed(client), id);

		assert!(!Agreements::<T>::contains_key(id));
		assert!(!Disputes::<T>::contains_key(id));
	}

	/// An idle market with every place listed: each listing is dropped with an event.
	#[benchmark]
	fn expire_market(l: Linear<0, { T::MaxListings::get() }>) {
		let (market, commodity) = market::<T>(ListingPolicy::VariableMaxMin);
		listed::<T>(market, &commodity, l);
		advance::<T>(T::MarketIdleTimeout::get() + 1u32.into());
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), market);

		assert!(!Markets::<T>::contains_key(market));
	}

	#[benchmark]
	fn dispute() {
		let (id, client, provider_owner) = agreement::<T>();
		Market::<T>::do_accept(&provider_owner, id).unwrap();
		Market::<T>::do_complete(&provider_owner, id).unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(client), id);

		assert_eq!(status::<T>(id), AgreementStatus::Disputed);
	}

	/// Deciding for the provider: the bond changes hands and the escrow is paid.
	#[benchmark]
	fn resolve_dispute() -> Result<(), BenchmarkError> {
		let (id, client, provider_owner) = agreement::<T>();
		Market::<T>::do_accept(&provider_owner, id).unwrap();
		Market::<T>::do_complete(&provider_owner, id).unwrap();
		Market::<T>::do_dispute(&client, id).unwrap();
		let origin =
			T::VerifierOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id, false);

		assert!(!Agreements::<T>::contains_key(id));
		Ok(())
	}

	#[benchmark]
	fn claim_refund() {
		let (id, client, provider_owner) = agreement::<T>();
		Market::<T>::do_accept(&provider_owner, id).unwrap();
		advance::<T>(T::MaxAgreementDuration::get() + 1u32.into());

		#[extrinsic_call]
		_(RawOrigin::Signed(client), id);

		assert!(!Agreements::<T>::contains_key(id));
	}

	#[benchmark]
	fn reject_work() -> Result<(), BenchmarkError> {
		let (id, _, provider_owner) = agreement::<T>();
		Market::<T>::do_accept(&provider_owner, id).unwrap();
		Market::<T>::do_complete(&provider_owner, id).unwrap();
		let origin =
			T::VerifierOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id);

		assert!(!Agreements::<T>::contains_key(id));
		Ok(())
	}

	impl_benchmark_test_suite!(Market, crate::mock::new_test_ext(), crate::mock::Test);
}
