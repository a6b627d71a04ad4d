//! Payment-channel vouchers: what a payer signs, what a payee accepts, and what a claim pays.
//!
//! A channel carries value one way, from a payer (the client) to a payee (a serving node's
//! owner). The payer signs **cumulative** vouchers: each says "in channel `c` I owe `a` in
//! total", so a newer voucher replaces every older one and the payee only ever needs the
//! latest. The runtime pays `min(a, deposit) − claimed` on a claim (see [`payable`]).
//!
//! # Signing payload
//!
//! The bytes signed, fixed-length and unambiguous, are
//!
//! ```text
//! tag (24 bytes) ‖ genesis hash (32) ‖ channel id (u64, little endian) ‖ amount (u128, little endian)
//! ```
//!
//! 80 bytes in all (see [`Voucher::signing_payload`]), signed as they are (sr25519 or ed25519;
//! ecdsa hashes them with BLAKE2-256 first, as every `MultiSignature` does). Each part closes
//! one replay:
//!
//! - the **tag** [`VOUCHER_TAG`] keeps a voucher from being read as any other signed message
//!   of the chain, and from the payee's close consent ([`CLOSE_TAG`], same length and layout);
//! - the **genesis hash** keeps it to one chain (a test network's voucher is worthless on
//!   another chain with the same accounts);
//! - the **channel id**, which the runtime never reuses, keeps it to one channel: a voucher of
//!   another channel between the same two parties, or of a closed channel they re-opened,
//!   names another id (Filecoin's vouchers once named only the parties and could be replayed
//!   across channels).
//!
//! Amounts grow strictly: a claim must pay something, so a replayed or older voucher changes
//! nothing, and two vouchers with equal amounts are the same promise.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Identifies a payment channel; the runtime hands them out in increasing order and never
/// reuses one.
pub type ChannelId = u64;

/// Domain tag of a payer's voucher.
pub const VOUCHER_TAG: [u8; 24] = *b"appchain/channel/voucher";
/// Domain tag of a payee's consent to close a channel at an amount.
pub const CLOSE_TAG: [u8; 24] = *b"appchain/channel/closing";
/// Length of a signing payload: tag, genesis hash, channel id, amount.
pub const PAYLOAD_LEN: usize = 24 + 32 + 8 + 16;

/// A payer's promise: `cumulative` owed in total in `channel`.
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
pub struct Voucher {
	/// The channel.
	pub channel: ChannelId,
	/// Everything owed in the channel so far, in plancks.
	pub cumulative: u128,
}

impl Voucher {
	/// The bytes the payer signs, on the chain with genesis hash `genesis`.
	pub fn signing_payload(&self, genesis: &[u8; 32]) -> [u8; PAYLOAD_LEN] {
		payload(&VOUCHER_TAG, genesis, self.channel, self.cumulative)
	}
}

/// A payee's consent to close `channel` now, settled at `settled` owed in total.
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
pub struct CloseConsent {
	/// The channel.
	pub channel: ChannelId,
	/// What the payee accepts as owed in total.
	pub settled: u128,
}

impl CloseConsent {
	/// The bytes the payee signs, on the chain with genesis hash `genesis`.
	pub fn signing_payload(&self, genesis: &[u8; 32]) -> [u8; PAYLOAD_LEN] {
		payload(&CLOSE_TAG, genesis, self.channel, self.settled)
	}
}

fn payload(
	tag: &[u8; 24],
	genesis: &[u8; 32],
	channel: ChannelId,
	amount: u128,
) -> [u8; PAYLOAD_LEN] {
	crate::concat_fixed(&[tag, genesis, &channel.to_le_bytes(), &amount.to_le_bytes()])
}

/// What a claim of a voucher for `cumulative` pays from a channel holding `deposit` in total
/// of which `claimed` was paid already: `min(cumulative, deposit) − claimed`, never negative.
/// A voucher above the deposit pays what is left; after a top-up the same voucher pays the
/// rest.
pub fn payable(cumulative: u128, deposit: u128, claimed: u128) -> u128 {
	cumulative.min(deposit).saturating_sub(claimed)
}

