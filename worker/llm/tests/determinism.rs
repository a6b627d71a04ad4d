//! Bitwise determinism across thread counts: an honest node's per-layer output hashes (what its
//! inference receipts commit to, `appchain_primitives::receipt`) must not depend on how many
//! threads computed them, or a verifier re-running a step on another machine of the same CPU
//! class would call an honest node a cheater.
//!
//! The thread pools are process-wide (`RAYON_NUM_THREADS` for candle's f32 matrix products and
//! our 4-bit kernel, `CANDLE_NUM_THREADS` for candle's quantized kernels), so the test runs
//! itself twice in child processes, with one thread and with two, and compares every hash of
//! every step. Each child generates greedily with the same prompts through:
//! - tiny models: F32 safetensors, F32, Q8_0 and Q4_1 GGUF, and a wider F32 model whose
//!   prompt step is large enough for the matrix products to split across threads;
//! - the real model (SmolLM2-135M-Instruct, Q4_1), when `scripts/fetch-model.sh` has put it in
//!   place;
//!
//! each as two shards (layers `[0, k)` and `[k, n)`, one session each), hashing the output of
//! every layer of every step.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use appchain_llm_engine::{
	tiny::{write_gguf, write_safetensors, TinySpec},
	ClientHead, LayerShard, WeightFile,
};
use candle_core::quantized::GgmlDType;
use std::{
	path::{Path, PathBuf},
	process::Command,
};

/// Set in the children: the thread count they run with.
const CHILD_ENV: &str = "APPCHAIN_DETERMINISM_CHILD";
/// Set in the control child: the step of the first trace whose input is nudged by one ULP.
const NUDGE_ENV: &str = "APPCHAIN_DETERMINISM_NUDGE";

