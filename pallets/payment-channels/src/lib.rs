//! # Payment channels
//!
//! Unidirectional payment channels from a client to a serving node's owner, paid by cumulative
//! signed vouchers (P2P-LLM §4.2; Filecoin's `paych` actor is the model). Generating text costs
//! one forward pass per token per hop: one voucher per pass travels off chain with each request,
//! and the chain sees only opening, the occasional claim and closing.
//!
//! ## Overview
//!
//! - **Opening.** `open(node, deposit)`: the payer holds `deposit` under
//!   [`HoldReason::ChannelDeposit`] and [`Config::ChannelStorageDeposit`] under
//!   [`HoldReason::StorageDeposit`]. The node must be serving; its owner at this moment is the
//!   channel's payee for good. A payer has at most [`Config::MaxChannelsPerPayer`] channels,
//!   and every channel costs it a storage deposit, so nobody fills storage for free. Channel
//!   ids count up and are never reused. `top_up` adds to the deposit until closing is
//!   requested.
//! - **Vouchers.** The payer signs [`Voucher`]s off chain (payload, tags and the replays each
//!   field closes: [`appchain_primitives::voucher`]). Signatures are checked against the payer
//!   with [`Config::Signature`]; the chain's genesis hash is `frame_system`'s block hash of
//!   block 0.
//! - **Claims.** `claim(channel, voucher)` by the payee pays
//!   `min(cumulative, deposit) − claimed` from the payer's hold to the payee
//!   ([`voucher::payable`](appchain_primitives::voucher::payable)) and must pay something: a
//!   replayed or older voucher fails with [`Error::StaleVoucher`], and one above the deposit
//!   pays what is left ([`Error::NothingToClaim`] once that is paid; after a top-up the same
//!   voucher pays the rest). Claims are `Operational`, so a full block cannot push the last
//!   claim of a closing channel out of its challenge period.
//! - **Closing**, three ways:
//!   - the payer's `request_close` starts [`Config::ChallengePeriod`]: the payee may claim
//!     until its last block; from `closes_at` on, anyone may `finalize`, which refunds the
//!     rest to the payer. The period is long enough for a node that was briefly offline
//!     (hours on a real network; the dev runtime shortens it);
//!   - the payee's `close`, with an optional last voucher, closes at once (the payee gives up
//!     nothing it has not claimed: it is the only one who could claim);
//!   - the payer's `cooperative_close` with the payee's signed [`CloseConsent`] closes at once,
//!     paying the payee up to the settled amount. A consent is final: it carries no expiry, so
//!     a payee that signs one must take no more vouchers on the channel (the payer could close
//!     at the consented amount later). A consent below what was claimed is refused.
//!
//!   Closing removes the channel and returns the storage deposit in the same call; a second
//!   close finds nothing ([`Error::UnknownChannel`]), so nothing is paid twice.
//!
//! Design choices: a channel pays a node's *owner*, fixed at opening, so that a claim never
//! depends on the registry's state later (the node may have moved layers or unregistered).
//! Channels reserve nothing from the node's collateral: the payee risks nothing (it computes
//! only after receiving a voucher that pays for the pass), and the payer risks at most the
//! price of one pass per request. A payer can always get its money back without the payee's
//! help (`request_close` then `finalize`), and a payee can always be paid without the payer's
//! help (`claim` any time before `closes_at`).
//!
//! Every currency movement is in `funds.rs`. The runtime API in [`runtime_api`] reads
//! channels; the node serves it as `channels_get`, `channels_ofPayer` and `channels_ofPayee`.
//!
//! ## Storage versions and migrations
//!
//! - **0**: channels, listed by payer.
//! - **1**: channels are also listed by payee ([`PayeeChannels`]), so a payee's watcher reads
//!   its own channels instead of every channel. [`migrations::v1::MigrateV0ToV1`] builds the
//!   index on a chain at version 0; its `pre_upgrade`/`post_upgrade` checks run under
//!   try-runtime (`scripts/try-runtime.sh`).
//!
//! ## Invariants
//!
//! Checked by [`Pallet::do_try_state`] in `try_state` and after every unit test.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

mod funds;
mod impls;
pub mod migrations;
pub mod runtime_api;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use appchain_primitives::voucher::{ChannelId, CloseConsent, Voucher};

/// What the benchmarks need from the runtime: a serving node, and a payer that can sign.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId, Signature> {
	/// A fresh serving node owned by `owner` (funded by the helper).
	fn serving_node(owner: &AccountId) -> appchain_primitives::NodeId;
	/// A fresh account whose key can sign (see [`Self::sign`]).
	fn signer(index: u32) -> AccountId;
	/// `signer`'s signature of `payload`.
	fn sign(signer: &AccountId, payload: &[u8]) -> Signature;
}

