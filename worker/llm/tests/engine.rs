//! The engine against itself (layouts, splits, caches, bad input) on tiny generated models,
//! and against an independent numpy reference on the real model.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use appchain_llm_engine::{
	digest, generate_local,
	tiny::{write_gguf, write_safetensors, TinySpec},
	ClientHead, EngineError, LayerShard, Precision, Sampler, Sampling, TextTokenizer, WeightFile,
};
use candle_core::quantized::GgmlDType;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
	let dir = std::env::temp_dir().join(format!("llm-engine-{}-{name}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).unwrap();
	dir
}

fn tiny_pair(name: &str, spec: &TinySpec) -> (WeightFile, WeightFile) {
	let dir = scratch(name);
	write_safetensors(&dir.join("hf"), spec).unwrap();
	write_gguf(&dir.join("tiny.gguf"), spec, GgmlDType::F32).unwrap();
	(WeightFile::open(&dir.join("hf")).unwrap(), WeightFile::open(&dir.join("tiny.gguf")).unwrap())
}

/// Logits after pushing `tokens` through every layer of `file` in one step.
fn logits(file: &WeightFile, tokens: &[u32]) -> Vec<f32> {
	logits_with(file, tokens, Precision::Native)
}

fn logits_with(file: &WeightFile, tokens: &[u32], p: Precision) -> Vec<f32> {
	let head = ClientHead::load_with(file, p).unwrap();
	let shard = LayerShard::load_with(file, 0, file.config().layers, 512, p).unwrap();
	let mut s = shard.new_session();
	let out = shard.forward(&mut s, 0, &head.embed(tokens).unwrap()).unwrap();
	head.logits(&out).unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
	assert_eq!(a.len(), b.len());
	a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn tiny_gguf_and_safetensors_files_are_one_model() {
	let (hf, gguf) = tiny_pair("layouts", &TinySpec::default());
	assert_eq!(hf.config().rope, appchain_llm_engine::RopeLayout::HalfSplit);
	assert_eq!(gguf.config().rope, appchain_llm_engine::RopeLayout::Interleaved);
	let tokens = [3, 141, 59, 26, 53, 58, 97, 93, 23, 84];
	let (a, b) = (logits(&hf, &tokens), logits(&gguf, &tokens));
	let d = max_abs_diff(&a, &b);
	assert!(d < 1e-4, "half-split RoPE on HF rows equals interleaved RoPE on permuted rows: {d}");
	// A swapped layout is a different model: the check above has teeth.
	let spread = a.iter().fold(0.0f32, |m, x| m.max(x.abs()));
	assert!(spread > 0.5, "logits are not degenerate: {spread}");
}

#[test]
fn split_shards_compute_bit_for_bit_what_one_shard_computes() {
	let (hf, gguf) = tiny_pair("split", &TinySpec::default());
	for file in [&hf, &gguf] {
		let head = ClientHead::load(file).unwrap();
		let whole = LayerShard::load(file, 0, 6, 512).unwrap();
		let parts =
			[(0, 2), (2, 5), (5, 6)].map(|(a, b)| LayerShard::load(file, a, b, 512).unwrap());
		let prompts: [&[u32]; 3] = [&[1, 2, 3, 4, 5], &[200, 17], &[9; 12]];
		for prompt in prompts {
			let one = generate_local(
				&head,
				&[&whole],
				prompt.to_vec(),
				24,
				Sampler::new(Sampling::Greedy).unwrap(),
				vec![],
			)
			.unwrap();
			let three = generate_local(
				&head,
				&parts.each_ref().map(|p| p),
				prompt.to_vec(),
				24,
				Sampler::new(Sampling::Greedy).unwrap(),
				vec![],
			)
			.unwrap();
			assert_eq!(one.len(), 24);
			assert_eq!(one, three, "the same tokens whether the layers run on one node or three");
		}
		// The activations themselves are bit-identical at the last layer.
		let x = head.embed(&[5, 6, 7]).unwrap();
		let mut s = whole.new_session();
		let a = whole.forward(&mut s, 0, &x).unwrap();
		let mut y = x;
		for p in &parts {
			y = p.forward(&mut p.new_session(), 0, &y).unwrap();
		}
		assert_eq!(
			a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
			y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
		);
	}
}

#[test]
fn token_by_token_decoding_matches_one_prefill() {
	let (hf, gguf) = tiny_pair("cache", &TinySpec::default());
	for file in [&hf, &gguf] {
		let head = ClientHead::load(file).unwrap();
		let shard = LayerShard::load(file, 0, 6, 512).unwrap();
		let tokens = [10u32, 20, 30, 40, 50, 60, 70];
		let mut inc = shard.new_session();
		let mut out = Vec::new();
		for (i, t) in tokens.iter().enumerate() {
			out = shard.forward(&mut inc, i, &head.embed(&[*t]).unwrap()).unwrap();
		}
		assert_eq!(inc.len(), tokens.len());
		let a = head.logits(&out).unwrap();
		let b = logits(file, &tokens);
		let d = max_abs_diff(&a, &b);
		assert!(d < 1e-4, "the KV cache gives the logits of a full recomputation: {d}");
	}
}

#[test]
fn bad_steps_are_refused_and_leave_the_session_as_it_was() {
	let (hf, _) = tiny_pair("bad", &TinySpec::default());
	let head = ClientHead::load(&hf).unwrap();
	let shard = LayerShard::load(&hf, 1, 4, 8).unwrap();
	let x = head.embed(&[1, 2, 3]).unwrap();
	let mut s = shard.new_session();
	shard.forward(&mut s, 0, &x).unwrap();
	let before = s.len();
	assert!(matches!(
		shard.forward(&mut s, 5, &x),
		Err(EngineError::PositionGap { expected: 3, got: 5 })
	));
	assert!(matches!(shard.forward(&mut s, 3, &x[..10]), Err(EngineError::BadActivations { .. })));
	assert!(matches!(shard.forward(&mut s, 3, &[]), Err(EngineError::BadActivations { .. })));
	let six = head.embed(&[1, 2, 3, 4, 5, 6]).unwrap();
	assert!(matches!(
		shard.forward(&mut s, 3, &six),
		Err(EngineError::ContextFull { needed: 9, limit: 8 })
	));
	assert_eq!(s.len(), before, "no failed step moved the session");
	// The session goes on exactly as a session that never saw the bad steps.
	let next = head.embed(&[4]).unwrap();
	let a = shard.forward(&mut s, 3, &next).unwrap();
	let mut fresh = shard.new_session();
	shard.forward(&mut fresh, 0, &x).unwrap();
	assert_eq!(a, shard.forward(&mut fresh, 3, &next).unwrap());
	assert!(matches!(head.embed(&[256]), Err(EngineError::BadToken { token: 256, vocab: 256 })));
	for (a, b) in [(0, 0), (4, 2), (0, 7)] {
		assert!(matches!(LayerShard::load(&hf, a, b, 8), Err(EngineError::BadLayerRange { .. })));
	}
}

#[test]
fn the_digest_binds_every_stored_byte_and_the_shape() {
	let dir = scratch("digest");
	let spec = TinySpec::default();
	write_safetensors(&dir, &spec).unwrap();
	let file = WeightFile::open(&dir).unwrap();
	let d = digest::weights_digest(&file).unwrap();
	digest::verify(&file, &d).unwrap();
	assert_eq!(d, digest::weights_digest(&file).unwrap(), "deterministic");
	// Another seed is another model.
	let other = scratch("digest-other");
	write_safetensors(&other, &TinySpec { seed: 2, ..spec.clone() }).unwrap();
	assert_ne!(d, digest::weights_digest(&WeightFile::open(&other).unwrap()).unwrap());
	// Flip one bit of the last stored value: refused with both digests in the error.
	let path = dir.join("model.safetensors");
	let mut bytes = std::fs::read(&path).unwrap();
	let last = bytes.len() - 1;
	bytes[last] ^= 1;
	std::fs::write(&path, &bytes).unwrap();
	let tampered = WeightFile::open(&dir).unwrap();
	match digest::verify(&tampered, &d) {
		Err(EngineError::DigestMismatch { expected, actual }) => {
			assert_eq!(expected, digest::hex(&d));
			assert_ne!(expected, actual);
		},
		other => panic!("expected a digest mismatch, got {other:?}"),
	}
}

#[test]
fn malformed_files_are_refused_with_a_clear_error() {
	let dir = scratch("malformed");
	std::fs::write(dir.join("junk.gguf"), b"not a gguf file at all").unwrap();
	assert!(matches!(WeightFile::open(&dir.join("junk.gguf")), Err(EngineError::Malformed(_))));
	assert!(matches!(WeightFile::open(&dir.join("missing.gguf")), Err(EngineError::Io { .. })));
	assert!(matches!(WeightFile::open(&dir.join("model.bin")), Err(EngineError::Unsupported(_))));
	write_safetensors(&dir.join("hf"), &TinySpec::default()).unwrap();
	std::fs::write(dir.join("hf/model.safetensors"), [200u8, 0, 0, 0, 0, 0, 0, 0, b'{']).unwrap();
	assert!(matches!(WeightFile::open(&dir.join("hf")), Err(EngineError::Malformed(_))));
}

// ---- the real model (scripts/fetch-model.sh puts it and the reference venv in place)

fn models_dir() -> PathBuf {
	std::env::var_os("APPCHAIN_MODELS").map(PathBuf::from).unwrap_or_else(|| {
		PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/appchain-models")
	})
}

fn real_model() -> PathBuf {
	let path = models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf");
	assert!(path.exists(), "{} is missing: run scripts/fetch-model.sh", path.display());
	path
}

fn reference(args: &[String]) -> String {
	let python = models_dir().join("pyref/bin/python");
	let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference.py");
	let out = std::process::Command::new(python).arg(script).args(args).output().unwrap();
	assert!(out.status.success(), "reference.py failed: {}", String::from_utf8_lossy(&out.stderr));
	String::from_utf8(out.stdout).unwrap()
}

#[test]
fn real_model_digest_and_logits_match_the_numpy_reference() {
	let path = real_model();
	let file = WeightFile::open(&path).unwrap();
	let c = file.config();
	assert_eq!((c.layers, c.hidden, c.heads, c.kv_heads, c.vocab), (30, 576, 9, 3, 49152));
	let ours = digest::hex(&digest::weights_digest(&file).unwrap());
	let theirs = reference(&[path.display().to_string(), "digest".into()]);
	assert_eq!(ours, theirs.trim(), "the digest definition reproduced independently");

	let tok = TextTokenizer::from_model(&file).unwrap();
	let tokens = tok.encode(&appchain_llm_engine::chatml_prompt(None, "What is 2+2?")).unwrap();
	let mut args = vec![path.display().to_string(), "logits".into()];
	args.extend(tokens.iter().map(|t| t.to_string()));
	let reference: Vec<f32> = serde_json::from_str(&reference(&args)).unwrap();
	let compare = |ours: &[f32]| {
		let d = max_abs_diff(ours, &reference);
		let dot: f64 =
			ours.iter().zip(&reference).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
		let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
		(d, dot / (norm(ours) * norm(&reference)))
	};
	// Exact arithmetic (weights dequantized to f32): the math is the reference's.
	let exact = logits_with(&file, &tokens, Precision::F32);
	let (d, cos) = compare(&exact);
	println!(
		"{} tokens, f32 weights: max |logit - reference| = {d:.6}, cosine = {cos:.8}",
		tokens.len()
	);
	assert!(d < 2e-3, "f32 path: max abs diff {d}");
	// The served path: Q4_1 weights times activations rounded to Q8_1 per 32 values, as in
	// llama.cpp; the reference keeps activations exact, so logits move by a few tenths.
	let native = logits(&file, &tokens);
	let (d, cos) = compare(&native);
	println!(
		"{} tokens, native Q4_1: max |logit - reference| = {d:.4}, cosine = {cos:.6}",
		tokens.len()
	);
	assert_eq!(ClientHead::argmax(&native), ClientHead::argmax(&reference), "same next token");
	assert!(cos > 0.9999, "native path: cosine {cos}");
	assert!(d < 1.5, "native path: max abs diff {d}");
}

#[test]
fn real_model_tokenizer_splits_digits_and_keeps_control_tokens_whole() {
	let file = WeightFile::open(&real_model()).unwrap();
	let tok = TextTokenizer::from_model(&file).unwrap();
	let ids = tok.encode("<|im_start|>user\nAdd 12345 and 6<|im_end|>").unwrap();
	assert_eq!(ids.first(), Some(&1), "<|im_start|> is one token");
	assert_eq!(ids.last(), Some(&2), "<|im_end|> is one token");
	let digits: Vec<String> = ids
		.iter()
		.map(|i| tok.decode(&[*i]).unwrap())
		.filter(|s| s.trim().chars().all(|c| c.is_ascii_digit()) && !s.trim().is_empty())
		.collect();
	assert_eq!(digits.iter().map(|s| s.trim()).collect::<Vec<_>>(), ["1", "2", "3", "4", "5", "6"]);
	assert_eq!(tok.decode(&ids).unwrap(), "user\nAdd 12345 and 6");
	assert!(tok.is_stop(2));
}

#[test]
fn real_model_three_shards_generate_what_one_process_generates() {
	let file = WeightFile::open(&real_model()).unwrap();
	let head = ClientHead::load(&file).unwrap();
	let tok = TextTokenizer::from_model(&file).unwrap();
	let whole = LayerShard::load(&file, 0, 30, 256).unwrap();
	let parts =
		[(0, 10), (10, 20), (20, 30)].map(|(a, b)| LayerShard::load(&file, a, b, 256).unwrap());
	for prompt in [
		"What is the capital of France?",
		"Write a haiku about the sea.",
		"List three prime numbers.",
	] {
		let tokens = tok.encode(&appchain_llm_engine::chatml_prompt(None, prompt)).unwrap();
		let greedy = || Sampler::new(Sampling::Greedy).unwrap();
		let one = generate_local(&head, &[&whole], tokens.clone(), 32, greedy(), vec![]).unwrap();
		let three =
			generate_local(&head, &parts.each_ref().map(|p| p), tokens, 32, greedy(), vec![])
				.unwrap();
		println!("{prompt:?} -> {:?}", tok.decode(&one).unwrap());
		assert_eq!(one, three);
	}
}
