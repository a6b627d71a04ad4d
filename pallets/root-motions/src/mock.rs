//! A test runtime: System, a three-member committee and root motions enacted by two thirds of it.

use crate as pallet_root_motions;
use frame_support::{derive_impl, parameter_types, traits::ConstU32, weights::Weight};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Committee: pallet_collective::<Instance1>,
		RootMotions: pallet_root_motions,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = AccountId;
	type Lookup = sp_runtime::traits::IdentityLookup<AccountId>;
}

/// The committee's members.
pub const MEMBERS: [AccountId; 3] = [1, 2, 3];
/// Not a member.
pub const STRANGER: AccountId = 9;
pub const MOTION_DURATION: u64 = 10;

parameter_types! {
	pub MaxProposalWeight: Weight = Weight::from_parts(1_000_000_000_000, 1_000_000);
}

impl pallet_collective::Config<pallet_collective::Instance1> for Test {
	type RuntimeOrigin = RuntimeOrigin;
	type Proposal = RuntimeCall;
	type RuntimeEvent = RuntimeEvent;
	type MotionDuration = ConstU64<MOTION_DURATION>;
	type MaxProposals = ConstU32<10>;
	type MaxMembers = ConstU32<10>;
	type DefaultVote = pallet_collective::PrimeDefaultVote;
	type WeightInfo = ();
	type SetMembersOrigin = frame_system::EnsureRoot<AccountId>;
	type MaxProposalWeight = MaxProposalWeight;
	type DisapproveOrigin = frame_system::EnsureRoot<AccountId>;
	type KillOrigin = frame_system::EnsureRoot<AccountId>;
	type Consideration = ();
}

use frame_support::traits::ConstU64;

/// Two thirds of the committee, as in the runtime.
pub type TwoThirds =
	pallet_collective::EnsureProportionAtLeast<AccountId, pallet_collective::Instance1, 2, 3>;

impl pallet_root_motions::Config for Test {
	type RuntimeCall = RuntimeCall;
	type EnactOrigin = TwoThirds;
	type WeightInfo = ();
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_collective::GenesisConfig::<Test, pallet_collective::Instance1> {
		members: MEMBERS.to_vec(),
		phantom: Default::default(),
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}
