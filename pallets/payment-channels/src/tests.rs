//! Tests of the payment channels on the mock. Each adversarial test performs its attack and
//! checks it pays nothing; [`mock::test`] checks the invariants and total issuance after every
//! one.

use crate::{
	mock::*, ChannelId, CloseConsent, CloseKind, Error, Event, HoldReason, SignedVoucher, Voucher,
};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
};
use frame_system::RawOrigin;
use sp_runtime::MultiSignature;

fn origin(n: u8) -> RuntimeOrigin {
	RawOrigin::Signed(account(n)).into()
}

fn free(n: u8) -> Balance {
	Balances::balance(&account(n))
}

fn held(n: u8, reason: HoldReason) -> Balance {
	Balances::balance_on_hold(&RuntimeHoldReason::Channels(reason), &account(n))
}

fn genesis() -> [u8; 32] {
	Channels::genesis_hash()
}

/// `signer`'s voucher for `cumulative` in `channel` on this chain.
fn voucher(
	signer: u8,
	channel: ChannelId,
	cumulative: Balance,
) -> SignedVoucher<Balance, MultiSignature> {
	let payload = Voucher { channel, cumulative }.signing_payload(&genesis());
	SignedVoucher { cumulative, signature: sign(signer, &payload) }
}

/// The payee's consent to close `channel` at `settled`.
fn consent(signer: u8, channel: ChannelId, settled: Balance) -> MultiSignature {
	sign(signer, &CloseConsent { channel, settled }.signing_payload(&genesis()))
}

/// A serving node of [`PAYEE`] and a channel to it from [`PAYER`] with `deposit`.
fn open(deposit: Balance) -> ChannelId {
	let node = inference_node(account(PAYEE));
	open_to(node, deposit)
}

fn open_to(node: u64, deposit: Balance) -> ChannelId {
	let id = crate::NextChannelId::<Test>::get();
	assert_ok!(Channels::open(origin(PAYER), node, deposit));
	id
}

fn claim(channel: ChannelId, cumulative: Balance) -> Result<(), sp_runtime::DispatchError> {
	Channels::claim(origin(PAYEE), channel, voucher(PAYER, channel, cumulative))
}

#[test]
fn opening_holds_the_deposit_and_the_storage_deposit_and_fixes_the_payee() {
	test(|| {
		let node = inference_node(account(PAYEE));
		let before = free(PAYER);
		let id = open_to(node, 100);
		assert_eq!(held(PAYER, HoldReason::ChannelDeposit), 100);
		assert_eq!(held(PAYER, HoldReason::StorageDeposit), STORAGE_DEPOSIT);
		assert_eq!(free(PAYER), before - 100 - STORAGE_DEPOSIT);
		let channel = crate::Channels::<Test>::get(id).unwrap();
		assert_eq!(channel.payee, account(PAYEE));
		assert_eq!((channel.deposit, channel.claimed, channel.closes_at), (100, 0, None));
		assert_eq!(Channels::channels_of(&account(PAYER)).len(), 1);
		assert_eq!(
			events(),
			vec![Event::ChannelOpened {
				channel: id,
				payer: account(PAYER),
				node,
				payee: account(PAYEE),
				deposit: 100,
				storage_deposit: STORAGE_DEPOSIT,
			}]
		);
		let second = open_to(node, 100);
		assert_eq!(second, id + 1, "ids count up");
	});
}

#[test]
fn opening_refuses_bad_nodes_amounts_and_more_channels_than_the_cap() {
	test(|| {
		let node = inference_node(account(PAYEE));
		assert_noop!(Channels::open(origin(PAYER), 99, 100), Error::<Test>::NodeNotServing);
		assert_noop!(Channels::open(origin(PAYEE), node, 100), Error::<Test>::PayerIsPayee);
		assert_noop!(
			Channels::open(origin(PAYER), node, MIN_DEPOSIT - 1),
			Error::<Test>::DepositBelowMinimum
		);
		assert_noop!(
			Channels::open(origin(PAUPER), node, MIN_DEPOSIT),
			Error::<Test>::InsufficientBalance
		);
		assert_noop!(
			Channels::open(origin(PAYER), node, Balance::MAX - STORAGE_DEPOSIT),
			Error::<Test>::InsufficientBalance
		);
		assert_noop!(Channels::open(origin(PAYER), node, Balance::MAX), Error::<Test>::Overflow);
		for _ in 0..MAX_CHANNELS {
			open_to(node, MIN_DEPOSIT);
		}
		assert_noop!(
			Channels::open(origin(PAYER), node, MIN_DEPOSIT),
			Error::<Test>::TooManyChannels
		);
		// A node that stopped sending heartbeats takes no new channel.
		let other = inference_node(account(OTHER_PAYEE));
		run_to_block(HEARTBEAT_TIMEOUT + 10);
		assert_noop!(Channels::open(origin(STRANGER), other, 100), Error::<Test>::NodeNotServing);
	});
}

