//! A test runtime: System, Balances and the registry, with small bounds so that every limit is
//! easy to reach.

use crate as pallet_compute_registry;
use frame_support::{derive_impl, parameter_types, traits::ConstU32};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;
pub type Balance = u128;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Registry: pallet_compute_registry,
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
	type ExistentialDeposit = ExistentialDeposit;
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

pub const MODEL_DEPOSIT: Balance = 50;
pub const MIN_COLLATERAL: Balance = 100;
pub const HEARTBEAT_INTERVAL: u64 = 5;
pub const HEARTBEAT_TIMEOUT: u64 = 20;
pub const UNBONDING_PERIOD: u64 = 30;
pub const MAX_NODES_PER_SHARD: u32 = 4;
pub const MAX_SHARDS_PER_NODE: u32 = 4;
pub const MAX_NODES_PER_ACCOUNT: u32 = 6;
/// A fifth of every slash is burnt.
pub const SLASH_BURN_PERCENT: u32 = 20;

parameter_types! {
	pub const ExistentialDeposit: Balance = 1;
	pub const ModelDeposit: Balance = MODEL_DEPOSIT;
	pub const MinCollateral: Balance = MIN_COLLATERAL;
	pub const MaxLayers: u16 = 64;
	pub const HeartbeatInterval: u64 = HEARTBEAT_INTERVAL;
	pub const HeartbeatTimeout: u64 = HEARTBEAT_TIMEOUT;
	pub const UnbondingPeriod: u64 = UNBONDING_PERIOD;
	pub const SlashBurn: sp_runtime::Perbill = sp_runtime::Perbill::from_percent(SLASH_BURN_PERCENT);
}

impl pallet_compute_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ModelDeposit = ModelDeposit;
	type MinCollateral = MinCollateral;
	type MaxLayers = MaxLayers;
	type MaxModelNameLen = ConstU32<16>;
	type MaxEndpointLen = ConstU32<32>;
	type MaxNodesPerShard = ConstU32<MAX_NODES_PER_SHARD>;
	type MaxShardsPerNode = ConstU32<MAX_SHARDS_PER_NODE>;
	type MaxNodesPerAccount = ConstU32<MAX_NODES_PER_ACCOUNT>;
	type HeartbeatInterval = HeartbeatInterval;
	type HeartbeatTimeout = HeartbeatTimeout;
	type UnbondingPeriod = UnbondingPeriod;
	type MaxFrontierRoutes = ConstU32<32>;
	type SlashBurn = SlashBurn;
	type WeightInfo = ();
}

pub const ALICE: AccountId = 1;
pub const BOB: AccountId = 2;
pub const CHARLIE: AccountId = 3;
/// Has no funds at all.
pub const PAUPER: AccountId = 9;
pub const ENDOWMENT: Balance = 10_000;

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(ALICE, ENDOWMENT), (BOB, ENDOWMENT), (CHARLIE, ENDOWMENT)],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs `test` and then checks every invariant of the registry.
pub fn test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Registry::do_try_state().expect("registry invariants hold");
	});
}

pub fn run_to_block(n: u64) {
	System::set_block_number(n);
}
