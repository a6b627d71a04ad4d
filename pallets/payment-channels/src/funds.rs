//! Every currency movement of the payment channels, in one place.
//!
//! - [`HoldReason::ChannelDeposit`]: held from a payer when it opens or tops up a channel, per
//!   channel `deposit − claimed` ([`Channel::remaining`](crate::Channel::remaining)); paid to
//!   the payee on claims and released to the payer when the channel closes.
//! - [`HoldReason::StorageDeposit`]: held from a payer per open channel
//!   ([`Channel::storage_deposit`](crate::Channel::storage_deposit)); released when it closes.
//!
//! Nothing else in the pallet touches `T::Currency` for writes, and nothing here mints: every
//! function moves funds that exist, by exact amounts, so closing one channel leaves every other
//! hold of the payer (its other channels, escrow, collateral) as it was.

use crate::{AccountIdOf, BalanceOf, Config, Error, HoldReason};
use frame_support::{
	pallet_prelude::DispatchResult,
	traits::{
		fungible::MutateHold,
		tokens::{Fortitude, Precision, Restriction},
	},
};
use sp_runtime::traits::Zero;

/// Holds `amount` from `who` (nothing for zero).
pub(crate) fn hold<T: Config>(
	who: &AccountIdOf<T>,
	reason: HoldReason,
	amount: BalanceOf<T>,
) -> DispatchResult {
	if amount.is_zero() {
		return Ok(());
	}
	T::Currency::hold(&reason.into(), who, amount)
		.map_err(|_| Error::<T>::InsufficientBalance.into())
}

/// Fails with [`Error::InsufficientBalance`] unless `amount` can be held from `who`.
pub(crate) fn ensure_can_hold<T: Config>(
	who: &AccountIdOf<T>,
	reason: HoldReason,
	amount: BalanceOf<T>,
) -> DispatchResult {
	use frame_support::traits::fungible::InspectHold;
	T::Currency::ensure_can_hold(&reason.into(), who, amount)
		.map_err(|_| Error::<T>::InsufficientBalance.into())
}

/// Releases exactly `amount` held from `who` back to its free balance.
pub(crate) fn release<T: Config>(
	who: &AccountIdOf<T>,
	reason: HoldReason,
	amount: BalanceOf<T>,
) -> DispatchResult {
	if amount.is_zero() {
		return Ok(());
	}
	T::Currency::release(&reason.into(), who, amount, Precision::Exact).map(|_| ())
}

/// Pays exactly `amount` of `payer`'s channel funds to `payee`'s free balance.
pub(crate) fn pay<T: Config>(
	payer: &AccountIdOf<T>,
	payee: &AccountIdOf<T>,
	amount: BalanceOf<T>,
) -> DispatchResult {
	if amount.is_zero() {
		return Ok(());
	}
	T::Currency::transfer_on_hold(
		&HoldReason::ChannelDeposit.into(),
		payer,
		payee,
		amount,
		Precision::Exact,
		Restriction::Free,
		// A voucher is owed: a freeze on the payer's account must not block paying it.
		Fortitude::Force,
	)
	.map(|_| ())
}

/// What `who` has on hold for `reason`.
#[cfg(any(feature = "std", feature = "try-runtime"))]
pub(crate) fn held<T: Config>(who: &AccountIdOf<T>, reason: HoldReason) -> BalanceOf<T> {
	use frame_support::traits::fungible::InspectHold;
	T::Currency::balance_on_hold(&reason.into(), who)
}
