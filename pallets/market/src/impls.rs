//! The logic behind the calls: each `do_*` checks everything first, then mutates, then emits.

use crate::{
	auction::{self, AuctionError},
	funds, AccountIdOf, Agreement, AgreementId, AgreementOf, AgreementStatus, Agreements,
	BalanceOf, BlockNumberOf, Commodity, Config, DelistReason, Dispute, Disputes, Error, Event,
	HashDeliveries, HashDelivery, HoldReason, Listing, ListingPolicy, Listings, ListingsOf, Market,
	MarketActivity, MarketByCommodity, MarketId, MarketOf, Markets, NextAgreementId, NextMarketId,
	Pallet, ServiceTermsOf, WorkKind, WorkVerdicts,
};
use alloc::vec::Vec;
use appchain_primitives::{LayerRange, NodeId};
use frame_support::{
	ensure,
	traits::{fungible::Inspect, Get},
};
use pallet_compute_registry::{ComputeNodes, OnVerifiedWork, SlashReason, WorkOutcome};
use sp_runtime::{
	traits::{CheckedAdd, CheckedMul, Saturating, Zero},
	DispatchError, DispatchResult,
};

impl<T: Config> From<AuctionError> for Error<T> {
	fn from(e: AuctionError) -> Self {
		match e {
			AuctionError::NoSellers => Error::NoSellers,
			AuctionError::PriceAboveMaximum => Error::PriceAboveMaximum,
			AuctionError::Overflow => Error::Overflow,
		}
	}
}

/// Whether `outer` contains every layer of the non-empty range `inner`.
fn covers(outer: LayerRange, inner: LayerRange) -> bool {
	!inner.is_empty() && outer.start <= inner.start && inner.end <= outer.end
}

/// What a buy would do, worked out before anything changes.
pub(crate) struct BuyPlan<T: Config> {
	/// The market.
	pub info: MarketOf<T>,
	/// The work its commodity is.
	pub work: WorkKind,
	/// The agreement's deadline.
	pub deadline: BlockNumberOf<T>,
	/// The winning listing.
	pub winner: Listing<BalanceOf<T>>,
	/// The winner's owner.
	pub provider_owner: AccountIdOf<T>,
	/// Paid to the winner per unit.
	pub price_per_unit: BalanceOf<T>,
	/// Held from the buyer: `price_per_unit * units`.
	pub escrow: BalanceOf<T>,
	/// Paid by the buyer to the market owner.
	pub owner_fee: BalanceOf<T>,
	/// The listings left after the sale: serving ones but the winner's.
	pub remaining: ListingsOf<T>,
	/// Listings of nodes no longer serving the commodity, dropped by the sale.
	pub stale: Vec<Listing<BalanceOf<T>>>,
}

impl<T: Config> Pallet<T> {
	fn now() -> BlockNumberOf<T> {
		frame_system::Pallet::<T>::block_number()
	}

	// ---- markets

	pub(crate) fn do_open_market(
		who: AccountIdOf<T>,
		commodity: Commodity,
		policy: ListingPolicy<BalanceOf<T>>,
	) -> Result<MarketId, DispatchError> {
		ensure!(!MarketByCommodity::<T>::contains_key(commodity), Error::<T>::MarketExists);
		Self::work_of(&commodity)?;
		let deposit = T::MarketDeposit::get();
		funds::ensure_can_hold::<T>(&who, HoldReason::MarketDeposit, deposit)?;
		let market = NextMarketId::<T>::get();
		let next = market.checked_add(1).ok_or(Error::<T>::Overflow)?;

		funds::hold::<T>(&who, HoldReason::MarketDeposit, deposit)?;
		Markets::<T>::insert(
			market,
			Market { owner: who.clone(), commodity, policy, deposit, sales: 0 },
		);
		MarketByCommodity::<T>::insert(commodity, market);
		MarketActivity::<T>::insert(market, Self::now());
		NextMarketId::<T>::put(next);

		Self::deposit_event(Event::MarketOpened { market, owner: who, commodity, policy, deposit });
		Ok(market)
	}

	fn owned_market(who: &AccountIdOf<T>, market: MarketId) -> Result<MarketOf<T>, DispatchError> {
		let info = Markets::<T>::get(market).ok_or(Error::<T>::UnknownMarket)?;
		ensure!(&info.owner == who, Error::<T>::NotMarketOwner);
		Ok(info)
	}

	pub(crate) fn do_set_listing_policy(
		who: &AccountIdOf<T>,
		market: MarketId,
		policy: ListingPolicy<BalanceOf<T>>,
	) -> DispatchResult {
		let mut info = Self::owned_market(who, market)?;
		// Sellers listed under the current policy; changing it under them would change the
		// terms they paid for.
		ensure!(Listings::<T>::decode_len(market).unwrap_or(0) == 0, Error::<T>::MarketNotEmpty);
		info.policy = policy;
		Markets::<T>::insert(market, info);
		Self::deposit_event(Event::ListingPolicySet { market, policy });
		Ok(())
	}

	pub(crate) fn do_close_market(who: &AccountIdOf<T>, market: MarketId) -> DispatchResult {
		let info = Self::owned_market(who, market)?;
		ensure!(Listings::<T>::decode_len(market).unwrap_or(0) == 0, Error::<T>::MarketNotEmpty);

		funds::release::<T>(who, HoldReason::MarketDeposit, info.deposit)?;
		Markets::<T>::remove(market);
		MarketByCommodity::<T>::remove(info.commodity);
		MarketActivity::<T>::remove(market);
		Listings::<T>::remove(market);

		Self::deposit_event(Event::MarketClosed { market, deposit: info.deposit });
		Ok(())
	}

