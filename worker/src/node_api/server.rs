//! The server side of the activation API: sessions over one [`LayerShard`].
//!
//! - **Bounded memory.** At most `max_sessions` sessions of at most `max_context` tokens: the
//!   KV cache never exceeds `max_sessions × max_context × bytes per token` (logged at start).
//!   Request bodies are limited to `max_step_tokens` tokens.
//! - **Isolation.** Each session has its own lock; a step runs on the blocking pool under a
//!   semaphore of `compute_slots`, and the engine extends a session only when the whole step
//!   succeeded, so a bad request leaves its session (and every other) as it was.
//! - **Idle eviction.** A sweeper closes sessions unused for `idle_timeout`.
//! - **Moving layers without dropping sessions.** [`ActivationServer::replace_shard`] makes a
//!   newly loaded shard the one new sessions get, and keeps the one it replaces: sessions in
//!   flight finish on the layers they started on, and a client that read the route before the
//!   move was final still finds the old layers until [`ActivationServer::retire_previous`].
//! - **Receipts.** With [`ActivationServer::sign_receipts`], every step is computed with
//!   per-layer hashes, its receipt signed and returned in [`RECEIPT_HEADER`], and (with a
//!   [`ReceiptStore`]) its input frame and receipt written to disk before the answer is sent;
//!   a step whose receipt cannot be kept is answered `500 internal` and its session closed
//!   (its cache went past what the node can prove). The store's sessions are pruned by age
//!   on the idle sweeper's schedule, at most once a minute.

use std::{
	collections::HashMap,
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};

use appchain_llm_engine::{wire, EngineError, LayerShard, SessionCache};
use appchain_primitives::receipt::{activation_hash, layer_root, Receipt};
use axum::{
	body::Bytes,
	extract::{rejection::BytesRejection, DefaultBodyLimit, Path, State},
	http::{header, StatusCode},
	response::{IntoResponse, Response},
	routing::{get, post},
	Json, Router,
};
use tokio::sync::Semaphore;

use super::{
	parse_session, session_hex, ApiError, ApiErrorBody, ApiErrorCode, NodeInfo, SessionOpened,
	CHANNEL_HEADER, CLIENT_HEADER, CUMULATIVE_HEADER, RECEIPT_HEADER, SIGNATURE_HEADER,
};
use crate::{
	error::WorkerError,
	payments::{parse_hex, PaymentGate, PaymentRefusal, SignedVoucher},
	proofs::{ReceiptSigner, ReceiptStore, SessionReceipts, SignedReceipt},
	shutdown::Shutdown,
};

/// Limits of a node's activation API.
#[derive(Debug, Clone)]
pub struct ServerLimits {
	/// Most sessions at once.
	pub max_sessions: usize,
	/// Longest session, in tokens.
	pub max_context: usize,
	/// Most tokens in one forward request.
	pub max_step_tokens: usize,
	/// Sessions unused this long are closed.
	pub idle_timeout: Duration,
	/// Forward steps computed at once.
	pub compute_slots: usize,
}

impl Default for ServerLimits {
	fn default() -> Self {
		Self {
			max_sessions: 16,
			max_context: 2048,
			max_step_tokens: 2048,
			idle_timeout: Duration::from_secs(300),
			compute_slots: 1,
		}
	}
}

struct Session {
	/// The layers this session computes (the current shard when it opened, or the previous
	/// one if its first frame asks for those).
	shard: Arc<LayerShard>,
	cache: SessionCache,
	last_used: Instant,
	/// Steps computed: the next step's index in its receipt.
	steps: u32,
}

/// The shard new sessions get, and the one it replaced while clients may still use it.
struct Shards {
	current: Arc<LayerShard>,
	previous: Option<Arc<LayerShard>>,
}

