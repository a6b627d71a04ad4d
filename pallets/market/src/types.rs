//! Markets, listings and service-level agreements.

use appchain_primitives::{LayerRange, ModelId, NodeId, ShardIndex};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Identifies a market; assigned in order from zero.
pub type MarketId = u32;

/// Identifies a service-level agreement; assigned in order from zero.
pub type AgreementId = u64;

/// What a market trades. There is at most one market per commodity.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum Commodity {
	/// Forward passes over one layer shard of a registered model. Sellers are inference nodes
	/// of that model whose layer range covers the whole shard.
	LayerShard {
		/// The model.
		model: ModelId,
		/// The shard, as numbered by the registry.
		shard: ShardIndex,
	},
	/// Hashing by nodes whose declared hash rate is at least `2^class` hashes per second.
	HashRateClass(u8),
}

/// Highest hash-rate class: `2^63` hashes per second.
pub const MAX_HASH_RATE_CLASS: u8 = 63;

impl Commodity {
	/// The least hash rate a seller in a hash-rate market declares, `2^class`.
	pub fn min_hash_rate(class: u8) -> Option<u64> {
		1u64.checked_shl(u32::from(class)).filter(|_| class <= MAX_HASH_RATE_CLASS)
	}
}

/// How a market owner is paid.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum ListingPolicy<Balance> {
	/// Every seller pays the owner `fee` when it lists. A sale is a reverse-Vickrey auction: the
	/// lowest ask wins and is paid the second-lowest ask (the buyer's maximum when it is the only
	/// seller, or when that is lower). The owner's income does not depend on who wins, so it has
	/// no reason to misreport the asks.
	FixedFee {
		/// Paid by a seller to the market owner on every listing.
		fee: Balance,
	},
	/// Listing is free. A sale pays the lowest-ask seller its ask plus
	/// [`Config::VariableSellerMargin`](crate::Config::VariableSellerMargin) per unit, and the
	/// buyer pays the owner the max-min payoff `S (MC_N - MC_1) / MC_N^2` once per sale, where
	/// `MC_1` and `MC_N` are the lowest and highest asks listed and `S` is
	/// [`Config::VariablePayoffScale`](crate::Config::VariablePayoffScale). Reporting anything
	/// but the true lowest ask lowers the owner's payoff (CompuP2P, Proposition 1).
	VariableMaxMin,
}

/// A market for one commodity.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Market<AccountId, Balance> {
	/// The market owner: opened the market, sets its listing policy and collects its fees.
	pub owner: AccountId,
	/// What is traded.
	pub commodity: Commodity,
	/// How the owner is paid.
	pub policy: ListingPolicy<Balance>,
	/// Held from `owner` until the market is closed.
	pub deposit: Balance,
	/// Sales made so far.
	pub sales: u32,
}

/// A seller's standing offer in a market.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct Listing<Balance> {
	/// The selling node.
	pub node: NodeId,
	/// Its ask: the marginal cost of one unit of work.
	pub ask: Balance,
}

/// The work an agreement pays for.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum WorkKind {
	/// Forward passes over `layers` of `model`; a unit is one forward pass.
	LayerInference {
		/// The model.
		model: ModelId,
		/// The layers, all served by the provider.
		layers: LayerRange,
	},
	/// SHA-256 hashing; a unit is one subjob of the hash-job pallet.
	HashSubjob,
}

/// What a client asks of a provider, besides the work and the price.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct ServiceTerms<Balance, BlockNumber> {
	/// Units of work (forward passes or subjobs).
	pub units: u32,
	/// Most milliseconds per unit the client accepts; checked off chain and by the proofs pallet.
	pub max_latency_ms: u32,
	/// Blocks from opening by which the work must be accepted and delivered.
	pub duration: BlockNumber,
	/// Slashed from the provider's collateral to the client if the work is accepted but not
	/// delivered by the deadline, or proven wrong.
	pub penalty: Balance,
}

/// Where an agreement is in its life.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum AgreementStatus<BlockNumber> {
	/// Opened, escrow held, waiting for the provider. The client may cancel.
	Proposed,
	/// The provider accepted; it must deliver by the deadline.
	Accepted,
	/// The provider reported completion at block `at`; the challenge window runs from there.
	Completed {
		/// Block of the completion report.
		at: BlockNumber,
	},
	/// The client disputed the reported work; see [`Dispute`].
	Disputed,
}

/// Units of an accepted hash-subjob agreement verified so far.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct HashDelivery {
	/// The agreement.
	pub agreement: AgreementId,
	/// Units verified.
	pub delivered: u32,
	/// Least work (nonces hashed) a verified subjob must have to count as a unit: one second
	/// at the hash rate the node declared when it accepted, so that declaring a tiny rate
	/// afterwards (and so claiming tiny subjobs) does not deliver units cheaply.
	pub min_unit: u64,
}

/// A client's dispute of delivered work.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct Dispute<Balance, BlockNumber> {
	/// Held from the client.
	pub bond: Balance,
	/// Last block at which verifiers may decide; afterwards the dispute lapses.
	pub decide_by: BlockNumber,
}

/// A service-level agreement between a client and a provider node, with the client's payment
/// held in escrow. It is removed from storage when it is settled (paid or refunded), so it can
/// be settled only once.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Agreement<AccountId, Balance, BlockNumber> {
	/// Who pays.
	pub client: AccountId,
	/// The node doing the work.
	pub provider: NodeId,
	/// The provider's owner, who accepts, reports and is paid.
	pub provider_owner: AccountId,
	/// The market sale that opened it, if any.
	pub market: Option<MarketId>,
	/// What is paid for.
	pub work: WorkKind,
	/// Price per unit.
	pub price_per_unit: Balance,
	/// Units, latency, duration and penalty.
	pub terms: ServiceTerms<Balance, BlockNumber>,
	/// Last block at which the provider may accept and report completion.
	pub deadline: BlockNumber,
	/// Escrow held from the client: `price_per_unit * units`.
	pub escrow: Balance,
	/// Where it is.
	pub status: AgreementStatus<BlockNumber>,
}

/// The outcome of a sale in a market, before any funds move.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sale<Balance> {
	/// Position of the winning listing in the market's listing order.
	pub winner: usize,
	/// What the winner is paid per unit.
	pub price_per_unit: Balance,
	/// What the buyer pays the market owner, once per sale.
	pub owner_fee: Balance,
}

/// Why a listing was removed.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum DelistReason {
	/// Its node's owner removed it.
	ByOwner,
	/// It won a sale.
	Sold,
	/// Its node stopped serving (or no longer serves the commodity); dropped by a sale, or by
	/// anyone with `delist`.
	NotServing,
	/// The market was full and a lower ask took its place.
	Evicted,
	/// The market expired after a long time without a sale.
	MarketExpired,
}

/// What a buy would do if it were included now, as the runtime API quotes it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct BuyQuote<Balance> {
	/// The node that would win.
	pub node: NodeId,
	/// Its ask.
	pub ask: Balance,
	/// What it would be paid per unit.
	pub price_per_unit: Balance,
	/// Held from the buyer in escrow: `price_per_unit * units`.
	pub escrow: Balance,
	/// Paid by the buyer to the market owner.
	pub owner_fee: Balance,
	/// `escrow + owner_fee`: everything the buy takes from the buyer.
	pub total: Balance,
}

/// Which agreements an agreements read returns.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub enum AgreementFilter<AccountId> {
	/// Those `0` pays for.
	Client(AccountId),
	/// Those node `0` provides.
	Provider(NodeId),
	/// Those of the nodes `0` owns.
	ProviderOwner(AccountId),
}
