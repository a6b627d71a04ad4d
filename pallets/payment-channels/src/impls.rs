//! The pallet's logic: each call's `do_*`, in the order check → mutate → emit.

use crate::{
	funds, AccountIdOf, BalanceOf, Channel, ChannelId, ChannelOf, ChannelView, ChannelViewOf,
	Channels, CloseConsent, CloseKind, Config, Error, Event, HoldReason, NextChannelId,
	OpenChannels, Pallet, PayeeChannels, PayerChannels, SignedVoucherOf, Voucher,
};
use alloc::vec::Vec;
use appchain_primitives::{
	page::{collect_page, Page},
	voucher, NodeId,
};
use frame_support::{
	ensure,
	pallet_prelude::DispatchResult,
	traits::{Get, GetStorageVersion},
};
use pallet_compute_registry::ComputeNodes;
use sp_runtime::{
	traits::{CheckedAdd, UniqueSaturatedFrom, UniqueSaturatedInto, Verify, Zero},
	DispatchError,
};

impl<T: Config> Pallet<T> {
	/// The chain's genesis hash, as vouchers sign it.
	pub fn genesis_hash() -> [u8; 32] {
		let hash = frame_system::Pallet::<T>::block_hash(
			frame_system::pallet_prelude::BlockNumberFor::<T>::zero(),
		);
		let mut out = [0u8; 32];
		for (to, from) in out.iter_mut().zip(hash.as_ref()) {
			*to = *from;
		}
		out
	}

	fn verify(payload: &[u8], signature: &T::Signature, signer: &AccountIdOf<T>) -> DispatchResult {
		ensure!(signature.verify(payload, signer), Error::<T>::BadSignature);
		Ok(())
	}

	/// The payer's signature over `channel`'s voucher for `cumulative` is valid.
	fn check_voucher(
		channel_id: ChannelId,
		channel: &ChannelOf<T>,
		voucher: &SignedVoucherOf<T>,
	) -> DispatchResult {
		let payload =
			Voucher { channel: channel_id, cumulative: voucher.cumulative.unique_saturated_into() }
				.signing_payload(&Self::genesis_hash());
		Self::verify(&payload, &voucher.signature, &channel.payer)
	}

	/// What a voucher for `cumulative` pays now (shared rule:
	/// [`voucher::payable`](appchain_primitives::voucher::payable)).
	fn payable(channel: &ChannelOf<T>, cumulative: BalanceOf<T>) -> BalanceOf<T> {
		BalanceOf::<T>::unique_saturated_from(voucher::payable(
			cumulative.unique_saturated_into(),
			channel.deposit.unique_saturated_into(),
			channel.claimed.unique_saturated_into(),
		))
	}

	fn channel(id: ChannelId) -> Result<ChannelOf<T>, DispatchError> {
		Channels::<T>::get(id).ok_or_else(|| Error::<T>::UnknownChannel.into())
	}

	pub(crate) fn do_open(
		payer: AccountIdOf<T>,
		node: NodeId,
		deposit: BalanceOf<T>,
	) -> Result<ChannelId, DispatchError> {
		ensure!(T::Nodes::is_serving(node), Error::<T>::NodeNotServing);
		let payee = T::Nodes::owner(node).ok_or(Error::<T>::NodeNotServing)?;
		ensure!(payee != payer, Error::<T>::PayerIsPayee);
		ensure!(deposit >= T::MinDeposit::get(), Error::<T>::DepositBelowMinimum);
		let open = OpenChannels::<T>::get(&payer);
		ensure!(open < T::MaxChannelsPerPayer::get(), Error::<T>::TooManyChannels);
		let id = NextChannelId::<T>::get();
		let next = id.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let storage_deposit = T::ChannelStorageDeposit::get();
		let total = deposit.checked_add(&storage_deposit).ok_or(Error::<T>::Overflow)?;
		funds::ensure_can_hold::<T>(&payer, HoldReason::ChannelDeposit, total)?;

		funds::hold::<T>(&payer, HoldReason::ChannelDeposit, deposit)?;
		funds::hold::<T>(&payer, HoldReason::StorageDeposit, storage_deposit)?;
		NextChannelId::<T>::put(next);
		OpenChannels::<T>::insert(&payer, open.saturating_add(1));
		PayerChannels::<T>::insert(&payer, id, ());
		PayeeChannels::<T>::insert(&payee, id, ());
		Channels::<T>::insert(
			id,
			Channel {
				payer: payer.clone(),
				node,
				payee: payee.clone(),
				deposit,
				claimed: Zero::zero(),
				storage_deposit,
				closes_at: None,
			},
		);

		Self::deposit_event(Event::ChannelOpened {
			channel: id,
			payer,
			node,
			payee,
			deposit,
			storage_deposit,
		});
		Ok(id)
	}