struct Shared {
	shards: Mutex<Shards>,
	model: u32,
	digest: String,
	limits: ServerLimits,
	sessions: Mutex<HashMap<[u8; 16], Arc<tokio::sync::Mutex<Session>>>>,
	compute: Semaphore,
	/// Set when the node charges: takes a voucher with each forward request.
	payments: std::sync::OnceLock<Arc<PaymentGate>>,
	/// Set when the node signs (and keeps) a receipt for every step.
	receipts: std::sync::OnceLock<Arc<ReceiptSigner>>,
	/// A fault this node injects into its answers (tests of the proofs only).
	fault: std::sync::OnceLock<Fault>,
	/// The chain's best block as this node last saw it: new session ids are stamped with it
	/// ([`appchain_primitives::receipt::session_id`]). Zero without a chain.
	best_block: std::sync::atomic::AtomicU32,
}

/// A way of answering wrongly, injected to test that cheating is caught
/// (`serve --inject-fault`). The receipt is signed for the wrong answer, as a cheater's would
/// be: the client's checks pass, and only re-execution finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
	/// Adds noise to every output value (an approximate or corrupted computation).
	Noise,
	/// Returns the input unchanged as the output (skips all the work).
	Echo,
}

/// A running activation API.
#[derive(Clone)]
pub struct ActivationServer {
	shared: Arc<Shared>,
}

fn error(status: StatusCode, code: ApiErrorCode, message: impl Into<String>) -> Response {
	(status, Json(ApiErrorBody { error: ApiError { code, message: message.into() } }))
		.into_response()
}

fn engine_error(e: EngineError) -> Response {
	let message = e.to_string();
	match e {
		EngineError::PositionGap { .. } => {
			error(StatusCode::CONFLICT, ApiErrorCode::PositionGap, message)
		},
		EngineError::ContextFull { .. } => {
			error(StatusCode::PAYLOAD_TOO_LARGE, ApiErrorCode::ContextFull, message)
		},
		EngineError::BadActivations { .. } => {
			error(StatusCode::BAD_REQUEST, ApiErrorCode::BadFrame, message)
		},
		_ => error(StatusCode::INTERNAL_SERVER_ERROR, ApiErrorCode::Internal, message),
	}
}

impl ActivationServer {
	/// A server over `shard` of on-chain model `model` whose file has `digest`.
	pub fn new(
		shard: Arc<LayerShard>,
		model: u32,
		digest: String,
		mut limits: ServerLimits,
	) -> Self {
		limits.max_context = limits.max_context.min(shard.max_context()).max(1);
		limits.max_step_tokens = limits.max_step_tokens.clamp(1, limits.max_context);
		limits.compute_slots = limits.compute_slots.max(1);
		let compute = Semaphore::new(limits.compute_slots);
		Self {
			shared: Arc::new(Shared {
				shards: Mutex::new(Shards { current: shard, previous: None }),
				model,
				digest,
				limits,
				sessions: Mutex::default(),
				compute,
				payments: std::sync::OnceLock::new(),
				receipts: std::sync::OnceLock::new(),
				fault: std::sync::OnceLock::new(),
				best_block: std::sync::atomic::AtomicU32::new(0),
			}),
		}
	}

	/// Records the chain's best block: sessions opened from now on are stamped with it, so
	/// that clients can audit their receipts for the chain's audit window.
	pub fn set_best_block(&self, block: u32) {
		self.shared.best_block.store(block, std::sync::atomic::Ordering::Relaxed);
	}

	/// Charges for forward passes from now on: every forward request must carry a voucher
	/// that `gate` takes. Set once; later calls change nothing.
	pub fn require_payment(&self, gate: Arc<PaymentGate>) {
		let _ = self.shared.payments.set(gate);
	}

	/// Signs a receipt for every forward step from now on, returned in [`RECEIPT_HEADER`] and
	/// kept in the signer's store if it has one. Set once; later calls change nothing.
	pub fn sign_receipts(&self, signer: ReceiptSigner) {
		let _ = self.shared.receipts.set(Arc::new(signer));
	}

	/// Answers every step with `fault` from now on (tests of the proofs only). Set once.
	pub fn inject_fault(&self, fault: Fault) {
		let _ = self.shared.fault.set(fault);
	}

	/// Where this node keeps its receipts, if it does.
	pub fn receipt_store(&self) -> Option<&ReceiptStore> {
		self.shared.receipts.get().and_then(|s| s.store())
	}

	/// The shard new sessions get.
	pub fn shard(&self) -> Arc<LayerShard> {
		self.shared.current_shard()
	}

