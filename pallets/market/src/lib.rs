//! # Compute market
//!
//! How compute is priced and paid: markets with market owners and listing prices (CompuP2P,
//! section III), reverse-Vickrey settlement, and service-level agreements whose payment is held
//! in escrow until the work is delivered (P2P-LLM, section 4.2).
//!
//! ## Overview
//!
//! - **Markets.** One market per [`Commodity`]: a layer shard of a registered model, or a
//!   hash-rate class. Anyone opens one by holding [`Config::MarketDeposit`] and becomes its
//!   *market owner*, who chooses the [`ListingPolicy`]:
//!   - [`ListingPolicy::FixedFee`]: each seller pays the owner a fixed listing price when it
//!     lists, and sales are reverse-Vickrey auctions ([`auction::settle_second_price`]);
//!   - [`ListingPolicy::VariableMaxMin`]: listing is free and each sale pays the owner the
//!     max-min payoff ([`auction::settle_max_min`]).
//! - **Listings.** The owner of a serving node eligible for the commodity lists it with an ask,
//!   its marginal cost per unit and the most listing fee it accepts, and may de-list it at any
//!   time; anyone may de-list a node that stopped serving. A market holds at most
//!   [`Config::MaxListings`] listings, in listing order, and at most
//!   [`Config::MaxListingsPerOwner`] of one owner's nodes. A full market takes a new listing
//!   only if its ask is below the highest, which it evicts: a Sybil seller cannot fill a market
//!   with early listings to shut honest sellers out and set the second price. A market that
//!   has not sold for [`Config::MarketIdleTimeout`] blocks can be expired by anyone, so that
//!   no owner squats a commodity (with a prohibitive fee, say) for ever. The owner changes the listing policy
//!   only while the market has no listings. The buyer's listings and the market owner's take
//!   no part in a sale (they stay listed for other buyers): a buyer's own ask just above the
//!   lowest would set the second price it pays, and an owner's asks would set its own payoff.
//!   Design choice: excluding them outright, rather than letting them win without pricing,
//!   keeps every sale a plain second-price auction over the other sellers, so asking one's
//!   true cost stays the best strategy.
//! - **Sales.** `buy` settles the market among its serving listings (listings of nodes that
//!   stopped serving are dropped on the way), opens an agreement with the winner at the sale
//!   price and de-lists the winner; it may list again.
//! - **Agreements (SLA escrow).** An [`Agreement`] binds a client and a provider node to a work
//!   kind, a price per unit, a number of units, a latency bound, a deadline and a penalty. It is
//!   opened by a sale or directly with a chosen node (`open_agreement`), with
//!   `price_per_unit * units` held from the client under [`HoldReason::Escrow`]. The penalty may
//!   be at most [`Config::MaxPenaltyPerEscrow`] times the escrow. Then:
//!   - before the provider accepts, the client may `cancel` for a full refund;
//!   - the provider `accept`s, which **reserves the penalty from its node's free collateral**
//!     (see the registry): a node takes no agreement its free collateral cannot back, and the
//!     reserved part can be neither withdrawn nor slashed for anything else until the
//!     agreement settles;
//!   - *inference* work: the provider reports `complete` by the deadline; during
//!     [`Config::ChallengeWindow`] blocks after the report the client may `dispute` it by
//!     holding [`Config::DisputeBond`]; without a dispute, anyone may `claim_payment` after the
//!     window, which pays the escrow to the provider and releases the reservation;
//!   - *hash-subjob* work is paid on the hash-job pallet's verdicts, never on the provider's
//!     word (`complete` is refused): each subjob of one of the client's jobs that the node
//!     gets verified delivers one unit ([`pallet_compute_registry::OnVerifiedWork`]) if it is
//!     at least one second of work at the hash rate the node declared when accepting, and the
//!     last unit pays the escrow at once. These agreements carry no penalty: delivery also
//!     depends on the client posting jobs, and each claimed subjob is backed by the hash-job
//!     pallet's own reserved penalty;
//!   - past the deadline without delivery, anyone may `claim_refund`: units already delivered
//!     are paid, the client gets the rest back and, if the provider had accepted, the penalty
//!     slashed from its reservation;
//!   - a disputed agreement waits for [`Config::VerifierOrigin`] (`resolve_dispute`; a
//!     collective of verifiers in the runtime, the proof pallet later) until
//!     [`Config::DisputeTimeout`]: work found wrong is refunded with the penalty and the
//!     client's bond returned; work found right is paid and the client's bond goes to the
//!     provider. A dispute nobody decides in time lapses: the work is paid (it can no longer
//!     be challenged) and the bond returned.
//!   - until the challenge window closes (or while disputed), [`Config::VerifierOrigin`] (or
//!     another pallet through [`WorkVerdicts`]) may also reject proven-wrong work outright.
//!
//!   Slashes burn the registry's `SlashBurn` share, so a client receives the penalty minus
//!   that share (`compensation` in the events). Design choices: the penalty cap and the burnt
//!   share make self-dealing (a node owner's second account opening an agreement on its own
//!   node to default on it) move collateral out no faster than `withdraw_collateral` and at a
//!   loss, and the reservation keeps every honest client's penalty backed whatever else the
//!   node does. The dispute bond makes disputing honest work cost the client.
//!
//!   Settling an agreement removes it, in the same call that moves its escrow; a second
//!   settlement finds nothing ([`Error::UnknownAgreement`]).
//!
//! Every currency movement is in `funds.rs`. Nodes, their collateral and their slashing belong
//! to the registry, reached through [`Config::Nodes`].
//!
//! ## Invariants
//!
//! Checked by [`Pallet::do_try_state`] (see there for the list) in `try_state` and after every
//! unit test.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
#[cfg(feature = "runtime-benchmarks")]
pub use traits::RegistryHelper;
pub use traits::{BenchmarkHelper, WorkVerdicts};
pub use types::*;
pub use weights::WeightInfo;

