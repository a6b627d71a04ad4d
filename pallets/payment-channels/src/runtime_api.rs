//! Runtime API of the payment channels, served over RPC by the node as `channels_get` and
//! `channels_ofPayer`.

use crate::ChannelView;
use alloc::vec::Vec;
use appchain_primitives::voucher::ChannelId;
use codec::Codec;

sp_api::decl_runtime_apis! {
	/// Reads of payment channels.
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

		/// The genesis hash vouchers sign.
		fn genesis_hash() -> [u8; 32];
	}
}