	pub(crate) fn do_expire_market(market: MarketId) -> DispatchResult {
		let info = Markets::<T>::get(market).ok_or(Error::<T>::UnknownMarket)?;
		let idle_until = MarketActivity::<T>::get(market)
			.checked_add(&T::MarketIdleTimeout::get())
			.ok_or(Error::<T>::Overflow)?;
		ensure!(Self::now() > idle_until, Error::<T>::MarketNotIdle);
		let listings = Listings::<T>::take(market);

		funds::release::<T>(&info.owner, HoldReason::MarketDeposit, info.deposit)?;
		Markets::<T>::remove(market);
		MarketByCommodity::<T>::remove(info.commodity);
		MarketActivity::<T>::remove(market);

		for listing in listings {
			Self::deposit_event(Event::Delisted {
				market,
				node: listing.node,
				reason: DelistReason::MarketExpired,
			});
		}
		Self::deposit_event(Event::MarketExpired { market, deposit: info.deposit });
		Ok(())
	}

	/// The work a sale in a market of `commodity` buys; fails for a commodity the registry does
	/// not know.
	fn work_of(commodity: &Commodity) -> Result<WorkKind, DispatchError> {
		match *commodity {
			Commodity::LayerShard { model, shard } => {
				let layers =
					T::Nodes::shard_layers(model, shard).ok_or(Error::<T>::InvalidCommodity)?;
				Ok(WorkKind::LayerInference { model, layers })
			},
			Commodity::HashRateClass(class) => {
				Commodity::min_hash_rate(class).ok_or(Error::<T>::InvalidCommodity)?;
				Ok(WorkKind::HashSubjob)
			},
		}
	}

	/// Whether `node` may sell `commodity`: the whole shard of the same model, or at least the
	/// class's hash rate.
	fn sells(node: NodeId, commodity: &Commodity) -> bool {
		match *commodity {
			Commodity::LayerShard { model, shard } => {
				match (T::Nodes::shard_layers(model, shard), T::Nodes::inference_layers(node)) {
					(Some(wanted), Some((served_model, served))) => {
						served_model == model && covers(served, wanted)
					},
					_ => false,
				}
			},
			Commodity::HashRateClass(class) => {
				match (Commodity::min_hash_rate(class), T::Nodes::hash_rate(node)) {
					(Some(least), Some(rate)) => rate >= least,
					_ => false,
				}
			},
		}
	}

	/// Whether `node` serves `work`.
	fn serves(node: NodeId, work: &WorkKind) -> bool {
		match *work {
			WorkKind::LayerInference { model, layers } => T::Nodes::inference_layers(node)
				.is_some_and(|(served_model, served)| {
					served_model == model && covers(served, layers)
				}),
			WorkKind::HashSubjob => T::Nodes::hash_rate(node).is_some(),
		}
	}

	fn ensure_node_owner(who: &AccountIdOf<T>, node: NodeId) -> DispatchResult {
		ensure!(T::Nodes::owner(node).as_ref() == Some(who), Error::<T>::NotNodeOwner);
		Ok(())
	}

	// ---- listings

	pub(crate) fn do_list(
		who: &AccountIdOf<T>,
		market: MarketId,
		node: NodeId,
		ask: BalanceOf<T>,
		max_fee: BalanceOf<T>,
	) -> DispatchResult {
		let info = Markets::<T>::get(market).ok_or(Error::<T>::UnknownMarket)?;
		ensure!(!ask.is_zero(), Error::<T>::ZeroPrice);
		Self::ensure_node_owner(who, node)?;
		ensure!(T::Nodes::is_serving(node), Error::<T>::NodeNotServing);
		ensure!(Self::sells(node, &info.commodity), Error::<T>::NodeNotEligible);
		let mut listings = Listings::<T>::get(market);
		ensure!(!listings.iter().any(|l| l.node == node), Error::<T>::AlreadyListed);
		let own = listings.iter().filter(|l| T::Nodes::owner(l.node).as_ref() == Some(who)).count();
		ensure!(
			u32::try_from(own).unwrap_or(u32::MAX) < T::MaxListingsPerOwner::get(),
			Error::<T>::TooManyListings
		);
		let fee = match info.policy {
			ListingPolicy::FixedFee { fee } if who != &info.owner => fee,
			_ => Zero::zero(),
		};
		ensure!(fee <= max_fee, Error::<T>::FeeAboveMaximum);
		funds::ensure_can_pay::<T>(who, fee)?;
		// A full market makes room for a lower ask by evicting its highest (the earliest listed
		// of equal highest asks): places go to the cheapest sellers, not to the first ones.
		let evicted = if listings.is_full() {
			let (position, highest) = listings
				.iter()
				.enumerate()
				.rev()
				.max_by_key(|(_, l)| l.ask)
				.map(|(i, l)| (i, *l))
				.ok_or(Error::<T>::MarketFull)?;
			ensure!(ask < highest.ask, Error::<T>::MarketFull);
			listings.remove(position);
			Some(highest.node)
		} else {
			None
		};
		listings.try_push(crate::Listing { node, ask }).map_err(|_| Error::<T>::MarketFull)?;

		funds::pay_fee::<T>(who, &info.owner, fee)?;
		Listings::<T>::insert(market, listings);

		if let Some(evicted) = evicted {
			Self::deposit_event(Event::Delisted {
				market,
				node: evicted,
				reason: DelistReason::Evicted,
			});
		}
		Self::deposit_event(Event::Listed { market, node, ask, fee });
		Ok(())
	}

