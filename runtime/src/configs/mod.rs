//! Configuration of every pallet in the runtime, one file per pallet group.
//!
//! - this file: system, timestamp, balances, transaction payment, utility, sudo, the verifier
//!   council, and the technical committee with its root motions (governance in place of sudo);
//! - [`consensus`]: BABE, GRANDPA, authorship, session (+historical), staking with its
//!   on-chain election, and offences;
//! - [`compute`]: the compute marketplace (node registry, markets and SLA escrow).

pub mod compute;
pub mod consensus;

use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU128, ConstU32, ConstU8, VariantCountOf},
	weights::{
		constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		ConstantMultiplier, IdentityFee, Weight,
	},
};
use frame_system::limits::{BlockLength, BlockWeights};
use pallet_transaction_payment::{FungibleAdapter, Multiplier, TargetedFeeAdjustment};
use sp_runtime::{
	traits::Bounded,
	FixedPointNumber, Perbill, Perquintill,
};
use sp_version::RuntimeVersion;

use super::{
	currency::EXISTENTIAL_DEPOSIT, AccountId, Balance, Balances, Block, BlockNumber, Hash,
	Nonce, OriginCaller, PalletInfo, Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason,
	RuntimeHoldReason, RuntimeOrigin, RuntimeTask, System, SS58_PREFIX, VERSION,
};

/// Normal extrinsics may fill this much of a block; the rest is kept for operational ones.
const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

parameter_types! {
	pub const BlockHashCount: BlockNumber = 2400;
	pub const Version: RuntimeVersion = VERSION;

	/// One second of compute per block: a third of the 3 s slot, leaving the rest for
	/// importing the block on every validator and propagating it.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(5 * 1024 * 1024)
		.modify_max_length_for_class(frame_support::dispatch::DispatchClass::Normal, |m| {
			*m = NORMAL_DISPATCH_RATIO * *m
		})
		.build();
	pub const SS58Prefix: u16 = SS58_PREFIX;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	/// We store state in ParityDB.
	type DbWeight = ParityDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
	type SystemWeightInfo = frame_system::weights::SubstrateWeight<Runtime>;
	type ExtensionsWeightInfo = frame_system::SubstrateExtensionsWeight<Runtime>;
}

parameter_types! {
	/// Blocks may not be closer than half a slot.
	pub const MinimumPeriod: u64 = super::SLOT_DURATION / 2;
}

impl pallet_timestamp::Config for Runtime {
	type Moment = super::Moment;
	/// BABE checks that the timestamp agrees with the slot of the block.
	type OnTimestampSet = super::Babe;
	type MinimumPeriod = MinimumPeriod;
	type WeightInfo = pallet_timestamp::weights::SubstrateWeight<Runtime>;
}

impl pallet_balances::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type Balance = Balance;
	/// Dust is burnt.
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type ReserveIdentifier = [u8; 8];
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ConstU32<50>;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type DoneSlashHandler = ();
}

parameter_types! {
	/// 10 µCPU per byte: filling a 5 MiB block with bytes costs about 52 CPU, before the
	/// multiplier.
	pub const TransactionByteFee: Balance = 10 * super::currency::MICRO_UNITS;
	/// The fee multiplier aims at blocks a quarter full ...
	pub const TargetBlockFullness: Perquintill = Perquintill::from_percent(25);
	/// ... moving by 0.75% per full block: sustained spam doubles fees in about 93 blocks
	/// (under 5 minutes), and they fall back by 0.25% per empty block ...
	pub AdjustmentVariable: Multiplier = Multiplier::saturating_from_rational(1, 100);
	/// ... and never below a tenth of the base fee.
	pub MinimumMultiplier: Multiplier = Multiplier::saturating_from_rational(1, 10u128);
	pub MaximumMultiplier: Multiplier = Bounded::max_value();
}

/// Fees follow demand: the multiplier rises while blocks are fuller than the target and falls
/// back when they are emptier, so filling blocks gets more expensive block after block.
pub type SlowAdjustingFeeUpdate<R> = TargetedFeeAdjustment<
	R,
	TargetBlockFullness,
	AdjustmentVariable,
	MinimumMultiplier,
	MaximumMultiplier,