	pub(crate) fn do_top_up(
		who: &AccountIdOf<T>,
		id: ChannelId,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		let mut channel = Self::channel(id)?;
		ensure!(&channel.payer == who, Error::<T>::NotPayer);
		ensure!(channel.closes_at.is_none(), Error::<T>::Closing);
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		channel.deposit = channel.deposit.checked_add(&amount).ok_or(Error::<T>::Overflow)?;

		funds::hold::<T>(who, HoldReason::ChannelDeposit, amount)?;
		let deposit = channel.deposit;
		Channels::<T>::insert(id, channel);

		Self::deposit_event(Event::ToppedUp { channel: id, amount, deposit });
		Ok(())
	}

	/// Checks `voucher` (before the end of a challenge period) and returns what it pays now;
	/// fails unless that is something.
	fn claimable(
		id: ChannelId,
		channel: &ChannelOf<T>,
		voucher: &SignedVoucherOf<T>,
	) -> Result<BalanceOf<T>, DispatchError> {
		if let Some(closes_at) = channel.closes_at {
			ensure!(
				frame_system::Pallet::<T>::block_number() < closes_at,
				Error::<T>::ChallengePeriodOver
			);
		}
		ensure!(voucher.cumulative > channel.claimed, Error::<T>::StaleVoucher);
		Self::check_voucher(id, channel, voucher)?;
		let paid = Self::payable(channel, voucher.cumulative);
		ensure!(!paid.is_zero(), Error::<T>::NothingToClaim);
		Ok(paid)
	}

	/// Pays `paid` of `channel` to its payee and records it.
	fn pay_claim(
		id: ChannelId,
		channel: &mut ChannelOf<T>,
		cumulative: BalanceOf<T>,
		paid: BalanceOf<T>,
	) -> DispatchResult {
		let claimed = channel.claimed.checked_add(&paid).ok_or(Error::<T>::Overflow)?;
		funds::pay::<T>(&channel.payer, &channel.payee, paid)?;
		channel.claimed = claimed;
		Self::deposit_event(Event::Claimed { channel: id, cumulative, paid, claimed });
		Ok(())
	}

	pub(crate) fn do_claim(
		who: &AccountIdOf<T>,
		id: ChannelId,
		voucher: SignedVoucherOf<T>,
	) -> DispatchResult {
		let mut channel = Self::channel(id)?;
		ensure!(&channel.payee == who, Error::<T>::NotPayee);
		let paid = Self::claimable(id, &channel, &voucher)?;

		Self::pay_claim(id, &mut channel, voucher.cumulative, paid)?;
		Channels::<T>::insert(id, channel);
		Ok(())
	}

	pub(crate) fn do_request_close(who: &AccountIdOf<T>, id: ChannelId) -> DispatchResult {
		let mut channel = Self::channel(id)?;
		ensure!(&channel.payer == who, Error::<T>::NotPayer);
		ensure!(channel.closes_at.is_none(), Error::<T>::Closing);
		let closes_at = frame_system::Pallet::<T>::block_number()
			.checked_add(&T::ChallengePeriod::get())
			.ok_or(Error::<T>::Overflow)?;

		channel.closes_at = Some(closes_at);
		Channels::<T>::insert(id, channel);

		Self::deposit_event(Event::CloseRequested { channel: id, closes_at });
		Ok(())
	}

	pub(crate) fn do_finalize(id: ChannelId) -> DispatchResult {
		let channel = Self::channel(id)?;
		let closes_at = channel.closes_at.ok_or(Error::<T>::NotClosing)?;
		ensure!(
			frame_system::Pallet::<T>::block_number() >= closes_at,
			Error::<T>::ChallengePeriodOpen
		);
		Self::settle_close(id, channel, CloseKind::Finalized)
	}