	pub(crate) fn do_delist(
		who: &AccountIdOf<T>,
		market: MarketId,
		node: NodeId,
	) -> DispatchResult {
		ensure!(Markets::<T>::contains_key(market), Error::<T>::UnknownMarket);
		// Anyone may clear the listing of a node that no longer serves (even one withdrawn from
		// the registry), so that dead listings cannot fill a market.
		let reason = if T::Nodes::is_serving(node) {
			Self::ensure_node_owner(who, node)?;
			DelistReason::ByOwner
		} else {
			DelistReason::NotServing
		};
		let mut listings = Listings::<T>::get(market);
		let position = listings.iter().position(|l| l.node == node).ok_or(Error::<T>::NotListed)?;

		listings.remove(position);
		Listings::<T>::insert(market, listings);

		Self::deposit_event(Event::Delisted { market, node, reason });
		Ok(())
	}

	// ---- sales and agreements

	/// Checks `terms` and returns the deadline they set from now.
	fn deadline_of(terms: &ServiceTermsOf<T>) -> Result<BlockNumberOf<T>, DispatchError> {
		ensure!(terms.units > 0, Error::<T>::ZeroUnits);
		ensure!(
			!terms.duration.is_zero() && terms.duration <= T::MaxAgreementDuration::get(),
			Error::<T>::InvalidDuration
		);
		Ok(Self::now().checked_add(&terms.duration).ok_or(Error::<T>::Overflow)?)
	}

	/// `price_per_unit * units`, which must be at least the existential deposit so that paying
	/// it out can never fail for a provider whose account has been reaped meanwhile, after
	/// checking that the penalty is at most [`Config::MaxPenaltyPerEscrow`] times it.
	fn escrow_of(
		price_per_unit: BalanceOf<T>,
		terms: &ServiceTermsOf<T>,
	) -> Result<BalanceOf<T>, DispatchError> {
		let escrow = price_per_unit.checked_mul(&terms.units.into()).ok_or(Error::<T>::Overflow)?;
		ensure!(escrow >= T::Currency::minimum_balance(), Error::<T>::EscrowBelowMinimum);
		let most_penalty = escrow.saturating_mul(T::MaxPenaltyPerEscrow::get().into());
		ensure!(terms.penalty <= most_penalty, Error::<T>::PenaltyTooHigh);
		Ok(escrow)
	}

	/// Hash-subjob agreements carry no penalty: their delivery also depends on the client
	/// posting jobs (a client that posts none could otherwise collect the penalty), and every
	/// subjob a provider claims is backed by the hash-job pallet's own reserved penalty.
	fn ensure_penalty_allowed(work: &WorkKind, terms: &ServiceTermsOf<T>) -> DispatchResult {
		ensure!(
			*work != WorkKind::HashSubjob || terms.penalty.is_zero(),
			Error::<T>::PenaltyOnHashWork
		);
		Ok(())
	}

	/// Everything a buy checks, and what it would do, without changing anything: shared by
	/// [`Self::do_buy`] and the quote of the runtime API.
	pub(crate) fn plan_buy(
		who: &AccountIdOf<T>,
		market: MarketId,
		max_price_per_unit: BalanceOf<T>,
		terms: &ServiceTermsOf<T>,
	) -> Result<BuyPlan<T>, DispatchError> {
		let info = Markets::<T>::get(market).ok_or(Error::<T>::UnknownMarket)?;
		ensure!(!max_price_per_unit.is_zero(), Error::<T>::ZeroPrice);
		let deadline = Self::deadline_of(terms)?;
		let work = Self::work_of(&info.commodity)?;
		Self::ensure_penalty_allowed(&work, terms)?;

		// Listings of nodes that stopped serving take no part and are dropped. Listings of the
		// buyer and of the market's owner take no part in this sale and stay listed: the buyer's
		// could set the price it pays (a second-lowest ask of its own), the owner's its own
		// payoff.
		// Eligibility is checked again here: a node that moved to other layers or declared a
		// lower hash rate since it listed no longer sells the commodity.
		let (serving, stale): (Vec<_>, Vec<_>) = Listings::<T>::get(market)
			.into_iter()
			.partition(|l| T::Nodes::is_serving(l.node) && Self::sells(l.node, &info.commodity));
		// A node whose free collateral cannot back the penalty could not accept: it neither
		// wins nor prices the sale.
		let eligible: Vec<_> = serving
			.iter()
			.filter(|l| T::Nodes::owner(l.node).is_some_and(|o| o != *who && o != info.owner))
			.filter(|l| T::Nodes::free_collateral(l.node) >= terms.penalty)
			.copied()
			.collect();
		let asks: Vec<BalanceOf<T>> = eligible.iter().map(|l| l.ask).collect();
		let sale = match info.policy {
			ListingPolicy::FixedFee { .. } => {
				auction::settle_second_price(&asks, max_price_per_unit)
			},
			ListingPolicy::VariableMaxMin => auction::settle_max_min(
				&asks,
				max_price_per_unit,
				T::VariablePayoffScale::get(),
				T::VariableSellerMargin::get(),
			),
		}
		.map_err(Error::<T>::from)?;
		let winner = *eligible.get(sale.winner).ok_or(Error::<T>::NoSellers)?;
		let provider_owner = T::Nodes::owner(winner.node).ok_or(Error::<T>::NodeNotServing)?;
		ensure!(provider_owner != *who, Error::<T>::BuyerIsSeller);
		let escrow = Self::escrow_of(sale.price_per_unit, terms)?;
		let owner_fee = if info.owner == *who { Zero::zero() } else { sale.owner_fee };
		let total = escrow.checked_add(&owner_fee).ok_or(Error::<T>::Overflow)?;
		// The buyer's maximum bounds what it pays in all, the owner's payoff included.
		let most =
			max_price_per_unit.checked_mul(&terms.units.into()).ok_or(Error::<T>::Overflow)?;
		ensure!(total <= most, Error::<T>::PriceAboveMaximum);
		funds::ensure_can_pay::<T>(who, total)?;
		funds::ensure_can_hold::<T>(who, HoldReason::Escrow, escrow)?;
		let remaining: ListingsOf<T> = serving
			.into_iter()
			.filter(|l| l.node != winner.node)
			.collect::<Vec<_>>()
			.try_into()
			.map_err(|_| Error::<T>::Overflow)?;
		Ok(BuyPlan {
			info,
			work,
			deadline,
			winner,
			provider_owner,
			price_per_unit: sale.price_per_unit,
			escrow,
			owner_fee,
			remaining,
			stale,
		})
	}

