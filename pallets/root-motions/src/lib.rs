//! # Root motions
//!
//! The governance origin that replaces a sudo key: a call that needs `Root` (a runtime upgrade,
//! a parameter only root may change, the members of a collective) is enacted when a configured
//! origin — in this chain a two-thirds majority of the technical committee, a
//! `pallet-collective` instance — approves it in a motion.
//!
//! ## Why a pallet
//!
//! A collective's motion dispatches its proposal with the collective's own origin
//! (`Members(ayes, seats)`), which `ensure_root` calls such as `System::set_code` refuse; sudo
//! turns one *key* into root. This pallet turns an *origin* into root, and nothing else: the
//! committee proposes `RootMotions::enact(call)`, its members vote, the motion closes and the
//! call runs as root.
//!
//! ## Design choices
//!
//! - **Who may enact** is [`Config::EnactOrigin`], so a runtime can require a stricter majority,
//!   or a different body, without touching this pallet.
//! - **Failures are results, not errors**: like sudo, `enact` succeeds when the origin is right
//!   and reports the inner call's result in [`Event::Enacted`], so that a motion that passed is
//!   recorded as enacted even when its call then failed.
//! - **No fee**: the motion's `close` already paid for the proposal's weight, which
//!   `pallet-collective` bounds by its `MaxProposalWeight`.
//! - **No storage**: there is nothing to migrate and no invariant to keep beyond that.
//!
//! ## Calls
//!
//! - [`enact`](Pallet::enact): dispatch a call as root, by [`Config::EnactOrigin`].

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use pallet::*;
pub use weights::WeightInfo;

// The `pallet` macro's generated code uses `expect` (e.g. in its integrity test).
#[allow(clippy::expect_used)]
#[frame_support::pallet]
pub mod pallet {
	use super::WeightInfo;
	use alloc::boxed::Box;
	use frame_support::{
		dispatch::{GetDispatchInfo, PostDispatchInfo},
		pallet_prelude::*,
		traits::UnfilteredDispatchable,
	};
	use frame_system::{pallet_prelude::*, RawOrigin};
	use sp_runtime::traits::Hash;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	/// Configuration of the pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// A call that can be enacted as root.
		type RuntimeCall: Parameter
			+ UnfilteredDispatchable<RuntimeOrigin = Self::RuntimeOrigin>
			+ GetDispatchInfo;

		/// Who may enact a call as root: in this chain a two-thirds majority of the technical
		/// committee. Never a single signed account.
		type EnactOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A call was dispatched as root; `result` is what it returned.
		Enacted { call_hash: T::Hash, result: DispatchResult },
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// The pallet has no storage, so no invariant to check.
		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Ok(())
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Dispatches `call` with the root origin.
		///
		/// - `origin`: [`Config::EnactOrigin`] (a committee motion that reached its majority).
		/// - `call`: any call; its own result is reported in [`Event::Enacted`].
		///
		/// Costs the call's weight plus this pallet's overhead; no fee is charged.
		#[pallet::call_index(0)]
		#[pallet::weight({
			let info = call.get_dispatch_info();
			(T::WeightInfo::enact().saturating_add(info.call_weight), info.class)
		})]
		pub fn enact(
			origin: OriginFor<T>,
			call: Box<<T as Config>::RuntimeCall>,
		) -> DispatchResultWithPostInfo {
			T::EnactOrigin::ensure_origin(origin)?;
			Ok(Self::do_enact(*call))
		}
	}

	impl<T: Config> Pallet<T> {
		/// Dispatches `call` as root and records its result; the actual weight is this
		/// pallet's overhead plus what the call reports it used.
		pub(crate) fn do_enact(call: <T as Config>::RuntimeCall) -> PostDispatchInfo {
			let call_hash = T::Hashing::hash_of(&call);
			let declared = call.get_dispatch_info().call_weight;
			let outcome = call.dispatch_bypass_filter(RawOrigin::Root.into());
			let (used, result) = match outcome {
				Ok(post) => (post.actual_weight, Ok(())),
				Err(e) => (e.post_info.actual_weight, Err(e.error)),
			};
			let weight = T::WeightInfo::enact().saturating_add(used.unwrap_or(declared));
			Self::deposit_event(Event::Enacted { call_hash, result });
			PostDispatchInfo { actual_weight: Some(weight), pays_fee: Pays::No }
		}
	}
}
