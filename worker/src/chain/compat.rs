//! Whether the chain's runtime is still the one this worker was built for.
//!
//! The worker's calls, storage reads, events and runtime API calls are generated at compile
//! time from `metadata/appchain.scale`. A forkless runtime upgrade can change any of them; a
//! worker that went on signing with the old shapes would send transactions the runtime
//! misreads (or, at best, that subxt refuses one by one). So before it signs anything, and
//! at every new runtime version the daemon sees, the worker compares the metadata it was
//! built with against the chain's, for exactly what it uses:
//!
//! - the pallets it calls, reads or decodes events of ([`USED_PALLETS`]): each pallet's
//!   calls, events, errors, storage and constant *types* (subxt's pallet hash; constant
//!   values may change freely);
//! - the runtime APIs it calls ([`USED_RUNTIME_APIS`]);
//! - the transaction extensions, in order (what a signature covers).
//!
//! Anything else (a new pallet, another pallet's new call, a new runtime API, changed
//! constants) leaves the worker running. A difference is a
//! [`WorkerError::RuntimeMismatch`]: the daemon stops with it, one-shot commands fail with
//! it, and it tells the operator to update the worker. The check is cached per spec version.

use std::sync::Mutex;

use subxt::Metadata;

use crate::{chain::AtBlock, error::WorkerError};

/// The pallets whose calls, storage, events or constants the worker uses.
pub const USED_PALLETS: [&str; 5] =
	["System", "Registry", "HashJobs", "PaymentChannels", "InferenceProofs"];

/// The runtime APIs the worker calls.
pub const USED_RUNTIME_APIS: [&str; 3] =
	["HashJobsApi", "PaymentChannelsApi", "InferenceProofsApi"];

/// The metadata the worker's types were generated from.
const BUILT_WITH: &[u8] = include_bytes!("../../metadata/appchain.scale");

/// Spec version of the runtime the worker was built for, as its metadata's `System.Version`
/// constant says; `None` if the file lacks it.
pub fn built_for_spec() -> Option<u32> {
	let metadata = built_with().ok()?;
	let version = metadata.pallet_by_name("System")?.constant_by_name("Version")?;
	// `RuntimeVersion`: spec_name (String), impl_name (String), authoring_version (u32),
	// spec_version (u32), ...
	let mut bytes = version.value();
	let _spec_name: String = codec::Decode::decode(&mut bytes).ok()?;
	let _impl_name: String = codec::Decode::decode(&mut bytes).ok()?;
	let _authoring: u32 = codec::Decode::decode(&mut bytes).ok()?;
	codec::Decode::decode(&mut bytes).ok()
}

fn built_with() -> Result<Metadata, WorkerError> {
	Metadata::decode_from(BUILT_WITH).map_err(|e| {
		WorkerError::Missing(format!("the worker's own metadata does not decode: {e}"))
	})
}

/// What differs, for the worker, between the metadata it was built with and `live`: one line
/// per pallet, runtime API or extension list that changed; empty when compatible.
pub fn differences(built: &Metadata, live: &Metadata) -> Vec<String> {
	let mut out = Vec::new();
	for name in USED_PALLETS {
		match (built.pallet_by_name(name), live.pallet_by_name(name)) {
			(Some(b), Some(l)) if b.hash() == l.hash() => {},
			(Some(_), Some(_)) => out.push(format!("pallet {name} changed")),
			(Some(_), None) => out.push(format!("pallet {name} was removed")),
			(None, _) => out.push(format!("pallet {name} is unknown to this build")),
		}
	}
	for name in USED_RUNTIME_APIS {
		match (built.runtime_api_trait_by_name(name), live.runtime_api_trait_by_name(name)) {
			(Some(b), Some(l)) if b.hash() == l.hash() => {},
			(Some(_), Some(_)) => out.push(format!("runtime API {name} changed")),
			(Some(_), None) => out.push(format!("runtime API {name} was removed")),
			(None, _) => out.push(format!("runtime API {name} is unknown to this build")),
		}
	}
	let extensions = |m: &Metadata| -> Vec<String> {
		m.extrinsic()
			.transaction_extensions_by_version(0)
			.map(|exts| exts.map(|e| e.identifier().to_string()).collect())
			.unwrap_or_default()
	};
	if extensions(built) != extensions(live) {
		out.push(format!(
			"transaction extensions changed: built for {:?}, the chain has {:?}",
			extensions(built),
			extensions(live)
		));
	}
	out
}

/// Whether a runtime is compatible: `Err` lists what differs.
type Verdict = Result<(), Vec<String>>;

/// The last spec version checked and its verdict.
static CHECKED: Mutex<Option<(u32, Verdict)>> = Mutex::new(None);

/// Fails with [`WorkerError::RuntimeMismatch`] if the runtime at `at` changed what this worker
/// uses since it was built. Cached per spec version.
pub fn ensure_compatible(at: &AtBlock) -> Result<(), WorkerError> {
	let spec = at.spec_version();
	let cached = CHECKED.lock().ok().and_then(|c| c.clone()).filter(|(s, _)| *s == spec);
	let verdict = match cached {
		Some((_, verdict)) => verdict,
		None => {
			let built = built_with()?;
			let differs = differences(&built, at.metadata_ref());
			let verdict = if differs.is_empty() { Ok(()) } else { Err(differs) };
			if let Ok(mut c) = CHECKED.lock() {
				*c = Some((spec, verdict.clone()));
			}
			verdict
		},
	};
	verdict.map_err(|differs| WorkerError::RuntimeMismatch {
		spec_version: spec,
		built_for: built_for_spec(),
		differs,
	})
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_worker_is_compatible_with_its_own_metadata() {
		let built = built_with().unwrap();
		assert_eq!(differences(&built, &built), Vec::<String>::new());
		assert!(built_for_spec().is_some_and(|s| s > 100), "{:?}", built_for_spec());
	}

	#[test]
	fn a_runtime_without_a_used_pallet_is_a_mismatch_and_an_unused_one_is_not() {
		use codec::{Decode, Encode};
		use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
		let without = |pallet: &str| {
			let mut p = RuntimeMetadataPrefixed::decode(&mut &BUILT_WITH[..]).unwrap();
			match &mut p.1 {
				RuntimeMetadata::V15(m) => m.pallets.retain(|x| x.name != pallet),
				RuntimeMetadata::V16(m) => m.pallets.retain(|x| x.name != pallet),
				other => panic!("metadata V{} in the worker's file", other.version()),
			}
			Metadata::decode_from(&p.encode()[..]).unwrap()
		};
		let built = built_with().unwrap();
		assert_eq!(differences(&built, &without("HashJobs")), vec!["pallet HashJobs was removed"]);
		// The market pallet is not one the worker uses.
		assert!(differences(&built, &without("Market")).is_empty());
	}
}