	pub(crate) fn do_buy(
		who: AccountIdOf<T>,
		market: MarketId,
		max_price_per_unit: BalanceOf<T>,
		terms: ServiceTermsOf<T>,
	) -> Result<AgreementId, DispatchError> {
		let BuyPlan {
			info,
			work,
			deadline,
			winner,
			provider_owner,
			price_per_unit,
			escrow,
			owner_fee,
			remaining,
			stale,
		} = Self::plan_buy(&who, market, max_price_per_unit, &terms)?;

		funds::pay_fee::<T>(&who, &info.owner, owner_fee)?;
		let agreement = Self::open(
			who,
			winner.node,
			provider_owner,
			Some(market),
			work,
			price_per_unit,
			terms,
			deadline,
			escrow,
		)?;
		Listings::<T>::insert(market, remaining);
		MarketActivity::<T>::insert(market, Self::now());
		Markets::<T>::insert(market, MarketOf::<T> { sales: info.sales.saturating_add(1), ..info });

		for listing in stale {
			Self::deposit_event(Event::Delisted {
				market,
				node: listing.node,
				reason: DelistReason::NotServing,
			});
		}
		Self::deposit_event(Event::Delisted {
			market,
			node: winner.node,
			reason: DelistReason::Sold,
		});
		Self::deposit_event(Event::Sold {
			market,
			agreement,
			node: winner.node,
			ask: winner.ask,
			price_per_unit,
			owner_fee,
		});
		Ok(agreement)
	}

	pub(crate) fn do_open_direct(
		who: AccountIdOf<T>,
		provider: NodeId,
		work: WorkKind,
		price_per_unit: BalanceOf<T>,
		terms: ServiceTermsOf<T>,
	) -> Result<AgreementId, DispatchError> {
		ensure!(!price_per_unit.is_zero(), Error::<T>::ZeroPrice);
		let deadline = Self::deadline_of(&terms)?;
		let provider_owner = T::Nodes::owner(provider).ok_or(Error::<T>::NodeNotServing)?;
		ensure!(T::Nodes::is_serving(provider), Error::<T>::NodeNotServing);
		ensure!(provider_owner != who, Error::<T>::BuyerIsSeller);
		ensure!(Self::serves(provider, &work), Error::<T>::WorkNotServed);
		Self::ensure_penalty_allowed(&work, &terms)?;
		let escrow = Self::escrow_of(price_per_unit, &terms)?;
		funds::ensure_can_hold::<T>(&who, HoldReason::Escrow, escrow)?;

		Self::open(
			who,
			provider,
			provider_owner,
			None,
			work,
			price_per_unit,
			terms,
			deadline,
			escrow,
		)
	}

	/// Holds the escrow and records a new agreement; every check has been made.
	#[allow(clippy::too_many_arguments)]
	fn open(
		client: AccountIdOf<T>,
		provider: NodeId,
		provider_owner: AccountIdOf<T>,
		market: Option<MarketId>,
		work: WorkKind,
		price_per_unit: BalanceOf<T>,
		terms: ServiceTermsOf<T>,
		deadline: BlockNumberOf<T>,
		escrow: BalanceOf<T>,
	) -> Result<AgreementId, DispatchError> {
		let agreement = NextAgreementId::<T>::get();
		let next = agreement.checked_add(1).ok_or(Error::<T>::Overflow)?;

		funds::hold::<T>(&client, HoldReason::Escrow, escrow)?;
		NextAgreementId::<T>::put(next);
		Agreements::<T>::insert(
			agreement,
			Agreement {
				client: client.clone(),
				provider,
				provider_owner,
				market,
				work,
				price_per_unit,
				terms,
				deadline,
				escrow,
				status: AgreementStatus::Proposed,
			},
		);

		Self::deposit_event(Event::AgreementOpened {
			agreement,
			client,
			provider,
			price_per_unit,
			units: terms.units,
			deadline,
			escrow,
		});
		Ok(agreement)
	}

