//! Runtime API of the compute markets, served over RPC by the node as `market_listings`,
//! `market_quote` and `market_agreements`. Agreement reads return one bounded page
//! ([`appchain_primitives::page`]); pass `next` back as `after` for the following one.

use crate::{AgreementFilter, AgreementId, BuyQuote, Listing, MarketId, ServiceTerms};
use alloc::vec::Vec;
use appchain_primitives::page::Page;
use codec::Codec;
use sp_runtime::DispatchError;

sp_api::decl_runtime_apis! {
	/// Reads of markets and agreements.
	pub trait ComputeMarketApi<AccountId, Balance, BlockNumber, Agreement>
	where
		AccountId: Codec,
		Balance: Codec,
		BlockNumber: Codec,
		Agreement: Codec,
	{
		/// The listings of `market`, lowest ask first (ties in listing order); empty for an
		/// unknown market.
		fn listings(market: MarketId) -> Vec<Listing<Balance>>;

		/// What `buyer`'s `buy(market, max_price_per_unit, terms)` would pay if it were
		/// included now, or the error it would fail with.
		fn quote_buy(
			buyer: AccountId,
			market: MarketId,
			max_price_per_unit: Balance,
			terms: ServiceTerms<Balance, BlockNumber>,
		) -> Result<BuyQuote<Balance>, DispatchError>;

		/// The agreements `filter` selects, after agreement `after` in storage order.
		fn agreements(
			filter: AgreementFilter<AccountId>,
			after: Option<AgreementId>,
			limit: u32,
		) -> Page<(AgreementId, Agreement), AgreementId>;
	}
}
