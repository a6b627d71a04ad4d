//! `channels_*` RPC: payment channels, for clients choosing a channel to pay with and for payees
//! checking what backs the vouchers they hold.
//!
//! | method | params | result |
//! |---|---|---|
//! | `channels_get` | `channel` id, optional block hash | the open channel, or `null` |
//! | `channels_ofPayer` | payer address (SS58, the chain's format or any other), optional block hash | the payer's open channels, by id |
//! | `channels_ofPayee` | payee address, `after` (channel id or `null`), `limit` (or `null`), optional block hash | a page of the open channels paying the payee |
//! | `channels_genesisHash` | none | the genesis hash vouchers sign, `0x` hex |
//!
//! Without a block hash the best block is used; a payee checking a voucher's backing should
//! pass the finalized head (`chain_getFinalizedHead`). Balances are decimal strings, accounts
//! SS58 with the chain's prefix. Errors: `1020` not an address, `1010` the runtime call failed.
//! Each call reads one channel, at most `MaxChannelsPerPayer` (64) of them, or one page: a
//! payee may be paid by any number of channels, so `channels_ofPayee` returns at most `limit`
//! (100 at most and by default) and the cursor to pass as `after` until it is `null`. The
//! runtime before spec 109 has no payee index; asked at such a block it answers `1010`.

use std::sync::Arc;

use appchain_runtime::{opaque::Block, AccountId, Balance, BlockNumber};
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use pallet_payment_channels::{runtime_api::PaymentChannelsApi, ChannelId, ChannelView};
use serde::Serialize;
use sp_api::{ApiExt, ProvideRuntimeApi};
use sp_blockchain::HeaderBackend;
use sp_runtime::traits::Block as BlockT;

use super::{parse_account, runtime_error, ss58, PageJson};

/// A channel as the RPC returns it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChannelJson {
	/// Channel id.
	pub id: ChannelId,
	/// Payer, SS58.
	pub payer: String,
	/// Node paid for.
	pub node: u64,
	/// Payee (the node's owner at opening), SS58.
	pub payee: String,
	/// Everything deposited, decimal.
	pub deposit: String,
	/// Everything paid to the payee, decimal.
	pub claimed: String,
	/// `deposit - claimed`: what vouchers can still draw, decimal.
	pub remaining: String,
	/// Held for the channel's storage, decimal.
	pub storage_deposit: String,
	/// First block at which the channel can be finalized, once the payer asked to close.
	pub closes_at: Option<BlockNumber>,
}

fn channel_json(view: ChannelView<AccountId, Balance, BlockNumber>) -> ChannelJson {
	let c = view.channel;
	ChannelJson {
		id: view.id,
		payer: ss58(&c.payer),
		node: c.node,
		payee: ss58(&c.payee),
		deposit: c.deposit.to_string(),
		claimed: c.claimed.to_string(),
		remaining: c.deposit.saturating_sub(c.claimed).to_string(),
		storage_deposit: c.storage_deposit.to_string(),
		closes_at: c.closes_at,
	}
}

/// The `channels_*` methods.
#[rpc(server, namespace = "channels")]
pub trait ChannelsApi<BlockHash> {
	/// The open channel `channel`, or `null`.
	#[method(name = "get")]
	fn get(&self, channel: ChannelId, at: Option<BlockHash>) -> RpcResult<Option<ChannelJson>>;

	/// The open channels of `payer`, by id.
	#[method(name = "ofPayer")]
	fn of_payer(&self, payer: String, at: Option<BlockHash>) -> RpcResult<Vec<ChannelJson>>;

	/// A page of the open channels paying `payee`, after channel `after`.
	#[method(name = "ofPayee")]
	fn of_payee(
		&self,
		payee: String,
		after: Option<ChannelId>,
		limit: Option<u32>,
		at: Option<BlockHash>,
	) -> RpcResult<PageJson<ChannelJson, ChannelId>>;

	/// The genesis hash vouchers sign, `0x` hex.
	#[method(name = "genesisHash")]
	fn genesis_hash(&self) -> RpcResult<BlockHash>;
}

/// Serves [`ChannelsApiServer`] from the client's runtime API.
pub struct Channels<C> {
	client: Arc<C>,
}

impl<C> Channels<C> {
	/// Serves the channels RPC from `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client }
	}
}

impl<C> ChannelsApiServer<<Block as BlockT>::Hash> for Channels<C>
where
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: PaymentChannelsApi<Block, AccountId, Balance, BlockNumber>,
{
	fn get(
		&self,
		channel: ChannelId,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<Option<ChannelJson>> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let view = self.client.runtime_api().channel(at, channel).map_err(runtime_error)?;
		Ok(view.map(channel_json))
	}

	fn of_payer(
		&self,
		payer: String,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<Vec<ChannelJson>> {
		let payer = parse_account(&payer)?;
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let views = self.client.runtime_api().channels_of(at, payer).map_err(runtime_error)?;
		Ok(views.into_iter().map(channel_json).collect())
	}

	fn of_payee(
		&self,
		payee: String,
		after: Option<ChannelId>,
		limit: Option<u32>,
		at: Option<<Block as BlockT>::Hash>,
	) -> RpcResult<PageJson<ChannelJson, ChannelId>> {
		let payee = parse_account(&payee)?;
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let limit = limit.unwrap_or(appchain_primitives::page::MAX_PAGE_ITEMS);
		let api = self.client.runtime_api();
		let version = api
			.api_version::<dyn PaymentChannelsApi<Block, AccountId, Balance, BlockNumber>>(at)
			.map_err(runtime_error)?;
		if version.unwrap_or(0) < 2 {
			return Err(runtime_error(
				"the runtime at this block predates the payee index (PaymentChannelsApi v2, spec 109)",
			));
		}
		let page = api.channels_paying(at, payee, after, limit).map_err(runtime_error)?;
		Ok(PageJson::from_page(page, channel_json))
	}

	fn genesis_hash(&self) -> RpcResult<<Block as BlockT>::Hash> {
		// The client's, not the runtime's: `frame_system` learns block 0's hash only when
		// block 1 is built.
		Ok(self.client.info().genesis_hash)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use appchain_runtime::SS58_PREFIX;
	use sp_core::crypto::{Ss58AddressFormat, Ss58Codec};

	#[test]
	fn addresses_parse_in_the_chains_format_and_the_generic_one() {
		let alice = AccountId::from([1u8; 32]);
		let ours = alice.to_ss58check_with_version(Ss58AddressFormat::custom(SS58_PREFIX));
		let generic = alice.to_ss58check_with_version(Ss58AddressFormat::custom(42));
		assert_eq!(parse_account(&ours).unwrap(), alice);
		assert_eq!(parse_account(&generic).unwrap(), alice);
		assert_eq!(parse_account("not an address").unwrap_err().code(), 1020);
	}

	#[test]
	fn channels_show_what_vouchers_can_still_draw() {
		let view = ChannelView {
			id: 7,
			channel: pallet_payment_channels::Channel {
				payer: AccountId::from([1u8; 32]),
				node: 3,
				payee: AccountId::from([2u8; 32]),
				deposit: 1_000,
				claimed: 250,
				storage_deposit: 10,
				closes_at: Some(99),
			},
		};
		let json = serde_json::to_value(channel_json(view)).unwrap();
		assert_eq!(json["remaining"], "750");
		assert_eq!(json["closesAt"], 99);
		assert_eq!(json["storageDeposit"], "10");
	}
}
