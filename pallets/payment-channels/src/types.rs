//! The pallet's types: a channel, how it closed, and a signed voucher as a call carries it.

use appchain_primitives::{voucher::ChannelId, NodeId};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// A unidirectional payment channel from `payer` to the owner of `node`.
///
/// The payer's funds in it, `deposit − claimed`, are held from the payer under
/// [`HoldReason::ChannelDeposit`](crate::HoldReason::ChannelDeposit); `storage_deposit` under
/// [`HoldReason::StorageDeposit`](crate::HoldReason::StorageDeposit). Both go back to the payer
/// when the channel closes.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Channel<AccountId, Balance, BlockNumber> {
	/// Who pays: opens, tops up, signs vouchers, may request closing.
	pub payer: AccountId,
	/// The node the channel pays for.
	pub node: NodeId,
	/// Who is paid: the node's owner when the channel was opened. Claims, may close at once.
	pub payee: AccountId,
	/// Everything the payer has put in (opening deposit plus top-ups).
	pub deposit: Balance,
	/// Everything paid to the payee so far; never above `deposit`.
	pub claimed: Balance,
	/// Held from the payer for the channel's storage while it exists.
	pub storage_deposit: Balance,
	/// Once the payer requested closing: the first block at which anyone may finalize it. The
	/// payee may still claim before it.
	pub closes_at: Option<BlockNumber>,
}

impl<AccountId, Balance, BlockNumber> Channel<AccountId, Balance, BlockNumber>
where
	Balance: Copy + sp_runtime::traits::Saturating,
{
	/// What the payer still has in the channel: `deposit − claimed`.
	pub fn remaining(&self) -> Balance {
		self.deposit.saturating_sub(self.claimed)
	}
}

/// How a channel closed.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum CloseKind {
	/// The payer requested closing and the challenge period ran out.
	Finalized,
	/// The payee closed it (after an optional last claim).
	ByPayee,
	/// The payer closed it at once with the payee's signed consent.
	Cooperative,
}

/// A voucher as a call carries it: the cumulative amount and the payer's signature over
/// [`Voucher::signing_payload`](appchain_primitives::voucher::Voucher::signing_payload) (the
/// channel id comes from the call).
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct SignedVoucher<Balance, Signature> {
	/// Everything owed in the channel so far.
	pub cumulative: Balance,
	/// The payer's signature.
	pub signature: Signature,
}

/// A channel as the runtime API returns it, with its id.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ChannelView<AccountId, Balance, BlockNumber> {
	/// The channel's id.
	pub id: ChannelId,
	/// The channel.
	pub channel: Channel<AccountId, Balance, BlockNumber>,
}
