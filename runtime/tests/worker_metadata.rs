//! The worker's chain client (`worker/src/chain.rs`) is generated at compile time from the
//! runtime metadata committed as `worker/metadata/appchain.scale`. This test fails when that
//! file no longer matches this runtime, so the worker can never be built against calls,
//! storage or events the chain does not have.
//!
//! Regenerate the file with `scripts/update-worker-metadata.sh` (which runs this test with
//! `UPDATE_WORKER_METADATA=1`).

use std::path::PathBuf;

/// The metadata version subxt generates the worker's types from.
const VERSION: u32 = 16;

#[test]
fn worker_metadata_is_current() {
	let current = appchain_runtime::Runtime::metadata_at_version(VERSION)
		.expect("the runtime serves metadata v16");
	let current: &[u8] = &current;
	let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../worker/metadata/appchain.scale");

	if std::env::var_os("UPDATE_WORKER_METADATA").is_some() {
		std::fs::write(&path, current).expect("write the worker metadata");
		return;
	}
	let committed = std::fs::read(&path).expect("worker/metadata/appchain.scale exists");
	assert!(
		committed == current,
		"worker/metadata/appchain.scale ({} bytes) differs from the runtime's metadata v{VERSION} \
		 ({} bytes); run scripts/update-worker-metadata.sh and rebuild the worker",
		committed.len(),
		current.len()
	);
}
