//! `gateway`: an OpenAI-compatible HTTP API in front of the network. Each request generates
//! through the chain's route (as `infer` does) and pays every forward pass with
//! payment-channel vouchers from this account.
//!
//! | method | path | |
//! |---|---|---|
//! | `GET` | `/v1/models` | the model served |
//! | `POST` | `/v1/completions` | `prompt`, `max_tokens`, `temperature`, `top_p`, `seed`, `stream` |
//! | `POST` | `/v1/chat/completions` | `messages`, the same parameters |
//!
//! Answers follow OpenAI's wire format (`text_completion`, `chat.completion`, and with
//! `stream: true` server-sent events of `…chunk` objects ending with `data: [DONE]`). `usage`
//! carries `prompt_tokens`, `completion_tokens`, `total_tokens`, and this network's price:
//! `cost` (plancks paid, decimal) and `forward_passes`.
//!
//! Spending caps: a request is cut to the tokens `--max-per-request` pays for at the route's
//! price, and refused (`402`, `insufficient_quota`) when not even one token fits it or what is
//! left of `--max-per-day` (a UTC day). Requests run one at a time. Errors are OpenAI's
//! `{"error": {"message", "type", "code"}}`.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use appchain_llm_engine::{
	chatml_prompt, digest, ClientHead, Decoder, Sampler, Sampling, TextTokenizer, WeightFile,
};
use axum::{
	body::Body,
	extract::{rejection::JsonRejection, State},
	http::{header, StatusCode},
	response::{IntoResponse, Response},
	routing::{get, post},
	Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
	check_weights,
	infer::{ChainPlanner, Payer},
	parse_amount, Global, TextStream,
};
use crate::{
	chain::{self, Signer},
	error::WorkerError,
	node_api::client::http_client,
	payments::{VoucherBook, Wallet},
	pipeline::{Pipeline, ReceiptPolicy, TokenEvent},
};

/// `gateway` arguments.
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
	/// Address to listen on.
	#[arg(long, default_value = "127.0.0.1:8080")]
	pub listen: String,
	/// The model's id on chain.
	#[arg(long)]
	pub model: u32,
	/// The model file (the gateway runs its ends and tokenizer); checked against the chain.
	#[arg(long)]
	pub file: PathBuf,
	/// Route weight: alpha × price + (1 − alpha) × cost.
	#[arg(long, default_value_t = 0.5)]
	pub alpha: f64,
	/// Leave out of routes the nodes whose verified work succeeded less often than this
	/// (as `infer --min-success`).
	#[arg(long, default_value_t = 0.9)]
	pub min_success: f64,
	/// Tokens generated when a request does not say.
	#[arg(long, default_value_t = 256)]
	pub default_max_tokens: usize,
	/// Most a single request may spend, in CPU.
	#[arg(long, default_value = "1")]
	pub max_per_request: String,
	/// Most spent per UTC day, in CPU.
	#[arg(long, default_value = "100")]
	pub max_per_day: String,
	/// A payment channel opened to a node holds its price times this many passes.
	#[arg(long, default_value_t = 1000)]
	pub channel_passes: u128,
	/// Seconds before a hop that does not answer counts as failed.
	#[arg(long, default_value_t = 30)]
	pub hop_timeout: u64,
}

struct Gateway {
	planner: ChainPlanner,
	payer: Payer,
	head: ClientHead,
	tokenizer: TextTokenizer,
	name: String,
	default_max_tokens: usize,
	max_per_request: u128,
	max_per_day: u128,
	hop_timeout: Duration,
	/// `(UTC day, spent that day)`; also serialises requests.
	day: tokio::sync::Mutex<(u64, u128)>,
}

