//! Payment-channel vouchers on the worker's side: signing them (a client paying a node),
//! checking them (a node being paid), and keeping the latest of each channel on disk.
//!
//! The voucher, its signing payload and the acceptance rule are `appchain_primitives::voucher`,
//! shared with the runtime, so what a node accepts here is exactly what the chain will pay.
//! Signatures are sr25519 (the worker's keys), carried as 64 bytes; the chain takes them as
//! `MultiSignature::Sr25519`.
//!
//! A [`VoucherBook`] is one JSON file per chain and party
//! (`<base>/<genesis>/vouchers-paid-<payer>.json` for a client,
//! `vouchers-received-node<id>.json` for a node), written durably (temporary file, `fsync`,
//! rename) before a voucher is handed over or acted on: a restarted client never signs less
//! than it already promised, and a restarted node still holds the voucher it was paid with.
//!
//! - [`Wallet`]: the client's side: the channel it pays each node through, and a voucher for
//!   each forward pass;
//! - [`PaymentGate`]: the node's side: takes a voucher with each request when it pays the price
//!   on top of the last one, in a channel to this node that finalized state shows open.

use std::{
	collections::BTreeMap,
	path::{Path, PathBuf},
};

use appchain_primitives::voucher::{ChannelId, CloseConsent, Voucher};
use serde::{Deserialize, Serialize};
use subxt_signer::sr25519;

use crate::error::WorkerError;

/// A signed voucher as it travels (HTTP headers, JSON, the command line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedVoucher {
	/// The channel.
	pub channel: ChannelId,
	/// Everything owed in the channel so far, in plancks (decimal in JSON).
	#[serde(with = "decimal")]
	pub cumulative: u128,
	/// The payer's sr25519 signature of the voucher's payload, `0x` hex.
	#[serde(with = "hex64")]
	pub signature: [u8; 64],
}

impl SignedVoucher {
	/// `keypair`'s voucher for `cumulative` in `channel` on the chain with genesis `genesis`.
	pub fn sign(
		keypair: &sr25519::Keypair,
		genesis: &[u8; 32],
		channel: ChannelId,
		cumulative: u128,
	) -> Self {
		let payload = Voucher { channel, cumulative }.signing_payload(genesis);
		Self { channel, cumulative, signature: keypair.sign(&payload).0 }
	}

	/// Whether `payer` signed this voucher for the chain with genesis `genesis`.
	pub fn is_signed_by(&self, payer: &[u8; 32], genesis: &[u8; 32]) -> bool {
		let payload =
			Voucher { channel: self.channel, cumulative: self.cumulative }.signing_payload(genesis);
		sr25519::verify(&sr25519::Signature(self.signature), payload, &sr25519::PublicKey(*payer))
	}
}

/// A payee's signature consenting to close `channel` at `settled` (for `cooperative_close`).
pub fn sign_close_consent(
	keypair: &sr25519::Keypair,
	genesis: &[u8; 32],
	channel: ChannelId,
	settled: u128,
) -> [u8; 64] {
	keypair.sign(&CloseConsent { channel, settled }.signing_payload(genesis)).0
}

/// The latest voucher of each channel, on disk.
#[derive(Debug)]
pub struct VoucherBook {
	path: PathBuf,
	latest: BTreeMap<ChannelId, SignedVoucher>,
}

impl VoucherBook {
	/// The book of vouchers `payer` signed, on the chain with genesis `genesis`.
	pub fn paid(base: &Path, genesis: &[u8; 32], payer: &[u8; 32]) -> Result<Self, WorkerError> {
		Self::open(base.join(hex(genesis)).join(format!("vouchers-paid-{}.json", hex(payer))))
	}

	/// The book of vouchers node `node` received, on the chain with genesis `genesis`.
	pub fn received(base: &Path, genesis: &[u8; 32], node: u64) -> Result<Self, WorkerError> {
		Self::open(base.join(hex(genesis)).join(format!("vouchers-received-node{node}.json")))
	}

