//! The compute marketplace: node registration, collateral and the sharded layer registry;
//! markets with listing prices and reverse-Vickrey settlement; SLA escrow; SHA-256 hash jobs
//! verified on chain; payment channels paying for inference one forward pass at a time.

use frame_support::{parameter_types, traits::ConstU32};
use sp_runtime::Perbill;

use super::super::{
	currency::UNITS,
	time::{DAYS, HOURS, MINUTES},
	AccountId, Balance, Balances, BlockNumber, Registry, Runtime, RuntimeHoldReason,
};

parameter_types! {
	/// Registering a model holds 10 CPU until it is removed.
	pub const ModelDeposit: Balance = 10 * UNITS;
	/// A node stakes at least 100 CPU: enough that losing it outweighs skipping work.
	pub const MinCollateral: Balance = 100 * UNITS;
	/// Up to 256 transformer layers per model.
	pub const MaxLayers: u16 = 256;
	/// Free heartbeats at most every 15 s ...
	pub const HeartbeatInterval: BlockNumber = 5;
	/// ... and a node missing them for a minute stops serving.
	pub const HeartbeatTimeout: BlockNumber = MINUTES;
	/// Collateral stays slashable for 7 days after unregistering, 5 minutes with
	/// `fast-runtime`; long enough for an agreement and its challenge window.
	pub const UnbondingPeriod: BlockNumber = crate::prod_or_fast!(7 * DAYS, 5 * MINUTES);
	/// A fifth of every slash is burnt, so that slashing oneself through a second account
	/// costs money; the rest goes to the wronged client.
	pub const SlashBurn: Perbill = Perbill::from_percent(20);
}

impl pallet_compute_registry::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ModelDeposit = ModelDeposit;
	type MinCollateral = MinCollateral;
	type MaxLayers = MaxLayers;
	type MaxModelNameLen = ConstU32<64>;
	type MaxEndpointLen = ConstU32<128>;
	type MaxNodesPerShard = ConstU32<64>;
	type MaxShardsPerNode = ConstU32<16>;
	type MaxNodesPerAccount = ConstU32<16>;
	type HeartbeatInterval = HeartbeatInterval;
	type HeartbeatTimeout = HeartbeatTimeout;
	type UnbondingPeriod = UnbondingPeriod;
	type MaxFrontierRoutes = ConstU32<64>;
	type SlashBurn = SlashBurn;
	type WeightInfo = pallet_compute_registry::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// Opening a market holds 10 CPU until its owner closes it.
	pub const MarketDeposit: Balance = 10 * UNITS;
	/// Delivered work can be disputed for 10 minutes (30 s with `fast-runtime`) before the
	/// escrow is paid.
	pub const ChallengeWindow: BlockNumber = crate::prod_or_fast!(10 * MINUTES, 10);
	/// Agreements end (deadline plus challenge window) before the unbonding period: about
	/// 7 days, 89 blocks (4.5 minutes) with `fast-runtime`.
	pub const MaxAgreementDuration: BlockNumber =
		UnbondingPeriod::get().saturating_sub(ChallengeWindow::get()).saturating_sub(1);
	/// `S = UNITS^2`: the max-min payoff is the paper's formula with prices in whole CPU.
	pub const VariablePayoffScale: Balance = UNITS * UNITS;
	/// The paper's `MC_1 + 1`, in whole CPU.
	pub const VariableSellerMargin: Balance = UNITS;
	/// Disputing delivered work holds 10 CPU until the verifiers decide ...
	pub const DisputeBond: Balance = 10 * UNITS;
	pub const MarketIdleTimeout: BlockNumber = crate::prod_or_fast!(7 * DAYS, HOURS);
	/// ... within a day (10 minutes with `fast-runtime`), after which the dispute lapses and
	/// the work is paid.
	pub const DisputeTimeout: BlockNumber = crate::prod_or_fast!(DAYS, 10 * MINUTES);
}

// A provider must not be able to withdraw its collateral before a missed deadline or a rejection
// can slash it.
const _: () = assert!(ChallengeWindow::get().saturating_add(1) < UnbondingPeriod::get());

impl pallet_compute_market::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = Registry;
	/// More than half of the verifier collective, until the proof-of-computation pallet
	/// rejects work through `WorkVerdicts`. Not sudo.
	type VerifierOrigin =
		pallet_collective::EnsureProportionMoreThan<AccountId, super::VerifierCollective, 1, 2>;
	type MarketDeposit = MarketDeposit;
	type MaxListings = ConstU32<32>;
	/// An owner's nodes take at most a quarter of a market's places.
	type MaxListingsPerOwner = ConstU32<8>;
	/// A market without a sale for 7 days (an hour with `fast-runtime`) can be expired by
	/// anyone.
	type MarketIdleTimeout = MarketIdleTimeout;
	type ChallengeWindow = ChallengeWindow;
	type MaxAgreementDuration = MaxAgreementDuration;
	type VariablePayoffScale = VariablePayoffScale;
	type VariableSellerMargin = VariableSellerMargin;
	/// A penalty of at most twice the escrow.
	type MaxPenaltyPerEscrow = ConstU32<2>;
	type DisputeBond = DisputeBond;
	type DisputeTimeout = DisputeTimeout;
	type WeightInfo = pallet_compute_market::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = pallet_compute_market::RegistryHelper<Runtime>;
}