#[test]
fn claims_pay_each_increment_once() {
	test(|| {
		let id = open(100);
		let payee_before = free(PAYEE);
		assert_ok!(claim(id, 30));
		assert_ok!(claim(id, 50));
		assert_eq!(free(PAYEE), payee_before + 50);
		assert_eq!(held(PAYER, HoldReason::ChannelDeposit), 50);
		assert_eq!(crate::Channels::<Test>::get(id).unwrap().claimed, 50);
		assert!(events().contains(&Event::Claimed {
			channel: id,
			cumulative: 50,
			paid: 20,
			claimed: 50
		}));
	});
}

#[test]
fn a_replayed_or_older_voucher_pays_nothing() {
	test(|| {
		let id = open(100);
		assert_ok!(claim(id, 50));
		assert_noop!(claim(id, 50), Error::<Test>::StaleVoucher);
		assert_noop!(claim(id, 40), Error::<Test>::StaleVoucher);
		assert_noop!(claim(id, 0), Error::<Test>::StaleVoucher);
	});
}

#[test]
fn a_voucher_of_another_channel_between_the_same_parties_is_refused() {
	test(|| {
		let first = open(100);
		let node = crate::Channels::<Test>::get(first).unwrap().node;
		let second = open_to(node, 100);
		let of_first = voucher(PAYER, first, 60);
		assert_noop!(Channels::claim(origin(PAYEE), second, of_first), Error::<Test>::BadSignature);
	});
}

#[test]
fn a_voucher_of_a_closed_channel_is_worthless_after_the_pair_reopens() {
	test(|| {
		let old = open(100);
		let node = crate::Channels::<Test>::get(old).unwrap().node;
		assert_ok!(Channels::close(origin(PAYEE), old, None));
		let new = open_to(node, 100);
		assert_ne!(old, new, "ids are never reused");
		assert_noop!(
			Channels::claim(origin(PAYEE), new, voucher(PAYER, old, 80)),
			Error::<Test>::BadSignature
		);
		assert_noop!(
			Channels::claim(origin(PAYEE), old, voucher(PAYER, old, 80)),
			Error::<Test>::UnknownChannel
		);
	});
}

#[test]
fn a_voucher_of_another_chain_or_with_another_tag_is_refused() {
	test(|| {
		let id = open(100);
		let other_chain = Voucher { channel: id, cumulative: 60 }.signing_payload(&[1u8; 32]);
		let bad = SignedVoucher { cumulative: 60, signature: sign(PAYER, &other_chain) };
		assert_noop!(Channels::claim(origin(PAYEE), id, bad), Error::<Test>::BadSignature);
		// The payer's signature of a close consent is not a voucher, and the other way round.
		let wrong_tag = SignedVoucher { cumulative: 60, signature: consent(PAYER, id, 60) };
		assert_noop!(Channels::claim(origin(PAYEE), id, wrong_tag), Error::<Test>::BadSignature);
		let voucher_as_consent = voucher(PAYEE, id, 60).signature;
		assert_noop!(
			Channels::cooperative_close(origin(PAYER), id, 60, voucher_as_consent),
			Error::<Test>::BadSignature
		);
	});
}

#[test]
fn a_voucher_signed_by_the_payee_or_a_stranger_is_refused() {
	test(|| {
		let id = open(100);
		for signer in [PAYEE, STRANGER, OTHER_PAYEE] {
			assert_noop!(
				Channels::claim(origin(PAYEE), id, voucher(signer, id, 60)),
				Error::<Test>::BadSignature
			);
		}
		// Only the payee claims, even with the payer's real voucher.
		for caller in [PAYER, STRANGER] {
			assert_noop!(
				Channels::claim(origin(caller), id, voucher(PAYER, id, 60)),
				Error::<Test>::NotPayee
			);
		}
	});
}

