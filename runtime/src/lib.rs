//! # Compute-marketplace appchain runtime
//!
//! The state-transition function of the compute-marketplace appchain: a proof-of-stake
//! solochain where validators are elected by bonded stake (NPoS, [`pallet_staking`] with a
//! bounded on-chain election), blocks are authored with BABE and finalised with GRANDPA, and
//! equivocations are reported to [`pallet_offences`] and slashed by staking.
//!
//! The composition lives here; each pallet group is configured in [`configs`], the runtime
//! APIs are implemented in [`apis`] and the genesis presets (`development`,
//! `local_testnet`) in [`genesis_config_presets`].

#![cfg_attr(not(feature = "std"), no_std)]
// `construct_runtime`/`impl_runtime_apis` expand to code we do not control.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

pub mod apis;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarks;
pub mod bags;
pub mod configs;
pub mod genesis_config_presets;

use alloc::vec::Vec;
use sp_runtime::{
	generic, impl_opaque_keys,
	traits::{BlakeTwo256, IdentifyAccount, Verify},
	MultiAddress, MultiSignature,
};
use sp_version::RuntimeVersion;

pub use frame_system::Call as SystemCall;
pub use pallet_balances::Call as BalancesCall;
pub use pallet_timestamp::Call as TimestampCall;
#[cfg(any(feature = "std", test))]
pub use sp_runtime::BuildStorage;

/// The runtime's version. Bump `spec_version` on every change of the runtime's logic and
/// `transaction_version` on every change of call indices or transaction extensions.
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("appchain"),
	impl_name: alloc::borrow::Cow::Borrowed("appchain-node"),
	authoring_version: 1,
	spec_version: 111,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// The token: symbol, decimals and SS58 address prefix, as put in the chain properties
/// (defined once in [`appchain_primitives::token`], shared with the worker).
pub const TOKEN_SYMBOL: &str = appchain_primitives::token::SYMBOL;
/// Number of decimals of [`TOKEN_SYMBOL`]: one token is `10^TOKEN_DECIMALS` plancks.
pub const TOKEN_DECIMALS: u8 = appchain_primitives::token::DECIMALS;
/// The SS58 address prefix of this chain.
pub const SS58_PREFIX: u16 = appchain_primitives::token::SS58_PREFIX;

/// Alias to 512-bit hash when used in the context of a transaction signature on the chain.
pub type Signature = MultiSignature;
/// An account: the public key of the transaction signing scheme.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// Balance of an account, in plancks (`10^-TOKEN_DECIMALS` of a token).
pub type Balance = u128;
/// Index of a transaction in the chain.
pub type Nonce = u32;
/// A hash of some data used by the chain.
pub type Hash = sp_core::H256;
/// An index to a block.
pub type BlockNumber = u32;
/// A timestamp, in milliseconds since the Unix epoch.
pub type Moment = u64;
/// The address format for describing accounts.
pub type Address = MultiAddress<AccountId, ()>;
/// Block header type as expected by this runtime.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// Block type as expected by this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// A block signed with a justification.
pub type SignedBlock = generic::SignedBlock<Block>;
/// BlockId type as expected by this runtime.
pub type BlockId = generic::BlockId<Block>;

/// Token units.
pub mod currency {
	use super::Balance;
	/// One whole token (`CPU`).
	pub const UNITS: Balance = appchain_primitives::token::UNITS;
	/// A thousandth of a token.
	pub const MILLI_UNITS: Balance = UNITS / 1_000;
	/// A millionth of a token.
	pub const MICRO_UNITS: Balance = UNITS / 1_000_000;
	/// The minimum balance an account must keep to exist.
	pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_UNITS;
}

/// `$fast` when the runtime is built with the `fast-runtime` feature (the development and
/// local networks, the tests), `$prod` otherwise (a public network), as Polkadot's runtimes do.
#[macro_export]
macro_rules! prod_or_fast {
	($prod:expr, $fast:expr) => {
		if cfg!(feature = "fast-runtime") {
			$fast
		} else {
			$prod
		}
	};
}

/// Block and epoch timing.
///
/// With `fast-runtime` (what the node builds by default) the development and local networks
/// elect validators every minute, which is what the end-to-end tests rely on. Without it
/// (`cargo build --release -p appchain-node --no-default-features`), epochs last an hour and
/// eras six hours. `EPOCH_DURATION_IN_BLOCKS` cannot change after genesis.
pub mod time {
	use super::{BlockNumber, Moment};

	/// The target block time. BABE slots have this length.
	pub const MILLISECS_PER_BLOCK: Moment = 3_000;
	/// Slot duration: must not change after genesis.
	pub const SLOT_DURATION: Moment = MILLISECS_PER_BLOCK;

	/// Blocks per minute.
	pub const MINUTES: BlockNumber = 60_000 / (MILLISECS_PER_BLOCK as BlockNumber);
	/// Blocks per hour.
	pub const HOURS: BlockNumber = MINUTES * 60;
	/// Blocks per day.
	pub const DAYS: BlockNumber = HOURS * 24;

