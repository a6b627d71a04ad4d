//! A test runtime: System, Balances, the real compute registry and the market, with small bounds
//! so that every limit is easy to reach.

use crate as pallet_compute_market;
use appchain_primitives::{LayerRange, ModelId, NodeId};
use frame_support::{derive_impl, parameter_types, traits::{ConstU32, ConstU64}};
use frame_system::{EnsureRoot, RawOrigin};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;
pub type Balance = u128;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Registry: pallet_compute_registry,
		Market: pallet_compute_market,
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

pub const MIN_COLLATERAL: Balance = 100;
pub const HEARTBEAT_TIMEOUT: u64 = 20;
pub const MARKET_DEPOSIT: Balance = 50;
pub const MAX_LISTINGS: u32 = 4;
pub const MAX_LISTINGS_PER_OWNER: u32 = 2;
pub const MARKET_IDLE_TIMEOUT: u64 = 100;
pub const CHALLENGE_WINDOW: u64 = 5;
pub const MAX_DURATION: u64 = 30;
pub const PAYOFF_SCALE: Balance = 100_000;
pub const SELLER_MARGIN: Balance = 1;
pub const EXISTENTIAL_DEPOSIT: Balance = 2;
/// Longer than the longest agreement plus its challenge window, as the runtime requires.
pub const UNBONDING_PERIOD: u64 = MAX_DURATION + CHALLENGE_WINDOW + 1;

/// A penalty may be at most twice the escrow.
pub const MAX_PENALTY_PER_ESCROW: u32 = 2;
/// What disputing delivered work holds from the client.
pub const DISPUTE_BOND: Balance = 25;
/// Blocks verifiers have to decide a dispute.
pub const DISPUTE_TIMEOUT: u64 = 20;
/// A fifth of every slash is burnt, the rest paid to the client.
pub const SLASH_BURN_PERCENT: u32 = 20;

parameter_types! {
	pub const SlashBurn: sp_runtime::Perbill = sp_runtime::Perbill::from_percent(SLASH_BURN_PERCENT);
	pub const ExistentialDeposit: Balance = EXISTENTIAL_DEPOSIT;
	pub const ModelDeposit: Balance = 10;
	pub const MinCollateral: Balance = MIN_COLLATERAL;
	pub const MaxLayers: u16 = 64;
	pub const HeartbeatInterval: u64 = 5;
	pub const HeartbeatTimeout: u64 = HEARTBEAT_TIMEOUT;
	pub const UnbondingPeriod: u64 = UNBONDING_PERIOD;
	pub const MarketDeposit: Balance = MARKET_DEPOSIT;
	pub const ChallengeWindow: u64 = CHALLENGE_WINDOW;
	pub const MaxAgreementDuration: u64 = MAX_DURATION;
	pub const VariablePayoffScale: Balance = PAYOFF_SCALE;
	pub const VariableSellerMargin: Balance = SELLER_MARGIN;
	pub const DisputeBond: Balance = DISPUTE_BOND;
	pub const DisputeTimeout: u64 = DISPUTE_TIMEOUT;
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

impl pallet_compute_market::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = Registry;
	type VerifierOrigin = EnsureRoot<AccountId>;
	type MarketDeposit = MarketDeposit;
	type MaxListings = ConstU32<MAX_LISTINGS>;
	type MaxListingsPerOwner = ConstU32<MAX_LISTINGS_PER_OWNER>;
	type MarketIdleTimeout = ConstU64<MARKET_IDLE_TIMEOUT>;
	type ChallengeWindow = ChallengeWindow;
	type MaxAgreementDuration = MaxAgreementDuration;
	type VariablePayoffScale = VariablePayoffScale;
	type VariableSellerMargin = VariableSellerMargin;
	type MaxPenaltyPerEscrow = ConstU32<MAX_PENALTY_PER_ESCROW>;
	type DisputeBond = DisputeBond;
	type DisputeTimeout = DisputeTimeout;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = crate::RegistryHelper<Test>;
}

/// Market owner.
pub const OWNER: AccountId = 1;
/// Buyer, client of the agreements.
pub const CLIENT: AccountId = 2;
/// Sellers, each owning nodes.
pub const SELLER_A: AccountId = 3;
pub const SELLER_B: AccountId = 4;
pub const SELLER_C: AccountId = 5;
/// Has only the existential deposit.
pub const PAUPER: AccountId = 9;
pub const ENDOWMENT: Balance = 10_000;

/// Model 0: 8 layers in shards of 2.
pub const MODEL: ModelId = 0;

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![
			(OWNER, ENDOWMENT),
			(CLIENT, ENDOWMENT),
			(SELLER_A, ENDOWMENT),
			(SELLER_B, ENDOWMENT),
			(SELLER_C, ENDOWMENT),
			(PAUPER, EXISTENTIAL_DEPOSIT),
		],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| {
		System::set_block_number(1);
		Registry::register_model(
			RawOrigin::Signed(OWNER).into(),
			b"tiny".to_vec().try_into().unwrap(),
			8,
			2,
			[7; 32],
		)
		.unwrap();
	});
	ext
}

/// Runs `test`, then checks the invariants of both pallets and that no funds were created or
/// destroyed except the burnt share of slashes: settlement moves funds, it never mints.
pub fn test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		let issuance = Balances::total_issuance();
		test();
		Market::do_try_state().expect("market invariants hold");
		Registry::do_try_state().expect("registry invariants hold");
		assert_eq!(Balances::total_issuance(), issuance.saturating_sub(burnt()), "total issuance changed");
	});
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

/// Registers an inference node of `owner` on `layers` of the model, with the minimum collateral.
pub fn inference_node(owner: AccountId, layers: (u16, u16)) -> NodeId {
	let node = pallet_compute_registry::NextNodeId::<Test>::get();
	Registry::register_inference_node(
		RawOrigin::Signed(owner).into(),
		MODEL,
		LayerRange::new(layers.0, layers.1),
		10,
		1,
		b"tcp://n".to_vec().try_into().unwrap(),
		MIN_COLLATERAL,
	)
	.unwrap();
	node
}

/// Registers a hashing node of `owner` declaring `rate` hashes per second.
pub fn hashing_node(owner: AccountId, rate: u64) -> NodeId {
	let node = pallet_compute_registry::NextNodeId::<Test>::get();
	Registry::register_hashing_node(RawOrigin::Signed(owner).into(), rate, MIN_COLLATERAL).unwrap();
	node
}

pub fn run_to_block(n: u64) {
	System::set_block_number(n);
}

pub fn free(who: AccountId) -> Balance {
	Balances::free_balance(who)
}

pub fn market_events() -> Vec<crate::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Market(e) => Some(e),
			_ => None,
		})
		.collect()
}