#[test]
fn malformed_signatures_and_extreme_amounts_change_nothing() {
	test(|| {
		let id = open(100);
		let garbage = [
			MultiSignature::Sr25519(sp_core::sr25519::Signature::from_raw([0; 64])),
			MultiSignature::Ed25519(sp_core::ed25519::Signature::from_raw([7; 64])),
			MultiSignature::Ecdsa(sp_core::ecdsa::Signature::from_raw([255; 65])),
		];
		for signature in garbage {
			let v = SignedVoucher { cumulative: 50, signature };
			assert_noop!(Channels::claim(origin(PAYEE), id, v), Error::<Test>::BadSignature);
		}
		assert_noop!(Channels::top_up(origin(PAYER), id, Balance::MAX), Error::<Test>::Overflow);
		assert_noop!(
			Channels::top_up(origin(PAYER), id, Balance::MAX - 100),
			Error::<Test>::InsufficientBalance
		);
		// A voucher for everything pays what the channel holds, once.
		assert_ok!(claim(id, Balance::MAX));
		assert_eq!(crate::Channels::<Test>::get(id).unwrap().claimed, 100);
		assert_noop!(claim(id, Balance::MAX), Error::<Test>::NothingToClaim);
	});
}

#[test]
fn a_voucher_above_the_deposit_pays_what_is_left_and_the_rest_after_a_top_up() {
	test(|| {
		let id = open(100);
		let payee_before = free(PAYEE);
		assert_ok!(claim(id, 150));
		assert_eq!(free(PAYEE), payee_before + 100);
		assert_noop!(claim(id, 150), Error::<Test>::NothingToClaim);
		assert_ok!(Channels::top_up(origin(PAYER), id, 100));
		assert!(events().contains(&Event::ToppedUp { channel: id, amount: 100, deposit: 200 }));
		assert_ok!(claim(id, 150));
		assert_eq!(free(PAYEE), payee_before + 150);
		assert_noop!(claim(id, 150), Error::<Test>::StaleVoucher);
		assert_eq!(held(PAYER, HoldReason::ChannelDeposit), 50);
	});
}

#[test]
fn the_payee_can_claim_until_the_last_block_of_the_challenge_period_and_not_at_its_end() {
	test(|| {
		let id = open(100);
		run_to_block(5);
		assert_ok!(Channels::request_close(origin(PAYER), id));
		let closes_at = 5 + CHALLENGE_PERIOD;
		assert!(events().contains(&Event::CloseRequested { channel: id, closes_at }));
		assert_noop!(Channels::top_up(origin(PAYER), id, 10), Error::<Test>::Closing);
		assert_noop!(Channels::request_close(origin(PAYER), id), Error::<Test>::Closing);
		// A node offline for most of the period comes back on its last block and is paid.
		run_to_block(closes_at - 1);
		assert_noop!(Channels::finalize(origin(STRANGER), id), Error::<Test>::ChallengePeriodOpen);
		assert_ok!(claim(id, 40));
		run_to_block(closes_at);
		assert_noop!(claim(id, 60), Error::<Test>::ChallengePeriodOver);
		assert_noop!(
			Channels::close(origin(PAYEE), id, Some(voucher(PAYER, id, 60))),
			Error::<Test>::ChallengePeriodOver
		);
		let payer_before = free(PAYER);
		assert_ok!(Channels::finalize(origin(STRANGER), id));
		assert_eq!(free(PAYER), payer_before + 60 + STORAGE_DEPOSIT);
		assert_eq!(held(PAYER, HoldReason::ChannelDeposit), 0);
		assert_eq!(held(PAYER, HoldReason::StorageDeposit), 0);
		assert!(events().contains(&Event::ChannelClosed {
			channel: id,
			how: CloseKind::Finalized,
			claimed: 40,
			refunded: 60
		}));
		assert_noop!(Channels::finalize(origin(STRANGER), id), Error::<Test>::UnknownChannel);
		assert!(Channels::channels_of(&account(PAYER)).is_empty());
	});
}

#[test]
fn finalize_needs_a_close_request_and_only_the_payer_requests_or_tops_up() {
	test(|| {
		let id = open(100);
		assert_noop!(Channels::finalize(origin(PAYER), id), Error::<Test>::NotClosing);
		assert_noop!(Channels::request_close(origin(PAYEE), id), Error::<Test>::NotPayer);
		assert_noop!(Channels::top_up(origin(STRANGER), id, 10), Error::<Test>::NotPayer);
		assert_noop!(Channels::top_up(origin(PAYER), id, 0), Error::<Test>::ZeroAmount);
		assert_noop!(Channels::top_up(origin(PAYER), 77, 10), Error::<Test>::UnknownChannel);
	});
}

