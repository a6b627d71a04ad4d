//! The runtime's upgrade path under try-runtime (`scripts/try-runtime.sh`, which builds the
//! runtime with `--features try-runtime`): what `try-runtime on-runtime-upgrade` checks, run
//! natively on each genesis preset's state.
//!
//! For each preset, on its genesis state and on the same state taken back to what an older
//! runtime left (every migration's "from" version, with the data that version had), the test
//! runs `Executive::try_runtime_upgrade` with every check: each migration's `pre_upgrade`, the
//! migration, its `post_upgrade`, a decode of the entire state and every pallet's `try_state`.
//! Then, as try-runtime-cli does, it checks that the migrations' weight fits in a block and
//! that running them a second time changes nothing.
#![cfg(feature = "try-runtime")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use appchain_runtime::{
	genesis_config_presets::STAGING_PRESET, Balance, Executive, PaymentChannels, Runtime,
	RuntimeHoldReason, System,
};
use frame_support::{
	traits::{
		fungible::{Mutate, MutateHold},
		GetStorageVersion, OnRuntimeUpgrade, StorageVersion,
	},
	weights::Weight,
};
use frame_try_runtime::UpgradeCheckSelect;
use pallet_payment_channels::{Channel, HoldReason};
use sp_genesis_builder::{DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET};
use sp_keyring::Sr25519Keyring::{self, Alice, Bob, Charlie, Dave, Eve, Ferdie};

mod common;

const PRESETS: [&str; 3] = [DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET, STAGING_PRESET];

const UNIT: Balance = 1_000_000_000_000;

/// Runs every migration with every check, as `try-runtime on-runtime-upgrade` does; returns
/// the migrations' weight.
fn upgrade() -> Weight {
	let weight = Executive::try_runtime_upgrade(UpgradeCheckSelect::All)
		.unwrap_or_else(|e| panic!("the upgrade's checks fail: {e:?}"));
	let max = <Runtime as frame_system::Config>::BlockWeights::get().max_block;
	assert!(weight.all_lte(max), "the migrations ({weight}) do not fit in a block ({max})");
	weight
}

/// Upgrades twice: the second run must leave the state exactly as the first left it.
fn upgrade_idempotently() -> Weight {
	let weight = upgrade();
	let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
	upgrade();
	assert_eq!(
		sp_io::storage::root(sp_runtime::StateVersion::V1),
		root,
		"running the migrations again changed the state"
	);
	weight
}

/// Payment channels as a spec-108 runtime (storage version 0) left them: open channels with
/// their holds, listed by payer, and no payee index. Returns the channels and their payees.
fn payment_channels_at_version_0() -> Vec<(u64, Sr25519Keyring)> {
	let opened = [(Alice, Bob), (Charlie, Bob), (Alice, Dave), (Eve, Ferdie), (Ferdie, Eve)];
	let storage_deposit =
		<Runtime as pallet_payment_channels::Config>::ChannelStorageDeposit::get();
	let mut channels = Vec::new();
	for (payer, payee) in opened {
		let id = pallet_payment_channels::NextChannelId::<Runtime>::get();
		let deposit = 10 * UNIT + u128::from(id);
		let who = payer.to_account_id();
		pallet_balances::Pallet::<Runtime>::mint_into(&who, deposit + storage_deposit + UNIT)
			.unwrap();
		for (reason, amount) in
			[(HoldReason::ChannelDeposit, deposit), (HoldReason::StorageDeposit, storage_deposit)]
		{
			pallet_balances::Pallet::<Runtime>::hold(
				&RuntimeHoldReason::PaymentChannels(reason),
				&who,
				amount,
			)
			.unwrap();
		}
		pallet_payment_channels::Channels::<Runtime>::insert(
			id,
			Channel {
				payer: who.clone(),
				node: id,
				payee: payee.to_account_id(),
				deposit,
				claimed: 0,
				storage_deposit,
				closes_at: None,
			},
		);
		pallet_payment_channels::PayerChannels::<Runtime>::insert(&who, id, ());
		pallet_payment_channels::OpenChannels::<Runtime>::mutate(&who, |n| *n += 1);
		pallet_payment_channels::NextChannelId::<Runtime>::put(id + 1);
		channels.push((id, payee));
	}
	StorageVersion::new(0).put::<PaymentChannels>();
	channels
}

#[test]
fn a_chain_started_at_this_runtime_upgrades_as_a_no_op() {
	for preset in PRESETS {
		common::build(preset).execute_with(|| {
			System::set_block_number(1);
			assert_eq!(
				PaymentChannels::on_chain_storage_version(),
				PaymentChannels::in_code_storage_version(),
				"{preset}: genesis stores the in-code storage version"
			);
			let weight = upgrade_idempotently();
			println!(
				"{preset}: genesis at the in-code versions, upgrade weight {} ps (no-op)",
				weight.ref_time()
			);
			assert!(pallet_payment_channels::PayeeChannels::<Runtime>::iter().next().is_none());
		});
	}
}

#[test]
fn payment_channels_at_version_0_are_indexed_by_payee_on_every_preset() {
	for preset in PRESETS {
		common::build(preset).execute_with(|| {
			System::set_block_number(1);
			let channels = payment_channels_at_version_0();
			assert!(
				pallet_payment_channels::Pallet::<Runtime>::do_try_state().is_err(),
				"{preset}: the version-0 state lacks the index the new code expects"
			);
			let weight = upgrade_idempotently();
			assert!(weight.ref_time() > 0, "{preset}: the migration ran and was weighed");
			let max = <Runtime as frame_system::Config>::BlockWeights::get().max_block;
			println!(
				"{preset}: {} channels at version 0 -> 1, upgrade weight {} ps / {} B ({:.3}% of a block's time)",
				channels.len(),
				weight.ref_time(),
				weight.proof_size(),
				weight.ref_time() as f64 * 100.0 / max.ref_time() as f64,
			);
			assert_eq!(PaymentChannels::on_chain_storage_version(), 1);
			for (id, payee) in &channels {
				let listed =
					PaymentChannels::channels_paying(&payee.to_account_id(), None, 100).items;
				assert!(
					listed.iter().any(|view| view.id == *id),
					"{preset}: channel {id} is listed under its payee"
				);
			}
			let bob = PaymentChannels::channels_paying(&Bob.to_account_id(), None, 100);
			assert_eq!(bob.items.len(), 2, "{preset}: Bob is paid by two channels");
		});
	}
}

#[test]
fn a_broken_version_0_state_fails_the_upgrade_checks() {
	common::build(DEV_RUNTIME_PRESET).execute_with(|| {
		System::set_block_number(1);
		let channels = payment_channels_at_version_0();
		// A stray payee entry at version 0: the migration's pre-upgrade check refuses it.
		pallet_payment_channels::PayeeChannels::<Runtime>::insert(
			Alice.to_account_id(),
			channels[0].0,
			(),
		);
		// The runtime's migrations stop at the migration's pre-upgrade check ...
		assert_eq!(
			<appchain_runtime::Migrations as OnRuntimeUpgrade>::try_on_runtime_upgrade(true),
			Err("the payee index exists before the migration that builds it".into())
		);
		// ... and the whole upgrade fails (the pallet is then also left at version 0, which
		// its own version check reports).
		assert!(Executive::try_runtime_upgrade(UpgradeCheckSelect::All).is_err());
	});
}
