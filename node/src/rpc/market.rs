//! `market_*` RPC: what buyers and providers poll in the compute markets.
//!
//! | method | params | result |
//! |---|---|---|
//! | `market_listings` | `market`, optional block hash | its listings, lowest ask first (ties in listing order) |
//! | `market_quote` | `buyer` (SS58), `market`, `maxPricePerUnit` (decimal string), `terms`, optional block hash | what `buy` would pay now |
//! | `market_agreements` | `filter`, `after` (agreement id or `null`), `limit` (or `null`), optional block hash | a page of agreements |
//!
//! `terms` is `{"units", "maxLatencyMs", "duration", "penalty"}` (`penalty` a decimal string),
//! as in `Market::buy`. `filter` is `{"client": address}`, `{"provider": node id}` or
//! `{"providerOwner": address}`. Pages are as in `hashJobs_*`: pass `next` back as `after`
//! until it is `null`; a page reads at most 1,000 agreements and returns at most `limit`
//! (default and cap 100). Without a block hash the best block is used. Balances are decimal
//! strings, accounts SS58 with the chain's prefix.
//!
//! Errors: `1020` not an address, `1021` not a decimal amount, `1030` the buy would fail (the
//! message names the market pallet's error, e.g. `NoSellers`, `PriceAboveMaximum`), `1010` the
//! runtime call failed.

use std::sync::Arc;

use appchain_runtime::{opaque::Block, AccountId, Balance, BlockNumber, Runtime};
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::ErrorObjectOwned};
use pallet_compute_market::{
	runtime_api::ComputeMarketApi, AgreementFilter, AgreementId, AgreementOf, AgreementStatus,
	BuyQuote, Listing, MarketId, ServiceTerms, WorkKind,
};
use serde::{Deserialize, Serialize};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_runtime::{traits::Block as BlockT, DispatchError};

use super::{parse_account, parse_balance, runtime_error, ss58, PageJson};

/// A listing as the RPC returns it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ListingJson {
	/// The selling node.
	pub node: u64,
	/// Its ask per unit, decimal.
	pub ask: String,
}

/// What a buy would do now.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct QuoteJson {
	/// The node that would win.
	pub node: u64,
	/// Its ask, decimal.
	pub ask: String,
	/// What it would be paid per unit, decimal.
	pub price_per_unit: String,
	/// Held from the buyer in escrow, decimal.
	pub escrow: String,
	/// Paid by the buyer to the market owner, decimal.
	pub owner_fee: String,
	/// Everything the buy takes from the buyer, decimal.
	pub total: String,
}

impl From<BuyQuote<Balance>> for QuoteJson {
	fn from(q: BuyQuote<Balance>) -> Self {
		Self {
			node: q.node,
			ask: q.ask.to_string(),
			price_per_unit: q.price_per_unit.to_string(),
			escrow: q.escrow.to_string(),
			owner_fee: q.owner_fee.to_string(),
			total: q.total.to_string(),
		}
	}
}

/// A buy's terms, as `Market::buy` takes them.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TermsJson {
	/// Units of work.
	pub units: u32,
	/// Most milliseconds per unit.
	pub max_latency_ms: u32,
	/// Blocks from opening to the deadline.
	pub duration: BlockNumber,
	/// Penalty, decimal (default 0).
	#[serde(default)]
	pub penalty: Option<String>,
}

/// Which agreements `market_agreements` returns.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum AgreementFilterJson {
	/// Those this account pays for.
	Client(String),
	/// Those this node provides.
	Provider(u64),
	/// Those of the nodes this account owns.
	ProviderOwner(String),
}

/// An agreement as the RPC returns it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AgreementJson {
	/// Agreement id.
	pub id: AgreementId,
	/// Who pays, SS58.
	pub client: String,
	/// The node doing the work.
	pub provider: u64,
	/// Its owner, SS58.
	pub provider_owner: String,
	/// The market sale that opened it.
	pub market: Option<MarketId>,
	/// `layerInference` (with `model`, `layers`) or `hashSubjob`.
	pub work: serde_json::Value,
	/// Price per unit, decimal.
	pub price_per_unit: String,
	/// Units of work.
	pub units: u32,
	/// Penalty, decimal.
	pub penalty: String,
	/// Last block to accept and report completion.
	pub deadline: BlockNumber,
	/// Escrow held, decimal.
	pub escrow: String,
	/// `proposed`, `accepted`, `completed` or `disputed`.
	pub status: &'static str,
	/// Block of the completion report (`completed`).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub completed_at: Option<BlockNumber>,
}

fn agreement_json((id, a): (AgreementId, AgreementOf<Runtime>)) -> AgreementJson {
	let work = match a.work {
		WorkKind::LayerInference { model, layers } => serde_json::json!({
			"kind": "layerInference", "model": model, "layers": [layers.start, layers.end],
		}),
		WorkKind::HashSubjob => serde_json::json!({ "kind": "hashSubjob" }),
	};
	let (status, completed_at) = match a.status {
		AgreementStatus::Proposed => ("proposed", None),
		AgreementStatus::Accepted => ("accepted", None),
		AgreementStatus::Completed { at } => ("completed", Some(at)),
		AgreementStatus::Disputed => ("disputed", None),
	};
	AgreementJson {
		id,
		client: ss58(&a.client),
		provider: a.provider,
		provider_owner: ss58(&a.provider_owner),
		market: a.market,
		work,
		price_per_unit: a.price_per_unit.to_string(),
		units: a.terms.units,
		penalty: a.terms.penalty.to_string(),
		deadline: a.deadline,
		escrow: a.escrow.to_string(),
		status,
		completed_at,
	}
}