#[test]
fn the_payee_closes_at_once_after_a_last_claim() {
	test(|| {
		let id = open(100);
		assert_ok!(claim(id, 20));
		assert_noop!(Channels::close(origin(PAYER), id, None), Error::<Test>::NotPayee);
		assert_noop!(
			Channels::close(origin(PAYEE), id, Some(voucher(STRANGER, id, 70))),
			Error::<Test>::BadSignature
		);
		let (payer_before, payee_before) = (free(PAYER), free(PAYEE));
		assert_ok!(Channels::close(origin(PAYEE), id, Some(voucher(PAYER, id, 70))));
		assert_eq!(free(PAYEE), payee_before + 50);
		assert_eq!(free(PAYER), payer_before + 30 + STORAGE_DEPOSIT);
		assert!(events().contains(&Event::ChannelClosed {
			channel: id,
			how: CloseKind::ByPayee,
			claimed: 70,
			refunded: 30
		}));
		assert!(crate::Channels::<Test>::get(id).is_none());
	});
}

#[test]
fn a_cooperative_close_pays_what_the_payee_consented_to() {
	test(|| {
		let id = open(100);
		assert_ok!(claim(id, 20));
		assert_noop!(
			Channels::cooperative_close(origin(PAYER), id, 60, consent(PAYER, id, 60)),
			Error::<Test>::BadSignature
		);
		assert_noop!(
			Channels::cooperative_close(origin(STRANGER), id, 60, consent(PAYEE, id, 60)),
			Error::<Test>::NotPayer
		);
		// A consent below what was claimed is older than the claims.
		assert_noop!(
			Channels::cooperative_close(origin(PAYER), id, 10, consent(PAYEE, id, 10)),
			Error::<Test>::StaleVoucher
		);
		// A consent for another amount is not this one.
		assert_noop!(
			Channels::cooperative_close(origin(PAYER), id, 50, consent(PAYEE, id, 60)),
			Error::<Test>::BadSignature
		);
		let (payer_before, payee_before) = (free(PAYER), free(PAYEE));
		assert_ok!(Channels::cooperative_close(origin(PAYER), id, 60, consent(PAYEE, id, 60)));
		assert_eq!(free(PAYEE), payee_before + 40);
		assert_eq!(free(PAYER), payer_before + 40 + STORAGE_DEPOSIT);
		assert!(events().contains(&Event::ChannelClosed {
			channel: id,
			how: CloseKind::Cooperative,
			claimed: 60,
			refunded: 40
		}));
	});
}

#[test]
fn closing_one_channel_leaves_every_other_hold_untouched() {
	test(|| {
		// The payer also runs a node (collateral held by the registry) and has two channels.
		let payer_node = inference_node(account(PAYER));
		let registry_hold = || {
			Balances::balance_on_hold(
				&RuntimeHoldReason::Registry(pallet_compute_registry::HoldReason::NodeCollateral),
				&account(PAYER),
			)
		};
		let collateral = registry_hold();
		assert_eq!(collateral, MIN_COLLATERAL);
		let first = open(100);
		let other_node = inference_node(account(OTHER_PAYEE));
		let second = open_to(other_node, 70);
		assert_ok!(claim(first, 30));
		let second_before = crate::Channels::<Test>::get(second).unwrap();
		assert_ok!(Channels::close(origin(PAYEE), first, None));
		assert_eq!(held(PAYER, HoldReason::ChannelDeposit), 70);
		assert_eq!(held(PAYER, HoldReason::StorageDeposit), STORAGE_DEPOSIT);
		assert_eq!(registry_hold(), collateral);
		assert_eq!(crate::Channels::<Test>::get(second).unwrap(), second_before);
		// The other two ways of closing leave the rest untouched as well.
		let third = open_to(other_node, 40);
		assert_ok!(Channels::cooperative_close(
			origin(PAYER),
			second,
			0,
			consent(OTHER_PAYEE, second, 0)
		));
		assert_eq!(held(PAYER, HoldReason::ChannelDeposit), 40);
		assert_ok!(Channels::request_close(origin(PAYER), third));
		run_to_block(1 + CHALLENGE_PERIOD);
		assert_ok!(Channels::finalize(origin(STRANGER), third));
		assert_eq!(held(PAYER, HoldReason::ChannelDeposit), 0);
		assert_eq!(held(PAYER, HoldReason::StorageDeposit), 0);
		assert_eq!(registry_hold(), collateral);
		let payee_collateral = Balances::balance_on_hold(
			&RuntimeHoldReason::Registry(pallet_compute_registry::HoldReason::NodeCollateral),
			&account(PAYEE),
		);
		assert_eq!(payee_collateral, MIN_COLLATERAL, "the payee's collateral is not touched");
		assert!(pallet_compute_registry::Nodes::<Test>::contains_key(payer_node));
	});
}