	/// The book at `path` (empty if the file does not exist yet).
	pub fn open(path: PathBuf) -> Result<Self, WorkerError> {
		let latest = match std::fs::read(&path) {
			Ok(bytes) => {
				let list: Vec<SignedVoucher> = serde_json::from_slice(&bytes).map_err(|e| {
					WorkerError::journal(
						&path,
						std::io::Error::new(std::io::ErrorKind::InvalidData, e),
					)
				})?;
				list.into_iter().map(|v| (v.channel, v)).collect()
			},
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
			Err(e) => return Err(WorkerError::journal(&path, e)),
		};
		Ok(Self { path, latest })
	}

	/// The file.
	pub fn path(&self) -> &Path {
		&self.path
	}

	/// The latest voucher of `channel`, if any.
	pub fn latest(&self, channel: ChannelId) -> Option<&SignedVoucher> {
		self.latest.get(&channel)
	}

	/// What the latest voucher of `channel` promises (zero without one).
	pub fn cumulative(&self, channel: ChannelId) -> u128 {
		self.latest(channel).map_or(0, |v| v.cumulative)
	}

	/// Every channel's latest voucher.
	pub fn all(&self) -> impl Iterator<Item = &SignedVoucher> {
		self.latest.values()
	}

	/// Records `voucher` as its channel's latest (if it promises more than the one held) and
	/// writes the book to disk before returning.
	pub fn record(&mut self, voucher: SignedVoucher) -> Result<(), WorkerError> {
		if voucher.cumulative <= self.cumulative(voucher.channel) {
			return Ok(());
		}
		self.latest.insert(voucher.channel, voucher);
		self.save()
	}

	/// Forgets `channel` (it closed) and writes the book.
	pub fn forget(&mut self, channel: ChannelId) -> Result<(), WorkerError> {
		if self.latest.remove(&channel).is_some() {
			self.save()?;
		}
		Ok(())
	}

	fn save(&self) -> Result<(), WorkerError> {
		let io = |e| WorkerError::journal(&self.path, e);
		if let Some(dir) = self.path.parent() {
			std::fs::create_dir_all(dir).map_err(io)?;
		}
		let list: Vec<&SignedVoucher> = self.latest.values().collect();
		let bytes = serde_json::to_vec_pretty(&list)
			.map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
		let tmp = self.path.with_extension("json.tmp");
		{
			use std::io::Write;
			let mut file = std::fs::File::create(&tmp).map_err(io)?;
			file.write_all(&bytes).map_err(io)?;
			file.sync_all().map_err(io)?;
		}
		std::fs::rename(&tmp, &self.path).map_err(io)?;
		if let Some(dir) = self.path.parent() {
			// The rename itself is durable once the directory is.
			std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
		}
		Ok(())
	}
}

/// The client's side of its channels: which channel pays each node, and one voucher per
/// forward pass. Shared by the route's hops.
pub struct Wallet {
	keypair: sr25519::Keypair,
	genesis: [u8; 32],
	book: std::sync::Mutex<VoucherBook>,
	/// `node → (channel, the least the next voucher builds on)`.
	channels: std::sync::Mutex<BTreeMap<u64, (ChannelId, u128)>>,
	/// Spent per node in this process.
	spent: std::sync::Mutex<BTreeMap<u64, (u64, u128)>>,
}

impl std::fmt::Debug for Wallet {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("Wallet").field("genesis", &hex(&self.genesis)).finish_non_exhaustive()
	}
}

impl Wallet {
	/// The wallet of `keypair` on the chain with genesis `genesis`, with its book of vouchers.
	pub fn new(keypair: sr25519::Keypair, genesis: [u8; 32], book: VoucherBook) -> Self {
		Self {
			keypair,
			genesis,
			book: std::sync::Mutex::new(book),
			channels: std::sync::Mutex::default(),
			spent: std::sync::Mutex::default(),
		}
	}

	/// The payer's public key.
	pub fn payer(&self) -> [u8; 32] {
		self.keypair.public_key().0
	}