	/// Makes `shard` (of the same model) the one new sessions get. The shard it replaces keeps
	/// serving the sessions that use it, and new sessions whose first frame asks for its
	/// layers, until [`Self::retire_previous`].
	pub fn replace_shard(&self, shard: Arc<LayerShard>) {
		if let Ok(mut shards) = self.shared.shards.lock() {
			let old = std::mem::replace(&mut shards.current, shard);
			shards.previous = Some(old);
		}
	}

	/// Stops offering the replaced shard to new sessions (sessions using it keep it until
	/// they close).
	pub fn retire_previous(&self) {
		if let Ok(mut shards) = self.shared.shards.lock() {
			shards.previous = None;
		}
	}

	/// Upper bound of the KV cache memory, in bytes.
	pub fn max_cache_bytes(&self) -> usize {
		let l = &self.shared.limits;
		l.max_sessions
			.saturating_mul(l.max_context)
			.saturating_mul(self.shared.current_shard().cache_bytes_per_token())
	}

	/// Sessions open now.
	pub fn session_count(&self) -> usize {
		self.shared.sessions.lock().map(|s| s.len()).unwrap_or(0)
	}

	/// The HTTP routes.
	pub fn router(&self) -> Router {
		let hidden = self.shared.current_shard().config().hidden;
		let body_limit = wire::HEADER_LEN + self.shared.limits.max_step_tokens * hidden * 4;
		Router::new()
			.route("/v1/info", get(info))
			.route("/v1/sessions", post(open))
			.route("/v1/sessions/{id}/forward", post(forward))
			.route("/v1/sessions/{id}", axum::routing::delete(close))
			.route("/v1/proofs/sessions/{id}/receipts", get(session_receipts))
			.route("/v1/proofs/sessions/{id}/inputs/{step}", get(session_input))
			.layer(DefaultBodyLimit::max(body_limit))
			.with_state(self.clone())
	}

	/// Serves on `listener` until `shutdown` fires, sweeping idle sessions.
	pub async fn serve(
		self,
		listener: tokio::net::TcpListener,
		shutdown: Shutdown,
	) -> std::io::Result<()> {
		let sweeper = {
			let server = self.clone();
			let shutdown = shutdown.clone();
			tokio::spawn(async move {
				let every = (server.shared.limits.idle_timeout / 4)
					.clamp(Duration::from_millis(50), Duration::from_secs(5));
				let mut pruned: Option<Instant> = None;
				while shutdown.run_until(tokio::time::sleep(every)).await.is_some() {
					server.evict_idle();
					if pruned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
						pruned = Some(Instant::now());
						server.prune_receipts().await;
					}
				}
			})
		};
		let app = self.router();
		let result = axum::serve(listener, app)
			.with_graceful_shutdown(async move { shutdown.cancelled().await })
			.await;
		sweeper.abort();
		result
	}

	/// Closes the sessions unused for longer than the idle timeout (skipping busy ones).
	pub fn evict_idle(&self) -> usize {
		let timeout = self.shared.limits.idle_timeout;
		let Ok(mut sessions) = self.shared.sessions.lock() else { return 0 };
		let before = sessions.len();
		sessions.retain(|id, s| match s.try_lock() {
			Ok(s) if s.last_used.elapsed() > timeout => {
				tracing::debug!(event = "session_evicted", session = %session_hex(id), "idle session closed");
				false
			},
			_ => true,
		});
		before - sessions.len()
	}

	/// Removes the kept sessions older than the store's retention period.
	pub async fn prune_receipts(&self) -> usize {
		let Some(store) = self.receipt_store().cloned() else { return 0 };
		let now = std::time::SystemTime::now();
		match tokio::task::spawn_blocking(move || store.prune(now)).await {
			Ok(Ok(removed)) => {
				if removed > 0 {
					tracing::debug!(
						event = "receipts_pruned",
						removed,
						"removed {removed} old sessions' receipts"
					);
				}
				removed
			},
			Ok(Err(e)) => {
				tracing::warn!(event = "receipts_prune_failed", error = %e, "pruning receipts: {e}");
				0
			},
			Err(_) => 0,
		}
	}

	#[allow(clippy::result_large_err)] // an axum response, built once per failed lookup
	fn session(&self, id: &str) -> Result<([u8; 16], Arc<tokio::sync::Mutex<Session>>), Response> {
		let unknown = || {
			error(StatusCode::NOT_FOUND, ApiErrorCode::UnknownSession, format!("no session {id}"))
		};
		let key = parse_session(id).ok_or_else(unknown)?;
		let sessions = self.shared.sessions.lock().map_err(|_| unknown())?;
		sessions.get(&key).cloned().map(|s| (key, s)).ok_or_else(unknown)
	}
}

