//! Every currency movement of the registry, in one place.
//!
//! The pallet holds two kinds of funds, each under its own [`HoldReason`]:
//! - [`HoldReason::NodeCollateral`]: per node, recorded in [`ComputeNode::collateral`]
//!   (and summed in [`TotalCollateral`]); released by `withdraw_collateral` and `withdraw`,
//!   slashed through [`ComputeNodes::slash`](crate::ComputeNodes::slash) and
//!   [`ComputeNodes::slash_reserved`](crate::ComputeNodes::slash_reserved), which burn
//!   [`Config::SlashBurn`](crate::Config::SlashBurn) of every slash. Reservations
//!   ([`ReservedCollateral`](crate::ReservedCollateral)) are bookkeeping inside this hold: they
//!   move no funds.
//! - [`HoldReason::ModelDeposit`]: per model, recorded in [`Model::deposit`].
//!
//! Nothing else in the pallet touches `T::Currency` for writes.
//!
//! [`ComputeNode::collateral`]: crate::types::ComputeNode::collateral
//! [`Model::deposit`]: crate::types::Model::deposit
//! [`TotalCollateral`]: crate::TotalCollateral

use crate::{AccountIdOf, BalanceOf, Config, Error, HoldReason, SlashOutcome};
use frame_support::{
	pallet_prelude::DispatchResult,
	traits::{
		fungible::{InspectHold, MutateHold},
		tokens::{Fortitude, Precision, Restriction},
	},
};
use sp_runtime::{
	traits::{Saturating, Zero},
	DispatchError, Perbill,
};

/// Fails with [`Error::InsufficientBalance`] unless `amount` can be held from `who`.
pub(crate) fn ensure_can_hold<T: Config>(
	who: &AccountIdOf<T>,
	reason: HoldReason,
	amount: BalanceOf<T>,
) -> DispatchResult {
	T::Currency::ensure_can_hold(&reason.into(), who, amount)
		.map_err(|_| Error::<T>::InsufficientBalance.into())
}

/// Holds `amount` from `who` (after [`ensure_can_hold`]).
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
) -> Result<BalanceOf<T>, DispatchError> {
	T::Currency::release(&reason.into(), who, amount, Precision::Exact)
}

/// Takes up to `amount` of `who`'s held collateral: burns `burn_share` of it (all of it when
/// there is no beneficiary) and moves the rest to `beneficiary`'s free balance.
pub(crate) fn slash_collateral<T: Config>(
	who: &AccountIdOf<T>,
	amount: BalanceOf<T>,
	burn_share: Perbill,
	beneficiary: Option<&AccountIdOf<T>>,
) -> Result<SlashOutcome<BalanceOf<T>>, DispatchError> {
	let reason = HoldReason::NodeCollateral.into();
	let to_burn = match beneficiary {
		Some(_) => burn_share.mul_ceil(amount),
		None => amount,
	};
	let burnt = if to_burn.is_zero() {
		to_burn
	} else {
		T::Currency::burn_held(&reason, who, to_burn, Precision::BestEffort, Fortitude::Force)?
	};
	let paid = match beneficiary {
		Some(to) if !amount.saturating_sub(burnt).is_zero() => T::Currency::transfer_on_hold(
			&reason,
			who,
			to,
			amount.saturating_sub(burnt),
			Precision::BestEffort,
			Restriction::Free,
			Fortitude::Force,
		)?,
		_ => Zero::zero(),
	};
	Ok(SlashOutcome { taken: burnt.saturating_add(paid), burnt })
}

/// What `who` has on hold for `reason`.
#[cfg(any(feature = "std", feature = "try-runtime"))]
pub(crate) fn held<T: Config>(who: &AccountIdOf<T>, reason: HoldReason) -> BalanceOf<T> {
	T::Currency::balance_on_hold(&reason.into(), who)
}