pub mod auction;
mod funds;
mod impls;
mod queries;
pub mod runtime_api;
pub mod traits;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

#[cfg(any(feature = "std", feature = "try-runtime"))]
const LOG_TARGET: &str = "runtime::compute-market";

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

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The currency of deposits, fees and escrow; the same the registry holds collateral in.
		type Currency: Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The compute-node registry: who owns a node, whether it serves, what it serves, and
		/// slashing of its collateral.
		type Nodes: ComputeNodes<Self::AccountId, BalanceOf<Self>>;

		/// May reject delivered work as proven wrong (the proofs pallet calls
		/// [`WorkVerdicts::reject`] directly instead).
		type VerifierOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Held from a market owner while the market is open.
		#[pallet::constant]
		type MarketDeposit: Get<BalanceOf<Self>>;

		/// Most listings in one market.
		#[pallet::constant]
		type MaxListings: Get<u32>;

		/// Blocks without a sale after which anyone may expire a market, so that nobody owns a
		/// commodity's market for ever by keeping it idle (or its fee prohibitive).
		#[pallet::constant]
		type MarketIdleTimeout: Get<BlockNumberFor<Self>>;

		/// Most listings of one owner's nodes in one market.
		#[pallet::constant]
		type MaxListingsPerOwner: Get<u32>;

		/// Blocks after a completion report during which the work can still be rejected; the
		/// escrow is paid only after it.
		#[pallet::constant]
		type ChallengeWindow: Get<BlockNumberFor<Self>>;

		/// Longest agreement, from opening to deadline. Keep `MaxAgreementDuration +
		/// ChallengeWindow` below the registry's unbonding period, so that a provider that
		/// unregisters right after accepting still has its collateral held when it misses the
		/// deadline or its work is rejected.
		#[pallet::constant]
		type MaxAgreementDuration: Get<BlockNumberFor<Self>>;

		/// Most penalty an agreement may ask, as a multiple of its escrow.
		#[pallet::constant]
		type MaxPenaltyPerEscrow: Get<u32>;

		/// Held from a client that disputes delivered work, until the dispute is decided.
		#[pallet::constant]
		type DisputeBond: Get<BalanceOf<Self>>;

		/// Blocks after a dispute within which [`Config::VerifierOrigin`] must decide it; after
		/// them the dispute lapses and the work is paid.
		#[pallet::constant]
		type DisputeTimeout: Get<BlockNumberFor<Self>>;

		/// `S` of the max-min payoff `S (MC_N - MC_1) / MC_N^2`, in balance units squared.
		#[pallet::constant]
		type VariablePayoffScale: Get<BalanceOf<Self>>;

		/// What the winner of a variable-policy sale is paid per unit above its ask (the paper's
		/// `+ 1`).
		#[pallet::constant]
		type VariableSellerMargin: Get<BalanceOf<Self>>;

		/// Weights of the calls, generated by the benchmarks.
		type WeightInfo: WeightInfo;

		/// Builds registry state (models, serving nodes) for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A market owner's deposit, while the market is open.
		#[codec(index = 0)]
		MarketDeposit,
		/// A client's payment under an open agreement.
		#[codec(index = 1)]
		Escrow,
		/// A client's bond on a disputed agreement.
		#[codec(index = 2)]
		DisputeBond,
	}

	/// Open markets.
	#[pallet::storage]
	pub type Markets<T: Config> = StorageMap<_, Blake2_128Concat, MarketId, MarketOf<T>>;

	/// Block of each open market's opening or last sale.
	#[pallet::storage]
	pub type MarketActivity<T: Config> =
		StorageMap<_, Blake2_128Concat, MarketId, BlockNumberFor<T>, ValueQuery>;

	/// The market of each commodity that has one.
	#[pallet::storage]
	pub type MarketByCommodity<T: Config> = StorageMap<_, Blake2_128Concat, Commodity, MarketId>;

	/// Id of the next market opened.
	#[pallet::storage]
	pub type NextMarketId<T: Config> = StorageValue<_, MarketId, ValueQuery>;

	/// Each market's listings, earliest first.
	#[pallet::storage]
	pub type Listings<T: Config> =
		StorageMap<_, Blake2_128Concat, MarketId, ListingsOf<T>, ValueQuery>;

	/// Agreements, open and settled.
	#[pallet::storage]
	pub type Agreements<T: Config> = StorageMap<_, Blake2_128Concat, AgreementId, AgreementOf<T>>;

	/// Id of the next agreement opened.
	#[pallet::storage]
	pub type NextAgreementId<T: Config> = StorageValue<_, AgreementId, ValueQuery>;

	/// The accepted hash-subjob agreement between a client and a node (at most one per pair),
	/// with the units the hash-job pallet has verified so far.
	#[pallet::storage]
	pub type HashDeliveries<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Twox64Concat,
		NodeId,
		HashDelivery,
	>;

	/// Open disputes: the client's bond and the block by which they must be decided.
	#[pallet::storage]
	pub type Disputes<T: Config> =
		StorageMap<_, Blake2_128Concat, AgreementId, DisputeOf<T>>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A market was opened with `deposit` held from its owner.
		MarketOpened {
			market: MarketId,
			owner: T::AccountId,
			commodity: Commodity,
			policy: ListingPolicy<BalanceOf<T>>,
			deposit: BalanceOf<T>,
		},
		/// The owner changed the listing policy of its empty market.
		ListingPolicySet { market: MarketId, policy: ListingPolicy<BalanceOf<T>> },
		/// The owner closed an empty market; its deposit was released.
		MarketClosed { market: MarketId, deposit: BalanceOf<T> },
		/// A market without a sale for `MarketIdleTimeout` blocks was expired: its listings
		/// were dropped and the owner's deposit released; anyone may open the commodity's
		/// market again.
		MarketExpired { market: MarketId, deposit: BalanceOf<T> },
		/// A node was listed; its owner paid `fee` to the market owner.
		Listed { market: MarketId, node: NodeId, ask: BalanceOf<T>, fee: BalanceOf<T> },
		/// A listing was removed.
		Delisted { market: MarketId, node: NodeId, reason: DelistReason },
		/// A sale: `node` won and opened `agreement` at `price_per_unit`; the buyer paid
		/// `owner_fee` to the market owner.
		Sold {
			market: MarketId,
			agreement: AgreementId,
			node: NodeId,
			ask: BalanceOf<T>,
			price_per_unit: BalanceOf<T>,
			owner_fee: BalanceOf<T>,
		},
		/// An agreement was opened with `escrow` held from the client.
		AgreementOpened {
			agreement: AgreementId,
			client: T::AccountId,
			provider: NodeId,
			price_per_unit: BalanceOf<T>,
			units: u32,
			deadline: BlockNumberFor<T>,
			escrow: BalanceOf<T>,
		},
		/// The provider accepted the agreement.
		AgreementAccepted { agreement: AgreementId },
		/// The client cancelled before acceptance; the escrow was refunded.
		AgreementCancelled { agreement: AgreementId, refunded: BalanceOf<T> },
		/// The provider reported the work done; the challenge window runs until `payable_at`.
		WorkCompleted { agreement: AgreementId, payable_at: BlockNumberFor<T> },
		/// The escrow was paid to the provider's owner.
		ProviderPaid {
			agreement: AgreementId,
			provider: NodeId,
			to: T::AccountId,
			amount: BalanceOf<T>,
		},
		/// The deadline passed without full delivery: units delivered were paid (`paid`), the
		/// client got `refunded` back, `penalty` was slashed from the provider's collateral
		/// (zero if it never accepted) and `compensation` of it paid to the client (the rest
		/// burnt).
		AgreementExpired {
			agreement: AgreementId,
			paid: BalanceOf<T>,
			refunded: BalanceOf<T>,
			penalty: BalanceOf<T>,
			compensation: BalanceOf<T>,
		},
		/// The work was proven wrong: the client got `refunded` back, `penalty` was slashed
		/// from the provider's collateral and `compensation` of it paid to the client.
		WorkRejected {
			agreement: AgreementId,
			refunded: BalanceOf<T>,
			penalty: BalanceOf<T>,
			compensation: BalanceOf<T>,
		},
		/// The hash-job pallet verified a unit of a hash-subjob agreement.
		UnitDelivered { agreement: AgreementId, delivered: u32, units: u32 },
		/// The client disputed delivered work, holding `bond`; verifiers decide by `decide_by`.
		WorkDisputed { agreement: AgreementId, bond: BalanceOf<T>, decide_by: BlockNumberFor<T> },
		/// Verifiers decided a dispute: the work was wrong (client's bond returned) or right
		/// (the bond went to the provider's owner).
		DisputeResolved { agreement: AgreementId, work_was_wrong: bool, bond: BalanceOf<T> },
		/// Nobody decided a dispute in time: the work was paid and the bond returned.
		DisputeLapsed { agreement: AgreementId, bond: BalanceOf<T> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No market with that id.
		UnknownMarket,
		/// The commodity already has a market.
		MarketExists,
		/// The commodity names a model or shard that does not exist, or a hash-rate class above
		/// 63.
		InvalidCommodity,
		/// Only the market owner may do this.
		NotMarketOwner,
		/// The market still has listings.
		MarketNotEmpty,
		/// The market holds [`Config::MaxListings`] listings.
		MarketFull,
		/// The caller does not own the node.
		NotNodeOwner,
		/// The node is not registered, has no recent heartbeat or too little collateral.
		NodeNotServing,
		/// The node does not serve the market's commodity (whole shard or hash-rate class).
		NodeNotEligible,
		/// The node is already listed in this market.
		AlreadyListed,
		/// The node is not listed in this market.
		NotListed,
		/// Asks and prices must be positive.
		ZeroPrice,
		/// An agreement needs at least one unit of work.
		ZeroUnits,
		/// The duration is zero or above [`Config::MaxAgreementDuration`].
		InvalidDuration,
		/// The market has no serving listings.
		NoSellers,
		/// The lowest ask (plus the owner's payoff, in a variable market) exceeds the buyer's
		/// maximum price.
		PriceAboveMaximum,
		/// The lowest ask is the buyer's own node.
		BuyerIsSeller,
		/// A price, escrow or block number overflowed.
		Overflow,
		/// Not enough free balance for the deposit, fee or escrow.
		InsufficientBalance,
		/// The node does not serve the requested work.
		WorkNotServed,
		/// No agreement with that id.
		UnknownAgreement,
		/// Only the agreement's client may do this.
		NotClient,
		/// Only the provider's owner may do this.
		NotProvider,
		/// The escrow (price times units) is below the existential deposit.
		EscrowBelowMinimum,
		/// The market's listing fee is above the most the seller accepts.
		FeeAboveMaximum,
		/// The agreement is not waiting for acceptance.
		NotProposed,
		/// The agreement is not accepted and undelivered.
		NotAccepted,
		/// No completion has been reported.
		NotCompleted,
		/// The deadline has passed.
		DeadlinePassed,
		/// The deadline has not passed yet.
		DeadlineNotPassed,
		/// The challenge window is still open.
		ChallengeWindowOpen,
		/// The challenge window has closed; the work can no longer be rejected.
		ChallengeWindowClosed,
		/// The work was delivered; it can only be paid or rejected.
		AlreadyCompleted,
		/// The penalty is above [`Config::MaxPenaltyPerEscrow`] times the escrow.
		PenaltyTooHigh,
		/// The provider's free collateral (not reserved for other obligations) does not cover
		/// the agreement's penalty.
		InsufficientCollateral,
		/// Hash-subjob work is paid on the hash-job pallet's verdicts, not on a completion
		/// report.
		PaidOnVerdict,
		/// The client already has an accepted hash-subjob agreement with this node.
		AgreementExists,
		/// The owner already has `MaxListingsPerOwner` listings in this market.
		TooManyListings,
		/// The market sold within its last `MarketIdleTimeout` blocks.
		MarketNotIdle,
		/// Hash-subjob agreements carry no penalty (each claimed subjob is backed by the
		/// hash-job pallet's own).
		PenaltyOnHashWork,
		/// Only delivered inference work inside its challenge window can be disputed.
		NotDisputable,
		/// The agreement is not disputed.
		NotDisputed,
		/// The dispute is still waiting for its verdict.
		DisputeOpen,
		/// The dispute's time for a verdict has passed; it can only lapse.
		DisputeTimedOut,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn integrity_test() {
			assert!(T::MaxListings::get() > 0, "a market must hold at least one listing");
			assert!(
				!T::MaxAgreementDuration::get().is_zero(),
				"agreements must be allowed to last at least one block"
			);
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Open the market of `commodity` with `policy`, holding [`Config::MarketDeposit`]. The
		/// caller becomes its market owner.
		#[pallet::call_index(0)]
		pub fn open_market(
			origin: OriginFor<T>,
			commodity: Commodity,
			policy: ListingPolicy<BalanceOf<T>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_open_market(who, commodity, policy).map(|_| ())
		}

		/// Change the listing policy of a market the caller owns, while it has no listings.
		#[pallet::call_index(1)]
		pub fn set_listing_policy(
			origin: OriginFor<T>,
			market: MarketId,
			policy: ListingPolicy<BalanceOf<T>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_set_listing_policy(&who, market, policy)
		}

		/// Close an empty market the caller owns and release its deposit.
		#[pallet::call_index(2)]
		pub fn close_market(origin: OriginFor<T>, market: MarketId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_close_market(&who, market)
		}

		/// List a serving node the caller owns in `market` with `ask` per unit, paying the
		/// market's fixed listing fee, if any and at most `max_fee`, to its owner.
		#[pallet::call_index(3)]
		#[pallet::weight(<T as Config>::WeightInfo::list(T::MaxListings::get()))]
		pub fn list(
			origin: OriginFor<T>,
			market: MarketId,
			node: NodeId,
			ask: BalanceOf<T>,
			max_fee: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_list(&who, market, node, ask, max_fee)
		}

		/// Remove the caller's node from `market`; anyone may remove a node that stopped serving.
		/// The listing fee is not returned.
		#[pallet::call_index(4)]
		#[pallet::weight(<T as Config>::WeightInfo::delist(T::MaxListings::get()))]
		pub fn delist(origin: OriginFor<T>, market: MarketId, node: NodeId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_delist(&who, market, node)
		}

		/// Buy `terms.units` units from `market` at no more than `max_price_per_unit` each. The
		/// market settles by its policy, the winner is de-listed, and an agreement with it is
		/// opened with the payment held in escrow.
		#[pallet::call_index(5)]
		#[pallet::weight(<T as Config>::WeightInfo::buy(T::MaxListings::get()))]
		pub fn buy(
			origin: OriginFor<T>,
			market: MarketId,
			max_price_per_unit: BalanceOf<T>,
			terms: ServiceTermsOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_buy(who, market, max_price_per_unit, terms).map(|_| ())
		}

		/// Open an agreement directly with a chosen serving node at `price_per_unit`, holding
		/// the payment in escrow.
		#[pallet::call_index(6)]
		pub fn open_agreement(
			origin: OriginFor<T>,
			provider: NodeId,
			work: WorkKind,
			price_per_unit: BalanceOf<T>,
			terms: ServiceTermsOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_open_direct(who, provider, work, price_per_unit, terms).map(|_| ())
		}

		/// Accept an agreement for a node the caller owns, before its deadline.
		#[pallet::call_index(7)]
		pub fn accept(origin: OriginFor<T>, agreement: AgreementId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_accept(&who, agreement)
		}

		/// Cancel an agreement the caller opened, before the provider accepts it; the escrow is
		/// refunded in full.
		#[pallet::call_index(8)]
		pub fn cancel(origin: OriginFor<T>, agreement: AgreementId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_cancel(&who, agreement)
		}

		/// Report an accepted agreement's work as delivered, before its deadline. Starts the
		/// challenge window.
		#[pallet::call_index(9)]
		// Deadline-bound, like `dispute`: `Operational`, so that filled blocks cannot push it
		// out and turn a delivery into a penalty.
		#[pallet::weight((<T as Config>::WeightInfo::complete(), DispatchClass::Operational))]
		pub fn complete(origin: OriginFor<T>, agreement: AgreementId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_complete(&who, agreement)
		}

		/// Pay a delivered agreement's escrow to the provider once the challenge window is
		/// over, or once a dispute has lapsed (returning the client's bond). Anyone may call
		/// it.
		#[pallet::call_index(10)]
		pub fn claim_payment(origin: OriginFor<T>, agreement: AgreementId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_claim_payment(agreement)
		}

		/// Refund an agreement not delivered by its deadline, slashing the penalty to the client
		/// if the provider had accepted. Anyone may call it.
		#[pallet::call_index(11)]
		pub fn claim_refund(origin: OriginFor<T>, agreement: AgreementId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_claim_refund(agreement)
		}

		/// Reject an accepted agreement's work as proven wrong, until its challenge window
		/// closes: refund and slash the penalty to the client. Only [`Config::VerifierOrigin`].
		#[pallet::call_index(12)]
		pub fn reject_work(origin: OriginFor<T>, agreement: AgreementId) -> DispatchResult {
			T::VerifierOrigin::ensure_origin(origin)?;
			Self::do_reject(agreement)
		}

		/// Expire a market that has not sold for [`Config::MarketIdleTimeout`] blocks.
		///
		/// - origin: anyone;
		/// - drops its listings (listing fees are not returned) and releases the owner's
		///   deposit; the commodity's market can then be opened again, by anyone, with any
		///   policy. Owners of busy markets keep them; squatting an idle one costs nothing more
		///   than the deposit's time.
		#[pallet::call_index(15)]
		#[pallet::weight(<T as Config>::WeightInfo::expire_market(T::MaxListings::get()))]
		pub fn expire_market(origin: OriginFor<T>, market: MarketId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_expire_market(market)
		}

		/// Dispute delivered inference work inside its challenge window.
		///
		/// - origin: the agreement's client;
		/// - holds [`Config::DisputeBond`] until [`Config::VerifierOrigin`] decides, or until
		///   [`Config::DisputeTimeout`] blocks pass and the dispute lapses (`claim_payment`).
		#[pallet::call_index(13)]
		#[pallet::weight((<T as Config>::WeightInfo::dispute(), DispatchClass::Operational))]
		pub fn dispute(origin: OriginFor<T>, agreement: AgreementId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_dispute(&who, agreement)
		}

		/// Decide a dispute.
		///
		/// - origin: [`Config::VerifierOrigin`];
		/// - `work_was_wrong`: refund the client with the penalty and return its bond; otherwise
		///   pay the provider and give it the client's bond.
		#[pallet::call_index(14)]
		pub fn resolve_dispute(
			origin: OriginFor<T>,
			agreement: AgreementId,
			work_was_wrong: bool,
		) -> DispatchResult {
			T::VerifierOrigin::ensure_origin(origin)?;
			Self::do_resolve_dispute(agreement, work_was_wrong)
		}
	}
}

/// Balance of the pallet's currency.
pub type BalanceOf<T> = <<T as Config>::Currency as frame_support::traits::fungible::Inspect<
	<T as frame_system::Config>::AccountId,
>>::Balance;
/// Account id of the runtime.
pub type AccountIdOf<T> = <T as frame_system::Config>::AccountId;
/// Block number of the runtime.
pub type BlockNumberOf<T> = frame_system::pallet_prelude::BlockNumberFor<T>;
/// A market of the runtime.
pub type MarketOf<T> = Market<AccountIdOf<T>, BalanceOf<T>>;
/// The listings of a market.
pub type ListingsOf<T> =
	frame_support::BoundedVec<Listing<BalanceOf<T>>, <T as Config>::MaxListings>;
/// Service terms of the runtime.
pub type ServiceTermsOf<T> = ServiceTerms<BalanceOf<T>, BlockNumberOf<T>>;
/// An agreement of the runtime.
pub type AgreementOf<T> = Agreement<AccountIdOf<T>, BalanceOf<T>, BlockNumberOf<T>>;
/// A dispute of the runtime.
pub type DisputeOf<T> = Dispute<BalanceOf<T>, BlockNumberOf<T>>;
