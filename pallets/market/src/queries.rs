//! Reads for the runtime API ([`crate::runtime_api`]): listings in price order, what a buy
//! would pay now, and agreements by client or provider, one bounded page at a time
//! ([`appchain_primitives::page`]). Nothing here writes.

use crate::{
	AccountIdOf, AgreementFilter, AgreementId, AgreementOf, Agreements, BalanceOf, BuyQuote,
	Config, Listing, Listings, MarketId, Pallet, ServiceTermsOf,
};
use alloc::vec::Vec;
use appchain_primitives::page::{collect_page, Page};
use sp_runtime::{traits::Saturating, DispatchError};

impl<T: Config> Pallet<T> {
	/// The listings of `market`, lowest ask first; equal asks in listing order (the order a
	/// sale breaks ties in). At most [`Config::MaxListings`](crate::Config::MaxListings).
	pub fn listings_by_price(market: MarketId) -> Vec<Listing<BalanceOf<T>>> {
		let mut listings = Listings::<T>::get(market).into_inner();
		listings.sort_by_key(|l| l.ask); // stable: ties keep listing order
		listings
	}

	/// What `buyer`'s `buy(market, max_price_per_unit, terms)` would pay if it were included
	/// now, or the error it would fail with.
	pub fn quote_buy(
		buyer: &AccountIdOf<T>,
		market: MarketId,
		max_price_per_unit: BalanceOf<T>,
		terms: &ServiceTermsOf<T>,
	) -> Result<BuyQuote<BalanceOf<T>>, DispatchError> {
		let plan = Self::plan_buy(buyer, market, max_price_per_unit, terms)?;
		Ok(BuyQuote {
			node: plan.winner.node,
			ask: plan.winner.ask,
			price_per_unit: plan.price_per_unit,
			escrow: plan.escrow,
			owner_fee: plan.owner_fee,
			total: plan.escrow.saturating_add(plan.owner_fee),
		})
	}

	/// The agreements `filter` selects, after agreement `after` in storage order.
	pub fn agreements_where(
		filter: &AgreementFilter<AccountIdOf<T>>,
		after: Option<AgreementId>,
		limit: u32,
	) -> Page<(AgreementId, AgreementOf<T>), AgreementId> {
		let entries = match after {
			Some(id) => Agreements::<T>::iter_from(Agreements::<T>::hashed_key_for(id)),
			None => Agreements::<T>::iter(),
		};
		collect_page(entries, limit, |_, a| match filter {
			AgreementFilter::Client(who) => a.client == *who,
			AgreementFilter::Provider(node) => a.provider == *node,
			AgreementFilter::ProviderOwner(who) => a.provider_owner == *who,
		})
	}
}
