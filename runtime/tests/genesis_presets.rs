//! The genesis presets build a valid genesis state with the validators they promise.

use appchain_runtime::{
	genesis_config_presets::{get_preset, MAX_NOMINATORS, MAX_VALIDATOR_CANDIDATES, VALIDATOR_BOND},
	Runtime, VoterList,
};
use sp_genesis_builder::{PresetId, DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET};
use sp_keyring::Sr25519Keyring;

mod common;
use common::build;

#[test]
fn development_has_alice_as_sole_validator() {
	build(DEV_RUNTIME_PRESET).execute_with(|| {
		let validators = pallet_session::Validators::<Runtime>::get();
		assert_eq!(validators, vec![Sr25519Keyring::Alice.to_account_id()]);
		assert_eq!(pallet_babe::Authorities::<Runtime>::get().len(), 1);
	});
}

#[test]
fn local_testnet_has_four_bonded_validators() {
	build(LOCAL_TESTNET_RUNTIME_PRESET).execute_with(|| {
		let validators = pallet_session::Validators::<Runtime>::get();
		assert_eq!(validators.len(), 4);
		for v in &validators {
			let ledger = pallet_staking::Ledger::<Runtime>::get(v).expect("bonded");
			assert_eq!(ledger.active, VALIDATOR_BOND);
		}
		assert_eq!(pallet_grandpa::Pallet::<Runtime>::grandpa_authorities().len(), 4);
		// The voters are in the bags-list, sorted by stake, and the counts are capped.
		use frame_election_provider_support::SortedListProvider;
		assert_eq!(<VoterList as SortedListProvider<_>>::count(), 4);
		for v in &validators {
			assert!(<VoterList as SortedListProvider<_>>::contains(v));
		}
		assert_eq!(pallet_staking::MaxNominatorsCount::<Runtime>::get(), Some(MAX_NOMINATORS));
		assert_eq!(
			pallet_staking::MaxValidatorsCount::<Runtime>::get(),
			Some(MAX_VALIDATOR_CANDIDATES)
		);
	});
}

#[test]
fn unknown_preset_is_none() {
	assert!(get_preset(&PresetId::from("no-such-preset")).is_none());
}