	fn agreement(id: AgreementId) -> Result<AgreementOf<T>, DispatchError> {
		Ok(Agreements::<T>::get(id).ok_or(Error::<T>::UnknownAgreement)?)
	}

	pub(crate) fn do_accept(who: &AccountIdOf<T>, id: AgreementId) -> DispatchResult {
		let mut agreement = Self::agreement(id)?;
		ensure!(&agreement.provider_owner == who, Error::<T>::NotProvider);
		ensure!(agreement.status == AgreementStatus::Proposed, Error::<T>::NotProposed);
		ensure!(Self::now() <= agreement.deadline, Error::<T>::DeadlinePassed);
		ensure!(T::Nodes::is_serving(agreement.provider), Error::<T>::NodeNotServing);
		// The node may have moved to other layers since the agreement was opened.
		ensure!(Self::serves(agreement.provider, &agreement.work), Error::<T>::WorkNotServed);
		let penalty = agreement.terms.penalty;
		ensure!(
			T::Nodes::free_collateral(agreement.provider) >= penalty,
			Error::<T>::InsufficientCollateral
		);
		let hash_work = agreement.work == WorkKind::HashSubjob;
		if hash_work {
			ensure!(
				!HashDeliveries::<T>::contains_key(&agreement.client, agreement.provider),
				Error::<T>::AgreementExists
			);
		}

		if !penalty.is_zero() {
			T::Nodes::reserve(agreement.provider, penalty)?;
		}
		if hash_work {
			let min_unit = T::Nodes::hash_rate(agreement.provider).unwrap_or(0);
			HashDeliveries::<T>::insert(
				&agreement.client,
				agreement.provider,
				HashDelivery { agreement: id, delivered: 0, min_unit },
			);
		}
		agreement.status = AgreementStatus::Accepted;
		Agreements::<T>::insert(id, agreement);

		Self::deposit_event(Event::AgreementAccepted { agreement: id });
		Ok(())
	}

	pub(crate) fn do_cancel(who: &AccountIdOf<T>, id: AgreementId) -> DispatchResult {
		let agreement = Self::agreement(id)?;
		ensure!(&agreement.client == who, Error::<T>::NotClient);
		ensure!(agreement.status == AgreementStatus::Proposed, Error::<T>::NotProposed);

		let refunded = agreement.escrow;
		funds::release::<T>(who, HoldReason::Escrow, refunded)?;
		Agreements::<T>::remove(id);

		Self::deposit_event(Event::AgreementCancelled { agreement: id, refunded });
		Ok(())
	}

	pub(crate) fn do_complete(who: &AccountIdOf<T>, id: AgreementId) -> DispatchResult {
		let mut agreement = Self::agreement(id)?;
		ensure!(&agreement.provider_owner == who, Error::<T>::NotProvider);
		ensure!(agreement.work != WorkKind::HashSubjob, Error::<T>::PaidOnVerdict);
		match agreement.status {
			AgreementStatus::Accepted => {},
			AgreementStatus::Completed { .. } => return Err(Error::<T>::AlreadyCompleted.into()),
			_ => return Err(Error::<T>::NotAccepted.into()),
		}
		let now = Self::now();
		ensure!(now <= agreement.deadline, Error::<T>::DeadlinePassed);
		let payable_at = now.checked_add(&T::ChallengeWindow::get()).ok_or(Error::<T>::Overflow)?;

		agreement.status = AgreementStatus::Completed { at: now };
		Agreements::<T>::insert(id, agreement);

		Self::deposit_event(Event::WorkCompleted { agreement: id, payable_at });
		Ok(())
	}

	pub(crate) fn do_claim_payment(id: AgreementId) -> DispatchResult {
		let agreement = Self::agreement(id)?;
		let lapsed = match agreement.status {
			AgreementStatus::Completed { at } => {
				let payable_at =
					at.checked_add(&T::ChallengeWindow::get()).ok_or(Error::<T>::Overflow)?;
				ensure!(Self::now() >= payable_at, Error::<T>::ChallengeWindowOpen);
				None
			},
			AgreementStatus::Disputed => {
				let dispute = Disputes::<T>::get(id).ok_or(Error::<T>::NotDisputed)?;
				ensure!(Self::now() > dispute.decide_by, Error::<T>::DisputeOpen);
				Some(dispute)
			},
			_ => return Err(Error::<T>::NotCompleted.into()),
		};

		if let Some(dispute) = lapsed {
			funds::release::<T>(&agreement.client, HoldReason::DisputeBond, dispute.bond)?;
			Disputes::<T>::remove(id);
			Self::deposit_event(Event::DisputeLapsed { agreement: id, bond: dispute.bond });
		}
		Self::pay(id, agreement)
	}

	/// Pays an agreement's whole escrow to its provider, releases the penalty reserved from
	/// its collateral, counts the work and removes the agreement.
	fn pay(id: AgreementId, agreement: AgreementOf<T>) -> DispatchResult {
		let amount = agreement.escrow;
		funds::pay_escrow::<T>(&agreement.client, &agreement.provider_owner, amount)?;
		Self::release_penalty(&agreement)?;
		Self::record(agreement.provider, WorkOutcome::Completed)?;
		if agreement.work == WorkKind::HashSubjob {
			HashDeliveries::<T>::remove(&agreement.client, agreement.provider);
		}
		let (provider, to) = (agreement.provider, agreement.provider_owner);
		Agreements::<T>::remove(id);

		Self::deposit_event(Event::ProviderPaid { agreement: id, provider, to, amount });
		Ok(())
	}

