//! Who can enact a root call, what an enacted call can do, and how its result is reported.

use crate::{mock::*, Event};
use frame_support::{
	assert_noop, assert_ok,
	dispatch::{GetDispatchInfo, Pays},
	weights::Weight,
};
use sp_runtime::{traits::Hash, DispatchError};

/// A root-only call with a visible effect: writes `value` under `key`.
fn set_storage(key: &[u8], value: &[u8]) -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::set_storage {
		items: vec![(key.to_vec(), value.to_vec())],
	})
}

fn enact(call: RuntimeCall) -> RuntimeCall {
	RuntimeCall::RootMotions(crate::Call::enact { call: Box::new(call) })
}

fn committee_events() -> Vec<pallet_collective::Event<Test, pallet_collective::Instance1>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Committee(e) => Some(e),
			_ => None,
		})
		.collect()
}

fn members_origin(ayes: u32, seats: u32) -> RuntimeOrigin {
	pallet_collective::RawOrigin::<AccountId, pallet_collective::Instance1>::Members(ayes, seats)
		.into()
}

/// Proposes `call` from the first member with `threshold` and has the first `ayes` members (the
/// proposer's vote is not implied) vote for it; closes it when it did not execute at once.
fn motion(call: RuntimeCall, threshold: u32, ayes: usize) {
	let hash = <Test as frame_system::Config>::Hashing::hash_of(&call);
	let len = codec::Encode::encoded_size(&call) as u32;
	let weight = call.get_dispatch_info().call_weight;
	assert_ok!(Committee::propose(
		RuntimeOrigin::signed(MEMBERS[0]),
		threshold,
		Box::new(call),
		len
	));
	if threshold > 1 {
		for member in MEMBERS.iter().take(ayes) {
			assert_ok!(Committee::vote(RuntimeOrigin::signed(*member), hash, 0, true));
		}
		System::set_block_number(1 + MOTION_DURATION + 1);
		assert_ok!(Committee::close(RuntimeOrigin::signed(STRANGER), hash, 0, weight, len));
	}
}

#[test]
fn two_thirds_of_the_committee_enact_a_root_call() {
	new_test_ext().execute_with(|| {
		let call = set_storage(b"upgrade", b"enacted");
		let call_hash = <Test as frame_system::Config>::Hashing::hash_of(&call);
		motion(enact(call), 2, 2);

		assert_eq!(sp_io::storage::get(b"upgrade").as_deref(), Some(&b"enacted"[..]));
		System::assert_has_event(Event::Enacted { call_hash, result: Ok(()) }.into());
		assert!(committee_events()
			.iter()
			.any(|e| matches!(e, pallet_collective::Event::Executed { result: Ok(()), .. })));
	});
}

#[test]
fn one_member_or_a_signed_account_cannot_enact() {
	new_test_ext().execute_with(|| {
		// A motion carried by one of three members executes at once, with too small a majority.
		motion(enact(set_storage(b"k", b"v")), 1, 1);
		assert!(committee_events().iter().any(|e| matches!(
			e,
			pallet_collective::Event::Executed { result: Err(DispatchError::BadOrigin), .. }
		)));
		assert_eq!(sp_io::storage::get(b"k"), None);

		// A motion with a threshold of two that gathers one aye is disapproved at close.
		let call = enact(set_storage(b"k", b"v"));
		let hash = <Test as frame_system::Config>::Hashing::hash_of(&call);
		let len = codec::Encode::encoded_size(&call) as u32;
		assert_ok!(Committee::propose(RuntimeOrigin::signed(MEMBERS[0]), 2, Box::new(call), len));
		assert_ok!(Committee::vote(RuntimeOrigin::signed(MEMBERS[0]), hash, 0, true));
		System::set_block_number(1 + MOTION_DURATION + 1);
		assert_ok!(Committee::close(RuntimeOrigin::signed(STRANGER), hash, 0, Weight::MAX, len));
		assert!(committee_events()
			.iter()
			.any(|e| matches!(e, pallet_collective::Event::Disapproved { .. })));
		assert_eq!(sp_io::storage::get(b"k"), None);

		// No signed account, member or not, and no smaller share of the committee.
		for origin in [
			RuntimeOrigin::signed(MEMBERS[0]),
			RuntimeOrigin::signed(STRANGER),
			members_origin(1, 3),
			members_origin(3, 5),
		] {
			assert_noop!(
				RootMotions::enact(origin, Box::new(set_storage(b"k", b"v"))),
				DispatchError::BadOrigin
			);
		}
	});
}

#[test]
fn root_itself_is_not_an_enact_origin() {
	new_test_ext().execute_with(|| {
		// The origin is the committee's alone: a leftover sudo key could not use this pallet.
		assert_noop!(
			RootMotions::enact(RuntimeOrigin::root(), Box::new(set_storage(b"k", b"v"))),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn a_failing_call_is_reported_and_costs_no_fee() {
	new_test_ext().execute_with(|| {
		// `remark_with_event` needs a signed origin, so as root it fails.
		let call = RuntimeCall::System(frame_system::Call::remark_with_event { remark: vec![1] });
		let call_hash = <Test as frame_system::Config>::Hashing::hash_of(&call);
		let post = RootMotions::enact(members_origin(2, 3), Box::new(call)).unwrap();

		assert_eq!(post.pays_fee, Pays::No);
		assert!(post.actual_weight.is_some());
		System::assert_last_event(
			Event::Enacted { call_hash, result: Err(DispatchError::BadOrigin) }.into(),
		);
	});
}

#[test]
fn the_declared_weight_covers_the_enacted_call() {
	new_test_ext().execute_with(|| {
		let inner = set_storage(b"k", b"v");
		let inner_weight = inner.get_dispatch_info().call_weight;
		let outer = enact(inner).get_dispatch_info();
		assert!(outer.call_weight.all_gte(inner_weight));
		let post = RootMotions::enact(members_origin(3, 3), Box::new(set_storage(b"k", b"v")))
			.unwrap();
		assert!(outer.call_weight.all_gte(post.actual_weight.unwrap()));
	});
}