	pub(crate) fn do_close_by_payee(
		who: &AccountIdOf<T>,
		id: ChannelId,
		last_voucher: Option<SignedVoucherOf<T>>,
	) -> DispatchResult {
		let mut channel = Self::channel(id)?;
		ensure!(&channel.payee == who, Error::<T>::NotPayee);
		let claim = match &last_voucher {
			Some(voucher) => Some((voucher.cumulative, Self::claimable(id, &channel, voucher)?)),
			None => None,
		};

		if let Some((cumulative, paid)) = claim {
			Self::pay_claim(id, &mut channel, cumulative, paid)?;
		}
		Self::settle_close(id, channel, CloseKind::ByPayee)
	}

	pub(crate) fn do_cooperative_close(
		who: &AccountIdOf<T>,
		id: ChannelId,
		settled: BalanceOf<T>,
		payee_signature: T::Signature,
	) -> DispatchResult {
		let mut channel = Self::channel(id)?;
		ensure!(&channel.payer == who, Error::<T>::NotPayer);
		// A consent below what the payee already claimed is older than its claims.
		ensure!(settled >= channel.claimed, Error::<T>::StaleVoucher);
		let payload = CloseConsent { channel: id, settled: settled.unique_saturated_into() }
			.signing_payload(&Self::genesis_hash());
		Self::verify(&payload, &payee_signature, &channel.payee)?;
		let paid = Self::payable(&channel, settled);

		if !paid.is_zero() {
			Self::pay_claim(id, &mut channel, settled, paid)?;
		}
		Self::settle_close(id, channel, CloseKind::Cooperative)
	}

	/// Refunds what is left and the storage deposit to the payer and removes the channel.
	fn settle_close(id: ChannelId, channel: ChannelOf<T>, how: CloseKind) -> DispatchResult {
		let refunded = channel.remaining();
		funds::release::<T>(&channel.payer, HoldReason::ChannelDeposit, refunded)?;
		funds::release::<T>(&channel.payer, HoldReason::StorageDeposit, channel.storage_deposit)?;
		Channels::<T>::remove(id);
		PayerChannels::<T>::remove(&channel.payer, id);
		PayeeChannels::<T>::remove(&channel.payee, id);
		OpenChannels::<T>::mutate_exists(&channel.payer, |open| {
			*open = open.and_then(|n| n.checked_sub(1)).filter(|n| *n > 0);
		});

		Self::deposit_event(Event::ChannelClosed {
			channel: id,
			how,
			claimed: channel.claimed,
			refunded,
		});
		Ok(())
	}

	/// The channel `id`, if open.
	pub fn channel_view(id: ChannelId) -> Option<ChannelViewOf<T>> {
		Channels::<T>::get(id).map(|channel| ChannelView { id, channel })
	}

	/// `payer`'s open channels, by id (at most [`Config::MaxChannelsPerPayer`]).
	pub fn channels_of(payer: &AccountIdOf<T>) -> Vec<ChannelViewOf<T>> {
		PayerChannels::<T>::iter_key_prefix(payer)
			.take(T::MaxChannelsPerPayer::get() as usize)
			.filter_map(Self::channel_view)
			.collect()
	}

	/// The open channels paying `payee`, after channel `after` in storage order, one bounded
	/// page at a time ([`appchain_primitives::page`]).
	///
	/// Read from the payee index ([`PayeeChannels`]). Before the index exists (storage version
	/// 0: the block that enacts the runtime with the index runs this code on the old state; the
	/// migration runs at the next block) it scans [`Channels`] instead, a bounded page at a time.
	pub fn channels_paying(
		payee: &AccountIdOf<T>,
		after: Option<ChannelId>,
		limit: u32,
	) -> Page<ChannelViewOf<T>, ChannelId> {
		let page = if Self::on_chain_storage_version() < 1 {
			let entries = match after {
				Some(id) => Channels::<T>::iter_from(Channels::<T>::hashed_key_for(id)),
				None => Channels::<T>::iter(),
			};
			collect_page(entries, limit, |_, channel| &channel.payee == payee)
		} else {
			let ids = match after {
				Some(id) => PayeeChannels::<T>::iter_key_prefix_from(
					payee,
					PayeeChannels::<T>::hashed_key_for(payee, id),
				),
				None => PayeeChannels::<T>::iter_key_prefix(payee),
			};
			// The index names open channels only (an invariant), so every id has a channel.
			let entries = ids.filter_map(|id| Channels::<T>::get(id).map(|channel| (id, channel)));
			collect_page(entries, limit, |_, _| true)
		};
		Page {
			items: page
				.items
				.into_iter()
				.map(|(id, channel)| ChannelView { id, channel })
				.collect(),
			next: page.next,
		}
	}