impl Shared {
	fn current_shard(&self) -> Arc<LayerShard> {
		match self.shards.lock() {
			Ok(shards) => shards.current.clone(),
			Err(poisoned) => poisoned.into_inner().current.clone(),
		}
	}

	/// The loaded shard (current or previous) that computes `layers`.
	fn shard_for(&self, layers: (u32, u32)) -> Option<Arc<LayerShard>> {
		let shards = match self.shards.lock() {
			Ok(shards) => shards,
			Err(poisoned) => poisoned.into_inner(),
		};
		std::iter::once(&shards.current)
			.chain(shards.previous.as_ref())
			.find(|s| s.layers() == layers)
			.cloned()
	}
}

async fn info(State(server): State<ActivationServer>) -> Json<NodeInfo> {
	let s = &server.shared;
	let shard = s.current_shard();
	let (start, end) = shard.layers();
	Json(NodeInfo {
		model: s.model,
		layers: [start, end],
		hidden: shard.config().hidden as u32,
		max_context: s.limits.max_context as u32,
		max_step_tokens: s.limits.max_step_tokens as u32,
		sessions: server.session_count() as u32,
		max_sessions: s.limits.max_sessions as u32,
		weights_digest: s.digest.clone(),
	})
}

async fn open(State(server): State<ActivationServer>, headers: header::HeaderMap) -> Response {
	let s = &server.shared;
	let client = match headers.get(CLIENT_HEADER).map(|v| v.to_str().map(str::trim)) {
		None => None,
		Some(Ok(text)) => {
			let mut account = [0u8; 32];
			if hex::decode_to_slice(text.trim_start_matches("0x"), &mut account).is_err() {
				return error(
					StatusCode::BAD_REQUEST,
					ApiErrorCode::BadHeader,
					format!("{CLIENT_HEADER} must be 0x and 64 hex digits, not `{text}`"),
				);
			}
			Some(account)
		},
		Some(Err(_)) => {
			return error(
				StatusCode::BAD_REQUEST,
				ApiErrorCode::BadHeader,
				format!("{CLIENT_HEADER} is not text"),
			)
		},
	};
	let mut random = [0u8; 12];
	if getrandom::getrandom(&mut random).is_err() {
		return error(
			StatusCode::INTERNAL_SERVER_ERROR,
			ApiErrorCode::Internal,
			"no randomness for a session id",
		);
	}
	let stamp = s.best_block.load(std::sync::atomic::Ordering::Relaxed);
	let id = appchain_primitives::receipt::session_id(stamp, random);
	{
		let Ok(mut sessions) = s.sessions.lock() else {
			return error(
				StatusCode::INTERNAL_SERVER_ERROR,
				ApiErrorCode::Internal,
				"session table poisoned",
			);
		};
		if sessions.len() >= s.limits.max_sessions {
			return error(
				StatusCode::SERVICE_UNAVAILABLE,
				ApiErrorCode::TooManySessions,
				format!("all {} session slots are taken", s.limits.max_sessions),
			);
		}
		let shard = s.current_shard();
		let session =
			Session { cache: shard.new_session(), shard, last_used: Instant::now(), steps: 0 };
		sessions.insert(id, Arc::new(tokio::sync::Mutex::new(session)));
	}
	if let (Some(client), Some(store)) = (client, server.receipt_store().cloned()) {
		let kept = tokio::task::spawn_blocking(move || store.set_client(&id, &client)).await;
		if !matches!(kept, Ok(Ok(()))) {
			if let Ok(mut sessions) = s.sessions.lock() {
				sessions.remove(&id);
			}
			return error(
				StatusCode::INTERNAL_SERVER_ERROR,
				ApiErrorCode::Internal,
				"cannot record the session's client",
			);
		}
	}
	tracing::debug!(event = "session_opened", session = %session_hex(&id), "session opened");
	let opened = SessionOpened {
		session: session_hex(&id),
		max_context: s.limits.max_context as u32,
		idle_timeout_ms: s.limits.idle_timeout.as_millis() as u64,
	};
	(StatusCode::CREATED, Json(opened)).into_response()
}

