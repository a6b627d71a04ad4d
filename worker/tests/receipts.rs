//! Inference receipts over real HTTP on loopback, with tiny generated models: every step's
//! receipt arrives, checks and is kept by the client; the node keeps each step's input and
//! receipt and serves them read-only; replaying the kept inputs reproduces every layer's hash
//! exactly, and a changed input is caught at the first layer. A node that tampers with its
//! output, signs with another key or sends no receipt is refused and routed around.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::{
	path::PathBuf,
	sync::{
		atomic::{AtomicUsize, Ordering},
		Arc,
	},
	time::Duration,
};

use appchain_llm_engine::{
	generate_local,
	tiny::{write_safetensors, TinySpec},
	wire, ClientHead, Decoder, LayerShard, Sampler, Sampling, WeightFile,
};
use appchain_primitives::receipt::{activation_hash, first_divergent_layer};
use appchain_worker::{
	node_api::{
		client::{http_client, Hop, HopError, ReceiptCheck},
		server::{ActivationServer, ServerLimits},
		ApiErrorBody, ApiErrorCode, RECEIPT_HEADER,
	},
	pipeline::{FixedPlanner, HopReceipt, Pipeline, PlannedHop, ReceiptPolicy},
	proofs::{
		replay::{check_input, fetch_inputs, fetch_receipts, replay_step, verify_step, Verdict},
		ReceiptRefusal, ReceiptSigner, ReceiptStore, SignedReceipt,
	},
	shutdown::Shutdown,
};
use axum::{body::Body, extract::State, response::Response, Router};
use sp_arithmetic::Perbill;
use subxt_signer::sr25519::Keypair;

const MODEL: u32 = 7;
const GENESIS: [u8; 32] = [0x17; 32];
const HIDDEN: u32 = 64;

fn key(suri: &str) -> Keypair {
	appchain_worker::keys::keypair_from_suri(suri).unwrap()
}

