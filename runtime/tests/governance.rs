//! Governance without a sudo key (issue 12, item 7): on the `staging` preset no account is root;
//! two thirds of the technical committee enact root calls, a runtime upgrade among them, and
//! nothing less does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use appchain_runtime::{
	genesis_config_presets::STAGING_PRESET, configs::{TechnicalCollective, TechnicalMotionDuration}, Runtime, RuntimeCall,
	RuntimeEvent, RuntimeOrigin, Sudo, System, TechnicalCommittee,
};
use codec::Encode;
use frame_support::{assert_noop, assert_ok, dispatch::GetDispatchInfo};
use sp_core::H256;
use sp_keyring::Sr25519Keyring::{self, Alice, Bob, Charlie, Dave};
use sp_runtime::traits::{BlakeTwo256, Hash};

mod common;

fn signed(who: Sr25519Keyring) -> RuntimeOrigin {
	RuntimeOrigin::signed(who.to_account_id())
}

/// `RootMotions::enact(System::authorize_upgrade(code_hash))`: the first half of a runtime
/// upgrade; anyone then applies code with that hash.
fn authorize_upgrade(code_hash: H256) -> RuntimeCall {
	let inner = RuntimeCall::System(frame_system::Call::authorize_upgrade { code_hash });
	RuntimeCall::RootMotions(pallet_root_motions::Call::enact { call: Box::new(inner) })
}

/// Alice proposes `call` with threshold `threshold`, `ayes` vote aye, and Dave (not a member)
/// closes the motion once its voting time is over.
fn motion(call: RuntimeCall, threshold: u32, ayes: &[Sr25519Keyring]) {
	let hash = BlakeTwo256::hash_of(&call);
	let len = call.encoded_size() as u32;
	let weight = call.get_dispatch_info().call_weight;
	let index = pallet_collective::ProposalCount::<Runtime, TechnicalCollective>::get();
	assert_ok!(TechnicalCommittee::propose(signed(Alice), threshold, Box::new(call), len));
	for member in ayes {
		assert_ok!(TechnicalCommittee::vote(signed(*member), hash, index, true));
	}
	let end = System::block_number() + TechnicalMotionDuration::get() + 1;
	System::set_block_number(end);
	assert_ok!(TechnicalCommittee::close(signed(Dave), hash, index, weight, len));
}

/// The code hashes whose upgrade was authorized (`System::UpgradeAuthorized` events).
fn authorized() -> Vec<H256> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::System(frame_system::Event::UpgradeAuthorized { code_hash, .. }) => {
				Some(code_hash)
			},
			_ => None,
		})
		.collect()
}

fn staging() -> sp_io::TestExternalities {
	let mut ext = common::build(STAGING_PRESET);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

#[test]
fn staging_has_no_sudo_key_and_a_technical_committee() {
	staging().execute_with(|| {
		assert_eq!(pallet_sudo::Key::<Runtime>::get(), None);
		let call = Box::new(RuntimeCall::System(frame_system::Call::remark { remark: vec![] }));
		assert_noop!(Sudo::sudo(signed(Alice), call), pallet_sudo::Error::<Runtime>::RequireSudo);
		let members = pallet_collective::Members::<Runtime, TechnicalCollective>::get();
		let mut expected = [Alice, Bob, Charlie].map(|k| k.to_account_id()).to_vec();
		expected.sort();
		assert_eq!(members, expected);
		assert_eq!(pallet_session::Validators::<Runtime>::get().len(), 4);
	});
}

#[test]
fn two_thirds_of_the_committee_authorize_a_runtime_upgrade() {
	staging().execute_with(|| {
		let code_hash = H256::repeat_byte(7);
		motion(authorize_upgrade(code_hash), 2, &[Alice, Bob]);

		assert_eq!(authorized(), vec![code_hash]);
		assert!(System::events().iter().any(|r| matches!(
			&r.event,
			RuntimeEvent::RootMotions(pallet_root_motions::Event::Enacted { result: Ok(()), .. })
		)));
	});
}

#[test]
fn one_member_cannot_reach_root() {
	staging().execute_with(|| {
		// Threshold 1: the motion executes at once with one aye of three, too few to enact.
		let call = authorize_upgrade(H256::repeat_byte(7));
		let len = call.encoded_size() as u32;
		assert_ok!(TechnicalCommittee::propose(signed(Alice), 1, Box::new(call), len));
		assert!(System::events().iter().any(|r| matches!(
			&r.event,
			RuntimeEvent::TechnicalCommittee(pallet_collective::Event::Executed {
				result: Err(sp_runtime::DispatchError::BadOrigin),
				..
			})
		)));
		// Threshold 2 with one aye: disapproved.
		motion(authorize_upgrade(H256::repeat_byte(8)), 2, &[Alice]);
		assert!(authorized().is_empty());
		// And no signed account enacts directly.
		let inner = RuntimeCall::System(frame_system::Call::authorize_upgrade {
			code_hash: H256::repeat_byte(9),
		});
		assert_noop!(
			appchain_runtime::RootMotions::enact(signed(Alice), Box::new(inner)),
			sp_runtime::DispatchError::BadOrigin
		);
	});
}