/// Runs the gateway until SIGINT/SIGTERM.
pub async fn run(global: &Global, args: GatewayArgs) -> Result<(), WorkerError> {
	let max_per_request = parse_amount(&args.max_per_request)?;
	let max_per_day = parse_amount(&args.max_per_day)?;
	let keypair = global.key_source().load()?;
	let chain = global.connect().await?;
	let at = chain.finalized().await?;
	let model = chain::model(&at, args.model).await?.ok_or_else(|| {
		WorkerError::Usage(format!("model {} is not registered on chain", args.model))
	})?;
	let path = args.file.clone();
	let (head, tokenizer, file_digest) = tokio::task::spawn_blocking(move || {
		let file = WeightFile::open(&path)?;
		let d = digest::weights_digest(&file)?;
		Ok::<_, WorkerError>((ClientHead::load(&file)?, TextTokenizer::from_model(&file)?, d))
	})
	.await
	.map_err(|e| WorkerError::Engine(e.to_string()))??;
	check_weights(&model.weights_digest, &file_digest)?;
	let genesis = chain.genesis_hash();
	let book = VoucherBook::paid(&global.base_path(), &genesis, &keypair.public_key().0)?;
	let payer = Payer {
		signer: Signer::new(keypair.clone()),
		wallet: Arc::new(Wallet::new(keypair, genesis, book)),
		channel_passes: args.channel_passes.max(1),
		min_passes: 1,
	};
	let planner = ChainPlanner {
		chain,
		model: args.model,
		layers: model.layers,
		shard_size: model.shard_size,
		alpha: args.alpha.clamp(0.0, 1.0),
		payer: None,
		min_success: args.min_success,
		planned_at: None,
	};
	let gateway = Arc::new(Gateway {
		planner,
		payer,
		head,
		tokenizer,
		name: String::from_utf8_lossy(&model.name.0).into_owned(),
		default_max_tokens: args.default_max_tokens.max(1),
		max_per_request,
		max_per_day,
		hop_timeout: Duration::from_secs(args.hop_timeout.max(1)),
		day: tokio::sync::Mutex::new((0, 0)),
	});
	let app = Router::new()
		.route("/v1/models", get(models))
		.route("/v1/completions", post(completions))
		.route("/v1/chat/completions", post(chat_completions))
		.with_state(gateway.clone());
	let listener = tokio::net::TcpListener::bind(&args.listen)
		.await
		.map_err(|e| WorkerError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
	let bound: SocketAddr = listener.local_addr().map_err(|e| WorkerError::Usage(e.to_string()))?;
	tracing::info!(event = "gateway_listening", address = %bound, model = args.model, name = %gateway.name, "OpenAI-compatible API at http://{bound}/v1 (model {})", gateway.name);
	let shutdown = crate::shutdown::Shutdown::new();
	shutdown.on_signals();
	axum::serve(listener, app)
		.with_graceful_shutdown(async move { shutdown.cancelled().await })
		.await
		.map_err(|e| WorkerError::Usage(format!("gateway: {e}")))
}

fn api_error(status: StatusCode, kind: &str, code: &str, message: impl Into<String>) -> Response {
	let body =
		json!({"error": {"message": message.into(), "type": kind, "code": code, "param": null}});
	(status, Json(body)).into_response()
}

fn bad_request(message: impl Into<String>) -> Response {
	api_error(StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_request", message)
}

async fn models(State(g): State<Arc<Gateway>>) -> Json<Value> {
	Json(json!({
		"object": "list",
		"data": [{"id": g.name, "object": "model", "created": 0, "owned_by": "appchain"}],
	}))
}

/// Sampling and length parameters shared by both endpoints.
#[derive(Debug, Clone, Deserialize)]
struct Params {
	model: Option<String>,
	max_tokens: Option<usize>,
	max_completion_tokens: Option<usize>,
	temperature: Option<f32>,
	top_p: Option<f32>,
	seed: Option<u64>,
	#[serde(default)]
	stream: bool,
}

#[derive(Debug, Deserialize)]
struct CompletionRequest {
	prompt: Value,
	#[serde(flatten)]
	params: Params,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
	role: String,
	content: Value,
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
	messages: Vec<ChatMessage>,
	#[serde(flatten)]
	params: Params,
}

/// Text of a message's content: a string, or OpenAI's list of `{"type": "text", "text"}` parts.
fn content_text(content: &Value) -> Option<String> {
	match content {
		Value::String(s) => Some(s.clone()),
		Value::Array(parts) => Some(
			parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<String>(),
		),
		Value::Null => Some(String::new()),
		_ => None,
	}
}

/// The model's ChatML prompt for `messages` (a lone user message with an optional system
/// message is exactly `infer --chat`'s prompt).
fn chat_prompt(messages: &[ChatMessage]) -> Result<String, String> {
	let mut system = None;
	let mut turns = Vec::new();
	for m in messages {
		let text = content_text(&m.content).ok_or("message content must be text")?;
		match m.role.as_str() {
			"system" | "developer" if turns.is_empty() && system.is_none() => system = Some(text),
			"user" | "assistant" | "system" | "developer" => turns.push((m.role.clone(), text)),
			other => return Err(format!("unknown role `{other}`")),
		}
	}
	match turns.as_slice() {
		[] => Err("no user message".into()),
		[(role, text)] if role == "user" => Ok(chatml_prompt(system.as_deref(), text)),
		_ => {
			let mut out = chatml_prompt(system.as_deref(), "");
			// Drop the empty user turn and the assistant header chatml_prompt appended.
			let cut = out.find("<|im_start|>user").unwrap_or(out.len());
			out.truncate(cut);
			for (role, text) in turns {
				out.push_str(&format!("<|im_start|>{role}\n{text}<|im_end|>\n"));
			}
			out.push_str("<|im_start|>assistant\n");
			Ok(out)
		},
	}
}

/// A finished generation.
struct Generated {
	prompt_tokens: usize,
	completion_tokens: usize,
	text: String,
	finish_reason: &'static str,
	cost: u128,
	passes: u64,
}

/// Why a generation could not run.
enum Refusal {
	Bad(String),
	Quota(String),
	Failed(String),
}

impl Refusal {
	fn into_response(self) -> Response {
		match self {
			Refusal::Bad(m) => bad_request(m),
			Refusal::Quota(m) => api_error(
				StatusCode::PAYMENT_REQUIRED,
				"insufficient_quota",
				"insufficient_quota",
				m,
			),
			Refusal::Failed(m) => {
				api_error(StatusCode::BAD_GATEWAY, "server_error", "network_failed", m)
			},
		}
	}
}

fn today() -> u64 {
	std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| d.as_secs() / 86_400)
		.unwrap_or(0)
}

impl Gateway {
	/// Generates `prompt` with `params`, calling `on_text` with each new piece of text.
	async fn generate(
		&self,
		prompt: String,
		params: &Params,
		mut on_text: impl FnMut(&str),
	) -> Result<Generated, Refusal> {
		if let Some(m) = &params.model {
			if m != &self.name {
				return Err(Refusal::Bad(format!(
					"model `{m}` is not served here; try `{}`",
					self.name
				)));
			}
		}
		let tokens = self.tokenizer.encode(&prompt).map_err(|e| Refusal::Bad(e.to_string()))?;
		if tokens.is_empty() {
			return Err(Refusal::Bad("the prompt has no tokens".into()));
		}
		let asked =
			params.max_completion_tokens.or(params.max_tokens).unwrap_or(self.default_max_tokens);
		if asked == 0 {
			return Err(Refusal::Bad("max_tokens must be at least 1".into()));
		}
		let temperature = params.temperature.unwrap_or(0.0);
		let mode = if temperature <= 0.0 {
			Sampling::Greedy
		} else {
			Sampling::TopP {
				temperature,
				top_p: params.top_p.unwrap_or(1.0),
				seed: params.seed.unwrap_or(0),
			}
		};
		let sampler = Sampler::new(mode).map_err(|e| Refusal::Bad(e.to_string()))?;

		let mut day = self.day.lock().await;
		if day.0 != today() {
			*day = (today(), 0);
		}
		let mut payer = self.payer.clone();
		payer.min_passes = (tokens.len() + asked + 1) as u128;
		let wallet = payer.wallet.clone();
		let planner = ChainPlanner { payer: Some(payer), ..self.planner.clone() };
		let http = http_client(self.hop_timeout);
		let policy = ReceiptPolicy::required(self.planner.chain.genesis_hash())
			.for_client(self.payer.signer.account().0);
		let mut pipeline = Pipeline::start(planner, http, self.planner.model, &self.head, policy)
			.await
			.map_err(|e| Refusal::Failed(e.to_string()))?;
		// One forward pass per hop per token: cut the request to what the caps pay for.
		let per_token: u128 = pipeline.route().iter().map(|h| h.price).sum();
		let budget = self.max_per_request.min(self.max_per_day.saturating_sub(day.1));
		let affordable =
			budget.checked_div(per_token).map_or(asked, |n| n.min(asked as u128) as usize);
		if affordable == 0 {
			pipeline.close().await;
			return Err(Refusal::Quota(format!(
				"one token costs {per_token} plancks on the route; the caps leave {budget}"
			)));
		}
		pipeline.pay_with(wallet.clone());
		let before: u128 = wallet.spent().values().map(|s| s.1).sum();
		let stop = self.tokenizer.stop_tokens.clone();
		let mut decoder = Decoder::new(&self.head, tokens.clone(), affordable, sampler, stop)
			.map_err(|e| Refusal::Bad(e.to_string()))?;
		let mut stream = TextStream::default();
		let mut stopped = false;
		let tokenizer = &self.tokenizer;
		let result = pipeline
			.generate(&mut decoder, |e: &TokenEvent| {
				if tokenizer.is_stop(e.token) {
					stopped = true;
				} else if let Some(new) = stream.push(tokenizer, e.token) {
					on_text(&new);
				}
			})
			.await;
		let passes: u64 = pipeline.passes.values().map(|p| p.0).sum();
		pipeline.close().await;
		let after: u128 = wallet.spent().values().map(|s| s.1).sum();
		let cost = after.saturating_sub(before);
		day.1 = day.1.saturating_add(cost);
		let generated = result.map_err(|e| Refusal::Failed(e.to_string()))?;
		let completion: Vec<u32> =
			generated.iter().copied().filter(|t| !tokenizer.is_stop(*t)).collect();
		let text = tokenizer.decode(&completion).map_err(|e| Refusal::Failed(e.to_string()))?;
		tracing::info!(event = "gateway_generated", tokens = completion.len(), cost = %cost, passes, "{} tokens for {cost} plancks ({passes} passes)", completion.len());
		Ok(Generated {
			prompt_tokens: tokens.len(),
			completion_tokens: completion.len(),
			text,
			finish_reason: if stopped { "stop" } else { "length" },
			cost,
			passes,
		})
	}
}

fn usage(g: &Generated) -> Value {
	json!({
		"prompt_tokens": g.prompt_tokens,
		"completion_tokens": g.completion_tokens,
		"total_tokens": g.prompt_tokens + g.completion_tokens,
		"cost": g.cost.to_string(),
		"forward_passes": g.passes,
	})
}

fn created() -> u64 {
	std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map(|d| d.as_secs())
		.unwrap_or(0)
}

fn request_id(prefix: &str) -> String {
	let mut bytes = [0u8; 12];
	let _ = getrandom::getrandom(&mut bytes);
	format!("{prefix}-{}", hex::encode(bytes))
}

/// What differs between the two endpoints' answers.
#[derive(Clone, Copy)]
enum Kind {
	Text,
	Chat,
}

impl Kind {
	fn object(self, chunk: bool) -> &'static str {
		match (self, chunk) {
			(Kind::Text, _) => "text_completion",
			(Kind::Chat, false) => "chat.completion",
			(Kind::Chat, true) => "chat.completion.chunk",
		}
	}

	fn choice(self, text: &str, finish: Option<&str>, chunk: bool) -> Value {
		match (self, chunk) {
			(Kind::Text, _) => {
				json!({"index": 0, "text": text, "logprobs": null, "finish_reason": finish})
			},
			(Kind::Chat, false) => {
				json!({"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": finish})
			},
			(Kind::Chat, true) => {
				let delta = if finish.is_some() { json!({}) } else { json!({"content": text}) };
				json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish})
			},
		}
	}
}

