//! A test runtime: System, Balances, the real compute registry and the payment channels, with
//! sr25519 accounts so that vouchers are really signed.

use crate as pallet_payment_channels;
use appchain_primitives::{LayerRange, NodeId};
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
};
use frame_system::RawOrigin;
use sp_core::{sr25519, Pair};
use sp_runtime::{
	traits::{IdentifyAccount, IdentityLookup, Verify},
	BuildStorage, MultiSignature,
};

type Block = frame_system::mocking::MockBlock<Test>;
pub type Signature = MultiSignature;
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
pub type Balance = u128;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Registry: pallet_compute_registry,
		Channels: pallet_payment_channels,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = AccountId;
	type Lookup = IdentityLookup<AccountId>;
	type AccountData = pallet_balances::AccountData<Balance>;
	// Real database weights, so that the migrations' weights mean something.
	type DbWeight = frame_support::weights::constants::RocksDbWeight;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = Balance;
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

use frame_support::traits::ConstU128;

pub const EXISTENTIAL_DEPOSIT: Balance = 2;
pub const MIN_COLLATERAL: Balance = 100;
pub const MIN_DEPOSIT: Balance = 10;
pub const STORAGE_DEPOSIT: Balance = 5;
pub const MAX_CHANNELS: u32 = 3;
pub const CHALLENGE_PERIOD: u64 = 10;
pub const HEARTBEAT_TIMEOUT: u64 = 1_000;
pub const ENDOWMENT: Balance = 10_000;

parameter_types! {
	pub const SlashBurn: sp_runtime::Perbill = sp_runtime::Perbill::from_percent(20);
}

impl pallet_compute_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ModelDeposit = ConstU128<10>;
	type MinCollateral = ConstU128<MIN_COLLATERAL>;
	type MaxLayers = frame_support::traits::ConstU16<64>;
	type MaxModelNameLen = ConstU32<16>;
	type MaxEndpointLen = ConstU32<32>;
	type MaxNodesPerShard = ConstU32<8>;
	type MaxShardsPerNode = ConstU32<4>;
	type MaxNodesPerAccount = ConstU32<8>;
	type HeartbeatInterval = ConstU64<5>;
	type HeartbeatTimeout = ConstU64<HEARTBEAT_TIMEOUT>;
	type UnbondingPeriod = ConstU64<50>;
	type MaxFrontierRoutes = ConstU32<32>;
	type SlashBurn = SlashBurn;
	type WeightInfo = ();
}

impl pallet_payment_channels::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = Registry;
	type Signature = Signature;
	type MinDeposit = ConstU128<MIN_DEPOSIT>;
	type ChannelStorageDeposit = ConstU128<STORAGE_DEPOSIT>;
	type MaxChannelsPerPayer = ConstU32<MAX_CHANNELS>;
	type ChallengePeriod = ConstU64<CHALLENGE_PERIOD>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = Helper;
}

/// Benchmark helper of the mock: keys from fixed seeds, nodes through the registry's calls.
#[cfg(feature = "runtime-benchmarks")]
pub struct Helper;

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<AccountId, Signature> for Helper {
	fn serving_node(owner: &AccountId) -> NodeId {
		use frame_support::traits::fungible::Mutate;
		let _ = Balances::mint_into(owner, ENDOWMENT);
		inference_node(owner.clone())
	}
	fn signer(index: u32) -> AccountId {
		account(100u8.saturating_add(index as u8))
	}
	fn sign(signer: &AccountId, payload: &[u8]) -> Signature {
		(100u8..=255)
			.find(|n| &account(*n) == signer)
			.map(|n| sign(n, payload))
			.expect("a benchmark signer")
	}
}

/// The keypair of test account `n`.
pub fn pair(n: u8) -> sr25519::Pair {
	sr25519::Pair::from_seed(&[n; 32])
}

/// Test account `n`.
pub fn account(n: u8) -> AccountId {
	sp_runtime::MultiSigner::from(pair(n).public()).into_account()
}

/// Account `n`'s signature of `payload`.
pub fn sign(n: u8, payload: &[u8]) -> Signature {
	MultiSignature::Sr25519(pair(n).sign(payload))
}

/// Opens and tops up channels, signs vouchers.
pub const PAYER: u8 = 1;
/// Owns the serving node channels pay.
pub const PAYEE: u8 = 2;
/// Owns another serving node.
pub const OTHER_PAYEE: u8 = 3;
/// Nobody in particular.
pub const STRANGER: u8 = 4;
/// Has only the existential deposit.
pub const PAUPER: u8 = 9;

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: [PAYER, PAYEE, OTHER_PAYEE, STRANGER]
			.into_iter()
			.map(|n| (account(n), ENDOWMENT))
			.chain([(account(PAUPER), EXISTENTIAL_DEPOSIT)])
			.collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| {
		System::set_block_number(1);
		Registry::register_model(
			RawOrigin::Signed(account(PAYEE)).into(),
			b"tiny".to_vec().try_into().unwrap(),
			4,
			2,
			[7; 32],
		)
		.unwrap();
	});
	ext
}

/// Runs `test`, then checks the invariants of both pallets and that no funds were created or
/// destroyed: channels move funds, they never mint or burn.
pub fn test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		let issuance = Balances::total_issuance();
		test();
		Channels::do_try_state().expect("channel invariants hold");
		Registry::do_try_state().expect("registry invariants hold");
		assert_eq!(Balances::total_issuance(), issuance, "total issuance changed");
	});
}

/// Registers an inference node of `owner` on the model's first shard, with the minimum
/// collateral.
pub fn inference_node(owner: AccountId) -> NodeId {
	let node = pallet_compute_registry::NextNodeId::<Test>::get();
	Registry::register_inference_node(
		RawOrigin::Signed(owner).into(),
		0,
		LayerRange::new(0, 2),
		10,
		1,
		b"tcp://n".to_vec().try_into().unwrap(),
		MIN_COLLATERAL,
	)
	.unwrap();
	node
}

pub fn run_to_block(n: u64) {
	System::set_block_number(n);
}

pub fn events() -> Vec<crate::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Channels(e) => Some(e),
			_ => None,
		})
		.collect()
}