	/// Releases the penalty an accepted agreement reserved from its provider's collateral.
	fn release_penalty(agreement: &AgreementOf<T>) -> DispatchResult {
		let penalty = agreement.terms.penalty;
		if agreement.status != AgreementStatus::Proposed
			&& !penalty.is_zero()
			&& T::Nodes::owner(agreement.provider).is_some()
		{
			T::Nodes::release_reservation(agreement.provider, penalty)?;
		}
		Ok(())
	}

	pub(crate) fn do_claim_refund(id: AgreementId) -> DispatchResult {
		let agreement = Self::agreement(id)?;
		let accepted = match agreement.status {
			AgreementStatus::Proposed => false,
			AgreementStatus::Accepted => true,
			_ => return Err(Error::<T>::AlreadyCompleted.into()),
		};
		ensure!(Self::now() > agreement.deadline, Error::<T>::DeadlineNotPassed);

		let settled = Self::refund(id, agreement, accepted.then_some(SlashReason::MissedDeadline))?;
		Self::deposit_event(Event::AgreementExpired {
			agreement: id,
			paid: settled.paid,
			refunded: settled.refunded,
			penalty: settled.penalty,
			compensation: settled.compensation,
		});
		Ok(())
	}

	pub(crate) fn do_reject(id: AgreementId) -> DispatchResult {
		let agreement = Self::agreement(id)?;
		match agreement.status {
			AgreementStatus::Proposed => return Err(Error::<T>::NotAccepted.into()),
			AgreementStatus::Accepted => {},
			// A dispute nobody decided in time has lapsed: the work can only be paid.
			AgreementStatus::Disputed => {
				let dispute = Disputes::<T>::get(id).ok_or(Error::<T>::NotDisputed)?;
				ensure!(Self::now() <= dispute.decide_by, Error::<T>::DisputeTimedOut);
			},
			AgreementStatus::Completed { at } => {
				let payable_at =
					at.checked_add(&T::ChallengeWindow::get()).ok_or(Error::<T>::Overflow)?;
				ensure!(Self::now() < payable_at, Error::<T>::ChallengeWindowClosed);
			},
		}
		// A disputing client was right: its bond comes back.
		if let Some(dispute) = Disputes::<T>::take(id) {
			funds::release::<T>(&agreement.client, HoldReason::DisputeBond, dispute.bond)?;
			Self::deposit_event(Event::DisputeResolved {
				agreement: id,
				work_was_wrong: true,
				bond: dispute.bond,
			});
		}

		let settled = Self::refund(id, agreement, Some(SlashReason::InvalidWork))?;
		Self::deposit_event(Event::WorkRejected {
			agreement: id,
			refunded: settled.refunded,
			penalty: settled.penalty,
			compensation: settled.compensation,
		});
		Ok(())
	}

	pub(crate) fn do_dispute(who: &AccountIdOf<T>, id: AgreementId) -> DispatchResult {
		let mut agreement = Self::agreement(id)?;
		ensure!(&agreement.client == who, Error::<T>::NotClient);
		let AgreementStatus::Completed { at } = agreement.status else {
			return Err(Error::<T>::NotDisputable.into());
		};
		let now = Self::now();
		let payable_at = at.checked_add(&T::ChallengeWindow::get()).ok_or(Error::<T>::Overflow)?;
		ensure!(now < payable_at, Error::<T>::ChallengeWindowClosed);
		let decide_by = now.checked_add(&T::DisputeTimeout::get()).ok_or(Error::<T>::Overflow)?;
		let bond = T::DisputeBond::get();
		funds::ensure_can_hold::<T>(who, HoldReason::DisputeBond, bond)?;

		funds::hold::<T>(who, HoldReason::DisputeBond, bond)?;
		Disputes::<T>::insert(id, Dispute { bond, decide_by });
		agreement.status = AgreementStatus::Disputed;
		Agreements::<T>::insert(id, agreement);

		Self::deposit_event(Event::WorkDisputed { agreement: id, bond, decide_by });
		Ok(())
	}

	pub(crate) fn do_resolve_dispute(id: AgreementId, work_was_wrong: bool) -> DispatchResult {
		let agreement = Self::agreement(id)?;
		ensure!(agreement.status == AgreementStatus::Disputed, Error::<T>::NotDisputed);
		let dispute = Disputes::<T>::get(id).ok_or(Error::<T>::NotDisputed)?;
		ensure!(Self::now() <= dispute.decide_by, Error::<T>::DisputeTimedOut);
		if work_was_wrong {
			return Self::do_reject(id);
		}

		// The client disputed honest work: its bond goes to the provider's owner.
		funds::forfeit_bond::<T>(&agreement.client, &agreement.provider_owner, dispute.bond)?;
		Disputes::<T>::remove(id);
		Self::deposit_event(Event::DisputeResolved {
			agreement: id,
			work_was_wrong: false,
			bond: dispute.bond,
		});
		Self::pay(id, agreement)
	}