	/// One BABE epoch (and one session): an hour, or 10 blocks (30 s) with `fast-runtime`.
	pub const EPOCH_DURATION_IN_BLOCKS: BlockNumber = prod_or_fast!(HOURS, 10);
	/// The same, in slots.
	pub const EPOCH_DURATION_IN_SLOTS: u64 = EPOCH_DURATION_IN_BLOCKS as u64;
	/// Sessions per staking era: six (eras of six hours), or two (one minute) with
	/// `fast-runtime`.
	pub const SESSIONS_PER_ERA: sp_staking::SessionIndex = prod_or_fast!(6, 2);

	/// BABE's `c` parameter: the probability of a slot having a primary slot leader
	/// (1/4). Secondary VRF slots fill the rest, so every slot has an author.
	pub const PRIMARY_PROBABILITY: (u64, u64) = (1, 4);
}
pub use time::SLOT_DURATION;

/// The BABE epoch configuration at genesis.
pub const BABE_GENESIS_EPOCH_CONFIG: sp_consensus_babe::BabeEpochConfiguration =
	sp_consensus_babe::BabeEpochConfiguration {
		c: time::PRIMARY_PROBABILITY,
		allowed_slots: sp_consensus_babe::AllowedSlots::PrimaryAndSecondaryVRFSlots,
	};

/// Opaque types, used by the node to handle blocks without knowing the runtime's calls.
pub mod opaque {
	use super::*;
	use sp_runtime::traits::Hash as HashT;

	pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	/// Opaque block header type.
	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	/// Opaque block type.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// Opaque block identifier type.
	pub type BlockId = generic::BlockId<Block>;
	/// Opaque block hash type.
	pub type Hash = <BlakeTwo256 as HashT>::Output;

	impl_opaque_keys! {
		/// The session keys of a validator: a BABE (sr25519) and a GRANDPA (ed25519) key.
		pub struct SessionKeys {
			pub babe: Babe,
			pub grandpa: Grandpa,
		}
	}
}
pub use apis::RuntimeApi;
pub use opaque::SessionKeys;

/// The transaction extensions, checked in order for every signed transaction.
pub type TxExtension = (
	frame_system::AuthorizeCall<Runtime>,
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
	frame_metadata_hash_extension::CheckMetadataHash<Runtime>,
	frame_system::WeightReclaim<Runtime>,
);

/// Unchecked extrinsic type as expected by this runtime.
pub type UncheckedExtrinsic =
	generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
/// The payload being signed in transactions.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// The storage migrations run at the next runtime upgrade, oldest first. Each is versioned: it
/// runs only on a chain at the storage version it migrates from, so a chain that started at a
/// later version skips it (one read). `scripts/try-runtime.sh` checks them on every genesis
/// preset with their `pre_upgrade`/`post_upgrade` checks and every pallet's `try_state`.
#[allow(unused_parens)]
pub type Migrations = (
	// spec 109: payment channels indexed by payee.
	pallet_payment_channels::migrations::v1::MigrateV0ToV1<Runtime>,
);

/// Executive: dispatches blocks and extrinsics to the pallets.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
	Migrations,
>;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;
	#[runtime::pallet_index(1)]
	pub type Timestamp = pallet_timestamp;
	// BABE must come before Session so that the epoch change is observed correctly.
	#[runtime::pallet_index(2)]
	pub type Babe = pallet_babe;
	#[runtime::pallet_index(3)]
	pub type Authorship = pallet_authorship;
	#[runtime::pallet_index(4)]
	pub type Balances = pallet_balances;
	#[runtime::pallet_index(5)]
	pub type TransactionPayment = pallet_transaction_payment;

	// Consensus: the order matters (staking before session, offences before session).
	#[runtime::pallet_index(10)]
	pub type Staking = pallet_staking;
	#[runtime::pallet_index(11)]
	pub type Offences = pallet_offences;
	#[runtime::pallet_index(12)]
	pub type Historical = pallet_session::historical;
	#[runtime::pallet_index(13)]
	pub type Session = pallet_session;
	#[runtime::pallet_index(14)]
	pub type Grandpa = pallet_grandpa;
	#[runtime::pallet_index(15)]
	pub type VoterList = pallet_bags_list<Instance1>;

	#[runtime::pallet_index(20)]
	pub type Utility = pallet_utility;
	#[runtime::pallet_index(21)]
	pub type Sudo = pallet_sudo;
	#[runtime::pallet_index(22)]
	pub type VerifierCouncil = pallet_collective<Instance1>;
	#[runtime::pallet_index(23)]
	pub type TechnicalCommittee = pallet_collective<Instance2>;
	#[runtime::pallet_index(24)]
	pub type RootMotions = pallet_root_motions;

	// The compute marketplace.
	#[runtime::pallet_index(30)]
	pub type Registry = pallet_compute_registry;
	#[runtime::pallet_index(31)]
	pub type Market = pallet_compute_market;
	#[runtime::pallet_index(32)]
	pub type HashJobs = pallet_hash_jobs;
	#[runtime::pallet_index(33)]
	pub type PaymentChannels = pallet_payment_channels;
	#[runtime::pallet_index(34)]
	pub type InferenceProofs = pallet_inference_proofs;
}
