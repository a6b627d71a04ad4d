//! Proof of stake: BABE block production, GRANDPA finality, sessions, NPoS staking with a
//! bounded on-chain election, and equivocation reports that end up as offences slashed by
//! staking.

use frame_election_provider_support::{
	bounds::{ElectionBounds, ElectionBoundsBuilder},
	onchain, SequentialPhragmen,
};
use frame_support::{
	parameter_types,
	traits::{ConstBool, ConstU32, Nothing},
};
use frame_system::EnsureRoot;
use sp_runtime::{curve::PiecewiseLinear, Perbill};
use sp_staking::{EraIndex, SessionIndex};

use crate::{
	time::{EPOCH_DURATION_IN_SLOTS, MILLISECS_PER_BLOCK, SESSIONS_PER_ERA},
	AccountId, Babe, Balance, Balances, Historical, Offences, Runtime, RuntimeCall, VoterList,
	RuntimeEvent, RuntimeHoldReason, Session, SessionKeys, Staking, Timestamp,
	UncheckedExtrinsic,
};

parameter_types! {
	pub const EpochDuration: u64 = EPOCH_DURATION_IN_SLOTS;
	pub const ExpectedBlockTime: u64 = MILLISECS_PER_BLOCK;
	/// An equivocation report stays valid for the whole bonding period.
	pub const ReportLongevity: u64 =
		BondingDuration::get() as u64 * SessionsPerEra::get() as u64 * EpochDuration::get();
	/// Upper bound of BABE and GRANDPA authorities (the validator set).
	pub const MaxAuthorities: u32 = 100;
	/// Upper bound of nominators per validator exposure that equivocation proofs carry.
	pub const MaxNominators: u32 = 64;
	/// GRANDPA set-id to session mappings kept for equivocation proofs.
	pub const MaxSetIdSessionEntries: u64 =
		BondingDuration::get() as u64 * SessionsPerEra::get() as u64;
}

impl pallet_babe::Config for Runtime {
	type EpochDuration = EpochDuration;
	type ExpectedBlockTime = ExpectedBlockTime;
	/// Session rotation decides epoch changes.
	type EpochChangeTrigger = pallet_babe::ExternalTrigger;
	type DisabledValidators = Session;
	type WeightInfo = ();
	type MaxAuthorities = MaxAuthorities;
	type MaxNominators = MaxNominators;
	type KeyOwnerProof = sp_session::MembershipProof;
	type EquivocationReportSystem =
		pallet_babe::EquivocationReportSystem<Self, Offences, Historical, ReportLongevity>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = MaxAuthorities;
	type MaxNominators = MaxNominators;
	type MaxSetIdSessionEntries = MaxSetIdSessionEntries;
	type KeyOwnerProof = sp_session::MembershipProof;
	type EquivocationReportSystem =
		pallet_grandpa::EquivocationReportSystem<Self, Offences, Historical, ReportLongevity>;
}

impl pallet_authorship::Config for Runtime {
	type FindAuthor = pallet_session::FindAccountFromAuthorIndex<Self, Babe>;
	/// Block authors earn era points in staking.
	type EventHandler = Staking;
}

impl pallet_session::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	/// A validator is identified by its stash account.
	type ValidatorId = AccountId;
	type ValidatorIdOf = sp_runtime::traits::ConvertInto;
	type ShouldEndSession = Babe;
	type NextSessionRotation = Babe;
	type SessionManager = pallet_session::historical::NoteHistoricalRoot<Self, Staking>;
	type SessionHandler = <SessionKeys as sp_runtime::traits::OpaqueKeys>::KeyTypeIdProviders;
	type Keys = SessionKeys;
	/// Disables offenders up to a third of the set, re-enabling smaller offenders first.
	type DisablingStrategy = pallet_session::disabling::UpToLimitWithReEnablingDisablingStrategy;
	type WeightInfo = pallet_session::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	/// Setting keys needs no deposit: only bonded stashes are ever elected.
	type KeyDeposit = ();
}

impl pallet_session::historical::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type FullIdentification = ();
	type FullIdentificationOf = pallet_staking::UnitIdentificationOf<Self>;
}

impl pallet_offences::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type IdentificationTuple = pallet_session::historical::IdentificationTuple<Self>;
	type OnOffenceHandler = Staking;
}

// Inflation: 2.5 % to 10 % a year, ideal at half of the issuance staked.
pallet_staking_reward_curve::build! {
	const REWARD_CURVE: PiecewiseLinear<'static> = curve!(
		min_inflation: 0_025_000,
		max_inflation: 0_100_000,
		ideal_stake: 0_500_000,
		falloff: 0_050_000,
		max_piece_count: 40,
		test_precision: 0_005_000,
	);
}

