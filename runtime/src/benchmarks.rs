//! The pallets whose benchmarks the runtime exposes to `appchain-node benchmark pallet`.

pub use frame_benchmarking::{BenchmarkBatch, BenchmarkList};
pub use frame_support::traits::{StorageInfoTrait, WhitelistedStorageKeys};
pub use frame_system_benchmarking::{
	extensions::Pallet as SystemExtensionsBench, Pallet as SystemBench,
};
pub use sp_storage::TrackedStorageKey;

pub use crate::*;

impl frame_system_benchmarking::Config for Runtime {}

frame_benchmarking::define_benchmarks!(
	[frame_system, SystemBench::<Runtime>]
	[frame_system_extensions, SystemExtensionsBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_utility, Utility]
	[pallet_sudo, Sudo]
	[pallet_root_motions, RootMotions]
	[pallet_compute_registry, Registry]
	[pallet_compute_market, Market]
	[pallet_hash_jobs, HashJobs]
	[pallet_payment_channels, PaymentChannels]
	[pallet_inference_proofs, InferenceProofs]
);