async fn completions(
	State(g): State<Arc<Gateway>>,
	body: Result<Json<CompletionRequest>, JsonRejection>,
) -> Response {
	let Json(request) = match body {
		Ok(b) => b,
		Err(e) => return bad_request(e.body_text()),
	};
	let prompt = match &request.prompt {
		Value::String(s) => s.clone(),
		Value::Array(items) if items.len() == 1 && items[0].is_string() => {
			items[0].as_str().unwrap_or_default().to_string()
		},
		_ => return bad_request("prompt must be a string (one prompt per request)"),
	};
	respond(g, Kind::Text, prompt, request.params).await
}

async fn chat_completions(
	State(g): State<Arc<Gateway>>,
	body: Result<Json<ChatRequest>, JsonRejection>,
) -> Response {
	let Json(request) = match body {
		Ok(b) => b,
		Err(e) => return bad_request(e.body_text()),
	};
	match chat_prompt(&request.messages) {
		Ok(prompt) => respond(g, Kind::Chat, prompt, request.params).await,
		Err(m) => bad_request(m),
	}
}

async fn respond(g: Arc<Gateway>, kind: Kind, prompt: String, params: Params) -> Response {
	let id = request_id(match kind {
		Kind::Text => "cmpl",
		Kind::Chat => "chatcmpl",
	});
	let model = g.name.clone();
	if !params.stream {
		return match g.generate(prompt, &params, |_| {}).await {
			Ok(done) => Json(json!({
				"id": id,
				"object": kind.object(false),
				"created": created(),
				"model": model,
				"choices": [kind.choice(&done.text, Some(done.finish_reason), false)],
				"usage": usage(&done),
			}))
			.into_response(),
			Err(refusal) => refusal.into_response(),
		};
	}
	// Streaming: chunks as the tokens come; the generation runs on its own task.
	let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
	let event = |v: Value| format!("data: {v}\n\n");
	tokio::spawn(async move {
		let stamp = created();
		let chunk = |text: &str, finish: Option<&str>, usage: Option<Value>| {
			let mut v = json!({
				"id": id, "object": kind.object(true), "created": stamp, "model": model,
				"choices": [kind.choice(text, finish, true)],
			});
			if let (Some(u), Some(map)) = (usage, v.as_object_mut()) {
				map.insert("usage".into(), u);
			}
			v
		};
		if matches!(kind, Kind::Chat) {
			let mut first = chunk("", None, None);
			first["choices"][0]["delta"] = json!({"role": "assistant", "content": ""});
			let _ = tx.send(event(first));
		}
		let sent = tx.clone();
		let result = g.generate(prompt, &params, |text| {
			let _ = sent.send(event(chunk(text, None, None)));
		});
		match result.await {
			Ok(done) => {
				let _ = tx.send(event(chunk("", Some(done.finish_reason), Some(usage(&done)))));
			},
			Err(refusal) => {
				let (message, kind) = match refusal {
					Refusal::Bad(m) => (m, "invalid_request_error"),
					Refusal::Quota(m) => (m, "insufficient_quota"),
					Refusal::Failed(m) => (m, "server_error"),
				};
				let _ = tx.send(event(json!({"error": {"message": message, "type": kind}})));
			},
		}
		let _ = tx.send("data: [DONE]\n\n".to_string());
	});
	let stream = futures_util::stream::unfold(rx, |mut rx| async move {
		rx.recv().await.map(|item| (Ok::<_, std::convert::Infallible>(item), rx))
	});
	Response::builder()
		.header(header::CONTENT_TYPE, "text/event-stream")
		.header(header::CACHE_CONTROL, "no-cache")
		.body(Body::from_stream(stream))
		.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
	use super::*;

	fn msg(role: &str, content: &str) -> ChatMessage {
		ChatMessage { role: role.into(), content: Value::String(content.into()) }
	}

	#[test]
	fn a_lone_user_message_is_infers_chat_prompt_and_turns_stay_in_order() {
		assert_eq!(chat_prompt(&[msg("user", "hi")]).unwrap(), chatml_prompt(None, "hi"));
		assert_eq!(
			chat_prompt(&[msg("system", "be brief"), msg("user", "hi")]).unwrap(),
			chatml_prompt(Some("be brief"), "hi")
		);
		let long =
			chat_prompt(&[msg("user", "a"), msg("assistant", "b"), msg("user", "c")]).unwrap();
		assert!(long.ends_with("<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nb<|im_end|>\n<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n"), "{long}");
		assert!(long.starts_with("<|im_start|>system\n"));
		assert!(chat_prompt(&[]).is_err());
		assert!(chat_prompt(&[msg("tool", "x")]).is_err());
		let parts = Value::Array(vec![
			json!({"type": "text", "text": "he"}),
			json!({"type": "text", "text": "llo"}),
		]);
		assert_eq!(content_text(&parts).as_deref(), Some("hello"));
	}
}
