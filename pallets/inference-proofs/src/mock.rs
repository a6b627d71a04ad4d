//! A test runtime: System, Balances, the real compute registry and the inference-proof pallet,
//! with a randomness source the tests set.

#![allow(clippy::arithmetic_side_effects)] // test code

use crate as pallet_inference_proofs;
use appchain_primitives::{LayerRange, NodeId};
use core::cell::RefCell;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU128, ConstU32, Hooks},
};
use frame_system::{pallet_prelude::BlockNumberFor, EnsureRoot, RawOrigin};
use sp_core::H256;
use sp_runtime::{testing::TestSignature, BuildStorage, Perbill};

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;
pub type Balance = u128;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Registry: pallet_compute_registry,
		Proofs: pallet_inference_proofs,
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
pub const COLLATERAL: Balance = 1_000;
pub const PRICE: Balance = 2;
/// The least penalty; batches of up to 10 steps at [`PRICE`] pay it.
pub const PENALTY: Balance = 200;
pub const PENALTY_FACTOR: u32 = 10;
pub const VERIFIER_BOND: Balance = 50;
pub const DISPUTE_BOND: Balance = 40;
pub const AUDIT_BOND: Balance = 30;
pub const AUDIT_WINDOW: u64 = 20;
pub const VERIFIERS: u32 = 3;
pub const MAX_STEPS: u32 = 64;
pub const CHALLENGE_DELAY: u64 = 3;
pub const RECEIPT_WINDOW: u64 = 4;
pub const VOTE_WINDOW: u64 = 4;
pub const OPEN_WINDOW: u64 = 4;
pub const MAX_DUE: u32 = 4;
pub const MAX_OPEN: u32 = 4;
/// A fifth of every slash is burnt, the rest paid to the beneficiary.
pub const SLASH_BURN_PERCENT: u32 = 20;

parameter_types! {
	pub const SlashBurn: Perbill = Perbill::from_percent(SLASH_BURN_PERCENT);
	pub const ModelDeposit: Balance = 10;
	pub const MinCollateral: Balance = MIN_COLLATERAL;
	pub const MaxLayers: u16 = 64;
	pub const HeartbeatInterval: u64 = 5;
	pub const HeartbeatTimeout: u64 = 100_000;
	pub const UnbondingPeriod: u64 = 50;
	pub const DefaultProbability: Perbill = Perbill::from_percent(50);
	pub const MismatchPenalty: Balance = PENALTY;
	pub const VerifierBond: Balance = VERIFIER_BOND;
	pub const DisputeBond: Balance = DISPUTE_BOND;
	pub const AuditBond: Balance = AUDIT_BOND;
	pub const AuditWindow: u64 = AUDIT_WINDOW;
	pub const ChallengeDelay: u64 = CHALLENGE_DELAY;
	pub const ReceiptWindow: u64 = RECEIPT_WINDOW;
	pub const VoteWindow: u64 = VOTE_WINDOW;
	pub const OpenWindow: u64 = OPEN_WINDOW;
}

impl pallet_compute_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ModelDeposit = ModelDeposit;
	type MinCollateral = MinCollateral;
	type MaxLayers = MaxLayers;
	type MaxModelNameLen = ConstU32<16>;
	type MaxEndpointLen = ConstU32<32>;
	type MaxNodesPerShard = ConstU32<16>;
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

impl pallet_inference_proofs::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = Registry;
	type Randomness = TestRandomness;
	type AdminOrigin = EnsureRoot<AccountId>;
	type DefaultChallengeProbability = DefaultProbability;
	type MismatchPenalty = MismatchPenalty;
	type PenaltyFactor = ConstU32<PENALTY_FACTOR>;
	type VerifierBond = VerifierBond;
	type DisputeBond = DisputeBond;
	type AuditBond = AuditBond;
	type AuditWindow = AuditWindow;
	type Signature = TestSignature;
	type VerifiersPerChallenge = ConstU32<VERIFIERS>;
	type MinVerifiers = ConstU32<2>;
	type MaxStepsPerCommitment = ConstU32<MAX_STEPS>;
	type MaxProofDepth = ConstU32<6>;
	type MaxDuePerBlock = ConstU32<MAX_DUE>;
	type MaxOpenPerNode = ConstU32<MAX_OPEN>;
	type ChallengeDelay = ChallengeDelay;
	type ReceiptWindow = ReceiptWindow;
	type VoteWindow = VoteWindow;
	type OpenWindow = OpenWindow;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = crate::RegistryHelper<Test>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkSigner = TestSigner;
}