fn hex(bytes: &[u8]) -> String {
	bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Generates `steps` tokens greedily after `prompt` through two shards of `file`, printing one
/// line per step and layer: `<label> <step> <layer> <hash>`. Returns the number of steps.
fn trace(
	label: &str,
	file: &WeightFile,
	prompt: &[u32],
	steps: usize,
	nudge: Option<usize>,
	out: &mut Vec<String>,
) {
	let layers = file.config().layers;
	let split = layers / 2;
	let head = ClientHead::load(file).unwrap();
	let shards = [
		LayerShard::load(file, 0, split, 1024).unwrap(),
		LayerShard::load(file, split, layers, 1024).unwrap(),
	];
	let mut sessions: Vec<_> = shards.iter().map(|s| s.new_session()).collect();
	let mut tokens = prompt.to_vec();
	let mut position = 0;
	for step in 0..=steps {
		let input = if step == 0 {
			head.embed(prompt).unwrap()
		} else {
			head.embed(&tokens[tokens.len() - 1..]).unwrap()
		};
		let mut x = input;
		if nudge == Some(step) {
			x[0] = f32::from_bits(x[0].to_bits() ^ 1);
		}
		let mut layer = 0u32;
		for (shard, session) in shards.iter().zip(&mut sessions) {
			let (y, hashes) = shard.forward_traced(session, position, &x).unwrap();
			for h in hashes {
				out.push(format!("{label} {step} {layer} {}", hex(&h)));
				layer += 1;
			}
			x = y;
		}
		assert_eq!(layer, layers);
		position += if step == 0 { prompt.len() } else { 1 };
		let logits = head.logits(&x).unwrap();
		let next = logits
			.iter()
			.enumerate()
			.max_by(|a, b| a.1.total_cmp(b.1))
			.map(|(i, _)| i as u32)
			.unwrap();
		tokens.push(next);
	}
}

fn scratch() -> PathBuf {
	let dir = std::env::temp_dir().join(format!("llm-determinism-{}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).unwrap();
	dir
}

fn real_model() -> Option<PathBuf> {
	let dir = std::env::var_os("APPCHAIN_MODELS").map(PathBuf::from).unwrap_or_else(|| {
		PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/appchain-models")
	});
	let path = dir.join("SmolLM2-135M-Instruct.Q4_1.gguf");
	path.exists().then_some(path)
}

fn prompt(len: usize, seed: u32, vocab: u32) -> Vec<u32> {
	(0..len as u32).map(|i| (i * 37 + seed * 101 + 11) % vocab).collect()
}

/// The child's work: every trace, one line each, on stdout.
#[test]
#[ignore = "run by `per_layer_hashes_do_not_depend_on_the_thread_count` in a child process"]
fn child_traces() {
	let Ok(threads) = std::env::var(CHILD_ENV) else { return };
	let dir = scratch();
	let mut out = vec![format!("threads {threads} rayon {}", rayon::current_num_threads())];
	let tiny = TinySpec::default();
	let wide = TinySpec { hidden: 256, intermediate: 512, heads: 8, kv_heads: 4, seed: 7, ..tiny };
	write_safetensors(&dir.join("hf"), &tiny).unwrap();
	let files = [
		("safetensors-f32", WeightFile::open(&dir.join("hf")).unwrap()),
		("gguf-f32", gguf(&dir, "f32", &tiny, GgmlDType::F32)),
		("gguf-q8_0", gguf(&dir, "q8", &tiny, GgmlDType::Q8_0)),
		("gguf-q4_1", gguf(&dir, "q4", &tiny, GgmlDType::Q4_1)),
		("wide-f32", gguf(&dir, "wide", &wide, GgmlDType::F32)),
	];
	let nudge = std::env::var(NUDGE_ENV).ok().map(|s| s.parse::<usize>().unwrap());
	for (seed, (label, file)) in files.iter().enumerate() {
		let vocab = file.config().vocab as u32;
		let nudge = if seed == 0 { nudge } else { None };
		// A long prompt step (the threaded matrix products), then single-token steps.
		trace(label, file, &prompt(96, seed as u32, vocab), 200, nudge, &mut out);
	}
	if let Some(path) = real_model() {
		let file = WeightFile::open(&path).unwrap();
		trace("smollm2-q4_1", &file, &prompt(24, 3, 49_152), 120, None, &mut out);
	}
	println!("BEGIN-TRACES");
	for line in out {
		println!("{line}");
	}
	println!("END-TRACES");
	let _ = std::fs::remove_dir_all(&dir);
}

fn gguf(dir: &Path, name: &str, spec: &TinySpec, dtype: GgmlDType) -> WeightFile {
	let path = dir.join(format!("{name}.gguf"));
	write_gguf(&path, spec, dtype).unwrap();
	WeightFile::open(&path).unwrap()
}

fn traces_with(threads: usize, nudge: Option<usize>) -> Vec<String> {
	let exe = std::env::current_exe().unwrap();
	let mut child = Command::new(exe);
	if let Some(step) = nudge {
		child.env(NUDGE_ENV, step.to_string());
	}
	let output = child
		.args(["--exact", "child_traces", "--ignored", "--nocapture", "--test-threads", "1"])
		.env(CHILD_ENV, threads.to_string())
		.env("RAYON_NUM_THREADS", threads.to_string())
		.env("CANDLE_NUM_THREADS", threads.to_string())
		.output()
		.unwrap();
	let stdout = String::from_utf8_lossy(&output.stdout);
	assert!(
		output.status.success(),
		"the child with {threads} threads failed:\n{stdout}\n{}",
		String::from_utf8_lossy(&output.stderr)
	);
	let lines: Vec<String> = stdout
		.lines()
		// libtest prints "test child_traces ... " on the same line.
		.skip_while(|l| !l.ends_with("BEGIN-TRACES"))
		.skip(1)
		.take_while(|l| *l != "END-TRACES")
		.map(str::to_owned)
		.collect();
	assert!(!lines.is_empty(), "the child with {threads} threads printed no traces:\n{stdout}");
	lines
}

#[test]
fn per_layer_hashes_do_not_depend_on_the_thread_count() {
	let started = std::time::Instant::now();
	let one = traces_with(1, None);
	let two = traces_with(2, None);
	assert_eq!(one[0], "threads 1 rayon 1", "the first child ran with one thread");
	assert_eq!(two[0], "threads 2 rayon 2", "the second child ran with two threads");
	assert_eq!(one.len(), two.len());
	let mut steps = std::collections::BTreeSet::new();
	let mut mismatches = Vec::new();
	for (a, b) in one[1..].iter().zip(&two[1..]) {
		let (key_a, hash_a) = a.rsplit_once(' ').unwrap();
		let (key_b, hash_b) = b.rsplit_once(' ').unwrap();
		assert_eq!(key_a, key_b, "the children traced the same steps in the same order");
		let mut key = key_a.split(' ');
		steps.insert((key.next().unwrap().to_owned(), key.next().unwrap().to_owned()));
		if hash_a != hash_b {
			mismatches.push(key_a.to_owned());
		}
	}
	// Hashes are bit-exact: a model run twice yields one hash per (step, layer), and distinct
	// layers give distinct hashes (the test would pass vacuously on constant output).
	let distinct: std::collections::BTreeSet<_> =
		one[1..].iter().map(|l| l.rsplit_once(' ').unwrap().1).collect();
	assert!(distinct.len() > one.len() / 2, "the per-layer hashes are mostly distinct");
	println!(
		"determinism: {} steps, {} layer outputs compared between 1 and 2 threads, {} mismatches ({:.1} s)",
		steps.len(),
		one.len() - 1,
		mismatches.len(),
		started.elapsed().as_secs_f64()
	);
	assert!(steps.len() >= 1_000, "at least 1,000 steps compared: {}", steps.len());
	assert!(
		mismatches.is_empty(),
		"per-layer hashes differ between 1 and 2 threads at {mismatches:?}"
	);

	// Control: one ULP of noise in one step's input shows from that step's first layer on, in
	// every later layer output of that generation, and nowhere before it.
	let nudged = traces_with(2, Some(50));
	let differing: Vec<&str> = one[1..]
		.iter()
		.zip(&nudged[1..])
		.filter(|(a, b)| a != b)
		.map(|(a, _)| a.rsplit_once(' ').unwrap().0)
		.collect();
	assert_eq!(
		differing.first().copied(),
		Some("safetensors-f32 50 0"),
		"the nudged layer is the first to differ"
	);
	assert!(
		differing.iter().all(|k| k.starts_with("safetensors-f32 ")),
		"only the nudged generation differs"
	);
	assert!(differing.len() >= 6, "the nudge reaches every layer of its step: {differing:?}");
}