parameter_types! {
	/// Subjobs are claimed for jobs of at least 1 CPU.
	pub const MinJobBudget: Balance = UNITS;
	/// A claim must be committed and revealed within a minute ...
	pub const ClaimTimeout: BlockNumber = MINUTES;
	/// ... its challenges come from the seed of the sixth block after the commitment, which
	/// hashes the VRF outputs of four blocks produced after it ...
	pub const ChallengeDelay: BlockNumber = 6;
	/// ... and must be answered within a minute of it.
	pub const AnswerWindow: BlockNumber = MINUTES;
	/// 10% of a job's budget goes to the worker of its first verified winning nonce.
	pub const FinderBonus: Perbill = Perbill::from_percent(10);
	/// A failed subjob costs its node 10 CPU of collateral, paid to the client.
	pub const HashJobPenalty: Balance = 10 * UNITS;
}

impl pallet_hash_jobs::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = Registry;
	/// Verified subjobs pay hash-subjob agreements.
	type OnVerifiedWork = super::super::Market;
	type Randomness = pallet_babe::ParentBlockRandomness<Runtime>;
	/// 64 nonces per chunk: 8 challenged chunks cost 1,024 double SHA-256 in the runtime.
	type ChunkSize = ConstU32<64>;
	/// Up to 2^20 chunks (64 Mi nonces) per subjob: 32 MiB of chunk digests for the worker.
	type MaxSubjobChunks = ConstU32<{ 1 << 20 }>;
	type TargetSubjobSecs = ConstU32<30>;
	type MaxPayloadLen = ConstU32<128>;
	type MaxNoncesPerResult = ConstU32<32>;
	type MaxOpenSubjobs = ConstU32<64>;
	/// A worker that skipped half its chunks passes with probability 2^-8.
	type ChallengeCount = ConstU32<8>;
	type MaxProofDepth = ConstU32<20>;
	type ClaimTimeout = ClaimTimeout;
	type ChallengeDelay = ChallengeDelay;
	type SeedBlocks = ConstU32<4>;
	type AnswerWindow = AnswerWindow;
	type FinderBonus = FinderBonus;
	type SlashPenalty = HashJobPenalty;
	type MinBudget = MinJobBudget;
	type WeightInfo = pallet_hash_jobs::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = pallet_hash_jobs::RegistryHelper<Runtime>;
}

parameter_types! {
	/// A channel opens with at least 0.01 CPU ...
	pub const MinChannelDeposit: Balance = UNITS / 100;
	/// ... and holds 0.1 CPU for its storage until it closes ...
	pub const ChannelStorageDeposit: Balance = UNITS / 10;
	/// ... and a payee has 6 hours (10 blocks, 30 s, with `fast-runtime`) after a close
	/// request to claim its last voucher: a node that was offline for a while still gets
	/// paid.
	pub const ChannelChallengePeriod: BlockNumber = crate::prod_or_fast!(6 * HOURS, 10);
}

impl pallet_payment_channels::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = Registry;
	type Signature = super::super::Signature;
	type MinDeposit = MinChannelDeposit;
	type ChannelStorageDeposit = ChannelStorageDeposit;
	/// A client keeps a channel per node of its routes: 64 covers long routes with spares.
	type MaxChannelsPerPayer = ConstU32<64>;
	type ChallengePeriod = ChannelChallengePeriod;
	type WeightInfo = pallet_payment_channels::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = ChannelsBenchmarkHelper;
}

/// Nodes from the registry's own calls and payers with sr25519 keys in the benchmark keystore.
#[cfg(feature = "runtime-benchmarks")]
pub struct ChannelsBenchmarkHelper;

#[cfg(feature = "runtime-benchmarks")]
impl pallet_payment_channels::BenchmarkHelper<AccountId, super::super::Signature>
	for ChannelsBenchmarkHelper
{
	fn serving_node(owner: &AccountId) -> appchain_primitives::NodeId {
		use pallet_compute_market::BenchmarkHelper as _;
		type Helper = pallet_compute_market::RegistryHelper<Runtime>;
		Helper::serving_node(owner, &Helper::commodity())
	}

	/// ECDSA keys: of the `MultiSignature` schemes the costliest to check (a BLAKE2 hash and
	/// a public-key recovery), so the weights cover every scheme.
	fn signer(index: u32) -> AccountId {
		use sp_runtime::traits::IdentifyAccount;
		sp_runtime::MultiSigner::from(bench_ecdsa_key(index)).into_account()
	}

	fn sign(signer: &AccountId, payload: &[u8]) -> super::super::Signature {
		use sp_runtime::traits::IdentifyAccount;
		(0..8)
			.map(bench_ecdsa_key)
			.find(|public| &sp_runtime::MultiSigner::from(*public).into_account() == signer)
			.and_then(|public| sp_io::crypto::ecdsa_sign(CHANNELS_BENCH_KEY, &public, payload))
			.map(sp_runtime::MultiSignature::Ecdsa)
			.unwrap_or_else(|| sp_runtime::MultiSignature::Sr25519(Default::default()))
	}
}