	/// Pays `node` through `channel` from now on; vouchers build on at least `floor` (what
	/// the chain shows claimed), whatever the book says.
	pub fn use_channel(&self, node: u64, channel: ChannelId, floor: u128) {
		self.channels.lock().unwrap_or_else(|p| p.into_inner()).insert(node, (channel, floor));
	}

	/// What the latest voucher of `channel` promises (zero without one).
	pub fn promised(&self, channel: ChannelId) -> u128 {
		self.book.lock().unwrap_or_else(|p| p.into_inner()).cumulative(channel)
	}

	/// A voucher paying `price` more to `node`, written to the book first; `None` when the
	/// wallet has no channel to `node` (a free node).
	pub fn pay(&self, node: u64, price: u128) -> Result<Option<SignedVoucher>, WorkerError> {
		let Some((channel, floor)) =
			self.channels.lock().unwrap_or_else(|p| p.into_inner()).get(&node).copied()
		else {
			return Ok(None);
		};
		let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
		let cumulative = book.cumulative(channel).max(floor).saturating_add(price);
		let voucher = SignedVoucher::sign(&self.keypair, &self.genesis, channel, cumulative);
		book.record(voucher.clone())?;
		let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
		let entry = spent.entry(node).or_default();
		entry.0 = entry.0.saturating_add(1);
		entry.1 = entry.1.saturating_add(price);
		Ok(Some(voucher))
	}

	/// Per node: vouchers signed and what they added, in this process.
	pub fn spent(&self) -> BTreeMap<u64, (u64, u128)> {
		self.spent.lock().unwrap_or_else(|p| p.into_inner()).clone()
	}
}

/// A channel as a node needs it to take vouchers: read from finalized state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelTerms {
	/// The payer, whose signature a voucher must carry.
	pub payer: [u8; 32],
	/// The node the channel pays for.
	pub node: u64,
	/// Everything deposited.
	pub deposit: u128,
	/// Everything claimed so far.
	pub claimed: u128,
	/// The payer asked to close: no new work on it.
	pub closing: bool,
}

/// Why a node refuses the voucher offered with a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentRefusal {
	/// The channel is not open as of the node's last finalized block (maybe not yet).
	#[error("channel {0} is not open (as of the last finalized block)")]
	UnknownChannel(ChannelId),
	/// The channel pays another node.
	#[error("channel {channel} pays node {pays}, not node {node}")]
	WrongNode {
		/// The channel.
		channel: ChannelId,
		/// The node it pays.
		pays: u64,
		/// This node.
		node: u64,
	},
	/// The payer asked to close the channel.
	#[error("channel {0} is closing")]
	Closing(ChannelId),
	/// The signature is not the payer's over this voucher on this chain.
	#[error("the voucher is not signed by channel {0}'s payer for this chain")]
	BadSignature(ChannelId),
	/// The amount does not pay for the request, or promises more than the deposit.
	#[error("{0}")]
	Amount(appchain_primitives::voucher::VoucherRefusal),
	/// The voucher could not be written down before the work.
	#[error("cannot record the voucher: {0}")]
	Book(String),
}

/// A serving node's gate: takes the voucher offered with each request when it pays the price
/// of the request on top of the last one taken, within a channel to this node whose deposit
/// covers it, and writes it down before the work is done.
#[derive(Debug)]
pub struct PaymentGate {
	node: u64,
	genesis: [u8; 32],
	book: std::sync::Mutex<VoucherBook>,
	channels: std::sync::Mutex<BTreeMap<ChannelId, ChannelTerms>>,
	price: std::sync::Mutex<u128>,
}

impl PaymentGate {
	/// The price a request pays now, per forward pass.
	pub fn price(&self) -> u128 {
		*self.price.lock().unwrap_or_else(|p| p.into_inner())
	}

	/// Sets the price per forward pass (the lower of the finalized and the best block's, so
	/// that a client that read either is not refused).
	pub fn set_price(&self, price: u128) {
		*self.price.lock().unwrap_or_else(|p| p.into_inner()) = price;
	}

