//! Every currency movement of the market, in one place.
//!
//! - [`HoldReason::MarketDeposit`]: held from a market owner while the market is open, recorded
//!   in [`Market::deposit`](crate::Market::deposit).
//! - [`HoldReason::Escrow`]: held from a client while an agreement is open, recorded in
//!   [`Agreement::escrow`](crate::Agreement::escrow); paid to the provider's owner or released
//!   to the client exactly once.
//! - Listing fees (seller to market owner) and max-min payoffs (buyer to market owner) are plain
//!   transfers that keep the payer alive.
//! - [`HoldReason::DisputeBond`]: held from a client that disputes delivered work, recorded in
//!   [`Dispute::bond`](crate::Dispute::bond); released to it, or given to the provider's owner
//!   when the dispute finds the work right.
//! - Penalties are reserved from the provider's collateral when it accepts and slashed from that
//!   reservation by the registry ([`ComputeNodes::slash_reserved`]), which holds it.
//!
//! Nothing else in the pallet touches `T::Currency` for writes, and nothing here mints: every
//! function moves funds that exist.

use crate::{AccountIdOf, BalanceOf, Config, Error, HoldReason};
use appchain_primitives::NodeId;
use frame_support::{
	pallet_prelude::DispatchResult,
	traits::{
		fungible::{InspectHold, Mutate, MutateHold},
		tokens::{Fortitude, Precision, Preservation, Restriction},
	},
};
use pallet_compute_registry::{ComputeNodes, SlashOutcome, SlashReason};
use sp_runtime::{traits::Zero, DispatchError};

/// Fails with [`Error::InsufficientBalance`] unless `amount` can be held from `who`.
pub(crate) fn ensure_can_hold<T: Config>(
	who: &AccountIdOf<T>,
	reason: HoldReason,
	amount: BalanceOf<T>,
) -> DispatchResult {
	T::Currency::ensure_can_hold(&reason.into(), who, amount)
		.map_err(|_| Error::<T>::InsufficientBalance.into())
}

/// Holds `amount` from `who`.
pub(crate) fn hold<T: Config>(
	who: &AccountIdOf<T>,
	reason: HoldReason,
	amount: BalanceOf<T>,
) -> DispatchResult {
	T::Currency::hold(&reason.into(), who, amount)
		.map_err(|_| Error::<T>::InsufficientBalance.into())
}

/// Releases exactly `amount` held from `who` back to its free balance.
pub(crate) fn release<T: Config>(
	who: &AccountIdOf<T>,
	reason: HoldReason,
	amount: BalanceOf<T>,
) -> DispatchResult {
	T::Currency::release(&reason.into(), who, amount, Precision::Exact).map(|_| ())
}

/// Fails with [`Error::InsufficientBalance`] unless `from` can pay `amount` and stay alive.
pub(crate) fn ensure_can_pay<T: Config>(
	from: &AccountIdOf<T>,
	amount: BalanceOf<T>,
) -> DispatchResult {
	use frame_support::traits::fungible::Inspect;
	let reducible = T::Currency::reducible_balance(from, Preservation::Preserve, Fortitude::Polite);
	frame_support::ensure!(reducible >= amount, Error::<T>::InsufficientBalance);
	Ok(())
}

/// Pays a fee of `amount` from `from` to `to` (a listing fee or a max-min payoff). Nothing
/// moves when the amount is zero or payer and payee are the same account.
pub(crate) fn pay_fee<T: Config>(
	from: &AccountIdOf<T>,
	to: &AccountIdOf<T>,
	amount: BalanceOf<T>,
) -> DispatchResult {
	if amount.is_zero() || from == to {
		return Ok(());
	}
	T::Currency::transfer(from, to, amount, Preservation::Preserve)
		.map(|_| ())
		.map_err(|_| Error::<T>::InsufficientBalance.into())
}

/// Pays `amount` of `client`'s escrow to `provider_owner`'s free balance.
pub(crate) fn pay_escrow<T: Config>(
	client: &AccountIdOf<T>,
	provider_owner: &AccountIdOf<T>,
	amount: BalanceOf<T>,
) -> DispatchResult {
	if client == provider_owner {
		return release::<T>(client, HoldReason::Escrow, amount);
	}
	T::Currency::transfer_on_hold(
		&HoldReason::Escrow.into(),
		client,
		provider_owner,
		amount,
		Precision::Exact,
		Restriction::Free,
		// Escrow is owed: a freeze on the payer's account must not block paying it out.
		Fortitude::Force,
	)
	.map(|_| ())
}

/// Slashes `penalty` from what `node` reserved for the agreement and gives it, less the
/// registry's burnt share, to `client`.
pub(crate) fn slash_penalty<T: Config>(
	node: NodeId,
	penalty: BalanceOf<T>,
	client: &AccountIdOf<T>,
	reason: SlashReason,
) -> Result<SlashOutcome<BalanceOf<T>>, DispatchError> {
	if penalty.is_zero() {
		return Ok(SlashOutcome::default());
	}
	T::Nodes::slash_reserved(node, penalty, Some(client), reason)
}

/// Gives a disputing client's `bond` to the provider's owner: the dispute found the work right.
pub(crate) fn forfeit_bond<T: Config>(
	client: &AccountIdOf<T>,
	provider_owner: &AccountIdOf<T>,
	bond: BalanceOf<T>,
) -> DispatchResult {
	if bond.is_zero() {
		return Ok(());
	}
	if client == provider_owner {
		return release::<T>(client, HoldReason::DisputeBond, bond);
	}
	T::Currency::transfer_on_hold(
		&HoldReason::DisputeBond.into(),
		client,
		provider_owner,
		bond,
		Precision::Exact,
		Restriction::Free,
		Fortitude::Force,
	)
	.map(|_| ())
}

/// What `who` has on hold for `reason`.
#[cfg(any(feature = "std", feature = "try-runtime"))]
pub(crate) fn held<T: Config>(who: &AccountIdOf<T>, reason: HoldReason) -> BalanceOf<T> {
	T::Currency::balance_on_hold(&reason.into(), who)
}
