//! Every currency movement of the registry, in one place.
//!
//! The pallet holds two kinds of funds, each under its own [`HoldReason`]:
//! - [`HoldReason::NodeCollateral`]: per node, recorded in [`ComputeNode::collateral`]
//!   (and summed in [`TotalCollateral`]); released by `withdraw_collateral` and `withdraw`,
//!   slashed through [`ComputeNodes::slash`](crate::ComputeNodes::slash);
//! - [`HoldReason::ModelDeposit`]: per model, recorded in [`Model::deposit`].
//!
//! Nothing else in the pallet touches `T::Currency` for writes.
//!
//! [`ComputeNode::collateral`]: crate::types::ComputeNode::collateral
//! [`Model::deposit`]: crate::types::Model::deposit
//! [`TotalCollateral`]: crate::TotalCollateral

use crate::{AccountIdOf, BalanceOf, Config, Error, HoldReason};
use frame_support::{
	pallet_prelude::DispatchResult,
	traits::{
		fungible::{InspectHold, MutateHold},
		tokens::{Fortitude, Precision, Restriction},
	},
};
use sp_runtime::DispatchError;

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

/// Moves up to `amount` of `who`'s held collateral to `beneficiary` (free balance), or burns it
/// when there is none. Returns what was actually taken.
pub(crate) fn slash_collateral<T: Config>(
	who: &AccountIdOf<T>,
	amount: BalanceOf<T>,
	beneficiary: Option<&AccountIdOf<T>>,
) -> Result<BalanceOf<T>, DispatchError> {
	let reason = HoldReason::NodeCollateral.into();
	match beneficiary {
		Some(to) => T::Currency::transfer_on_hold(
			&reason,
			who,
			to,
			amount,
			Precision::BestEffort,
			Restriction::Free,
			Fortitude::Force,
		),
		None => {
			T::Currency::burn_held(&reason, who, amount, Precision::BestEffort, Fortitude::Force)
		},
	}
}

/// What `who` has on hold for `reason`.
#[cfg(any(feature = "std", feature = "try-runtime"))]
pub(crate) fn held<T: Config>(who: &AccountIdOf<T>, reason: HoldReason) -> BalanceOf<T> {
	T::Currency::balance_on_hold(&reason.into(), who)
}