parameter_types! {
	pub const SessionsPerEra: SessionIndex = SESSIONS_PER_ERA;
	/// Unbonded funds stay slashable for 28 eras (7 days), or 4 (4 minutes) with
	/// `fast-runtime`.
	pub const BondingDuration: EraIndex = crate::prod_or_fast!(28, 4);
	/// Slashes are applied an era before unbonding ends, so governance can cancel them; one
	/// era with `fast-runtime`.
	pub const SlashDeferDuration: EraIndex = crate::prod_or_fast!(27, 1);
	pub const RewardCurve: &'static PiecewiseLinear<'static> = &REWARD_CURVE;
	pub const MaxExposurePageSize: u32 = 64;
	/// The most validators an election may return.
	pub const MaxValidatorSet: u32 = MaxAuthorities::get();
	pub const HistoryDepth: u32 = 84;
	/// The election reads at most this many voters and targets, so its weight is bounded.
	pub ElectionBoundsOnChain: ElectionBounds = ElectionBoundsBuilder::default()
		.voters_count(5_000.into())
		.targets_count(1_000.into())
		.build();
	pub const MaxBackersPerWinner: u32 = 5_000;
}

parameter_types! {
	/// 200 bags from the existential deposit to `u64::MAX`, see `bags.rs`.
	pub const BagThresholds: &'static [u64] = &crate::bags::THRESHOLDS;
}

/// The staking voters (nominators and validators) sorted by stake into bags.
pub type VoterBagsListInstance = pallet_bags_list::Instance1;

impl pallet_bags_list::Config<VoterBagsListInstance> for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = pallet_bags_list::weights::SubstrateWeight<Runtime>;
	type ScoreProvider = Staking;
	type BagThresholds = BagThresholds;
	/// Voters are re-bagged when their stake changes (and by anyone with `rebag`), not in
	/// idle time.
	type MaxAutoRebagPerBlock = ConstU32<0>;
	type Score = frame_election_provider_support::VoteWeight;
}

/// The on-chain sequential-Phragmén election, run by staking at the end of each era.
pub struct OnChainSeqPhragmen;
impl onchain::Config for OnChainSeqPhragmen {
	type Sort = ConstBool<true>;
	type System = Runtime;
	type Solver = SequentialPhragmen<AccountId, Perbill>;
	type MaxBackersPerWinner = MaxBackersPerWinner;
	type MaxWinnersPerPage = MaxValidatorSet;
	type DataProvider = Staking;
	type WeightInfo = frame_election_provider_support::weights::SubstrateWeight<Runtime>;
	type Bounds = ElectionBoundsOnChain;
}

impl pallet_staking::Config for Runtime {
	type OldCurrency = Balances;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type CurrencyBalance = Balance;
	type UnixTime = Timestamp;
	type CurrencyToVote = sp_staking::currency_to_vote::U128CurrencyToVote;
	type ElectionProvider = onchain::OnChainExecution<OnChainSeqPhragmen>;
	type GenesisElectionProvider = onchain::OnChainExecution<OnChainSeqPhragmen>;
	type NominationsQuota = pallet_staking::FixedNominationsQuota<16>;
	type HistoryDepth = HistoryDepth;
	/// The part of the era payout that does not go to validators is burnt.
	type RewardRemainder = ();
	type RuntimeEvent = RuntimeEvent;
	/// Slashed funds are burnt.
	type Slash = ();
	type Reward = ();
	type SessionsPerEra = SessionsPerEra;
	type BondingDuration = BondingDuration;
	type SlashDeferDuration = SlashDeferDuration;
	type AdminOrigin = EnsureRoot<AccountId>;
	type SessionInterface = Self;
	type EraPayout = pallet_staking::ConvertCurve<RewardCurve>;
	type NextNewSession = Session;
	type MaxExposurePageSize = MaxExposurePageSize;
	type MaxValidatorSet = MaxValidatorSet;
	/// Voters and targets are read straight from staking's maps, within the election bounds.
	/// Voters come from the bags-list, highest stake first: the election's voter bound takes
	/// the largest stakes, not the first keys of a map (which anyone could grind accounts
	/// into).
	type VoterList = VoterList;
	type TargetList = pallet_staking::UseValidatorsMap<Self>;
	type MaxUnlockingChunks = ConstU32<32>;
	type MaxControllersInDeprecationBatch = ConstU32<5_900>;
	type EventListeners = ();
	type Filter = Nothing;
	type BenchmarkingConfig = StakingBenchmarkingConfig;
	type WeightInfo = pallet_staking::weights::SubstrateWeight<Runtime>;
}

/// Sizes used by staking's benchmarks.
pub struct StakingBenchmarkingConfig;
impl pallet_staking::BenchmarkingConfig for StakingBenchmarkingConfig {
	type MaxValidators = MaxValidatorSet;
	type MaxNominators = ConstU32<1_000>;
}

/// Equivocation reports are submitted as bare (unsigned) extrinsics.
impl<C> frame_system::offchain::CreateTransactionBase<C> for Runtime
where
	RuntimeCall: From<C>,
{
	type Extrinsic = UncheckedExtrinsic;
	type RuntimeCall = RuntimeCall;
}

impl<C> frame_system::offchain::CreateBare<C> for Runtime
where
	RuntimeCall: From<C>,
{
	fn create_bare(call: RuntimeCall) -> UncheckedExtrinsic {
		UncheckedExtrinsic::new_bare(call)
	}
}