#[test]
fn the_payee_is_paid_after_its_node_unregistered() {
	test(|| {
		let id = open(100);
		let node = crate::Channels::<Test>::get(id).unwrap().node;
		assert_ok!(Registry::unregister(origin(PAYEE), node));
		assert_ok!(claim(id, 25));
		assert_eq!(crate::Channels::<Test>::get(id).unwrap().claimed, 25);
	});
}

/// Opens a channel from `payer` to `node` with `deposit`.
fn open_from(payer: u8, node: u64, deposit: Balance) -> ChannelId {
	let id = crate::NextChannelId::<Test>::get();
	assert_ok!(Channels::open(origin(payer), node, deposit));
	id
}

/// The ids of the channels paying `payee`, read `limit` at a time, and how many pages it took.
fn paying(payee: u8, limit: u32) -> (Vec<ChannelId>, usize) {
	let (views, pages) = appchain_primitives::page::read_all(|after| {
		Channels::channels_paying(&account(payee), after, limit)
	});
	let mut ids: Vec<ChannelId> = views.into_iter().map(|view| view.id).collect();
	ids.sort();
	(ids, pages)
}

#[test]
fn a_payee_lists_exactly_the_open_channels_paying_it_in_pages() {
	test(|| {
		let node = inference_node(account(PAYEE));
		let other = inference_node(account(OTHER_PAYEE));
		let a = open_from(PAYER, node, 50);
		let b = open_from(STRANGER, node, 50);
		let c = open_from(PAYER, other, 50);
		let d = open_from(STRANGER, node, 50);
		assert_eq!(paying(PAYEE, 100), (vec![a, b, d], 1));
		assert_eq!(paying(PAYEE, 1).0, vec![a, b, d]);
		assert_eq!(paying(PAYEE, 1).1, 3, "a page of one per channel");
		assert_eq!(paying(OTHER_PAYEE, 100).0, vec![c]);
		assert!(paying(PAYER, 100).0.is_empty(), "a payer is not a payee");
		let page = Channels::channels_paying(&account(PAYEE), None, 100);
		assert!(page.items.iter().all(|view| view.channel.payee == account(PAYEE)));

		// Every way of closing takes the channel off its payee's list.
		assert_ok!(Channels::close(origin(PAYEE), b, None));
		assert_ok!(Channels::cooperative_close(origin(STRANGER), d, 0, consent(PAYEE, d, 0)));
		assert_eq!(paying(PAYEE, 100).0, vec![a]);
		assert_ok!(Channels::request_close(origin(PAYER), a));
		assert_eq!(paying(PAYEE, 100).0, vec![a], "a closing channel can still be claimed");
		run_to_block(1 + CHALLENGE_PERIOD);
		assert_ok!(Channels::finalize(origin(STRANGER), a));
		assert!(paying(PAYEE, 100).0.is_empty());
		assert_eq!(paying(OTHER_PAYEE, 100).0, vec![c]);
	});
}

#[test]
fn the_invariants_catch_a_stale_or_missing_payee_entry() {
	test(|| {
		let id = open(50);
		let broken = |why: &'static str| {
			assert_eq!(Channels::do_try_state(), Err(why.into()));
		};
		crate::PayeeChannels::<Test>::remove(account(PAYEE), id);
		broken("a channel is not listed under its payee");
		crate::PayeeChannels::<Test>::insert(account(PAYEE), id, ());
		Channels::do_try_state().unwrap();
		crate::PayeeChannels::<Test>::insert(account(OTHER_PAYEE), id, ());
		broken("a payee lists a channel that is not an open channel paying it");
		crate::PayeeChannels::<Test>::remove(account(OTHER_PAYEE), id);
		crate::PayeeChannels::<Test>::insert(account(PAYEE), id + 1, ());
		broken("a payee lists a channel that is not an open channel paying it");
		crate::PayeeChannels::<Test>::remove(account(PAYEE), id + 1);
	});
}