	/// This node.
	pub fn node(&self) -> u64 {
		self.node
	}

	/// The gate of `node` on the chain with genesis `genesis`, keeping vouchers in `book`.
	pub fn new(node: u64, genesis: [u8; 32], book: VoucherBook) -> Self {
		Self {
			node,
			genesis,
			book: std::sync::Mutex::new(book),
			channels: std::sync::Mutex::default(),
			price: std::sync::Mutex::new(0),
		}
	}

	/// Replaces every channel's terms with `channels` (all the channels paying this node).
	pub fn set_channels(&self, channels: BTreeMap<ChannelId, ChannelTerms>) {
		*self.channels.lock().unwrap_or_else(|p| p.into_inner()) = channels;
	}

	/// The terms of channel `id`, as last set.
	pub fn terms(&self, id: ChannelId) -> Option<ChannelTerms> {
		self.channels.lock().unwrap_or_else(|p| p.into_inner()).get(&id).copied()
	}

	/// Takes `voucher` for a request costing `price`: returns the increment it pays.
	pub fn accept(&self, voucher: SignedVoucher, price: u128) -> Result<u128, PaymentRefusal> {
		let id = voucher.channel;
		let terms = {
			let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
			*channels.get(&id).ok_or(PaymentRefusal::UnknownChannel(id))?
		};
		if terms.node != self.node {
			return Err(PaymentRefusal::WrongNode {
				channel: id,
				pays: terms.node,
				node: self.node,
			});
		}
		if terms.closing {
			return Err(PaymentRefusal::Closing(id));
		}
		if !voucher.is_signed_by(&terms.payer, &self.genesis) {
			return Err(PaymentRefusal::BadSignature(id));
		}
		// The book's lock orders concurrent requests on one channel: each must pay on top of
		// the one taken before it.
		let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
		let last = book.cumulative(id).max(terms.claimed);
		let paid = appchain_primitives::voucher::accept_increment(
			last,
			voucher.cumulative,
			price,
			terms.deposit,
		)
		.map_err(PaymentRefusal::Amount)?;
		book.record(voucher).map_err(|e| PaymentRefusal::Book(e.to_string()))?;
		Ok(paid)
	}

	/// The latest voucher of each channel that promises more than was claimed: what a claim
	/// would collect now.
	pub fn claimable(&self) -> Vec<SignedVoucher> {
		let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
		let book = self.book.lock().unwrap_or_else(|p| p.into_inner());
		book.all()
			.filter(|v| {
				channels
					.get(&v.channel)
					.is_some_and(|t| v.cumulative > t.claimed && t.claimed < t.deposit)
			})
			.cloned()
			.collect()
	}
}

fn hex(bytes: &[u8]) -> String {
	hex::encode(bytes)
}

/// Exactly `N` bytes of hex, with or without `0x`.
pub fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
	let mut out = [0u8; N];
	hex::decode_to_slice(text.strip_prefix("0x").unwrap_or(text), &mut out).ok()?;
	Some(out)
}

mod decimal {
	use serde::{de::Error, Deserialize, Deserializer, Serializer};

	pub fn serialize<S: Serializer>(value: &u128, s: S) -> Result<S::Ok, S::Error> {
		s.serialize_str(&value.to_string())
	}

	pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
		let text = String::deserialize(d)?;
		text.parse().map_err(|_| D::Error::custom(format!("`{text}` is not a decimal amount")))
	}
}

mod hex64 {
	use serde::{de::Error, Deserialize, Deserializer, Serializer};

	pub fn serialize<S: Serializer>(value: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
		s.serialize_str(&format!("0x{}", super::hex(value)))
	}

	pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
		let text = String::deserialize(d)?;
		super::parse_hex::<64>(&text)
			.ok_or_else(|| D::Error::custom("a signature is 64 bytes of 0x hex"))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn alice() -> sr25519::Keypair {
		crate::keys::keypair_from_suri("//Alice").unwrap()
	}