	/// The pallet's invariants:
	///
	/// - every channel has `claimed ≤ deposit`, a payer other than its payee, a close (if
	///   requested) at most a challenge period from now, an id below
	///   [`NextChannelId`], and is listed under its payer in [`PayerChannels`] and under its
	///   payee in [`PayeeChannels`];
	/// - every [`PayerChannels`] entry names an open channel of that payer, every
	///   [`PayeeChannels`] entry an open channel paying that payee, and
	///   [`OpenChannels`] counts them (no zero entries), at most
	///   [`Config::MaxChannelsPerPayer`];
	/// - each payer's [`HoldReason::ChannelDeposit`] hold equals the sum of its channels'
	///   `deposit − claimed`, and its [`HoldReason::StorageDeposit`] hold the sum of their
	///   storage deposits.
	#[cfg(any(feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		use sp_runtime::traits::Saturating;
		let next = NextChannelId::<T>::get();
		let mut per_payer: BTreeMap<AccountIdOf<T>, (u32, BalanceOf<T>, BalanceOf<T>)> =
			BTreeMap::new();
		for (id, channel) in Channels::<T>::iter() {
			ensure!(id < next, "a channel id is not below NextChannelId");
			ensure!(channel.claimed <= channel.deposit, "a channel paid out more than its deposit");
			ensure!(channel.payer != channel.payee, "a channel pays its own payer");
			ensure!(
				channel.closes_at.is_none_or(|at| {
					at <= frame_system::Pallet::<T>::block_number()
						.saturating_add(T::ChallengePeriod::get())
				}),
				"a channel closes later than a challenge period from now"
			);
			ensure!(
				PayerChannels::<T>::contains_key(&channel.payer, id),
				"a channel is not listed under its payer"
			);
			ensure!(
				PayeeChannels::<T>::contains_key(&channel.payee, id),
				"a channel is not listed under its payee"
			);
			let entry =
				per_payer.entry(channel.payer.clone()).or_insert((0, Zero::zero(), Zero::zero()));
			entry.0 = entry.0.saturating_add(1);
			entry.1 = entry.1.checked_add(&channel.remaining()).ok_or("channel funds overflow")?;
			entry.2 =
				entry.2.checked_add(&channel.storage_deposit).ok_or("storage deposits overflow")?;
		}
		for (payer, id, ()) in PayerChannels::<T>::iter() {
			ensure!(
				Channels::<T>::get(id).is_some_and(|c| c.payer == payer),
				"a payer lists a channel that is not its own open channel"
			);
		}
		for (payee, id, ()) in PayeeChannels::<T>::iter() {
			ensure!(
				Channels::<T>::get(id).is_some_and(|c| c.payee == payee),
				"a payee lists a channel that is not an open channel paying it"
			);
		}
		for (payer, open) in OpenChannels::<T>::iter() {
			ensure!(open > 0, "a zero channel count is stored");
			ensure!(open <= T::MaxChannelsPerPayer::get(), "a payer has too many channels");
			ensure!(
				per_payer.get(&payer).map(|e| e.0) == Some(open),
				"OpenChannels does not count the payer's channels"
			);
		}
		for (payer, (open, funds, storage)) in per_payer {
			ensure!(OpenChannels::<T>::get(&payer) == open, "OpenChannels misses a payer");
			ensure!(
				funds::held::<T>(&payer, HoldReason::ChannelDeposit) == funds,
				"a payer's channel hold differs from its channels' remaining funds"
			);
			ensure!(
				funds::held::<T>(&payer, HoldReason::StorageDeposit) == storage,
				"a payer's storage hold differs from its channels' storage deposits"
			);
		}
		Ok(())
	}
}