/// `TestSignature`s: account `n` signs as `n`.
#[cfg(feature = "runtime-benchmarks")]
pub struct TestSigner;

#[cfg(feature = "runtime-benchmarks")]
impl crate::traits::BenchmarkSigner<AccountId, TestSignature> for TestSigner {
	fn signer(index: u32) -> AccountId {
		1_000 + u64::from(index)
	}

	fn sign(signer: &AccountId, payload: &[u8]) -> TestSignature {
		TestSignature(*signer, payload.to_vec())
	}
}

/// `owner`'s signature over `receipt` on the test chain.
pub fn sign_receipt(
	owner: AccountId,
	receipt: &appchain_primitives::receipt::Receipt,
) -> TestSignature {
	let genesis = frame_system::Pallet::<Test>::block_hash(0);
	TestSignature(owner, receipt.signing_payload(&genesis.0).to_vec())
}

pub const CLIENT: AccountId = 1;
/// Owners of serving nodes: `SERVER` is the one whose steps are checked, the others verify.
pub const SERVER: AccountId = 2;
pub const V1: AccountId = 3;
pub const V2: AccountId = 4;
pub const V3: AccountId = 5;
pub const V4: AccountId = 6;
/// Has only the existential deposit.
pub const PAUPER: AccountId = 9;
pub const ENDOWMENT: Balance = 100_000;
/// The engine class every node declares unless a test says otherwise.
pub const CLASS: [u8; 16] = [1; 16];
/// The model every node serves: 8 layers in shards of 4.
pub const MODEL: u32 = 0;

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![
			(CLIENT, ENDOWMENT),
			(SERVER, ENDOWMENT),
			(V1, ENDOWMENT),
			(V2, ENDOWMENT),
			(V3, ENDOWMENT),
			(V4, ENDOWMENT),
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
		Registry::register_model(
			RawOrigin::Signed(CLIENT).into(),
			b"tiny".to_vec().try_into().unwrap(),
			8,
			4,
			[7; 32],
		)
		.unwrap();
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
		Proofs::do_try_state().expect("inference-proof invariants hold");
		Registry::do_try_state().expect("registry invariants hold");
		assert_eq!(
			pallet_balances::TotalIssuance::<Test>::get(),
			issuance.saturating_sub(burnt()),
			"total issuance changed other than by the burnt share of slashes"
		);
	});
}

/// Registers an inference node of `owner` serving layers `[start, end)` of the model at
/// [`PRICE`] with `collateral` held.
pub fn node_with(owner: AccountId, start: u16, end: u16, collateral: Balance) -> NodeId {
	let node = pallet_compute_registry::NextNodeId::<Test>::get();
	Registry::register_inference_node(
		RawOrigin::Signed(owner).into(),
		MODEL,
		LayerRange::new(start, end),
		10,
		PRICE,
		b"http://n".to_vec().try_into().unwrap(),
		collateral,
	)
	.unwrap();
	Proofs::declare_engine_class(RawOrigin::Signed(owner).into(), node, CLASS).unwrap();
	node
}

/// An inference node of `owner` serving layers `[0, 4)` with [`COLLATERAL`].
pub fn node(owner: AccountId) -> NodeId {
	node_with(owner, 0, 4, COLLATERAL)
}

/// Moves to block `n`, running the pallet's `on_initialize` for each block on the way.
pub fn run_to_block(n: BlockNumberFor<Test>) {
	let mut now = System::block_number();
	while now < n {
		now += 1;
		System::set_block_number(now);
		Proofs::on_initialize(now);
	}
}

pub fn free(who: AccountId) -> Balance {
	pallet_balances::Pallet::<Test>::free_balance(who)
}

pub fn events() -> Vec<crate::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Proofs(e) => Some(e),
			_ => None,
		})
		.collect()
}