	#[test]
	fn vouchers_verify_only_for_their_signer_chain_channel_and_amount() {
		let genesis = [3u8; 32];
		let v = SignedVoucher::sign(&alice(), &genesis, 7, 1_000);
		let payer = alice().public_key().0;
		assert!(v.is_signed_by(&payer, &genesis));
		let bob = crate::keys::keypair_from_suri("//Bob").unwrap().public_key().0;
		assert!(!v.is_signed_by(&bob, &genesis));
		assert!(!v.is_signed_by(&payer, &[4u8; 32]));
		assert!(!SignedVoucher { channel: 8, ..v.clone() }.is_signed_by(&payer, &genesis));
		assert!(!SignedVoucher { cumulative: 1_001, ..v.clone() }.is_signed_by(&payer, &genesis));
		// A close consent is not a voucher.
		let consent = sign_close_consent(&alice(), &genesis, 7, 1_000);
		assert!(!SignedVoucher { signature: consent, ..v }.is_signed_by(&payer, &genesis));
	}

	#[test]
	fn the_book_keeps_the_latest_voucher_across_restarts() {
		let dir = std::env::temp_dir().join(format!("appchain-vouchers-{}", std::process::id()));
		let _ = std::fs::remove_dir_all(&dir);
		let genesis = [1u8; 32];
		let mut book = VoucherBook::received(&dir, &genesis, 3).unwrap();
		book.record(SignedVoucher::sign(&alice(), &genesis, 1, 10)).unwrap();
		book.record(SignedVoucher::sign(&alice(), &genesis, 1, 30)).unwrap();
		book.record(SignedVoucher::sign(&alice(), &genesis, 1, 20)).unwrap();
		book.record(SignedVoucher::sign(&alice(), &genesis, 2, 5)).unwrap();
		let reopened = VoucherBook::received(&dir, &genesis, 3).unwrap();
		assert_eq!(reopened.cumulative(1), 30, "an older voucher never replaces a newer one");
		assert_eq!(reopened.cumulative(2), 5);
		assert!(reopened.latest(1).unwrap().is_signed_by(&alice().public_key().0, &genesis));
		let mut reopened = reopened;
		reopened.forget(1).unwrap();
		assert_eq!(VoucherBook::received(&dir, &genesis, 3).unwrap().cumulative(1), 0);
		std::fs::write(reopened.path(), b"not json").unwrap();
		assert!(
			VoucherBook::received(&dir, &genesis, 3).is_err(),
			"a corrupt book is an error, not empty"
		);
		let _ = std::fs::remove_dir_all(&dir);
	}

	#[test]
	fn vouchers_round_trip_through_json() {
		let v = SignedVoucher::sign(&alice(), &[0u8; 32], 3, u128::MAX);
		let text = serde_json::to_string(&v).unwrap();
		assert!(text.contains(&format!("\"{}\"", u128::MAX)), "{text}");
		assert_eq!(serde_json::from_str::<SignedVoucher>(&text).unwrap(), v);
		assert!(serde_json::from_str::<SignedVoucher>(
			r#"{"channel":1,"cumulative":"1","signature":"0x00"}"#
		)
		.is_err());
		assert_eq!(parse_hex::<2>("0x0aff"), Some([10, 255]));
		assert_eq!(parse_hex::<2>("0aff"), Some([10, 255]));
		assert_eq!(parse_hex::<2>("0xzz00"), None);
	}