mod migration_to_v1 {
	use super::*;
	use crate::migrations::v1::{check_after, check_before, MigrateV0ToV1};
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};

	/// A chain at storage version 0: three channels to two payees, and no payee index.
	fn version_0_chain() -> Vec<(ChannelId, u8)> {
		let node = inference_node(account(PAYEE));
		let other = inference_node(account(OTHER_PAYEE));
		let channels = vec![
			(open_from(PAYER, node, 50), PAYEE),
			(open_from(STRANGER, other, 70), OTHER_PAYEE),
			(open_from(STRANGER, node, 90), PAYEE),
		];
		let _ = crate::PayeeChannels::<Test>::clear(u32::MAX, None);
		StorageVersion::new(0).put::<Channels>();
		channels
	}

	#[test]
	fn indexes_every_open_channel_under_its_payee_once() {
		test(|| {
			let channels = version_0_chain();
			assert!(Channels::do_try_state().is_err(), "version 0 has no index");
			// Before the migration (the block enacting the new code), reads scan the channels.
			assert_eq!(paying(PAYEE, 1), (vec![channels[0].0, channels[2].0], 2));
			assert_eq!(paying(OTHER_PAYEE, 100).0, vec![channels[1].0]);
			let count = check_before::<Test>().unwrap();
			assert_eq!(count, 3);
			let weight = MigrateV0ToV1::<Test>::on_runtime_upgrade();
			check_after::<Test>(count).unwrap();
			assert_eq!(Channels::on_chain_storage_version(), 1);
			for (id, payee) in &channels {
				assert!(crate::PayeeChannels::<Test>::contains_key(account(*payee), id));
			}
			let db = <Test as frame_system::Config>::DbWeight::get();
			assert_eq!(weight, db.reads_writes(3, 3).saturating_add(db.reads_writes(1, 1)));

			// Run again (the runtime keeps it in its migrations): it does nothing.
			let again = MigrateV0ToV1::<Test>::on_runtime_upgrade();
			assert_eq!(again, db.reads(1));
			check_after::<Test>(count).unwrap();
			// The index serves the payee's reads, and closing keeps it right.
			assert_eq!(paying(PAYEE, 1).0, vec![channels[0].0, channels[2].0]);
			assert_ok!(Channels::close(origin(PAYEE), channels[0].0, None));
			assert_eq!(paying(PAYEE, 100).0, vec![channels[2].0]);
		});
	}

	#[test]
	fn a_chain_already_at_version_1_is_left_alone() {
		test(|| {
			// A runtime's genesis stores the in-code version (the mock builds only the
			// system's and the balances' genesis, so it is put here).
			StorageVersion::new(1).put::<Channels>();
			let id = open(50);
			assert_eq!(
				check_before::<Test>(),
				Err("the payee index exists before the migration that builds it".into())
			);
			let weight = MigrateV0ToV1::<Test>::on_runtime_upgrade();
			assert_eq!(weight, <Test as frame_system::Config>::DbWeight::get().reads(1));
			assert_eq!(paying(PAYEE, 100).0, vec![id]);
		});
	}

	#[test]
	fn the_checks_catch_a_migration_that_missed_a_channel() {
		test(|| {
			version_0_chain();
			let count = check_before::<Test>().unwrap();
			MigrateV0ToV1::<Test>::on_runtime_upgrade();
			let (id, channel) = crate::Channels::<Test>::iter().next().unwrap();
			let broken = |count: u32, why: &'static str| {
				assert_eq!(check_after::<Test>(count), Err(why.into()));
			};
			crate::PayeeChannels::<Test>::remove(&channel.payee, id);
			broken(count, "a channel is missing from its payee's list");
			crate::PayeeChannels::<Test>::insert(&channel.payee, id, ());
			// Every channel listed, plus an entry under a payee the channel does not pay: the
			// entry count gives it away.
			crate::PayeeChannels::<Test>::insert(account(STRANGER), id, ());
			broken(count, "the payee index lists more entries than there are channels");
			crate::PayeeChannels::<Test>::remove(account(STRANGER), id);
			broken(count + 1, "the migration changed the number of channels");
			check_after::<Test>(count).unwrap();
			// A version left at 0 is caught too.
			StorageVersion::new(0).put::<Channels>();
			broken(count, "the storage version is not 1 after the migration");
			StorageVersion::new(1).put::<Channels>();
		});
	}
}
