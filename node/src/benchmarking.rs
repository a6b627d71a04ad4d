//! Helpers for the `benchmark overhead` and `benchmark extrinsic` subcommands.
//!
//! Extrinsics are built dynamically from the runtime metadata
//! ([`frame_benchmarking_cli::DynamicRemarkBuilder`], signed by the `//Alice` dev account),
//! so the node does not need to know the runtime's transaction extensions.

use std::sync::Arc;

use frame_benchmarking_cli::{DynamicRemarkBuilder, ExtrinsicFactory};
use sp_inherents::{InherentData, InherentDataProvider};

use crate::service::FullClient;

/// Inherent data for benchmark blocks: only the timestamp, set to zero.
///
/// Timestamp zero maps to BABE slot zero, which is consistent with the (absent) BABE
/// pre-digest of the blocks built by the benchmarks on top of genesis.
pub fn inherent_benchmark_data() -> sc_cli::Result<InherentData> {
	let mut inherent_data = InherentData::new();
	let timestamp = sp_timestamp::InherentDataProvider::new(std::time::Duration::ZERO.into());

	futures::executor::block_on(timestamp.provide_inherent_data(&mut inherent_data))
		.map_err(|e| format!("Failed to create the benchmark inherent data: {e:?}"))?;
	Ok(inherent_data)
}

/// Builder of `System::remark` extrinsics (used by `benchmark overhead`).
pub fn remark_builder(client: Arc<FullClient>) -> sc_cli::Result<DynamicRemarkBuilder> {
	DynamicRemarkBuilder::new_from_client(client)
}

/// The extrinsics available to `benchmark extrinsic` (`system::remark`).
pub fn extrinsic_factory(client: Arc<FullClient>) -> sc_cli::Result<ExtrinsicFactory> {
	Ok(ExtrinsicFactory(vec![Box::new(remark_builder(client)?)]))
}