async fn close(State(server): State<ActivationServer>, Path(id): Path<String>) -> Response {
	match server.session(&id) {
		Ok((key, _)) => {
			if let Ok(mut sessions) = server.shared.sessions.lock() {
				sessions.remove(&key);
			}
			StatusCode::NO_CONTENT.into_response()
		},
		Err(e) => e,
	}
}

/// The voucher a request carries in its headers, if any.
#[allow(clippy::result_large_err)] // an axum response, built once per refused request
fn voucher_of(headers: &header::HeaderMap) -> Result<SignedVoucher, Response> {
	let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
	let refused = |m: String| error(StatusCode::PAYMENT_REQUIRED, ApiErrorCode::PaymentRefused, m);
	let (Some(channel), Some(cumulative), Some(signature)) =
		(text(CHANNEL_HEADER), text(CUMULATIVE_HEADER), text(SIGNATURE_HEADER))
	else {
		return Err(error(
			StatusCode::PAYMENT_REQUIRED,
			ApiErrorCode::PaymentRequired,
			format!("this node charges per forward pass: send a voucher in {CHANNEL_HEADER}, {CUMULATIVE_HEADER} and {SIGNATURE_HEADER}"),
		));
	};
	let channel =
		channel.parse().map_err(|_| refused(format!("`{channel}` is not a channel id")))?;
	let cumulative =
		cumulative.parse().map_err(|_| refused(format!("`{cumulative}` is not an amount")))?;
	let signature = parse_hex::<64>(signature)
		.ok_or_else(|| refused("the signature is not 64 bytes of 0x hex".into()))?;
	Ok(SignedVoucher { channel, cumulative, signature })
}

#[allow(clippy::result_large_err)] // an axum response, built once per refused request
fn take_payment(gate: &PaymentGate, headers: &header::HeaderMap) -> Result<(), Response> {
	let voucher = voucher_of(headers)?;
	let channel = voucher.channel;
	match gate.accept(voucher, gate.price()) {
		Ok(paid) => {
			tracing::debug!(event = "voucher_taken", channel, paid = %paid, "voucher taken");
			Ok(())
		},
		Err(e @ PaymentRefusal::UnknownChannel(_)) => {
			Err(error(StatusCode::PAYMENT_REQUIRED, ApiErrorCode::UnknownChannel, e.to_string()))
		},
		Err(e) => {
			tracing::info!(event = "voucher_refused", channel, reason = %e, "voucher refused: {e}");
			Err(error(StatusCode::PAYMENT_REQUIRED, ApiErrorCode::PaymentRefused, e.to_string()))
		},
	}
}

