//! Every currency movement of the hash-job pallet, in one place.
//!
//! - [`HoldReason::JobBudget`]: a job's budget is held from its client when posted. Rewards and
//!   the finder's bonus move out of that hold to the workers' free balance; when the job
//!   completes or is cancelled, the rest is released to the client. [`Job::paid`] records what
//!   left the hold, so `budget - paid` is always what is still held for the job.
//! - Penalties are reserved from a node's collateral when it claims, and slashed from that
//!   reservation by the registry ([`ComputeNodes::slash_reserved`]), which burns its share and
//!   gives the rest to the job's client.
//!
//! Nothing here mints; only the registry's slashes burn.
//!
//! [`Job::paid`]: crate::Job::paid

use crate::{AccountIdOf, BalanceOf, Config, Error, HoldReason};
use appchain_primitives::NodeId;
use frame_support::{
	pallet_prelude::DispatchResult,
	traits::{
		fungible::{InspectHold, MutateHold},
		tokens::{Fortitude, Precision, Restriction},
	},
};
use pallet_compute_registry::{ComputeNodes, SlashReason, SlashOutcome};
use sp_runtime::{traits::Zero, DispatchError};

/// Fails with [`Error::InsufficientBalance`] unless `amount` can be held from `who`.
pub(crate) fn ensure_can_hold<T: Config>(
	who: &AccountIdOf<T>,
	amount: BalanceOf<T>,
) -> DispatchResult {
	T::Currency::ensure_can_hold(&HoldReason::JobBudget.into(), who, amount)
		.map_err(|_| Error::<T>::InsufficientBalance.into())
}

/// Holds a job's budget from its client.
pub(crate) fn hold_budget<T: Config>(
	client: &AccountIdOf<T>,
	amount: BalanceOf<T>,
) -> DispatchResult {
	T::Currency::hold(&HoldReason::JobBudget.into(), client, amount)
		.map_err(|_| Error::<T>::InsufficientBalance.into())
}

/// Releases what is left of a job's budget to its client.
pub(crate) fn release_budget<T: Config>(
	client: &AccountIdOf<T>,
	amount: BalanceOf<T>,
) -> DispatchResult {
	if amount.is_zero() {
		return Ok(());
	}
	T::Currency::release(&HoldReason::JobBudget.into(), client, amount, Precision::Exact)
		.map(|_| ())
}

/// Pays `amount` of a client's held budget to a worker's free balance.
pub(crate) fn pay_from_budget<T: Config>(
	client: &AccountIdOf<T>,
	worker: &AccountIdOf<T>,
	amount: BalanceOf<T>,
) -> DispatchResult {
	if amount.is_zero() {
		return Ok(());
	}
	if client == worker {
		return T::Currency::release(
			&HoldReason::JobBudget.into(),
			client,
			amount,
			Precision::Exact,
		)
		.map(|_| ());
	}
	T::Currency::transfer_on_hold(
		&HoldReason::JobBudget.into(),
		client,
		worker,
		amount,
		Precision::Exact,
		Restriction::Free,
		// Escrow is owed: a freeze on the payer's account must not block paying it out.
		Fortitude::Force,
	)
	.map(|_| ())
}

/// Slashes `penalty` from what `node` reserved when it claimed the subjob and gives it, less
/// the registry's burnt share, to `client`; nothing when the node is gone from the registry.
pub(crate) fn slash<T: Config>(
	node: NodeId,
	penalty: BalanceOf<T>,
	client: &AccountIdOf<T>,
	reason: SlashReason,
) -> Result<SlashOutcome<BalanceOf<T>>, DispatchError> {
	if penalty.is_zero() || T::Nodes::owner(node).is_none() {
		return Ok(SlashOutcome::default());
	}
	T::Nodes::slash_reserved(node, penalty, Some(client), reason)
}

/// What `who` has on hold for job budgets.
#[cfg(any(feature = "std", feature = "try-runtime"))]
pub(crate) fn held<T: Config>(who: &AccountIdOf<T>) -> BalanceOf<T> {
	T::Currency::balance_on_hold(&HoldReason::JobBudget.into(), who)
}
