//! Runtime API of the payment channels, served over RPC by the node as `channels_get`,
//! `channels_ofPayer` and `channels_ofPayee`.

use crate::ChannelView;
use alloc::vec::Vec;
use appchain_primitives::{page::Page, voucher::ChannelId};
use codec::Codec;

sp_api::decl_runtime_apis! {
	/// Reads of payment channels.
	///
	/// Version 2 (spec 109) adds [`channels_paying`](PaymentChannelsApi::channels_paying).
	#[api_version(2)]
	pub trait PaymentChannelsApi<AccountId, Balance, BlockNumber>
	where
		AccountId: Codec,
		Balance: Codec,
		BlockNumber: Codec,
	{
		/// The open channel `channel`, if any.
		fn channel(channel: ChannelId) -> Option<ChannelView<AccountId, Balance, BlockNumber>>;

		/// `payer`'s open channels, by id (bounded by the per-payer cap).
		fn channels_of(payer: AccountId) -> Vec<ChannelView<AccountId, Balance, BlockNumber>>;

		/// The open channels paying `payee`, after channel `after` (in storage order), at most
		/// `limit` (capped at 100) per page. Since version 2.
		fn channels_paying(
			payee: AccountId,
			after: Option<ChannelId>,
			limit: u32,
		) -> Page<ChannelView<AccountId, Balance, BlockNumber>, ChannelId>;

		/// The genesis hash vouchers sign.
		fn genesis_hash() -> [u8; 32];
	}
}