	#[test]
	fn the_gate_takes_only_vouchers_that_pay_for_the_request_in_a_channel_to_this_node() {
		use appchain_primitives::voucher::VoucherRefusal;
		let dir = std::env::temp_dir().join(format!("appchain-gate-{}", std::process::id()));
		let _ = std::fs::remove_dir_all(&dir);
		let genesis = [5u8; 32];
		let payer = alice().public_key().0;
		let gate = PaymentGate::new(3, genesis, VoucherBook::received(&dir, &genesis, 3).unwrap());
		let v = |channel, total| SignedVoucher::sign(&alice(), &genesis, channel, total);
		assert_eq!(gate.accept(v(1, 10), 10), Err(PaymentRefusal::UnknownChannel(1)));
		let terms = ChannelTerms { payer, node: 3, deposit: 100, claimed: 0, closing: false };
		gate.set_channels([(1, terms), (2, ChannelTerms { node: 4, ..terms })].into());
		assert_eq!(gate.accept(v(1, 10), 10), Ok(10));
		assert_eq!(
			gate.accept(v(1, 10), 10),
			Err(PaymentRefusal::Amount(VoucherRefusal::Underpaid { least: 20 }))
		);
		assert_eq!(
			gate.accept(v(1, 15), 10),
			Err(PaymentRefusal::Amount(VoucherRefusal::Underpaid { least: 20 }))
		);
		assert_eq!(gate.accept(v(1, 25), 10), Ok(15));
		assert_eq!(
			gate.accept(v(1, 101), 10),
			Err(PaymentRefusal::Amount(VoucherRefusal::AboveDeposit { deposit: 100 }))
		);
		assert_eq!(
			gate.accept(v(2, 10), 10),
			Err(PaymentRefusal::WrongNode { channel: 2, pays: 4, node: 3 })
		);
		let bob = crate::keys::keypair_from_suri("//Bob").unwrap();
		assert_eq!(
			gate.accept(SignedVoucher::sign(&bob, &genesis, 1, 40), 10),
			Err(PaymentRefusal::BadSignature(1))
		);
		assert_eq!(
			gate.accept(SignedVoucher::sign(&alice(), &[6u8; 32], 1, 40), 10),
			Err(PaymentRefusal::BadSignature(1))
		);
		assert_eq!(gate.claimable().iter().map(|v| v.cumulative).collect::<Vec<_>>(), vec![25]);
		// After a claim of everything held, nothing is claimable; a close request stops new work.
		gate.set_channels([(1, ChannelTerms { claimed: 25, closing: true, ..terms })].into());
		assert!(gate.claimable().is_empty());
		assert_eq!(gate.accept(v(1, 40), 10), Err(PaymentRefusal::Closing(1)));
		// A restarted node keeps what it was paid with.
		drop(gate);
		assert_eq!(VoucherBook::received(&dir, &genesis, 3).unwrap().cumulative(1), 25);
		let _ = std::fs::remove_dir_all(&dir);
	}

	#[test]
	fn the_wallet_pays_each_pass_on_top_of_the_last_and_of_the_claims() {
		let dir = std::env::temp_dir().join(format!("appchain-wallet-{}", std::process::id()));
		let _ = std::fs::remove_dir_all(&dir);
		let genesis = [8u8; 32];
		let payer = alice().public_key().0;
		let wallet =
			Wallet::new(alice(), genesis, VoucherBook::paid(&dir, &genesis, &payer).unwrap());
		assert_eq!(wallet.pay(4, 10).unwrap(), None, "no channel to node 4: nothing to pay with");
		wallet.use_channel(4, 9, 0);
		let first = wallet.pay(4, 10).unwrap().unwrap();
		let second = wallet.pay(4, 10).unwrap().unwrap();
		assert_eq!((first.cumulative, second.cumulative), (10, 20));
		assert!(second.is_signed_by(&payer, &genesis));
		// The chain shows more claimed than the book (a lost book): build on the claims.
		wallet.use_channel(4, 9, 50);
		assert_eq!(wallet.pay(4, 10).unwrap().unwrap().cumulative, 60);
		assert_eq!(wallet.spent().get(&4), Some(&(3, 30)));
		let reopened =
			Wallet::new(alice(), genesis, VoucherBook::paid(&dir, &genesis, &payer).unwrap());
		reopened.use_channel(4, 9, 0);
		assert_eq!(
			reopened.pay(4, 5).unwrap().unwrap().cumulative,
			65,
			"a restart never promises less"
		);
		let _ = std::fs::remove_dir_all(&dir);
	}
}