/// The benchmark keystore's ECDSA key number `index` (the same key every time).
#[cfg(feature = "runtime-benchmarks")]
fn bench_ecdsa_key(index: u32) -> sp_core::ecdsa::Public {
	let seed = alloc::format!("//channels-bench-{index}").into_bytes();
	sp_io::crypto::ecdsa_generate(CHANNELS_BENCH_KEY, Some(seed))
}

#[cfg(feature = "runtime-benchmarks")]
const CHANNELS_BENCH_KEY: sp_core::crypto::KeyTypeId = sp_core::crypto::KeyTypeId(*b"chbn");

parameter_types! {
	/// A tenth of the commitments of a model without its own setting is challenged ...
	pub const DefaultChallengeProbability: Perbill = Perbill::from_percent(10);
	/// ... and a commitment backs its steps with 20 times their payment, at least 10 CPU: at
	/// 10%, a cheat loses at least 0.1 × 21 = 2.1 times what it gains.
	pub const InferencePenalty: Balance = 10 * UNITS;
	/// A verifier drawn risks 5 CPU of its collateral on voting with the majority ...
	pub const VerifierBond: Balance = 5 * UNITS;
	/// ... and a client disputing a step holds 5 CPU, lost if the step is upheld ...
	pub const InferenceDisputeBond: Balance = 5 * UNITS;
	/// ... and one auditing a batch of a node's receipts holds 1 CPU, lost if it cannot show
	/// a receipt the node signed for the challenged step.
	pub const AuditBond: Balance = UNITS;
	/// A session can be audited for 2 hours (5 minutes in development) after it opened; nodes
	/// keep sessions' inputs for 24 hours by default (`serve --keep-receipts-hours`).
	pub const AuditWindow: BlockNumber = crate::prod_or_fast!(2 * HOURS, 100);
	/// The seed that decides a commitment chains the VRF outputs of the blocks after it, up to
	/// the fourth (the tenth in production).
	pub const InferenceChallengeDelay: BlockNumber = crate::prod_or_fast!(10, 4);
	/// The node reveals a challenged receipt within 5 minutes (one in development) ...
	pub const ReceiptWindow: BlockNumber = crate::prod_or_fast!(5 * MINUTES, 20);
	/// ... the verifiers re-run the step and seal their votes within 10 minutes (two) ...
	pub const VoteWindow: BlockNumber = crate::prod_or_fast!(10 * MINUTES, 40);
	/// ... and open them within 5 minutes (one).
	pub const OpenWindow: BlockNumber = crate::prod_or_fast!(5 * MINUTES, 20);
}

impl pallet_inference_proofs::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = Registry;
	type Randomness = pallet_babe::ParentBlockRandomness<Runtime>;
	/// Root (sudo, or a technical-committee motion) sets each model's probability.
	type AdminOrigin = frame_system::EnsureRoot<AccountId>;
	type DefaultChallengeProbability = DefaultChallengeProbability;
	type MismatchPenalty = InferencePenalty;
	type PenaltyFactor = ConstU32<20>;
	type VerifierBond = VerifierBond;
	type DisputeBond = InferenceDisputeBond;
	type AuditBond = AuditBond;
	type AuditWindow = AuditWindow;
	/// Node owners sign receipts with their account keys, as payers sign vouchers.
	type Signature = super::super::Signature;
	type VerifiersPerChallenge = ConstU32<3>;
	type MinVerifiers = ConstU32<2>;
	/// Up to 256 steps (a long generation) per commitment: one transaction per 256 tokens.
	type MaxStepsPerCommitment = ConstU32<256>;
	type MaxProofDepth = ConstU32<8>;
	type MaxDuePerBlock = ConstU32<64>;
	type MaxOpenPerNode = ConstU32<32>;
	type ChallengeDelay = InferenceChallengeDelay;
	type ReceiptWindow = ReceiptWindow;
	type VoteWindow = VoteWindow;
	type OpenWindow = OpenWindow;
	type WeightInfo = pallet_inference_proofs::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = pallet_inference_proofs::RegistryHelper<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkSigner = ChannelsBenchmarkHelper;
}

/// The channels' benchmark signers (ECDSA, the costliest `MultiSignature` to check) sign
/// receipts too.
#[cfg(feature = "runtime-benchmarks")]
impl pallet_inference_proofs::traits::BenchmarkSigner<AccountId, super::super::Signature>
	for ChannelsBenchmarkHelper
{
	fn signer(index: u32) -> AccountId {
		<Self as pallet_payment_channels::BenchmarkHelper<_, _>>::signer(index)
	}

	fn sign(signer: &AccountId, payload: &[u8]) -> super::super::Signature {
		<Self as pallet_payment_channels::BenchmarkHelper<_, _>>::sign(signer, payload)
	}
}
