//! A test runtime: System, Balances, the real compute registry and the hash-job pallet, with
//! tiny chunks and subjobs and a randomness source the tests set.

#![allow(clippy::arithmetic_side_effects)] // test code

use crate as pallet_hash_jobs;
use appchain_primitives::NodeId;
use core::cell::RefCell;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU128, ConstU32, Hooks},
};
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use sp_core::H256;
use sp_runtime::{BuildStorage, Perbill};

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;
pub type Balance = u128;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Registry: pallet_compute_registry,
		HashJobs: pallet_hash_jobs,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = AccountId;
	type Lookup = sp_runtime::traits::IdentityLookup<AccountId>;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = Balance;
	type ExistentialDeposit = ConstU128<1>;
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

pub const MIN_COLLATERAL: Balance = 100;
pub const HEARTBEAT_TIMEOUT: u64 = 20;
pub const CHUNK: u64 = 4;
pub const MAX_CHUNKS: u32 = 16;
pub const TARGET_SECS: u32 = 2;
pub const MAX_NONCES: u32 = 8;
pub const MAX_OPEN: u32 = 4;
pub const CHALLENGES: u32 = 3;
pub const CLAIM_TIMEOUT: u64 = 10;
pub const CHALLENGE_DELAY: u64 = 3;
pub const SEED_BLOCKS: u32 = 2;
pub const ANSWER_WINDOW: u64 = 5;
pub const PENALTY: Balance = 30;
pub const MIN_BUDGET: Balance = 100;

/// A fifth of every slash is burnt, the rest paid to the client.
pub const SLASH_BURN_PERCENT: u32 = 20;

parameter_types! {
	pub const SlashBurn: sp_runtime::Perbill = sp_runtime::Perbill::from_percent(SLASH_BURN_PERCENT);
	pub const ModelDeposit: Balance = 10;
	pub const MinCollateral: Balance = MIN_COLLATERAL;
	pub const MaxLayers: u16 = 64;
	pub const HeartbeatInterval: u64 = 5;
	pub const HeartbeatTimeout: u64 = HEARTBEAT_TIMEOUT;
	pub const UnbondingPeriod: u64 = 50;
	pub const ClaimTimeout: u64 = CLAIM_TIMEOUT;
	pub const ChallengeDelay: u64 = CHALLENGE_DELAY;
	pub const AnswerWindow: u64 = ANSWER_WINDOW;
	pub const FinderBonus: Perbill = Perbill::from_percent(10);
	pub const SlashPenalty: Balance = PENALTY;
	pub const MinBudget: Balance = MIN_BUDGET;
}

impl pallet_compute_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ModelDeposit = ModelDeposit;
	type MinCollateral = MinCollateral;
	type MaxLayers = MaxLayers;
	type MaxModelNameLen = ConstU32<16>;
	type MaxEndpointLen = ConstU32<32>;
	type MaxNodesPerShard = ConstU32<8>;
	type MaxShardsPerNode = ConstU32<4>;
	type MaxNodesPerAccount = ConstU32<8>;
	type HeartbeatInterval = HeartbeatInterval;
	type HeartbeatTimeout = HeartbeatTimeout;
	type UnbondingPeriod = UnbondingPeriod;
	type MaxFrontierRoutes = ConstU32<32>;
	type SlashBurn = SlashBurn;
	type WeightInfo = ();
}

thread_local! {
	static RANDOM: RefCell<H256> = const { RefCell::new(H256::zero()) };
}

/// Sets what the randomness source returns from now on.
pub fn set_randomness(seed: u64) {
	RANDOM.with(|r| *r.borrow_mut() = H256::from_low_u64_le(seed));
}

/// The mock's randomness: whatever the test set.
pub struct TestRandomness;

impl frame_support::traits::Randomness<Option<H256>, u64> for TestRandomness {
	fn random(subject: &[u8]) -> (Option<H256>, u64) {
		let seed = RANDOM.with(|r| *r.borrow());
		(Some(H256(sp_io::hashing::blake2_256(&[subject, seed.as_bytes()].concat()))), 0)
	}
}

impl pallet_hash_jobs::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = Registry;
	type OnVerifiedWork = ();
	type Randomness = TestRandomness;
	type ChunkSize = ConstU32<{ CHUNK as u32 }>;
	type MaxSubjobChunks = ConstU32<MAX_CHUNKS>;
	type TargetSubjobSecs = ConstU32<TARGET_SECS>;
	type MaxPayloadLen = ConstU32<80>;
	type MaxNoncesPerResult = ConstU32<MAX_NONCES>;
	type MaxOpenSubjobs = ConstU32<MAX_OPEN>;
	type ChallengeCount = ConstU32<CHALLENGES>;
	type MaxProofDepth = ConstU32<4>;
	type ClaimTimeout = ClaimTimeout;
	type ChallengeDelay = ChallengeDelay;
	type SeedBlocks = ConstU32<SEED_BLOCKS>;
	type AnswerWindow = AnswerWindow;
	type FinderBonus = FinderBonus;
	type SlashPenalty = SlashPenalty;
	type MinBudget = MinBudget;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = crate::RegistryHelper<Test>;
}

pub const CLIENT: AccountId = 1;
pub const WORKER_A: AccountId = 2;
pub const WORKER_B: AccountId = 3;
/// Has only the existential deposit.
pub const PAUPER: AccountId = 9;
pub const ENDOWMENT: Balance = 100_000;

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![
			(CLIENT, ENDOWMENT),
			(WORKER_A, ENDOWMENT),
			(WORKER_B, ENDOWMENT),
			(PAUPER, 1),
		],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| {
		set_randomness(0);
		run_to_block(1);
	});
	ext
}

/// What slashes burnt so far, from the registry's `Slashed` events.
pub fn burnt() -> Balance {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Registry(pallet_compute_registry::Event::Slashed { burnt, .. }) => {
				Some(burnt)
			},
			_ => None,
		})
		.sum()
}

/// Runs `test`, then checks the invariants of both pallets and that no funds were created or
/// destroyed except the burnt share of slashes.
pub fn test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		let issuance = pallet_balances::TotalIssuance::<Test>::get();
		test();
		HashJobs::do_try_state().expect("hash-job invariants hold");
		Registry::do_try_state().expect("registry invariants hold");
		assert_eq!(
			pallet_balances::TotalIssuance::<Test>::get(),
			issuance.saturating_sub(burnt()),
			"total issuance changed other than by the burnt share of slashes"
		);
	});
}

/// Registers a hashing node of `owner` declaring `rate` hashes per second.
pub fn hashing_node(owner: AccountId, rate: u64) -> NodeId {
	let node = pallet_compute_registry::NextNodeId::<Test>::get();
	Registry::register_hashing_node(RawOrigin::Signed(owner).into(), rate, MIN_COLLATERAL).unwrap();
	node
}

/// Moves to block `n`, running the pallet's `on_initialize` for each block on the way.
pub fn run_to_block(n: BlockNumberFor<Test>) {
	let mut now = System::block_number();
	while now < n {
		now += 1;
		System::set_block_number(now);
		HashJobs::on_initialize(now);
	}
}

pub fn free(who: AccountId) -> Balance {
	pallet_balances::Pallet::<Test>::free_balance(who)
}

pub fn events() -> Vec<crate::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::HashJobs(e) => Some(e),
			_ => None,
		})
		.collect()
}
