//! Inference proofs on the worker's side (issue 17): the receipts a serving node signs for
//! every forward step, what the client checks and keeps, what the node keeps so that a
//! verifier can re-execute a step, and the re-execution itself.
//!
//! - [`receipts`]: [`SignedReceipt`] (a `appchain_primitives::receipt::Receipt`, the
//!   per-layer output hashes it commits to and the owner's sr25519 signature), its encodings
//!   (SCALE in the `x-appchain-receipt` header, JSON with hex fields on disk and in the
//!   proofs API), the client's check ([`SignedReceipt::check`]), the node's
//!   [`ReceiptSigner`] and its on-disk [`ReceiptStore`];
//! - [`replay`]: [`replay::replay_step`] re-runs a session's steps on a fresh cache and
//!   returns the per-layer hashes of the last one; [`replay::fetch_inputs`] takes the inputs a
//!   node kept and checks each against its receipt's input hash; [`replay::verify_step`]
//!   compares a replay with a receipt and names the first layer that differs.
//!
//! The read-only proofs API a serving node exposes next to the activation API:
//!
//! | method | path | answer |
//! |---|---|---|
//! | `GET` | `/v1/proofs/sessions/{session}/receipts` | [`SessionReceipts`] (JSON) |
//! | `GET` | `/v1/proofs/sessions/{session}/inputs/{step}` | the step's input frame (`application/octet-stream`) |
//!
//! A session the node keeps nothing for answers `404 unknown_receipts`, a step it has no
//! input for `404 unknown_step` (the activation API's JSON error envelope).

pub mod receipts;
pub mod replay;

pub use receipts::{
	CommittedBatch, ExpectedStep, ReceiptRefusal, ReceiptSigner, ReceiptStore, SessionReceipts,
	SignedReceipt,
};

/// This build's engine class and its description: what its results are bit-for-bit
/// reproducible within (the README's *Determinism and receipts*). The description names the
/// engine and worker versions, the target and the CPU features the engine's kernels pick from
/// at run time; the class is the first 16 bytes of
/// `SHA-256("appchain/engine-class/v1" ‖ description)`.
pub fn engine_class() -> ([u8; 16], String) {
	use sha2::Digest;
	let mut features: Vec<&str> = Vec::new();
	#[cfg(target_arch = "x86_64")]
	{
		for (name, on) in [
			("avx512f", std::is_x86_feature_detected!("avx512f")),
			("avx2", std::is_x86_feature_detected!("avx2")),
			("fma", std::is_x86_feature_detected!("fma")),
			("f16c", std::is_x86_feature_detected!("f16c")),
		] {
			if on {
				features.push(name);
			}
		}
	}
	#[cfg(target_arch = "aarch64")]
	{
		if std::arch::is_aarch64_feature_detected!("neon") {
			features.push("neon");
		}
	}
	let description = format!(
		"appchain-worker {} on {}-{} [{}]",
		env!("CARGO_PKG_VERSION"),
		std::env::consts::ARCH,
		std::env::consts::OS,
		features.join(",")
	);
	let digest = sha2::Sha256::new()
		.chain_update(b"appchain/engine-class/v1")
		.chain_update(description.as_bytes())
		.finalize();
	let mut class = [0u8; 16];
	class.copy_from_slice(&digest[..16]);
	(class, description)
}

/// The path of a session's receipts in the proofs API (`session` as 32 hex digits).
pub fn receipts_path(session: &[u8; 16]) -> String {
	format!("/v1/proofs/sessions/{}/receipts", hex::encode(session))
}

/// The path of a session's input at `step` in the proofs API.
pub fn input_path(session: &[u8; 16], step: u32) -> String {
	format!("/v1/proofs/sessions/{}/inputs/{step}", hex::encode(session))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_engine_class_is_stable_and_names_the_build_and_cpu() {
		let (class, description) = engine_class();
		assert_eq!(engine_class(), (class, description.clone()), "the same on every call");
		assert!(description.starts_with(&format!("appchain-worker {}", env!("CARGO_PKG_VERSION"))));
		assert!(description.contains(std::env::consts::ARCH), "{description}");
		// An independent hash of the documented bytes.
		use sha2::Digest;
		let mut bytes = b"appchain/engine-class/v1".to_vec();
		bytes.extend(description.as_bytes());
		assert_eq!(class[..], sha2::Sha256::digest(&bytes)[..16]);
	}
}
