//! Storage migrations of the payment channels, one module per storage version.
//!
//! Each migration is a [`VersionedMigration`](frame_support::migrations::VersionedMigration):
//! it runs only on a chain whose on-chain storage version is the one it migrates from, and
//! sets the next version when done, so leaving it in the runtime's migrations after the
//! upgrade costs one read. Its `pre_upgrade`/`post_upgrade` checks run under try-runtime
//! (`scripts/try-runtime.sh` runs the runtime's whole upgrade path on each genesis preset); the
//! same checks are plain functions that the unit tests call too.

/// Version 0 → 1: index the open channels by payee ([`PayeeChannels`](crate::PayeeChannels)).
pub mod v1 {
	use crate::{Channels, Config, Pallet, PayeeChannels};
	#[cfg(feature = "try-runtime")]
	use alloc::vec::Vec;
	use frame_support::{
		migrations::VersionedMigration,
		traits::{Get, UncheckedOnRuntimeUpgrade},
		weights::Weight,
	};

	/// Adds every open channel to its payee's list.
	///
	/// One read and one write per open channel, in a single block (the first block the new
	/// runtime executes). The channel count is bounded by nothing but deposits (each channel
	/// costs its payer a storage deposit): at ParityDB weights (8 µs a read, 50 µs a write)
	/// about 17,000 channels fit in the 1 s of a block. On chain the migration always runs to
	/// the end; [`check_before`], its try-runtime `pre_upgrade`, fails when it would not fit,
	/// so `scripts/try-runtime.sh` on a copy of the chain's state says so before enacting.
	/// (The chains at version 0 are development networks with a handful of channels.)
	pub struct IndexChannelsByPayee<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for IndexChannelsByPayee<T> {
		fn on_runtime_upgrade() -> Weight {
			let mut indexed = 0u64;
			for (id, channel) in Channels::<T>::iter() {
				PayeeChannels::<T>::insert(&channel.payee, id, ());
				indexed = indexed.saturating_add(1);
			}
			log::info!(target: "runtime::payment-channels", "indexed {indexed} channels by payee");
			T::DbWeight::get().reads_writes(indexed, indexed)
		}

		#[cfg(feature = "try-runtime")]
		fn pre_upgrade() -> Result<Vec<u8>, sp_runtime::TryRuntimeError> {
			use codec::Encode;
			check_before::<T>().map(|count| count.encode())
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(state: Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
			use codec::Decode;
			let count =
				u32::decode(&mut &state[..]).map_err(|_| "undecodable pre-upgrade state")?;
			check_after::<T>(count)
		}
	}

	/// The migration from version 0 to 1, for the runtime's migrations.
	pub type MigrateV0ToV1<T> = VersionedMigration<
		0,
		1,
		IndexChannelsByPayee<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;

	/// Before the migration: the index is empty and indexing every channel fits in a block.
	/// Returns the number of open channels.
	#[cfg(any(feature = "std", feature = "try-runtime"))]
	pub fn check_before<T: Config>() -> Result<u32, sp_runtime::TryRuntimeError> {
		frame_support::ensure!(
			PayeeChannels::<T>::iter_keys().next().is_none(),
			"the payee index exists before the migration that builds it"
		);
		let count = Channels::<T>::iter_keys().count();
		let count = u32::try_from(count).map_err(|_| "more than u32::MAX channels")?;
		let weight = T::DbWeight::get().reads_writes(count.into(), count.into());
		let max = <T as frame_system::Config>::BlockWeights::get().max_block;
		frame_support::ensure!(
			weight.all_lte(max),
			"indexing the channels by payee does not fit in one block"
		);
		Ok(count)
	}

	/// After the migration: every one of the `count` open channels is listed under its payee,
	/// the index has nothing else, and the storage version is 1.
	#[cfg(any(feature = "std", feature = "try-runtime"))]
	pub fn check_after<T: Config>(count: u32) -> Result<(), sp_runtime::TryRuntimeError> {
		use frame_support::traits::GetStorageVersion;
		frame_support::ensure!(
			Pallet::<T>::on_chain_storage_version() == 1,
			"the storage version is not 1 after the migration"
		);
		let mut channels = 0u32;
		for (id, channel) in Channels::<T>::iter() {
			frame_support::ensure!(
				PayeeChannels::<T>::contains_key(&channel.payee, id),
				"a channel is missing from its payee's list"
			);
			channels = channels.saturating_add(1);
		}
		frame_support::ensure!(channels == count, "the migration changed the number of channels");
		let listed = PayeeChannels::<T>::iter_keys().count();
		frame_support::ensure!(
			listed == count as usize,
			"the payee index lists more entries than there are channels"
		);
		Ok(())
	}
}
