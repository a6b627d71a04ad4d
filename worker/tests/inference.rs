//! The activation API and the pipeline over real HTTP on loopback, with tiny generated models:
//! three hops generate what one process generates, a failed hop is replaced without changing
//! the text, and bad requests get typed errors while other sessions carry on. Every node signs
//! its steps' receipts and the pipeline requires and checks them (receipts themselves:
//! `tests/receipts.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::{sync::Arc, time::Duration};

use appchain_llm_engine::{
	generate_local,
	tiny::{write_gguf, write_safetensors, TinySpec},
	wire::{self, FrameHeader},
	ClientHead, Decoder, LayerShard, Sampler, Sampling, WeightFile,
};
use appchain_worker::{
	node_api::{
		client::http_client,
		server::{ActivationServer, ServerLimits},
		ApiErrorBody, ApiErrorCode, SessionOpened,
	},
	pipeline::{FixedPlanner, Pipeline, PlannedHop, ReceiptPolicy},
	proofs::ReceiptSigner,
	shutdown::Shutdown,
	WorkerError,
};
use candle_core::quantized::GgmlDType;
use sp_arithmetic::Perbill;

const MODEL: u32 = 7;
const GENESIS: [u8; 32] = [0x42; 32];

fn owner_key() -> subxt_signer::sr25519::Keypair {
	appchain_worker::keys::keypair_from_suri("//Alice").unwrap()
}

fn policy() -> ReceiptPolicy {
	ReceiptPolicy::required(GENESIS)
}

