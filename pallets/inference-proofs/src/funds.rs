//! Every currency movement of the inference-proof pallet, in one place.
//!
//! - [`HoldReason::DisputeBond`]: held from a client that disputes a step; released when the
//!   step is not upheld, paid to the node's owner when it is.
//! - [`HoldReason::AuditBond`]: held from a client for each open audit; paid to the node's
//!   owner when the client cannot reveal a signed receipt of the challenged step, released
//!   otherwise.
//! - Collateral: a commitment reserves the payment plus the penalty from the node's collateral
//!   in the registry, and each verifier drawn has its bond reserved. Settling releases a
//!   reservation ([`release`]) or slashes from it ([`slash`]): the registry burns its share and
//!   pays the rest to the beneficiary.
//!
//! Nothing here mints; only the registry's slashes burn.

use crate::{AccountIdOf, BalanceOf, Config, Error, HoldReason};
use appchain_primitives::NodeId;
use frame_support::{
	pallet_prelude::DispatchResult,
	traits::{
		fungible::MutateHold,
		tokens::{Fortitude, Precision, Restriction},
	},
};
use pallet_compute_registry::{ComputeNodes, SlashOutcome, SlashReason};
use sp_runtime::{traits::Zero, DispatchError};

/// Holds a client's bond (a dispute's or an audit's).
pub(crate) fn hold_bond<T: Config>(
	reason: HoldReason,
	client: &AccountIdOf<T>,
	bond: BalanceOf<T>,
) -> DispatchResult {
	if bond.is_zero() {
		return Ok(());
	}
	T::Currency::hold(&reason.into(), client, bond)
		.map_err(|_| Error::<T>::InsufficientBalance.into())
}

/// Releases a client's bond.
pub(crate) fn release_bond<T: Config>(
	reason: HoldReason,
	client: &AccountIdOf<T>,
	bond: BalanceOf<T>,
) -> DispatchResult {
	if bond.is_zero() {
		return Ok(());
	}
	T::Currency::release(&reason.into(), client, bond, Precision::Exact).map(|_| ())
}

/// Pays a client's bond to `to` (the owner of the node it wrongly disputed or audited).
pub(crate) fn forfeit_bond<T: Config>(
	reason: HoldReason,
	client: &AccountIdOf<T>,
	to: &AccountIdOf<T>,
	bond: BalanceOf<T>,
) -> DispatchResult {
	if bond.is_zero() {
		return Ok(());
	}
	if client == to {
		return release_bond::<T>(reason, client, bond);
	}
	T::Currency::transfer_on_hold(
		&reason.into(),
		client,
		to,
		bond,
		Precision::Exact,
		Restriction::Free,
		// The bond is owed: a freeze on the client's account must not block paying it.
		Fortitude::Force,
	)
	.map(|_| ())
}

/// Reserves `amount` of `node`'s free collateral for an obligation.
pub(crate) fn reserve<T: Config>(node: NodeId, amount: BalanceOf<T>) -> DispatchResult {
	if amount.is_zero() {
		return Ok(());
	}
	T::Nodes::reserve(node, amount)
}

/// Releases `amount` of `node`'s reservation.
pub(crate) fn release<T: Config>(node: NodeId, amount: BalanceOf<T>) -> DispatchResult {
	if amount.is_zero() {
		return Ok(());
	}
	T::Nodes::release_reservation(node, amount)
}

/// Slashes `amount` from `node`'s reservation to `to`, less the registry's burnt share.
pub(crate) fn slash<T: Config>(
	node: NodeId,
	amount: BalanceOf<T>,
	to: &AccountIdOf<T>,
	reason: SlashReason,
) -> Result<SlashOutcome<BalanceOf<T>>, DispatchError> {
	if amount.is_zero() {
		return Ok(SlashOutcome::default());
	}
	T::Nodes::slash_reserved(node, amount, Some(to), reason)
}

/// What `who` has on hold for `reason`.
#[cfg(any(feature = "std", feature = "try-runtime"))]
pub(crate) fn held<T: Config>(reason: HoldReason, who: &AccountIdOf<T>) -> BalanceOf<T> {
	use frame_support::traits::fungible::InspectHold;
	T::Currency::balance_on_hold(&reason.into(), who)
}