// FRAME's macros expand `#[pallet::pallet]`, `#[pallet::storage]` and `#[pallet::error]` into
// `expect`s on values they build themselves. The pallet's logic lives in `impls.rs`, where the
// workspace lints apply in full.
#[allow(clippy::expect_used)]
#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use appchain_primitives::NodeId;
	use frame_support::{
		pallet_prelude::*,
		traits::fungible::{Mutate, MutateHold},
	};
	use frame_system::pallet_prelude::*;
	use pallet_compute_registry::ComputeNodes;
	use sp_runtime::traits::{IdentifyAccount, Verify};

	/// 1: channels are indexed by payee ([`PayeeChannels`], built for older chains by
	/// [`migrations::v1::MigrateV0ToV1`]).
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The currency of deposits and payments.
		type Currency: Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The compute-node registry: whether a node serves, and who owns it.
		type Nodes: ComputeNodes<Self::AccountId, BalanceOf<Self>>;

		/// Signatures of vouchers (by payers) and close consents (by payees), checked against
		/// the signer's account (the runtime's `MultiSignature`).
		type Signature: Parameter
			+ MaxEncodedLen
			+ Verify<Signer: IdentifyAccount<AccountId = Self::AccountId>>;

		/// Least deposit a channel opens with (at least the existential deposit).
		#[pallet::constant]
		type MinDeposit: Get<BalanceOf<Self>>;

		/// Held from the payer for each channel's storage while it exists.
		#[pallet::constant]
		type ChannelStorageDeposit: Get<BalanceOf<Self>>;

		/// Most channels one payer has open at a time.
		#[pallet::constant]
		type MaxChannelsPerPayer: Get<u32>;

		/// Blocks between a payer's request to close and the first block at which the channel
		/// can be finalized; the payee may claim during them. Long enough for a node that was
		/// briefly offline to come back and claim.
		#[pallet::constant]
		type ChallengePeriod: Get<BlockNumberFor<Self>>;

		/// Weights of the calls, generated by the benchmarks.
		type WeightInfo: WeightInfo;

		/// Builds nodes and signing payers for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId, Self::Signature>;
	}

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A payer's funds in its open channels (deposits less what was claimed).
		#[codec(index = 0)]
		ChannelDeposit,
		/// A payer's storage deposits for its open channels.
		#[codec(index = 1)]
		StorageDeposit,
	}

	/// Open channels (including those whose closing was requested).
	#[pallet::storage]
	pub type Channels<T: Config> = StorageMap<_, Twox64Concat, ChannelId, ChannelOf<T>>;

	/// Id of the next channel opened; ids are never reused.
	#[pallet::storage]
	pub type NextChannelId<T: Config> = StorageValue<_, ChannelId, ValueQuery>;

	/// Each payer's open channels, for listing them.
	#[pallet::storage]
	pub type PayerChannels<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, ChannelId, ()>;

	/// The open channels paying each payee, for the payee's watcher (a payee may be paid by
	/// any number of channels, so it is read in pages: [`Pallet::channels_paying`]).
	#[pallet::storage]
	pub type PayeeChannels<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, ChannelId, ()>;

	/// How many channels each payer has open (at most [`Config::MaxChannelsPerPayer`]).
	#[pallet::storage]
	pub type OpenChannels<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A channel was opened, holding `deposit` and `storage_deposit` from the payer.
		ChannelOpened {
			channel: ChannelId,
			payer: T::AccountId,
			node: NodeId,
			payee: T::AccountId,
			deposit: BalanceOf<T>,
			storage_deposit: BalanceOf<T>,
		},
		/// The payer added `amount`; the channel's deposit is now `deposit`.
		ToppedUp { channel: ChannelId, amount: BalanceOf<T>, deposit: BalanceOf<T> },
		/// The payee claimed a voucher for `cumulative`: `paid` now, `claimed` in all.
		Claimed {
			channel: ChannelId,
			cumulative: BalanceOf<T>,
			paid: BalanceOf<T>,
			claimed: BalanceOf<T>,
		},
		/// The payer requested closing; anyone may finalize from `closes_at`, and the payee may
		/// claim until then.
		CloseRequested { channel: ChannelId, closes_at: BlockNumberFor<T> },
		/// The channel closed: `claimed` was paid to the payee in all, `refunded` and the
		/// storage deposit went back to the payer.
		ChannelClosed {
			channel: ChannelId,
			how: CloseKind,
			claimed: BalanceOf<T>,
			refunded: BalanceOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No open channel with that id.
		UnknownChannel,
		/// Only the channel's payer may do this.
		NotPayer,
		/// Only the channel's payee may do this.
		NotPayee,
		/// The node is not registered, has no recent heartbeat or too little collateral.
		NodeNotServing,
		/// A payer cannot open a channel to its own node.
		PayerIsPayee,
		/// The deposit is below [`Config::MinDeposit`].
		DepositBelowMinimum,
		/// The payer has [`Config::MaxChannelsPerPayer`] channels open.
		TooManyChannels,
		/// Not enough free balance for the deposit.
		InsufficientBalance,
		/// A top-up must add something.
		ZeroAmount,
		/// An amount or block number overflowed.
		Overflow,
		/// The signature is not the expected signer's over this channel's payload.
		BadSignature,
		/// The voucher promises no more than was claimed already (a replay or an older one).
		StaleVoucher,
		/// Everything the deposit holds was claimed; a top-up would let the voucher pay more.
		NothingToClaim,
		/// The payer already requested closing.
		Closing,
		/// The payer has not requested closing.
		NotClosing,
		/// The challenge period is over: the channel can only be finalized.
		ChallengePeriodOver,
		/// The challenge period is still running.
		ChallengePeriodOpen,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn integrity_test() {
			assert!(T::MaxChannelsPerPayer::get() > 0, "a payer must be able to open a channel");
			assert!(
				!T::ChallengePeriod::get().is_zero(),
				"a payee needs at least one block to claim after a close request"
			);
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Open a channel paying the owner of `node`.
		///
		/// - origin: the payer (signed);
		/// - `node`: a serving node; its current owner becomes the payee;
		/// - `deposit`: held from the payer, at least [`Config::MinDeposit`]; the payer also
		///   holds [`Config::ChannelStorageDeposit`] until the channel closes.
		#[pallet::call_index(0)]
		pub fn open(origin: OriginFor<T>, node: NodeId, deposit: BalanceOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_open(who, node, deposit).map(|_| ())
		}

		/// Add `amount` to a channel's deposit.
		///
		/// - origin: the channel's payer, before it requested closing.
		#[pallet::call_index(1)]
		pub fn top_up(
			origin: OriginFor<T>,
			channel: ChannelId,
			amount: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_top_up(&who, channel, amount)
		}

		/// Claim a voucher: pays `min(cumulative, deposit) − claimed` to the payee.
		///
		/// - origin: the channel's payee, before the challenge period of a close request ends;
		/// - `voucher`: the cumulative amount and the payer's signature over its payload.
		#[pallet::call_index(2)]
		#[pallet::weight((<T as Config>::WeightInfo::claim(), DispatchClass::Operational))]
		pub fn claim(
			origin: OriginFor<T>,
			channel: ChannelId,
			voucher: SignedVoucherOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_claim(&who, channel, voucher)
		}

		/// Ask to close a channel. Anyone may `finalize` it from
		/// `now + ChallengePeriod`; the payee may claim until then.
		///
		/// - origin: the channel's payer.
		#[pallet::call_index(3)]
		pub fn request_close(origin: OriginFor<T>, channel: ChannelId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_request_close(&who, channel)
		}

		/// Close a channel whose challenge period is over, returning what is left and the
		/// storage deposit to the payer.
		///
		/// - origin: anyone (signed).
		#[pallet::call_index(4)]
		pub fn finalize(origin: OriginFor<T>, channel: ChannelId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_finalize(channel)
		}

		/// Close a channel at once, after claiming `last_voucher` if given.
		///
		/// - origin: the channel's payee (any time; a last voucher only before the end of a
		///   challenge period, as for `claim`).
		#[pallet::call_index(5)]
		#[pallet::weight(<T as Config>::WeightInfo::close())]
		pub fn close(
			origin: OriginFor<T>,
			channel: ChannelId,
			last_voucher: Option<SignedVoucherOf<T>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_close_by_payee(&who, channel, last_voucher)
		}

		/// Close a channel at once with the payee's consent: the payee is paid up to `settled`
		/// in all, the payer gets the rest back.
		///
		/// - origin: the channel's payer;
		/// - `payee_signature`: the payee's signature over the [`CloseConsent`] payload of this
		///   channel and `settled`.
		#[pallet::call_index(6)]
		pub fn cooperative_close(
			origin: OriginFor<T>,
			channel: ChannelId,
			settled: BalanceOf<T>,
			payee_signature: T::Signature,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_cooperative_close(&who, channel, settled, payee_signature)
		}
	}
}

/// Balance of the pallet's currency.
pub type BalanceOf<T> = <<T as Config>::Currency as frame_support::traits::fungible::Inspect<
	<T as frame_system::Config>::AccountId,
>>::Balance;
/// Account id of the runtime.
pub type AccountIdOf<T> = <T as frame_system::Config>::AccountId;
/// A channel of the runtime.
pub type ChannelOf<T> =
	Channel<AccountIdOf<T>, BalanceOf<T>, frame_system::pallet_prelude::BlockNumberFor<T>>;
/// A signed voucher of the runtime.
pub type SignedVoucherOf<T> = SignedVoucher<BalanceOf<T>, <T as Config>::Signature>;
/// A channel with its id, as the runtime API returns it.
pub type ChannelViewOf<T> =
	ChannelView<AccountIdOf<T>, BalanceOf<T>, frame_system::pallet_prelude::BlockNumberFor<T>>;
