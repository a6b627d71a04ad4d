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
	CommittedBatch, ExpectedStep, ReceiptRefusal, ReceiptSigner, ReceiptStore, SessionReceipts, SignedReceipt,
};

/// The path of a session's receipts in the proofs API (`session` as 32 hex digits).
pub fn receipts_path(session: &[u8; 16]) -> String {
	format!("/v1/proofs/sessions/{}/receipts", hex::encode(session))
}

/// The path of a session's input at `step` in the proofs API.
pub fn input_path(session: &[u8; 16], step: u32) -> String {
	format!("/v1/proofs/sessions/{}/inputs/{step}", hex::encode(session))
}