/// The name of the market pallet's error in `e`, or `e` as the runtime prints it.
fn buy_error(e: DispatchError) -> ErrorObjectOwned {
	use codec::Decode;
	let name = match e {
		DispatchError::Module(m) => {
			pallet_compute_market::Error::<Runtime>::decode(&mut &m.error[..])
				.map(|err| format!("{err:?}"))
				.unwrap_or_else(|_| format!("{e:?}"))
		},
		other => format!("{other:?}"),
	};
	ErrorObjectOwned::owned(1030, format!("the buy would fail: {name}"), None::<()>)
}

/// The `market_*` methods.
#[rpc(server, namespace = "market")]
pub trait MarketRpc<BlockHash> {
	/// The listings of `market`, lowest ask first.
	#[method(name = "listings")]
	fn listings(&self, market: MarketId, at: Option<BlockHash>) -> RpcResult<Vec<ListingJson>>;

	/// What `buyer`'s `buy(market, maxPricePerUnit, terms)` would pay if included now.
	#[method(name = "quote")]
	fn quote(
		&self,
		buyer: String,
		market: MarketId,
		max_price_per_unit: String,
		terms: TermsJson,
		at: Option<BlockHash>,
	) -> RpcResult<QuoteJson>;

	/// A page of the agreements `filter` selects.
	#[method(name = "agreements")]
	fn agreements(
		&self,
		filter: AgreementFilterJson,
		after: Option<AgreementId>,
		limit: Option<u32>,
		at: Option<BlockHash>,
	) -> RpcResult<PageJson<AgreementJson, AgreementId>>;
}

/// Serves [`MarketRpcServer`] from the client's runtime API.
pub struct Market<C> {
	client: Arc<C>,
}

impl<C> Market<C> {
	/// Serves the market RPC from `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client }
	}
}

impl<C> MarketRpcServer<<Block as BlockT>::Hash> for Market<C>
where
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: ComputeMarketApi<Block, AccountId, Balance, BlockNumber, AgreementOf<Runtime>>,
{
	fn listings(
		&self,
		market: MarketId,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<Vec<ListingJson>> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let listings = self.client.runtime_api().listings(at, market).map_err(runtime_error)?;
		Ok(listings
			.into_iter()
			.map(|l: Listing<Balance>| ListingJson { node: l.node, ask: l.ask.to_string() })
			.collect())
	}

	fn quote(
		&self,
		buyer: String,
		market: MarketId,
		max_price_per_unit: String,
		terms: TermsJson,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<QuoteJson> {
		let buyer = parse_account(&buyer)?;
		let max = parse_balance(&max_price_per_unit)?;
		let penalty = terms.penalty.as_deref().map(parse_balance).transpose()?.unwrap_or(0);
		let terms = ServiceTerms {
			units: terms.units,
			max_latency_ms: terms.max_latency_ms,
			duration: terms.duration,
			penalty,
		};
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let quote = self
			.client
			.runtime_api()
			.quote_buy(at, buyer, market, max, terms)
			.map_err(runtime_error)?
			.map_err(buy_error)?;
		Ok(quote.into())
	}

	fn agreements(
		&self,
		filter: AgreementFilterJson,
		after: Option<AgreementId>,
		limit: Option<u32>,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<PageJson<AgreementJson, AgreementId>> {
		let filter = match filter {
			AgreementFilterJson::Client(a) => AgreementFilter::Client(parse_account(&a)?),
			AgreementFilterJson::Provider(n) => AgreementFilter::Provider(n),
			AgreementFilterJson::ProviderOwner(a) => {
				AgreementFilter::ProviderOwner(parse_account(&a)?)
			},
		};
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let limit = limit.unwrap_or(appchain_primitives::page::MAX_PAGE_ITEMS);
		let page = self
			.client
			.runtime_api()
			.agreements(at, filter, after, limit)
			.map_err(runtime_error)?;
		Ok(PageJson::from_page(page, agreement_json))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn filters_and_terms_parse_as_documented() {
		let f: AgreementFilterJson = serde_json::from_str(r#"{"provider": 4}"#).unwrap();
		assert_eq!(f, AgreementFilterJson::Provider(4));
		let f: AgreementFilterJson = serde_json::from_str(r#"{"providerOwner": "5Grw"}"#).unwrap();
		assert_eq!(f, AgreementFilterJson::ProviderOwner("5Grw".into()));
		assert!(serde_json::from_str::<AgreementFilterJson>(r#"{"owner": 4}"#).is_err());
		let t: TermsJson =
			serde_json::from_str(r#"{"units": 2, "maxLatencyMs": 500, "duration": 20}"#).unwrap();
		assert_eq!((t.units, t.max_latency_ms, t.duration, t.penalty), (2, 500, 20, None));
	}

	#[test]
	fn a_failing_buy_names_the_pallet_error() {
		let e: DispatchError = pallet_compute_market::Error::<Runtime>::NoSellers.into();
		let obj = buy_error(e);
		assert_eq!(obj.code(), 1030);
		assert!(obj.message().contains("NoSellers"), "{}", obj.message());
	}
}