async fn forward(
	State(server): State<ActivationServer>,
	Path(id): Path<String>,
	headers: header::HeaderMap,
	body: Result<Bytes, BytesRejection>,
) -> Response {
	let s = &server.shared;
	let body = match body {
		Ok(body) => body,
		Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
			return error(
				e.status(),
				ApiErrorCode::TooLarge,
				format!("{e}; at most {} tokens per step", s.limits.max_step_tokens),
			)
		},
		Err(e) => return error(e.status(), ApiErrorCode::BadFrame, e.to_string()),
	};
	let (key, session) = match server.session(&id) {
		Ok(found) => found,
		Err(e) => return e,
	};
	let (header, values) = match wire::decode(&body) {
		Ok(frame) => frame,
		Err(e) => return error(StatusCode::BAD_REQUEST, ApiErrorCode::BadFrame, e.to_string()),
	};
	let mut guard = session.lock_owned().await;
	// A session that has computed nothing yet takes whichever loaded shard its first frame
	// asks for (a client that read the route just before this node moved).
	if guard.shard.layers() != header.layers && guard.cache.is_empty() {
		if let Some(shard) = s.shard_for(header.layers) {
			guard.cache = shard.new_session();
			guard.shard = shard;
		}
	}
	let (start, end) = guard.shard.layers();
	let hidden = guard.shard.config().hidden;
	if header.model != s.model || header.layers != (start, end) || header.hidden as usize != hidden
	{
		return error(
			StatusCode::BAD_REQUEST,
			ApiErrorCode::WrongTarget,
			format!(
				"frame is for model {} layers [{}, {}) hidden {}; this node serves model {} layers [{start}, {end}) hidden {hidden}",
				header.model, header.layers.0, header.layers.1, header.hidden, s.model
			),
		);
	}
	if header.session != key {
		return error(
			StatusCode::BAD_REQUEST,
			ApiErrorCode::WrongTarget,
			"frame is for another session",
		);
	}
	if header.tokens as usize > s.limits.max_step_tokens {
		return error(
			StatusCode::PAYLOAD_TOO_LARGE,
			ApiErrorCode::TooLarge,
			format!("{} tokens in one step; at most {}", header.tokens, s.limits.max_step_tokens),
		);
	}
	let needed = header.position as usize + header.tokens as usize;
	if needed > s.limits.max_context {
		return engine_error(EngineError::ContextFull { needed, limit: s.limits.max_context });
	}
	if guard.cache.len() != header.position as usize {
		return engine_error(EngineError::PositionGap {
			expected: guard.cache.len(),
			got: header.position as usize,
		});
	}
	// Paid for only once the request is known to be computable.
	if let Some(gate) = s.payments.get() {
		if let Err(refused) = take_payment(gate, &headers) {
			return refused;
		}
	}
	let Ok(_permit) = s.compute.acquire().await else {
		return error(StatusCode::SERVICE_UNAVAILABLE, ApiErrorCode::Internal, "shutting down");
	};
	let shard = guard.shard.clone();
	let signer = s.receipts.get().cloned();
	let fault = s.fault.get().copied();
	let model = s.model;
	let result = tokio::task::spawn_blocking(move || {
		let out = compute(
			&shard,
			&mut guard,
			model,
			key,
			&header,
			&values,
			signer.as_deref(),
			&body,
			fault,
		);
		guard.last_used = Instant::now();
		out
	})
	.await;
	match result {
		Ok(Ok((out, receipt))) => {
			let frame = wire::encode(&header, &out);
			let mut response =
				([(header::CONTENT_TYPE, "application/octet-stream")], frame).into_response();
			if let Some(receipt) = receipt {
				if let Ok(value) = header::HeaderValue::from_str(&receipt.to_hex()) {
					response.headers_mut().insert(RECEIPT_HEADER, value);
				}
			}
			response
		},
		Ok(Err(StepError::Engine(e))) => engine_error(e),
		Ok(Err(StepError::Keep(e))) => {
			// The cache went past what this node can prove: the session ends here.
			if let Ok(mut sessions) = s.sessions.lock() {
				sessions.remove(&key);
			}
			tracing::warn!(event = "receipt_not_kept", session = %session_hex(&key), error = %e, "cannot keep a receipt, session closed: {e}");
			error(
				StatusCode::INTERNAL_SERVER_ERROR,
				ApiErrorCode::Internal,
				format!("cannot keep the step's receipt: {e}"),
			)
		},
		Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, ApiErrorCode::Internal, e.to_string()),
	}
}

/// Why a step failed after its checks.
enum StepError {
	/// The engine refused it (the session is unchanged).
	Engine(EngineError),
	/// It was computed but its receipt could not be kept.
	Keep(WorkerError),
}