/// Why a payee refuses a voucher offered with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoucherRefusal {
	/// It pays less than the price of the request over the last voucher accepted.
	Underpaid {
		/// The least cumulative amount the payee accepts.
		least: u128,
	},
	/// It promises more than the channel's deposit: the excess could not be claimed.
	AboveDeposit {
		/// The channel's deposit.
		deposit: u128,
	},
}

impl core::fmt::Display for VoucherRefusal {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match self {
			VoucherRefusal::Underpaid { least } => {
				write!(f, "the voucher must promise at least {least} in total")
			},
			VoucherRefusal::AboveDeposit { deposit } => {
				write!(f, "the voucher promises more than the channel's deposit of {deposit}")
			},
		}
	}
}

/// The payee's rule for a voucher offered with a request that costs `price`: it must promise
/// at least `price` more than `last` (the latest voucher accepted, zero at first) and no more
/// than `deposit`, the channel's deposit as of finalized state. Returns the increment paid.
pub fn accept_increment(
	last: u128,
	offered: u128,
	price: u128,
	deposit: u128,
) -> Result<u128, VoucherRefusal> {
	let least =
		last.checked_add(price.max(1)).ok_or(VoucherRefusal::Underpaid { least: u128::MAX })?;
	if offered < least {
		return Err(VoucherRefusal::Underpaid { least });
	}
	if offered > deposit {
		return Err(VoucherRefusal::AboveDeposit { deposit });
	}
	Ok(offered.saturating_sub(last))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn payloads_lay_out_tag_genesis_channel_amount() {
		let genesis = [9u8; 32];
		let v = Voucher { channel: 0x0102, cumulative: 0x0a0b };
		let p = v.signing_payload(&genesis);
		assert_eq!(&p[..24], b"appchain/channel/voucher");
		assert_eq!(&p[24..56], &genesis);
		assert_eq!(&p[56..64], &[2, 1, 0, 0, 0, 0, 0, 0]);
		assert_eq!(&p[64..66], &[0x0b, 0x0a]);
		assert!(p[66..].iter().all(|b| *b == 0));
		let c = CloseConsent { channel: 0x0102, settled: 0x0a0b }.signing_payload(&genesis);
		assert_eq!(&c[..24], b"appchain/channel/closing");
		assert_eq!(&c[24..], &p[24..], "the two payloads differ only in their tags");
	}

	#[test]
	fn every_field_changes_the_payload() {
		let g = [1u8; 32];
		let base = Voucher { channel: 5, cumulative: 100 }.signing_payload(&g);
		assert_ne!(base, Voucher { channel: 6, cumulative: 100 }.signing_payload(&g));
		assert_ne!(base, Voucher { channel: 5, cumulative: 101 }.signing_payload(&g));
		assert_ne!(base, Voucher { channel: 5, cumulative: 100 }.signing_payload(&[2u8; 32]));
		assert_ne!(base, CloseConsent { channel: 5, settled: 100 }.signing_payload(&g));
	}

	#[test]
	fn payable_is_capped_by_the_deposit_and_never_negative() {
		assert_eq!(payable(70, 100, 20), 50);
		assert_eq!(payable(150, 100, 20), 80, "above the deposit pays what is left");
		assert_eq!(payable(150, 200, 100), 50, "after a top-up the same voucher pays the rest");
		assert_eq!(payable(10, 100, 20), 0, "an older voucher pays nothing");
		assert_eq!(payable(u128::MAX, u128::MAX, 0), u128::MAX);
	}

	#[test]
	fn the_payee_takes_only_paid_and_backed_vouchers() {
		assert_eq!(accept_increment(0, 10, 10, 100), Ok(10));
		assert_eq!(accept_increment(10, 25, 10, 100), Ok(15));
		assert_eq!(accept_increment(10, 19, 10, 100), Err(VoucherRefusal::Underpaid { least: 20 }));
		assert_eq!(accept_increment(10, 10, 0, 100), Err(VoucherRefusal::Underpaid { least: 11 }));
		assert_eq!(
			accept_increment(90, 101, 10, 100),
			Err(VoucherRefusal::AboveDeposit { deposit: 100 })
		);
		assert_eq!(
			accept_increment(u128::MAX - 1, u128::MAX, 10, u128::MAX),
			Err(VoucherRefusal::Underpaid { least: u128::MAX })
		);
	}
}