	/// Settles an agreement that was not (fully) delivered and removes it: verified units of a
	/// hash-subjob agreement are paid, the rest of the escrow refunded; with a slash reason, the
	/// penalty is slashed from the provider's reservation to the client and a failure counted,
	/// otherwise the reservation is released.
	fn refund(
		id: AgreementId,
		agreement: AgreementOf<T>,
		slash: Option<SlashReason>,
	) -> Result<Settlement<BalanceOf<T>>, DispatchError> {
		let delivery = HashDeliveries::<T>::get(&agreement.client, agreement.provider)
			.filter(|d| agreement.work == WorkKind::HashSubjob && d.agreement == id);
		let delivered = delivery.map(|d| d.delivered).unwrap_or(0);
		let mut paid = agreement
			.price_per_unit
			.checked_mul(&delivered.into())
			.ok_or(Error::<T>::Overflow)?
			.min(agreement.escrow);
		// A part payment below the existential deposit cannot reach a provider whose account
		// has been reaped meanwhile: it goes back to the client rather than lock the escrow.
		if !paid.is_zero()
			&& frame_support::storage::with_storage_layer(|| {
				funds::pay_escrow::<T>(&agreement.client, &agreement.provider_owner, paid)
			})
			.is_err()
		{
			paid = Zero::zero();
		}
		let refunded = agreement.escrow.saturating_sub(paid);

		if !refunded.is_zero() {
			funds::release::<T>(&agreement.client, HoldReason::Escrow, refunded)?;
		}
		// A provider that has withdrawn since is gone from the registry (possible only for an
		// agreement it never accepted): there is nothing to slash.
		let slash = slash.filter(|_| agreement.work != WorkKind::HashSubjob);
		let (penalty, compensation) = match slash {
			Some(reason) if T::Nodes::owner(agreement.provider).is_some() => {
				let outcome = funds::slash_penalty::<T>(
					agreement.provider,
					agreement.terms.penalty,
					&agreement.client,
					reason,
				)?;
				Self::record(agreement.provider, WorkOutcome::Failed)?;
				(outcome.taken, outcome.paid())
			},
			_ => {
				Self::release_penalty(&agreement)?;
				(Zero::zero(), Zero::zero())
			},
		};
		if delivery.is_some() {
			HashDeliveries::<T>::remove(&agreement.client, agreement.provider);
		}
		Agreements::<T>::remove(id);
		Ok(Settlement { paid, refunded, penalty, compensation })
	}

	/// A unit of `node`'s hash work for `client`, of `work` nonces, was verified: counts it
	/// toward their accepted hash-subjob agreement if it is at least the agreement's least
	/// unit; the agreement is paid when every unit is delivered.
	fn deliver_hash_unit(client: &AccountIdOf<T>, node: NodeId, work: u64) -> DispatchResult {
		let Some(mut delivery) = HashDeliveries::<T>::get(client, node) else { return Ok(()) };
		if work < delivery.min_unit {
			return Ok(());
		}
		let Some(agreement) = Agreements::<T>::get(delivery.agreement) else { return Ok(()) };
		// Work verified after the deadline no longer counts: the agreement can only expire.
		if agreement.status != AgreementStatus::Accepted || Self::now() > agreement.deadline {
			return Ok(());
		}
		delivery.delivered = delivery.delivered.saturating_add(1);
		let units = agreement.terms.units;
		Self::deposit_event(Event::UnitDelivered {
			agreement: delivery.agreement,
			delivered: delivery.delivered,
			units,
		});
		if delivery.delivered >= units {
			Self::pay(delivery.agreement, agreement)
		} else {
			HashDeliveries::<T>::insert(client, node, delivery);
			Ok(())
		}
	}

	/// Counts work for a provider's reputation, if it is still in the registry.
	fn record(node: NodeId, outcome: WorkOutcome) -> DispatchResult {
		if T::Nodes::owner(node).is_some() {
			T::Nodes::record_work(node, outcome)?;
		}
		Ok(())
	}

	// ---- invariants