fn scratch(name: &str) -> PathBuf {
	let dir = std::env::temp_dir().join(format!("worker-receipts-{}-{name}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	dir
}

fn tiny(name: &str) -> WeightFile {
	let dir = scratch(&format!("model-{name}"));
	write_safetensors(&dir, &TinySpec::default()).unwrap();
	WeightFile::open(&dir).unwrap()
}

struct Served {
	endpoint: String,
	stop: Shutdown,
	server: ActivationServer,
}

/// Node `node` serving `layers`: signs with `signer` (if any) and keeps its receipts in
/// `store` (if any).
async fn serve(
	file: &WeightFile,
	node: u64,
	layers: (u32, u32),
	signer: Option<Keypair>,
	store: Option<ReceiptStore>,
) -> Served {
	let shard = Arc::new(LayerShard::load(file, layers.0, layers.1, 512).unwrap());
	let server = ActivationServer::new(shard, MODEL, "00".into(), ServerLimits::default());
	if let Some(keypair) = signer {
		let mut signer = ReceiptSigner::new(node, GENESIS, keypair);
		if let Some(store) = store {
			signer = signer.keep_in(store);
		}
		server.sign_receipts(signer);
	}
	let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
	let endpoint = format!("http://{}", listener.local_addr().unwrap());
	let stop = Shutdown::new();
	tokio::spawn(server.clone().serve(listener, stop.clone()));
	Served { endpoint, stop, server }
}

fn hop(node: u64, owner: &Keypair, endpoint: &str, layers: (u32, u32), cost_ms: u32) -> PlannedHop {
	PlannedHop {
		node,
		owner: owner.public_key().0,
		endpoint: endpoint.to_string(),
		layers,
		price: 1,
		cost_ms,
	}
}

fn greedy() -> Sampler {
	Sampler::new(Sampling::Greedy).unwrap()
}

/// A proxy in front of `upstream` that, from the `after`-th forward answer on, adds one ULP to
/// the last value of the output (and passes everything else, the receipt header included,
/// unchanged): a node that returns other activations than it signed for.
#[derive(Clone)]
struct Tamper {
	upstream: String,
	http: reqwest::Client,
	forwards: Arc<AtomicUsize>,
	after: usize,
}

async fn tamper(State(t): State<Tamper>, request: axum::extract::Request) -> Response {
	let (parts, body) = request.into_parts();
	let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
	let path = parts.uri.path().to_string();
	let answer = t
		.http
		.request(parts.method, format!("{}{path}", t.upstream))
		.body(body.to_vec())
		.send()
		.await
		.unwrap();
	let status = answer.status();
	let headers = answer.headers().clone();
	let mut bytes = answer.bytes().await.unwrap().to_vec();
	if path.ends_with("/forward")
		&& status.is_success()
		&& t.forwards.fetch_add(1, Ordering::SeqCst) >= t.after
	{
		let at = bytes.len() - 4;
		let value = f32::from_le_bytes(bytes[at..].try_into().unwrap());
		bytes[at..].copy_from_slice(&f32::from_bits(value.to_bits() + 1).to_le_bytes());
	}
	let mut response = Response::builder().status(status.as_u16());
	for (name, value) in &headers {
		if name != "content-length" && name != "transfer-encoding" {
			response = response.header(name, value);
		}
	}
	response.body(Body::from(bytes)).unwrap()
}

async fn tampering_proxy(upstream: &str, after: usize) -> String {
	let state = Tamper {
		upstream: upstream.to_string(),
		http: http_client(Duration::from_secs(10)),
		forwards: Arc::new(AtomicUsize::new(0)),
		after,
	};
	let app = Router::new().fallback(tamper).with_state(state);
	let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
	let endpoint = format!("http://{}", listener.local_addr().unwrap());
	tokio::spawn(async move { axum::serve(listener, app).await });
	endpoint
}

async fn api_error(http: &reqwest::Client, url: String) -> (u16, ApiErrorCode) {
	let r = http.get(url).send().await.unwrap();
	let status = r.status().as_u16();
	let body: ApiErrorBody = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
	(status, body.error.code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_arrive_check_are_kept_and_replay_to_the_same_layer_hashes() {
	let file = tiny("kept");
	let head = ClientHead::load(&file).unwrap();
	let alice = key("//Alice");
	let base = scratch("kept-stores");
	let ranges = [(0u32, 2u32), (2, 4), (4, 6)];
	let mut served = Vec::new();
	for (i, r) in ranges.iter().enumerate() {
		let store = ReceiptStore::for_node(&base, &GENESIS, i as u64);
		served.push(serve(&file, i as u64, *r, Some(alice.clone()), Some(store)).await);
	}
	let nodes: Vec<PlannedHop> = ranges
		.iter()
		.zip(&served)
		.enumerate()
		.map(|(i, (r, s))| hop(i as u64, &alice, &s.endpoint, *r, 10))
		.collect();
	let planner = FixedPlanner { nodes, layers: 6, alpha: Perbill::zero() };
	let http = http_client(Duration::from_secs(10));
	let mut pipeline =
		Pipeline::start(planner, http.clone(), MODEL, &head, ReceiptPolicy::required(GENESIS))
			.await
			.unwrap();
	let prompt = vec![3u32, 1, 4, 1, 5];
	let steps = 8;
	let mut decoder = Decoder::new(&head, prompt.clone(), steps, greedy(), vec![]).unwrap();
	let remote = pipeline.generate(&mut decoder, |_| {}).await.unwrap();
	let whole = LayerShard::load(&file, 0, 6, 512).unwrap();
	let local = generate_local(&head, &[&whole], prompt.clone(), steps, greedy(), vec![]).unwrap();
	assert_eq!(remote, local, "checking receipts changes nothing in the text");

	// One checked receipt per hop per step, each node's numbered from 0 in its session.
	let kept: Vec<HopReceipt> = pipeline.receipts().to_vec();
	assert_eq!(kept.len(), 3 * steps);
	pipeline.close().await;
	assert!(served.iter().all(|s| s.server.session_count() == 0), "sessions closed");
	for (i, (s, layers)) in served.iter().zip(ranges).enumerate() {
		let mine: Vec<SignedReceipt> = kept
			.iter()
			.filter(|r| r.signed.receipt.node == i as u64)
			.map(|r| r.signed.clone())
			.collect();
		assert_eq!(mine.len(), steps);
		for (step, r) in mine.iter().enumerate() {
			let receipt = &r.receipt;
			assert_eq!(receipt.step as usize, step);
			assert_eq!((receipt.start, receipt.end), layers);
			assert_eq!(receipt.tokens, if step == 0 { prompt.len() as u32 } else { 1 });
			assert_eq!(r.layer_hashes.len(), 2);
			assert!(r.is_signed_by(&alice.public_key().0, &GENESIS));
		}
		// The node kept the same receipts after the session closed, and serves them.
		let session = mine[0].receipt.session;
		let from_node = fetch_receipts(&http, &s.endpoint, &session).await.unwrap();
		assert_eq!(from_node, mine, "node {i} kept what the client kept");
		// Its kept inputs replayed on a fresh cache reproduce every step's layer hashes.
		let inputs = fetch_inputs(&http, &s.endpoint, &from_node).await.unwrap();
		assert_eq!(inputs.len(), steps);
		let shard = LayerShard::load(&file, layers.0, layers.1, 512).unwrap();
		for n in 0..steps {
			let replayed = replay_step(&shard, &inputs[..=n]).unwrap();
			assert_eq!(replayed, from_node[n].layer_hashes, "node {i} step {n}");
			assert_eq!(verify_step(&shard, &inputs[..=n], &from_node[n]).unwrap(), Verdict::Agrees);
		}
		// The receipts file of `infer --receipts` (JSON lines) reads back.
		let line = serde_json::to_string(&kept[i]).unwrap();
		assert!(line.contains("\"endpoint\"") && line.contains("\"layerHashes\""), "{line}");
		assert_eq!(serde_json::from_str::<HopReceipt>(&line).unwrap(), kept[i]);
	}

	// `infer --receipts FILE`: one JSON receipt per line, every pass.
	let file_path = base.join("receipts.jsonl");
	appchain_worker::cmd::infer::write_receipts(&file_path, &kept).unwrap();
	let lines: Vec<HopReceipt> = std::fs::read_to_string(&file_path)
		.unwrap()
		.lines()
		.map(|l| serde_json::from_str(l).unwrap())
		.collect();
	assert_eq!(lines, kept);

	// The proofs API's typed errors.
	let s = &served[0];
	let session = kept[0].signed.receipt.session;
	let url = |tail: String| format!("{}/v1/proofs/sessions/{tail}", s.endpoint);
	let hexed = hex::encode(session);
	assert_eq!(
		api_error(&http, url(format!("{}/receipts", hex::encode([0u8; 16])))).await,
		(404, ApiErrorCode::UnknownReceipts)
	);
	assert_eq!(
		api_error(&http, url("xyz/receipts".into())).await,
		(404, ApiErrorCode::UnknownReceipts)
	);
	assert_eq!(
		api_error(&http, url(format!("{hexed}/inputs/{steps}"))).await,
		(404, ApiErrorCode::UnknownStep)
	);
	assert_eq!(
		api_error(&http, url(format!("{hexed}/inputs/first"))).await,
		(404, ApiErrorCode::UnknownStep)
	);
	let r = http.get(url(format!("{hexed}/inputs/0"))).send().await.unwrap();
	assert_eq!(r.headers()["content-type"], "application/octet-stream");
	let (header, values) = wire::decode(&r.bytes().await.unwrap()).unwrap();
	assert_eq!((header.position, header.tokens), (0, prompt.len() as u32));
	assert_eq!(activation_hash(header.tokens, HIDDEN, &values), kept[0].signed.receipt.input_hash);

	// A node without a store keeps nothing: its receipts are unknown.
	let bare = serve(&file, 9, (0, 2), Some(alice.clone()), None).await;
	assert_eq!(
		api_error(&http, format!("{}/v1/proofs/sessions/{hexed}/receipts", bare.endpoint)).await,
		(404, ApiErrorCode::UnknownReceipts)
	);
	let _ = std::fs::remove_dir_all(&base);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_with_one_input_changed_diverges_from_the_first_layer() {
	let file = tiny("diverge");
	let head = ClientHead::load(&file).unwrap();
	let alice = key("//Alice");
	let base = scratch("diverge-store");
	let store = ReceiptStore::for_node(&base, &GENESIS, 0);
	let s = serve(&file, 0, (0, 3), Some(alice.clone()), Some(store)).await;
	let rest = serve(&file, 1, (3, 6), Some(alice.clone()), None).await;
	let nodes =
		vec![hop(0, &alice, &s.endpoint, (0, 3), 10), hop(1, &alice, &rest.endpoint, (3, 6), 10)];
	let planner = FixedPlanner { nodes, layers: 6, alpha: Perbill::zero() };
	let http = http_client(Duration::from_secs(10));
	let mut pipeline =
		Pipeline::start(planner, http.clone(), MODEL, &head, ReceiptPolicy::required(GENESIS))
			.await
			.unwrap();
	let mut decoder = Decoder::new(&head, vec![7, 8, 9], 6, greedy(), vec![]).unwrap();
	pipeline.generate(&mut decoder, |_| {}).await.unwrap();
	let session = pipeline.receipts()[0].signed.receipt.session;
	pipeline.close().await;
	let receipts = fetch_receipts(&http, &s.endpoint, &session).await.unwrap();
	let inputs = fetch_inputs(&http, &s.endpoint, &receipts).await.unwrap();
	let shard = LayerShard::load(&file, 0, 3, 512).unwrap();
	let n = 4;
	let honest = replay_step(&shard, &inputs[..=n]).unwrap();
	assert_eq!(honest, receipts[n].layer_hashes);

	// Step n's input nudged by one ULP: another output, and the first layer already differs.
	let mut changed = inputs[..=n].to_vec();
	let v = &mut changed[n].1[5];
	*v = f32::from_bits(v.to_bits() + 1);
	let cheat = replay_step(&shard, &changed).unwrap();
	assert_ne!(cheat.last(), honest.last(), "another output hash");
	assert_eq!(first_divergent_layer(0, &honest, &cheat), Some(0));
	assert_eq!(
		verify_step(&shard, &changed, &receipts[n]).unwrap(),
		Verdict::Diverges { layer: 0, ours: cheat }
	);
	// An earlier step changed: step n differs too (through the cache), from layer 0 on.
	let mut earlier = inputs[..=n].to_vec();
	let v = &mut earlier[1].1[0];
	*v = f32::from_bits(v.to_bits() + 1);
	let through_cache = replay_step(&shard, &earlier).unwrap();
	assert_eq!(first_divergent_layer(0, &honest, &through_cache), Some(0));
	// The node cannot hand a verifier another input than it signed for.
	let frame = wire::encode(
		&wire::FrameHeader {
			model: MODEL,
			layers: (0, 3),
			session,
			position: receipts[n].receipt.position,
			tokens: 1,
			hidden: HIDDEN,
		},
		&changed[n].1,
	);
	assert!(check_input(&receipts[n], &frame).is_err());
	assert!(check_input(&receipts[n - 1], &frame).is_err(), "another step's receipt");
	let _ = std::fs::remove_dir_all(&base);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_tampers_with_its_output_is_refused_and_routed_around() {
	let file = tiny("tamper");
	let head = ClientHead::load(&file).unwrap();
	let alice = key("//Alice");
	let a = serve(&file, 1, (0, 2), Some(alice.clone()), None).await;
	let b = serve(&file, 2, (2, 4), Some(alice.clone()), None).await;
	let b2 = serve(&file, 3, (2, 4), Some(alice.clone()), None).await;
	let c = serve(&file, 4, (4, 6), Some(alice.clone()), None).await;
	// Node 2 (cheaper, so routed first) goes through a proxy that changes its 6th answer on.
	let proxied = tampering_proxy(&b.endpoint, 5).await;

	// One hop alone: the sixth step's receipt does not describe the output received.
	let hidden = HIDDEN;
	let hop_alone =
		Hop::open(http_client(Duration::from_secs(10)), &proxied, MODEL, (2, 4), hidden)
			.await
			.unwrap()
			.with_receipts(ReceiptCheck {
				node: 2,
				owner: alice.public_key().0,
				genesis: GENESIS,
				require: true,
			});
	// One token per step: step `n` is at position `n`.
	for step in 0..6u32 {
		let x = head.embed(&[10 + step]).unwrap();
		let result = hop_alone.forward(step as usize, &x, None).await;
		if step < 5 {
			let (_, receipt) = result.unwrap();
			assert_eq!(receipt.unwrap().receipt.step, step);
		} else {
			assert!(
				matches!(
					result,
					Err(HopError::BadReceipt { reason: ReceiptRefusal::OutputHash, .. })
				),
				"{result:?}"
			);
		}
	}
	hop_alone.close().await;

	let nodes = vec![
		hop(1, &alice, &a.endpoint, (0, 2), 10),
		hop(2, &alice, &tampering_proxy(&b.endpoint, 5).await, (2, 4), 10),
		hop(3, &alice, &b2.endpoint, (2, 4), 50),
		hop(4, &alice, &c.endpoint, (4, 6), 10),
	];
	let prompt = vec![11u32, 22, 33];
	let whole = LayerShard::load(&file, 0, 6, 512).unwrap();
	let local = generate_local(&head, &[&whole], prompt.clone(), 16, greedy(), vec![]).unwrap();
	let planner = FixedPlanner { nodes, layers: 6, alpha: Perbill::zero() };
	let mut pipeline = Pipeline::start(
		planner,
		http_client(Duration::from_secs(10)),
		MODEL,
		&head,
		ReceiptPolicy::required(GENESIS),
	)
	.await
	.unwrap();
	let mut decoder = Decoder::new(&head, prompt, 16, greedy(), vec![]).unwrap();
	let remote = pipeline.generate(&mut decoder, |_| {}).await.unwrap();
	assert_eq!(remote, local, "the tampered output was never used");
	let failovers = pipeline.failovers();
	assert_eq!(failovers.len(), 1);
	assert_eq!(failovers[0].failed, 2);
	assert!(failovers[0].reason.contains("bad receipt"), "{}", failovers[0].reason);
	assert_eq!(failovers[0].route, vec![1, 3, 4]);
	let from_cheat = pipeline.receipts().iter().filter(|r| r.signed.receipt.node == 2).count();
	assert_eq!(from_cheat, 5, "only the cheater's honest steps are kept");
	pipeline.close().await;
	for s in [&a, &b, &b2, &c] {
		s.stop.trigger();
	}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_signed_with_another_key_or_none_is_refused() {
	let file = tiny("keys");
	let head = ClientHead::load(&file).unwrap();
	let (alice, bob) = (key("//Alice"), key("//Bob"));
	// Node 1 claims to be Alice's but signs with Bob's key; node 2 signs nothing.
	let wrong = serve(&file, 1, (0, 6), Some(bob.clone()), None).await;
	let unsigned = serve(&file, 2, (0, 6), None, None).await;
	let honest = serve(&file, 3, (0, 6), Some(alice.clone()), None).await;
	let http = http_client(Duration::from_secs(10));
	let x = head.embed(&[1, 2]).unwrap();
	let check =
		|node| ReceiptCheck { node, owner: alice.public_key().0, genesis: GENESIS, require: true };
	let open = |endpoint: String| {
		let http = http.clone();
		async move { Hop::open(http, &endpoint, MODEL, (0, 6), HIDDEN).await.unwrap() }
	};

	let h = open(wrong.endpoint.clone()).await.with_receipts(check(1));
	let result = h.forward(0, &x, None).await;
	assert!(
		matches!(result, Err(HopError::BadReceipt { reason: ReceiptRefusal::Signature, .. })),
		"{result:?}"
	);
	// Bob's receipt for another chain or node is refused for what it is.
	let h = open(wrong.endpoint.clone())
		.await
		.with_receipts(ReceiptCheck { owner: bob.public_key().0, ..check(5) });
	let result = h.forward(0, &x, None).await;
	assert!(
		matches!(
			result,
			Err(HopError::BadReceipt { reason: ReceiptRefusal::Field { field: "node", .. }, .. })
		),
		"{result:?}"
	);

	let h = open(unsigned.endpoint.clone()).await.with_receipts(check(2));
	let result = h.forward(0, &x, None).await;
	assert!(
		matches!(result, Err(HopError::BadReceipt { reason: ReceiptRefusal::Missing, .. })),
		"{result:?}"
	);
	let r = http
		.post(format!("{}/v1/sessions/{}/forward", unsigned.endpoint, hex::encode(h.session())))
		.body(wire::encode(
			&wire::FrameHeader {
				model: MODEL,
				layers: (0, 6),
				session: h.session(),
				position: 2,
				tokens: 1,
				hidden: HIDDEN,
			},
			&head.embed(&[3]).unwrap(),
		))
		.send()
		.await
		.unwrap();
	assert_eq!(r.status().as_u16(), 200);
	assert!(r.headers().get(RECEIPT_HEADER).is_none(), "a server without a signer sends no header");
	// Allowed for old nodes: no receipt, no error.
	let h = open(unsigned.endpoint.clone())
		.await
		.with_receipts(ReceiptCheck { require: false, ..check(2) });
	let (_, receipt) = h.forward(0, &x, None).await.unwrap();
	assert!(receipt.is_none());

	// The pipeline routes around both (cheapest first) to the honest node.
	let nodes = vec![
		hop(1, &alice, &wrong.endpoint, (0, 6), 1),
		hop(2, &alice, &unsigned.endpoint, (0, 6), 2),
		hop(3, &alice, &honest.endpoint, (0, 6), 3),
	];
	let planner = FixedPlanner { nodes, layers: 6, alpha: Perbill::zero() };
	let mut pipeline =
		Pipeline::start(planner, http.clone(), MODEL, &head, ReceiptPolicy::required(GENESIS))
			.await
			.unwrap();
	let mut decoder = Decoder::new(&head, vec![5, 6], 4, greedy(), vec![]).unwrap();
	pipeline.generate(&mut decoder, |_| {}).await.unwrap();
	let failed: Vec<u64> = pipeline.failovers().iter().map(|f| f.failed).collect();
	assert_eq!(failed, vec![1, 2]);
	assert_eq!(pipeline.route().iter().map(|h| h.node).collect::<Vec<_>>(), vec![3]);
	assert!(pipeline.receipts().iter().all(|r| r.signed.receipt.node == 3));
	pipeline.close().await;
}