>;

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	/// Fees are burnt (withdrawn from the payer and dropped).
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	/// Operational calls (the deadline-bound steps of hash jobs and agreements) get five times
	/// their fee as virtual tip in the pool's priority, and the block's reserved quarter.
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = ConstantMultiplier<Balance, TransactionByteFee>;
	type FeeMultiplierUpdate = SlowAdjustingFeeUpdate<Self>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_utility::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type PalletsOrigin = OriginCaller;
	type WeightInfo = pallet_utility::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// A verifier motion stays open for a day (five minutes with `fast-runtime`).
	pub const VerifierMotionDuration: BlockNumber =
		crate::prod_or_fast!(super::time::DAYS, 5 * super::time::MINUTES);
	/// What a verifier motion may dispatch: a verdict, far below a block.
	pub VerifierMaxProposalWeight: Weight =
		Perbill::from_percent(50) * RuntimeBlockWeights::get().max_block;
}

/// The collective of verifiers that decides disputed work (the market's `VerifierOrigin`)
/// until the proof-of-computation pallet gives re-execution verdicts. Its members are set at
/// genesis and changed by root.
pub type VerifierCollective = pallet_collective::Instance1;

impl pallet_collective::Config<VerifierCollective> for Runtime {
	type RuntimeOrigin = RuntimeOrigin;
	type Proposal = RuntimeCall;
	type RuntimeEvent = RuntimeEvent;
	type MotionDuration = VerifierMotionDuration;
	type MaxProposals = ConstU32<100>;
	type MaxMembers = ConstU32<32>;
	type DefaultVote = pallet_collective::PrimeDefaultVote;
	type WeightInfo = pallet_collective::weights::SubstrateWeight<Runtime>;
	type SetMembersOrigin = frame_system::EnsureRoot<AccountId>;
	type MaxProposalWeight = VerifierMaxProposalWeight;
	type DisapproveOrigin = frame_system::EnsureRoot<AccountId>;
	type KillOrigin = frame_system::EnsureRoot<AccountId>;
	type Consideration = ();
}

parameter_types! {
	/// A technical-committee motion stays open for a day (five minutes with `fast-runtime`).
	pub const TechnicalMotionDuration: BlockNumber =
		crate::prod_or_fast!(super::time::DAYS, 5 * super::time::MINUTES);
	/// What a committee motion may dispatch: half a block, plenty for `System::authorize_upgrade`
	/// (the upgrade's hash; anyone then applies the code) or `System::set_code`.
	pub TechnicalMaxProposalWeight: Weight =
		Perbill::from_percent(50) * RuntimeBlockWeights::get().max_block;
}

/// The technical committee: the chain's governance in place of a sudo key. Two thirds of it
/// enact root calls ([`pallet_root_motions`]): runtime upgrades, the members of both collectives,
/// anything else only root may do. Its members are set at genesis and changed by its own root
/// motions.
pub type TechnicalCollective = pallet_collective::Instance2;

impl pallet_collective::Config<TechnicalCollective> for Runtime {
	type RuntimeOrigin = RuntimeOrigin;
	type Proposal = RuntimeCall;
	type RuntimeEvent = RuntimeEvent;
	type MotionDuration = TechnicalMotionDuration;
	type MaxProposals = ConstU32<100>;
	type MaxMembers = ConstU32<32>;
	type DefaultVote = pallet_collective::PrimeDefaultVote;
	type WeightInfo = pallet_collective::weights::SubstrateWeight<Runtime>;
	type SetMembersOrigin = frame_system::EnsureRoot<AccountId>;
	type MaxProposalWeight = TechnicalMaxProposalWeight;
	type DisapproveOrigin = frame_system::EnsureRoot<AccountId>;
	type KillOrigin = frame_system::EnsureRoot<AccountId>;
	type Consideration = ();
}

/// Two thirds of the technical committee.
pub type TechnicalTwoThirds =
	pallet_collective::EnsureProportionAtLeast<AccountId, TechnicalCollective, 2, 3>;

impl pallet_root_motions::Config for Runtime {
	type RuntimeCall = RuntimeCall;
	type EnactOrigin = TechnicalTwoThirds;
	type WeightInfo = pallet_root_motions::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}