/// Computes one step on `session` and, with a signer, signs its receipt and keeps it with
/// the step's input frame (`body`) before returning.
#[allow(clippy::too_many_arguments)]
fn compute(
	shard: &LayerShard,
	session: &mut Session,
	model: u32,
	key: [u8; 16],
	header: &wire::FrameHeader,
	values: &[f32],
	signer: Option<&ReceiptSigner>,
	body: &[u8],
	fault: Option<Fault>,
) -> Result<(Vec<f32>, Option<SignedReceipt>), StepError> {
	let position = header.position as usize;
	let Some(signer) = signer else {
		let out = shard.forward(&mut session.cache, position, values).map_err(StepError::Engine)?;
		session.steps = session.steps.saturating_add(1);
		return Ok((out, None));
	};
	let input_hash = activation_hash(header.tokens, header.hidden, values);
	let (mut out, mut layer_hashes) =
		shard.forward_traced(&mut session.cache, position, values).map_err(StepError::Engine)?;
	if let Some(fault) = fault {
		match fault {
			Fault::Noise => out.iter_mut().for_each(|v| *v += 0.01 * v.abs().max(1.0)),
			Fault::Echo => out.copy_from_slice(values),
		}
		// A cheater signs for what it returns.
		if let Some(last) = layer_hashes.last_mut() {
			*last = activation_hash(header.tokens, header.hidden, &out);
		}
	}
	let (start, end) = shard.layers();
	let output_hash = match layer_hashes.last() {
		Some(last) => *last,
		None => activation_hash(header.tokens, header.hidden, &out),
	};
	let receipt = Receipt {
		node: signer.node(),
		model,
		start,
		end,
		session: key,
		step: session.steps,
		position: header.position,
		tokens: header.tokens,
		input_hash,
		output_hash,
		layer_root: layer_root(start, &layer_hashes),
	};
	let signed = signer.sign(receipt, layer_hashes);
	session.steps = session.steps.saturating_add(1);
	if let Some(store) = signer.store() {
		store.keep(&signed, body).map_err(StepError::Keep)?;
	}
	Ok((out, Some(signed)))
}

#[allow(clippy::result_large_err)] // an axum response, built once per refused request
fn kept_store<'a>(
	server: &'a ActivationServer,
	id: &str,
) -> Result<(&'a ReceiptStore, [u8; 16]), Response> {
	let unknown = || {
		error(
			StatusCode::NOT_FOUND,
			ApiErrorCode::UnknownReceipts,
			format!("no receipts kept for session {id}"),
		)
	};
	let store = server.receipt_store().ok_or_else(unknown)?;
	let key = parse_session(id).ok_or_else(unknown)?;
	Ok((store, key))
}

async fn session_receipts(
	State(server): State<ActivationServer>,
	Path(id): Path<String>,
) -> Response {
	let (store, key) = match kept_store(&server, &id) {
		Ok(found) => found,
		Err(e) => return e,
	};
	let store = store.clone();
	match tokio::task::spawn_blocking(move || store.receipts(&key)).await {
		Ok(Ok(Some(receipts))) => {
			Json(SessionReceipts { session: session_hex(&key), receipts }).into_response()
		},
		Ok(Ok(None)) => error(
			StatusCode::NOT_FOUND,
			ApiErrorCode::UnknownReceipts,
			format!("no receipts kept for session {id}"),
		),
		Ok(Err(e)) => {
			error(StatusCode::INTERNAL_SERVER_ERROR, ApiErrorCode::Internal, e.to_string())
		},
		Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, ApiErrorCode::Internal, e.to_string()),
	}
}

async fn session_input(
	State(server): State<ActivationServer>,
	Path((id, step)): Path<(String, String)>,
) -> Response {
	let (store, key) = match kept_store(&server, &id) {
		Ok(found) => found,
		Err(e) => return e,
	};
	let no_step = || {
		error(
			StatusCode::NOT_FOUND,
			ApiErrorCode::UnknownStep,
			format!("no input kept for step {step} of session {id}"),
		)
	};
	let Ok(number) = step.parse::<u32>() else { return no_step() };
	let store = store.clone();
	match tokio::task::spawn_blocking(move || store.input(&key, number)).await {
		Ok(Ok(Some(frame))) => {
			([(header::CONTENT_TYPE, "application/octet-stream")], frame).into_response()
		},
		Ok(Ok(None)) => no_step(),
		Ok(Err(e)) => {
			error(StatusCode::INTERNAL_SERVER_ERROR, ApiErrorCode::Internal, e.to_string())
		},
		Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, ApiErrorCode::Internal, e.to_string()),
	}
}
