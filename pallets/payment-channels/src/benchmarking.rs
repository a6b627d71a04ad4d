//! Benchmarks of every call's worst case.
//!
//! No call loops: the worst cases are the paths that move the most funds and check a
//! signature. `claim` runs during a challenge period (it reads the block number) and pays;
//! `close` claims a last voucher before closing; `cooperative_close` checks the payee's
//! consent and pays; `finalize` releases both holds.

// Benchmark setup may fail loudly: it only runs with `runtime-benchmarks`, never on chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use super::*;

use appchain_primitives::NodeId;
use frame_benchmarking::v2::*;
use frame_support::traits::{fungible::Mutate, Get};
use frame_system::RawOrigin;
use sp_runtime::traits::{One, UniqueSaturatedInto};

fn deposit<T: Config>() -> BalanceOf<T> {
	T::MinDeposit::get() * 100u32.into()
}

/// A payer that can sign, funded for a channel and a top-up.
fn payer<T: Config>() -> T::AccountId {
	let who = T::BenchmarkHelper::signer(0);
	let _ = T::Currency::mint_into(
		&who,
		deposit::<T>() * 10u32.into() + T::ChannelStorageDeposit::get() * 10u32.into(),
	);
	who
}

/// A serving node whose owner can sign.
fn node<T: Config>() -> (NodeId, T::AccountId) {
	let owner = T::BenchmarkHelper::signer(1);
	(T::BenchmarkHelper::serving_node(&owner), owner)
}

/// An open channel from a signing payer to a signing node owner.
fn channel<T: Config>() -> (ChannelId, T::AccountId, T::AccountId) {
	let payer = payer::<T>();
	let (node, payee) = node::<T>();
	let id = Pallet::<T>::do_open(payer.clone(), node, deposit::<T>()).unwrap();
	(id, payer, payee)
}

fn voucher<T: Config>(
	id: ChannelId,
	payer: &T::AccountId,
	cumulative: BalanceOf<T>,
) -> SignedVoucherOf<T> {
	let payload = Voucher { channel: id, cumulative: cumulative.unique_saturated_into() }
		.signing_payload(&Pallet::<T>::genesis_hash());
	SignedVoucher { cumulative, signature: T::BenchmarkHelper::sign(payer, &payload) }
}

#[benchmarks]
mod benches {
	use super::*;

	#[benchmark]
	fn open() {
		let payer = payer::<T>();
		let (node, _) = node::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(payer.clone()), node, deposit::<T>());
		assert_eq!(OpenChannels::<T>::get(&payer), 1);
	}

	#[benchmark]
	fn top_up() {
		let (id, payer, _) = channel::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(payer), id, deposit::<T>());
		assert_eq!(Channels::<T>::get(id).unwrap().deposit, deposit::<T>() * 2u32.into());
	}

	#[benchmark]
	fn claim() {
		let (id, payer, payee) = channel::<T>();
		Pallet::<T>::do_request_close(&payer, id).unwrap();
		let v = voucher::<T>(id, &payer, T::MinDeposit::get());
		#[extrinsic_call]
		_(RawOrigin::Signed(payee), id, v);
		assert_eq!(Channels::<T>::get(id).unwrap().claimed, T::MinDeposit::get());
	}

	#[benchmark]
	fn request_close() {
		let (id, payer, _) = channel::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(payer), id);
		assert!(Channels::<T>::get(id).unwrap().closes_at.is_some());
	}

	#[benchmark]
	fn finalize() {
		let (id, payer, _) = channel::<T>();
		Pallet::<T>::do_request_close(&payer, id).unwrap();
		let at = frame_system::Pallet::<T>::block_number() + T::ChallengePeriod::get() + One::one();
		frame_system::Pallet::<T>::set_block_number(at);
		#[extrinsic_call]
		_(RawOrigin::Signed(payer), id);
		assert!(Channels::<T>::get(id).is_none());
	}

	#[benchmark]
	fn close() {
		let (id, payer, payee) = channel::<T>();
		let v = voucher::<T>(id, &payer, T::MinDeposit::get());
		#[extrinsic_call]
		_(RawOrigin::Signed(payee), id, Some(v));
		assert!(Channels::<T>::get(id).is_none());
	}

	#[benchmark]
	fn cooperative_close() {
		let (id, payer, payee) = channel::<T>();
		let settled = T::MinDeposit::get();
		let payload = CloseConsent { channel: id, settled: settled.unique_saturated_into() }
			.signing_payload(&Pallet::<T>::genesis_hash());
		let signature = T::BenchmarkHelper::sign(&payee, &payload);
		#[extrinsic_call]
		_(RawOrigin::Signed(payer), id, settled, signature);
		assert!(Channels::<T>::get(id).is_none());
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
