//! The activation API of an inference node, over HTTP/1.1: the [`server`] a `serve` worker
//! runs and the [`client`] `infer` uses for each hop of a route.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | `GET` | `/v1/info` | | [`NodeInfo`] (JSON) |
//! | `POST` | `/v1/sessions` | | `201` [`SessionOpened`] (JSON) |
//! | `POST` | `/v1/sessions/{id}/forward` | an activation frame | `200` the output frame |
//! | `DELETE` | `/v1/sessions/{id}` | | `204` |
//! | `GET` | `/v1/proofs/sessions/{id}/receipts` | | the session's signed receipts (JSON) |
//! | `GET` | `/v1/proofs/sessions/{id}/inputs/{step}` | | the step's input frame |
//!
//! Frames are `appchain_llm_engine::wire` frames (48-byte header, little-endian f32 payload).
//!
//! A node that signs receipts (`serve` always does) answers every forward step with the
//! header [`RECEIPT_HEADER`]: `0x` hex of the SCALE-encoded
//! [`SignedReceipt`](crate::proofs::SignedReceipt) (the step's receipt, its per-layer output
//! hashes and the owner's signature; the encoding is documented in
//! [`crate::proofs::receipts`]). The client checks it before it uses the output, and the
//! node keeps the step's input and receipt on disk, read back through the two `proofs` paths
//! (errors `404 unknown_receipts` and `404 unknown_step`).
//!
//! A node that charges for its passes (`serve`, whose price on chain is above zero) takes a
//! payment-channel voucher with every forward request, in three headers: [`CHANNEL_HEADER`]
//! (the channel id), [`CUMULATIVE_HEADER`] (everything owed in the channel so far, decimal)
//! and [`SIGNATURE_HEADER`] (the payer's sr25519 signature, `0x` hex). It must pay the node's
//! price on top of the last voucher the node took, within the channel's deposit; the node
//! writes it down before computing (see [`crate::payments`]). A request without one is
//! refused with `402 payment_required`; a channel the node does not see open yet with
//! `402 unknown_channel` (retry after a block); any other bad voucher with
//! `402 payment_refused`.
//! Every error is JSON `{"error": {"code": "...", "message": "..."}}` with one of the
//! [`ApiErrorCode`]s and an HTTP status; an error in one session never touches another.

pub mod client;
pub mod server;

use serde::{Deserialize, Serialize};

/// What a node serves, from `GET /v1/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
	/// Model id on chain.
	pub model: u32,
	/// Layers served, `[start, end)`.
	pub layers: [u32; 2],
	/// Hidden size (values per token in a frame).
	pub hidden: u32,
	/// Longest session, in tokens.
	pub max_context: u32,
	/// Most tokens in one forward request.
	pub max_step_tokens: u32,
	/// Sessions open now, and the most allowed.
	pub sessions: u32,
	/// Most sessions at once.
	pub max_sessions: u32,
	/// Weights digest of the file served, hex.
	pub weights_digest: String,
}

/// Answer to `POST /v1/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionOpened {
	/// Session id, 32 hex digits.
	pub session: String,
	/// Longest session, in tokens.
	pub max_context: u32,
	/// A session unused this long is closed.
	pub idle_timeout_ms: u64,
}

/// Header carrying the channel id of a request's voucher.
pub const CHANNEL_HEADER: &str = "x-appchain-channel";
/// Header carrying the voucher's cumulative amount, in plancks, decimal.
pub const CUMULATIVE_HEADER: &str = "x-appchain-cumulative";
/// Header carrying the payer's signature of the voucher, `0x` hex of 64 bytes.
pub const SIGNATURE_HEADER: &str = "x-appchain-signature";

/// Header carrying a forward step's signed receipt, `0x` hex of its SCALE encoding.
pub const RECEIPT_HEADER: &str = "x-appchain-receipt";
/// Header of a session-opening request naming the client's account (`0x` hex of its 32
/// bytes): who the node's commitment of the session's receipts names, and refunds if a step
/// is proven wrong. A session opened without it is committed naming the node's own owner.
pub const CLIENT_HEADER: &str = "x-appchain-client";

/// The error codes of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorCode {
	/// The body is not a valid activation frame.
	BadFrame,
	/// The frame is for another model, other layers or another hidden size.
	WrongTarget,
	/// No such session (never opened, closed, or evicted when idle).
	UnknownSession,
	/// The frame's position is not where the session is.
	PositionGap,
	/// The session would exceed the context limit.
	ContextFull,
	/// The request has more tokens or bytes than allowed.
	TooLarge,
	/// All session slots are taken.
	TooManySessions,
	/// The node charges for its passes and the request carries no voucher.
	PaymentRequired,
	/// The voucher's channel is not open as of the node's last finalized block (retry).
	UnknownChannel,
	/// The voucher does not pay for the request (amount, signature, channel).
	PaymentRefused,
	/// The node keeps no receipts for that session (never served here, pruned, or the node
	/// keeps none).
	UnknownReceipts,
	/// The node kept no input for that step of the session.
	UnknownStep,
	/// A request header is malformed (e.g. the client account).
	BadHeader,
	/// The engine failed.
	Internal,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
	/// What went wrong, for programs.
	pub code: ApiErrorCode,
	/// What went wrong, for people.
	pub message: String,
}

/// The JSON envelope of an error answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiErrorBody {
	/// The error.
	pub error: ApiError,
}

/// Session ids as hex.
pub fn session_hex(id: &[u8; 16]) -> String {
	id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a 32-digit hex session id.
pub fn parse_session(text: &str) -> Option<[u8; 16]> {
	if text.len() != 32 {
		return None;
	}
	let mut out = [0u8; 16];
	for (i, byte) in out.iter_mut().enumerate() {
		*byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
	}
	Some(out)
}