	/// Checks the pallet's invariants:
	///
	/// 1. Every market's id is below [`NextMarketId`], and [`MarketByCommodity`] maps exactly the
	///    open markets' commodities to them.
	/// 2. Each account's [`HoldReason::MarketDeposit`] hold equals the deposits of the markets it
	///    owns.
	/// 3. Listings exist only for open markets, list no node twice and have positive asks.
	/// 4. Every agreement's id is below [`NextAgreementId`].
	/// 5. An agreement's escrow is `price_per_unit * units`, at least the existential deposit.
	///    Settling (paying or refunding) removes the agreement in the same call that moves its
	///    escrow, so no agreement is both paid and refunded, or settled twice.
	/// 6. Each client's [`HoldReason::Escrow`] hold equals the escrow of its agreements: escrow
	///    held is the sum of the open agreements' unpaid escrow.
	/// 7. Every agreement's penalty is at most [`Config::MaxPenaltyPerEscrow`] times its escrow,
	///    and each provider's free-plus-reserved collateral covers the penalties of its accepted
	///    agreements (the registry reserved them).
	/// 8. [`HashDeliveries`] lists exactly the accepted hash-subjob agreements, under their client
	///    and provider, with fewer units delivered than agreed.
	/// 9. [`Disputes`] has an entry exactly for the disputed agreements, and each client's
	///    [`HoldReason::DisputeBond`] hold equals the bonds of its disputes.
	#[cfg(any(feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::{BTreeMap, BTreeSet};
		let fail = |msg: &'static str| -> sp_runtime::TryRuntimeError {
			log::error!(target: crate::LOG_TARGET, "try_state: {msg}");
			msg.into()
		};

		// 1 and 2.
		let next_market = NextMarketId::<T>::get();
		let mut markets = 0usize;
		let mut deposits: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		for (id, market) in Markets::<T>::iter() {
			markets = markets.saturating_add(1);
			ensure!(id < next_market, fail("market id not below NextMarketId"));
			ensure!(
				MarketByCommodity::<T>::get(market.commodity) == Some(id),
				fail("market not found by its commodity")
			);
			let owed = deposits.entry(market.owner).or_default();
			*owed = owed.saturating_add(market.deposit);
		}
		ensure!(
			MarketByCommodity::<T>::iter().count() == markets,
			fail("commodity index lists a closed market")
		);
		ensure!(
			MarketActivity::<T>::iter_keys().count() == markets
				&& MarketActivity::<T>::iter_keys().all(Markets::<T>::contains_key),
			fail("market activity not recorded exactly for the open markets")
		);
		for (owner, deposit) in deposits {
			ensure!(
				funds::held::<T>(&owner, HoldReason::MarketDeposit) == deposit,
				fail("market deposit hold differs from the owner's markets")
			);
		}

		// 3.
		for (market, listings) in Listings::<T>::iter() {
			ensure!(Markets::<T>::contains_key(market), fail("listings of a closed market"));
			let nodes: BTreeSet<NodeId> = listings.iter().map(|l| l.node).collect();
			ensure!(nodes.len() == listings.len(), fail("node listed twice"));
			ensure!(listings.iter().all(|l| !l.ask.is_zero()), fail("zero ask listed"));
		}

		// 4, 5 and 6.
		let next_agreement = NextAgreementId::<T>::get();
		let mut escrow: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		for (id, agreement) in Agreements::<T>::iter() {
			ensure!(id < next_agreement, fail("agreement id not below NextAgreementId"));
			ensure!(
				Some(agreement.escrow)
					== agreement.price_per_unit.checked_mul(&agreement.terms.units.into()),
				fail("agreement's escrow is not price times units")
			);
			ensure!(
				agreement.escrow >= T::Currency::minimum_balance(),
				fail("agreement's escrow below the existential deposit")
			);
			let held = escrow.entry(agreement.client.clone()).or_default();
			*held = held.saturating_add(agreement.escrow);
		}
		for (client, expected) in escrow {
			ensure!(
				funds::held::<T>(&client, HoldReason::Escrow) == expected,
				fail("escrow held differs from the client's open agreements")
			);
		}

		// 7, 8 and 9.
		let mut penalties: BTreeMap<NodeId, BalanceOf<T>> = BTreeMap::new();
		let mut hash_accepted = 0usize;
		let mut disputed = 0usize;
		let mut bonds: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		for (id, agreement) in Agreements::<T>::iter() {
			ensure!(
				agreement.terms.penalty
					<= agreement.escrow.saturating_mul(T::MaxPenaltyPerEscrow::get().into()),
				fail("penalty above the cap")
			);
			if agreement.status != AgreementStatus::Proposed {
				let p = penalties.entry(agreement.provider).or_default();
				*p = p.saturating_add(agreement.terms.penalty);
			}
			if agreement.work == WorkKind::HashSubjob
				&& agreement.status == AgreementStatus::Accepted
			{
				hash_accepted = hash_accepted.saturating_add(1);
				let delivery = HashDeliveries::<T>::get(&agreement.client, agreement.provider)
					.ok_or_else(|| fail("accepted hash agreement without its delivery entry"))?;
				ensure!(delivery.agreement == id, fail("delivery entry of another agreement"));
				ensure!(
					delivery.delivered < agreement.terms.units,
					fail("fully delivered hash agreement left open")
				);
			}
			if agreement.status == AgreementStatus::Disputed {
				disputed = disputed.saturating_add(1);
				let dispute = Disputes::<T>::get(id)
					.ok_or_else(|| fail("disputed agreement without dispute"))?;
				let b = bonds.entry(agreement.client.clone()).or_default();
				*b = b.saturating_add(dispute.bond);
			}
		}
		for (node, owed) in penalties {
			ensure!(
				T::Nodes::owner(node).is_none() || T::Nodes::collateral(node) >= owed,
				fail("a provider's collateral does not cover its accepted penalties")
			);
		}
		ensure!(
			HashDeliveries::<T>::iter().count() == hash_accepted,
			fail("delivery entry without an accepted hash agreement")
		);
		ensure!(
			Disputes::<T>::iter().count() == disputed,
			fail("dispute of an undisputed agreement")
		);
		for (client, expected) in bonds {
			ensure!(
				funds::held::<T>(&client, HoldReason::DisputeBond) == expected,
				fail("dispute bonds held differ from the client's disputes")
			);
		}
		Ok(())
	}
}

/// What settling an undelivered agreement moved.
struct Settlement<Balance> {
	paid: Balance,
	refunded: Balance,
	penalty: Balance,
	compensation: Balance,
}

impl<T: Config> OnVerifiedWork<AccountIdOf<T>> for Pallet<T> {
	fn on_verified_work(client: &AccountIdOf<T>, node: NodeId, work: u64) -> DispatchResult {
		Self::deliver_hash_unit(client, node, work)
	}
}

impl<T: Config> WorkVerdicts for Pallet<T> {
	fn reject(agreement: AgreementId) -> DispatchResult {
		frame_support::storage::with_storage_layer(|| Self::do_reject(agreement))
	}
}