fn tiny(name: &str, gguf: bool) -> WeightFile {
	let dir = std::env::temp_dir().join(format!("worker-inference-{}-{name}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	let spec = TinySpec::default();
	if gguf {
		std::fs::create_dir_all(&dir).unwrap();
		write_gguf(&dir.join("m.gguf"), &spec, GgmlDType::Q8_0).unwrap();
		WeightFile::open(&dir.join("m.gguf")).unwrap()
	} else {
		write_safetensors(&dir, &spec).unwrap();
		WeightFile::open(&dir).unwrap()
	}
}

struct Served {
	endpoint: String,
	stop: Shutdown,
	server: ActivationServer,
}

/// A node serving `layers`, signing receipts as node `node` (kept nowhere).
async fn serve_as(
	node: u64,
	file: &WeightFile,
	layers: (u32, u32),
	limits: ServerLimits,
) -> Served {
	let shard = Arc::new(LayerShard::load(file, layers.0, layers.1, 512).unwrap());
	let server = ActivationServer::new(shard, MODEL, "00".into(), limits);
	server.sign_receipts(ReceiptSigner::new(node, GENESIS, owner_key()));
	let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
	let endpoint = format!("http://{}", listener.local_addr().unwrap());
	let stop = Shutdown::new();
	tokio::spawn(server.clone().serve(listener, stop.clone()));
	Served { endpoint, stop, server }
}

async fn serve(file: &WeightFile, layers: (u32, u32), limits: ServerLimits) -> Served {
	serve_as(0, file, layers, limits).await
}

fn hop(node: u64, served: &Served, layers: (u32, u32), cost_ms: u32) -> PlannedHop {
	let owner = owner_key().public_key().0;
	PlannedHop { node, owner, endpoint: served.endpoint.clone(), layers, price: 1, cost_ms }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hops_generate_what_one_process_generates() {
	for gguf in [false, true] {
		let file = tiny(if gguf { "three-gguf" } else { "three-st" }, gguf);
		let head = ClientHead::load(&file).unwrap();
		let whole = LayerShard::load(&file, 0, 6, 512).unwrap();
		let ranges = [(0, 2), (2, 4), (4, 6)];
		let mut served = Vec::new();
		for (i, r) in ranges.into_iter().enumerate() {
			served.push(serve_as(i as u64, &file, r, ServerLimits::default()).await);
		}
		let nodes: Vec<PlannedHop> = ranges
			.iter()
			.zip(&served)
			.enumerate()
			.map(|(i, (r, s))| hop(i as u64, s, *r, 10))
			.collect();
		for prompt in [vec![1u32, 2, 3, 4, 5], vec![200, 17], vec![9; 12]] {
			let greedy = || Sampler::new(Sampling::Greedy).unwrap();
			let local =
				generate_local(&head, &[&whole], prompt.clone(), 32, greedy(), vec![]).unwrap();
			let planner = FixedPlanner { nodes: nodes.clone(), layers: 6, alpha: Perbill::zero() };
			let mut pipeline = Pipeline::start(
				planner,
				http_client(Duration::from_secs(10)),
				MODEL,
				&head,
				policy(),
			)
			.await
			.unwrap();
			let mut decoder = Decoder::new(&head, prompt, 32, greedy(), vec![]).unwrap();
			let remote = pipeline.generate(&mut decoder, |_| {}).await.unwrap();
			assert_eq!(
				remote, local,
				"the network generates what one process generates (gguf: {gguf})"
			);
			assert_eq!(
				pipeline.passes.values().map(|p| p.0).sum::<u64>(),
				3 * 32,
				"one pass per hop per step"
			);
			assert_eq!(pipeline.receipts().len(), 3 * 32, "one checked receipt per pass");
			pipeline.close().await;
		}
		assert!(served.iter().all(|s| s.server.session_count() == 0), "closed sessions are gone");
	}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_hop_is_replaced_and_the_text_does_not_change() {
	let file = tiny("failover", false);
	let head = ClientHead::load(&file).unwrap();
	let whole = LayerShard::load(&file, 0, 6, 512).unwrap();
	let a = serve_as(1, &file, (0, 2), ServerLimits::default()).await;
	let b = serve_as(2, &file, (2, 4), ServerLimits::default()).await;
	let b2 = serve_as(3, &file, (2, 4), ServerLimits::default()).await;
	let c = serve_as(4, &file, (4, 6), ServerLimits::default()).await;
	// b is cheaper than b2, so the first route goes through b.
	let nodes = vec![
		hop(1, &a, (0, 2), 10),
		hop(2, &b, (2, 4), 10),
		hop(3, &b2, (2, 4), 50),
		hop(4, &c, (4, 6), 10),
	];
	let prompt = vec![11u32, 22, 33, 44];
	let greedy = || Sampler::new(Sampling::Greedy).unwrap();
	let local = generate_local(&head, &[&whole], prompt.clone(), 32, greedy(), vec![]).unwrap();
	let planner = FixedPlanner { nodes, layers: 6, alpha: Perbill::zero() };
	let mut pipeline =
		Pipeline::start(planner, http_client(Duration::from_secs(10)), MODEL, &head, policy())
			.await
			.unwrap();
	assert_eq!(pipeline.route().iter().map(|h| h.node).collect::<Vec<_>>(), vec![1, 2, 4]);
	let mut decoder = Decoder::new(&head, prompt, 32, greedy(), vec![]).unwrap();
	let mut seen = 0;
	let kill = b.stop.clone();
	let remote = pipeline
		.generate(&mut decoder, |_| {
			seen += 1;
			if seen == 10 {
				kill.trigger(); // the middle node leaves mid-generation
			}
		})
		.await
		.unwrap();
	assert_eq!(remote, local, "the replacement continues the session exactly");
	let failovers = pipeline.failovers();
	assert_eq!(failovers.len(), 1);
	assert_eq!(failovers[0].failed, 2);
	assert_eq!(failovers[0].route, vec![1, 3, 4]);
	assert_eq!(failovers[0].replayed, 10, "the replacement replayed the 10 earlier steps");
	// The replacement did the remaining 22 steps plus 10 replays; the others kept their sessions.
	assert_eq!(pipeline.passes[&3].0, 32);
	assert_eq!(pipeline.passes[&1].0, 32);
	assert_eq!(pipeline.passes[&4].0, 32);
	// The replacement's receipts count its session's steps from 0, replays included.
	let steps = |node: u64| -> Vec<u32> {
		pipeline
			.receipts()
			.iter()
			.filter(|r| r.signed.receipt.node == node)
			.map(|r| r.signed.receipt.step)
			.collect()
	};
	assert_eq!(steps(3), (0..32).collect::<Vec<_>>());
	assert_eq!(steps(2).len(), 10, "the failed node's receipts before it left are kept");
	pipeline.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_node_that_is_gone_is_routed_around_at_the_start() {
	let file = tiny("gone", false);
	let head = ClientHead::load(&file).unwrap();
	let a = serve(&file, (0, 6), ServerLimits::default()).await;
	let gone = serve(&file, (0, 6), ServerLimits::default()).await;
	gone.stop.trigger();
	tokio::time::sleep(Duration::from_millis(200)).await;
	// The gone node is the cheaper one, so the first plan picks it.
	let nodes = vec![hop(1, &gone, (0, 6), 1), hop(2, &a, (0, 6), 10)];
	let planner = FixedPlanner { nodes, layers: 6, alpha: Perbill::zero() };
	let pipeline =
		Pipeline::start(planner, http_client(Duration::from_secs(5)), MODEL, &head, policy())
			.await
			.unwrap();
	assert_eq!(pipeline.route().iter().map(|h| h.node).collect::<Vec<_>>(), vec![2]);
	pipeline.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_that_does_not_cover_the_model_is_refused() {
	let file = tiny("gap", false);
	let head = ClientHead::load(&file).unwrap();
	let a = serve(&file, (0, 2), ServerLimits::default()).await;
	let c = serve(&file, (4, 6), ServerLimits::default()).await;
	let nodes = vec![hop(1, &a, (0, 2), 10), hop(4, &c, (4, 6), 10)];
	let result = Pipeline::start(
		FixedPlanner { nodes, layers: 6, alpha: Perbill::zero() },
		http_client(Duration::from_secs(5)),
		MODEL,
		&head,
		policy(),
	)
	.await;
	assert!(matches!(result, Err(WorkerError::Hop(_))), "no route over a gap");
}

async fn post(http: &reqwest::Client, url: String, body: Vec<u8>) -> (u16, Vec<u8>) {
	let r = http.post(url).body(body).send().await.unwrap();
	(r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

fn code(body: &[u8]) -> ApiErrorCode {
	serde_json::from_slice::<ApiErrorBody>(body)
		.unwrap_or_else(|_| panic!("not a JSON error: {}", String::from_utf8_lossy(body)))
		.error
		.code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_typed_errors_and_other_sessions_carry_on() {
	let file = tiny("bad", false);
	let head = ClientHead::load(&file).unwrap();
	let limits = ServerLimits {
		max_sessions: 2,
		max_context: 16,
		max_step_tokens: 8,
		idle_timeout: Duration::from_millis(400),
		compute_slots: 1,
	};
	let s = serve(&file, (0, 3), limits).await;
	let http = http_client(Duration::from_secs(5));
	let open = || async {
		let r = http.post(format!("{}/v1/sessions", s.endpoint)).send().await.unwrap();
		assert_eq!(r.status().as_u16(), 201);
		let o: SessionOpened = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
		o.session
	};
	let (sa, sb) = (open().await, open().await);
	let full = http.post(format!("{}/v1/sessions", s.endpoint)).send().await.unwrap();
	assert_eq!(full.status().as_u16(), 503);
	assert_eq!(code(&full.bytes().await.unwrap()), ApiErrorCode::TooManySessions);

	let id = |hex: &str| appchain_worker::node_api::parse_session(hex).unwrap();
	let frame = |session: &str, position: u32, tokens: &[u32]| {
		let x = head.embed(tokens).unwrap();
		let h = FrameHeader {
			model: MODEL,
			layers: (0, 3),
			session: id(session),
			position,
			tokens: tokens.len() as u32,
			hidden: 64,
		};
		wire::encode(&h, &x)
	};
	let fwd = |session: &str| format!("{}/v1/sessions/{session}/forward", s.endpoint);

	// A good first step on A.
	let (status, body) = post(&http, fwd(&sa), frame(&sa, 0, &[1, 2, 3])).await;
	assert_eq!(status, 200);
	let (_, first) = wire::decode(&body).unwrap();

	let mut truncated = frame(&sa, 3, &[4]);
	truncated.truncate(truncated.len() - 4);
	let mut nan = frame(&sa, 3, &[4]);
	let at = wire::HEADER_LEN;
	nan[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
	let wrong_layers = {
		let x = head.embed(&[4]).unwrap();
		wire::encode(
			&FrameHeader {
				model: MODEL,
				layers: (0, 2),
				session: id(&sa),
				position: 3,
				tokens: 1,
				hidden: 64,
			},
			&x,
		)
	};
	let wrong_model = {
		let x = head.embed(&[4]).unwrap();
		wire::encode(
			&FrameHeader {
				model: MODEL + 1,
				layers: (0, 3),
				session: id(&sa),
				position: 3,
				tokens: 1,
				hidden: 64,
			},
			&x,
		)
	};
	let cases: Vec<(&str, String, Vec<u8>, u16, ApiErrorCode)> = vec![
		("malformed", fwd(&sa), b"hello".to_vec(), 400, ApiErrorCode::BadFrame),
		("wrong length", fwd(&sa), truncated, 400, ApiErrorCode::BadFrame),
		("not finite", fwd(&sa), nan, 400, ApiErrorCode::BadFrame),
		("other layers", fwd(&sa), wrong_layers, 400, ApiErrorCode::WrongTarget),
		("other model", fwd(&sa), wrong_model, 400, ApiErrorCode::WrongTarget),
		("other session's frame", fwd(&sa), frame(&sb, 3, &[4]), 400, ApiErrorCode::WrongTarget),
		("position gap", fwd(&sa), frame(&sa, 5, &[4]), 409, ApiErrorCode::PositionGap),
		("too many tokens", fwd(&sa), frame(&sa, 3, &[4; 9]), 413, ApiErrorCode::TooLarge),
		(
			"unknown session",
			fwd("00000000000000000000000000000000"),
			frame(&sa, 3, &[4]),
			404,
			ApiErrorCode::UnknownSession,
		),
		("bad session id", fwd("xyz"), frame(&sa, 3, &[4]), 404, ApiErrorCode::UnknownSession),
	];
	for (what, url, body, status, expected) in cases {
		let (got, answer) = post(&http, url, body).await;
		assert_eq!(got, status, "{what}: {}", String::from_utf8_lossy(&answer));
		assert_eq!(code(&answer), expected, "{what}");
	}
	// Context: 3 + 8 = 11 of 16 tokens fit, 8 more do not.
	assert_eq!(post(&http, fwd(&sa), frame(&sa, 3, &[4; 8])).await.0, 200);
	let (got, answer) = post(&http, fwd(&sa), frame(&sa, 11, &[4; 8])).await;
	assert_eq!((got, code(&answer)), (413, ApiErrorCode::ContextFull));

	// A body past the byte limit (8 tokens × 64 values) is refused with the same typed error,
	// not a bare 413. (Small enough to be sent whole before the server answers.)
	let huge = vec![0u8; 8 * 1024];
	let (got, answer) = post(&http, fwd(&sb), huge).await;
	assert_eq!((got, code(&answer)), (413, ApiErrorCode::TooLarge));

	// Session B was never disturbed: its first step equals A's first step.
	let (status, body) = post(&http, fwd(&sb), frame(&sb, 0, &[1, 2, 3])).await;
	assert_eq!(status, 200);
	assert_eq!(wire::decode(&body).unwrap().1, first);

	// Idle sessions are evicted: afterwards both are unknown and slots are free again.
	tokio::time::sleep(Duration::from_millis(1200)).await;
	assert_eq!(s.server.session_count(), 0);
	let (got, answer) = post(&http, fwd(&sb), frame(&sb, 3, &[4])).await;
	assert_eq!((got, code(&answer)), (404, ApiErrorCode::UnknownSession));
	open().await;
	// Closing is idempotent from the client's view: the second close is a typed 404.
	let sc = open().await;
	let del = |id: String| http.delete(format!("{}/v1/sessions/{id}", s.endpoint)).send();
	assert_eq!(del(sc.clone()).await.unwrap().status().as_u16(), 204);
	assert_eq!(del(sc).await.unwrap().status().as_u16(), 404);
}

/// A [`FixedPlanner`] that reports the chain at block `head`.
struct AtHead(FixedPlanner, u32);

impl appchain_worker::pipeline::Planner for AtHead {
	async fn plan(&mut self, exclude: &[u64]) -> Result<Vec<PlannedHop>, WorkerError> {
		self.0.plan(exclude).await
	}

	fn chain_head(&self) -> Option<u32> {
		Some(self.1)
	}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stamping_sessions_far_from_the_chain_head_is_routed_around() {
	let file = tiny("stamps", false);
	let head = ClientHead::load(&file).unwrap();
	let whole = LayerShard::load(&file, 0, 6, 512).unwrap();
	// Node 1 is cheaper but stamps its sessions with block 5 (as if the chain stood still, or to
	// make its work unauditable); node 2 is at the chain's head, block 1000.
	let stale = serve_as(1, &file, (0, 6), ServerLimits::default()).await;
	stale.server.set_best_block(5);
	let current = serve_as(2, &file, (0, 6), ServerLimits::default()).await;
	current.server.set_best_block(1_000 - appchain_worker::pipeline::SESSION_STAMP_SLACK);
	// Node 3 stamps ahead of the chain (a session the chain would not audit yet).
	let ahead = serve_as(3, &file, (0, 6), ServerLimits::default()).await;
	ahead.server.set_best_block(1_000 + appchain_worker::pipeline::SESSION_STAMP_AHEAD + 1);
	let nodes =
		vec![hop(1, &stale, (0, 6), 10), hop(3, &ahead, (0, 6), 20), hop(2, &current, (0, 6), 50)];
	let planner = AtHead(FixedPlanner { nodes, layers: 6, alpha: Perbill::zero() }, 1_000);
	let mut pipeline =
		Pipeline::start(planner, http_client(Duration::from_secs(10)), MODEL, &head, policy())
			.await
			.unwrap();
	assert_eq!(pipeline.route().iter().map(|h| h.node).collect::<Vec<_>>(), vec![2]);
	let prompt = vec![3u32, 1, 4];
	let greedy = || Sampler::new(Sampling::Greedy).unwrap();
	let local = generate_local(&head, &[&whole], prompt.clone(), 8, greedy(), vec![]).unwrap();
	let mut decoder = Decoder::new(&head, prompt, 8, greedy(), vec![]).unwrap();
	let remote = pipeline.generate(&mut decoder, |_| {}).await.unwrap();
	assert_eq!(remote, local);
	// Every receipt kept is of a session stamped within the slack of the head.
	assert!(pipeline.receipts().iter().all(|r| {
		let stamp = appchain_primitives::receipt::session_block(&r.signed.receipt.session);
		(1_000 - appchain_worker::pipeline::SESSION_STAMP_SLACK..=1_000).contains(&stamp)
	}));
	pipeline.close().await;
}
