//! Re-execution against each way of cheating at inference named by issue 17 (item 1): a node
//! that adds noise to its output, skips a layer, serves other layers or another model, or
//! replays an old output. The pallet's tests measure how often a step is challenged; this one
//! measures what happens once it is: given a challenged step, does an honest verifier's replay
//! (`proofs::replay::verify_step`) catch the cheat, and at which layer does it locate it?
//!
//! The node serves layers [1, 5) of a 6-layer tiny model. Every cheater signs a consistent
//! receipt for what it returns (per-layer hashes for layers 1 to 4 that end at the hash of its
//! output and have the receipt's layer root), so the client's own check
//! (`SignedReceipt::check`) accepts every one of its steps: only re-execution can catch it.
//! The verifier loads exactly layers [1, 5) and replays the session's steps `0..=k` on a fresh
//! cache from the honest inputs (the ones the node signed for: the receipt's input hash). The
//! cheater's own KV cache never enters the verifier's replay.
//!
//! Strategies, and the first divergent layer the verifier must name for every step:
//! - **noise**: the honest computation, then each output value moved by up to 1e-3 of itself;
//!   the claim is the honest hashes of layers 1 to 3 and the hash of the noisy output: layer 4.
//! - **skip layer 4**: computes layers [1, 4) only and returns that; claims layers 1 to 3 and
//!   layer 3's output again as layer 4's (a skipped layer as the identity): layer 4.
//! - **skip layer 2**: computes layer 1, passes its output on unchanged as layer 2's, then
//!   layers [3, 5) (each part on its own honestly advancing cache): layer 2.
//! - **other layers**: runs layers [2, 6) of the same model and claims their hashes as layers
//!   1 to 4: layer 1.
//! - **another model**: layers [1, 5) of a tiny model of the same shape, other weights: layer 1.
//! - **replay**: computes every step (its cache advances honestly) but answers step `k ≥ 1`
//!   with its answer to step `k - 1`, receipt hashes and all (for step 1, whose prompt step had
//!   several tokens, the last row of step 0's output, the one row a one-token step returns,
//!   with step 0's hashes of layers 1 to 3). Every claimed hash is an old step's: layer 1.
//!   Whether its own cache advances does not enter the verdict: the verifier replays from the
//!   signed inputs, never from the cheater's cache.
//!
//! Also measured: the honest node's receipts of the same steps always agree (no false
//! positive), and when a replay diverges its own hashes are exactly the honest node's.

#![allow(
	clippy::unwrap_used,
	clippy::expect_used,
	clippy::panic,
	clippy::indexing_slicing,
	clippy::arithmetic_side_effects
)] // tests fail loudly

use std::{collections::BTreeMap, path::PathBuf};

use appchain_llm_engine::{
	tiny::{write_safetensors, Rng, TinySpec},
	LayerShard, WeightFile,
};
use appchain_primitives::{
	pow::Hash256,
	receipt::{activation_hash, layer_root, Receipt},
};
use appchain_worker::proofs::{
	replay::{verify_step, Verdict},
	ExpectedStep, ReceiptSigner, SignedReceipt,
};

const MODEL: u32 = 7;
const GENESIS: [u8; 32] = [0x17; 32];
/// The challenged range: layers [1, 5) of a 6-layer model.
const START: u32 = 1;
const END: u32 = 5;
/// Sessions, each a prompt step of 3 to 6 tokens then `DECODE_STEPS` one-token steps.
const SESSIONS: usize = 20;
const DECODE_STEPS: usize = 10;
const MAX_CONTEXT: usize = 64;
/// Largest relative change the noisy cheater makes to a value.
const NOISE: f32 = 1e-3;

fn key(suri: &str) -> subxt_signer::sr25519::Keypair {
	appchain_worker::keys::keypair_from_suri(suri).unwrap()
}

/// A tiny model written to a scratch directory (removed by the caller).
fn tiny(name: &str, spec: &TinySpec) -> (WeightFile, PathBuf) {
	let dir = std::env::temp_dir().join(format!("worker-cheaters-{}-{name}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	write_safetensors(&dir, spec).unwrap();
	(WeightFile::open(&dir).unwrap(), dir)
}

fn session_id(index: usize) -> [u8; 16] {
	let mut id = [0xc4; 16];
	id[..8].copy_from_slice(&(index as u64).to_le_bytes());
	id
}

/// Steps `0..=DECODE_STEPS` of session `index`, each `(position, tokens × hidden values)`:
/// a prompt step of 3 to 6 tokens, then one token per step, random-looking activations.
fn session_inputs(index: usize, hidden: usize) -> Vec<(usize, Vec<f32>)> {
	let mut rng = Rng(0xc0ff_ee00 + index as u64);
	let mut position = 0;
	(0..=DECODE_STEPS)
		.map(|step| {
			let tokens = if step == 0 { 3 + index % 4 } else { 1 };
			let values: Vec<f32> = (0..tokens * hidden).map(|_| rng.uniform()).collect();
			let at = position;
			position += tokens;
			(at, values)
		})
		.collect()
}

/// What a node returns for a step: its output, and the per-layer hashes it signs for
/// (layers `START..END` in order, the last one its output's).
#[derive(Clone, Debug)]
struct Answer {
	output: Vec<f32>,
	hashes: Vec<Hash256>,
}

/// `shard` over every step of `inputs` on one session cache, as a serving node runs it.
fn run(shard: &LayerShard, inputs: &[(usize, Vec<f32>)]) -> Vec<Answer> {
	let mut session = shard.new_session();
	inputs
		.iter()
		.map(|(position, x)| {
			let (output, hashes) = shard.forward_traced(&mut session, *position, x).unwrap();
			Answer { output, hashes }
		})
		.collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
	Noise,
	SkipLastLayer,
	SkipMiddleLayer,
	OtherLayers,
	OtherModel,
	Replay,
}

impl Strategy {
	const ALL: [Self; 6] = [
		Self::Noise,
		Self::SkipLastLayer,
		Self::SkipMiddleLayer,
		Self::OtherLayers,
		Self::OtherModel,
		Self::Replay,
	];

	fn name(self) -> &'static str {
		match self {
			Self::Noise => "noise (1e-3 relative)",
			Self::SkipLastLayer => "skip layer 4",
			Self::SkipMiddleLayer => "skip layer 2",
			Self::OtherLayers => "other layers [2, 6)",
			Self::OtherModel => "another model",
			Self::Replay => "replay step k-1",
		}
	}

	/// The first layer whose output the verifier must find different (see the module docs).
	fn first_divergent_layer(self) -> u32 {
		match self {
			Self::Noise | Self::SkipLastLayer => 4,
			Self::SkipMiddleLayer => 2,
			Self::OtherLayers | Self::OtherModel | Self::Replay => 1,
		}
	}

	/// Steps of a session it cheats at (the replayer has nothing to replay at step 0).
	fn trials_per_session(self) -> usize {
		match self {
			Self::Replay => DECODE_STEPS,
			_ => DECODE_STEPS + 1,
		}
	}
}

/// What the cheaters run besides the honest range.
struct Shards {
	/// Layers [1, 4): the cheater that skips layer 4.
	first_three: LayerShard,
	/// Layers [1, 2) and [3, 5): the cheater that skips layer 2.
	layer_one: LayerShard,
	layers_three_four: LayerShard,
	/// Layers [2, 6): the cheater that serves other layers.
	shifted: LayerShard,
	/// Layers [1, 5) of another model of the same shape.
	other_model: LayerShard,
}

/// The cheater's answers to the steps of one session (`None`: a step it does not cheat at),
/// given the honest node's answers to the same inputs.
fn cheat(
	strategy: Strategy,
	shards: &Shards,
	inputs: &[(usize, Vec<f32>)],
	honest: &[Answer],
	hidden: usize,
	seed: u64,
) -> Vec<Option<Answer>> {
	let hash =
		|values: &[f32]| activation_hash((values.len() / hidden) as u32, hidden as u32, values);
	match strategy {
		Strategy::Noise => {
			let mut rng = Rng(seed);
			honest
				.iter()
				.map(|a| {
					let output: Vec<f32> =
						a.output.iter().map(|v| v + NOISE * v.abs() * rng.uniform()).collect();
					let mut hashes = a.hashes.clone();
					*hashes.last_mut().unwrap() = hash(&output);
					Some(Answer { output, hashes })
				})
				.collect()
		},
		Strategy::SkipLastLayer => run(&shards.first_three, inputs)
			.into_iter()
			.map(|mut a| {
				assert_eq!(a.hashes.len(), 3);
				let layer_three = *a.hashes.last().unwrap();
				a.hashes.push(layer_three);
				Some(a)
			})
			.collect(),
		Strategy::SkipMiddleLayer => {
			let mut one = shards.layer_one.new_session();
			let mut rest = shards.layers_three_four.new_session();
			inputs
				.iter()
				.map(|(position, x)| {
					let (y, h1) = shards.layer_one.forward_traced(&mut one, *position, x).unwrap();
					let (output, h34) =
						shards.layers_three_four.forward_traced(&mut rest, *position, &y).unwrap();
					assert_eq!((h1.len(), h34.len()), (1, 2));
					Some(Answer { output, hashes: vec![h1[0], h1[0], h34[0], h34[1]] })
				})
				.collect()
		},
		Strategy::OtherLayers => run(&shards.shifted, inputs).into_iter().map(Some).collect(),
		Strategy::OtherModel => run(&shards.other_model, inputs).into_iter().map(Some).collect(),
		Strategy::Replay => std::iter::once(None)
			.chain(honest.windows(2).map(|w| {
				let previous = &w[0];
				let output = previous.output[previous.output.len() - hidden..].to_vec();
				let mut hashes = previous.hashes.clone();
				*hashes.last_mut().unwrap() = hash(&output);
				Some(Answer { output, hashes })
			}))
			.collect(),
	}
}

/// The step a client asks `signer`'s node for: step `step` of `session` with `input`.
fn expected(
	signer: &ReceiptSigner,
	session: [u8; 16],
	step: usize,
	input: &(usize, Vec<f32>),
	hidden: usize,
) -> ExpectedStep {
	ExpectedStep {
		node: signer.node(),
		model: MODEL,
		layers: (START, END),
		session,
		step: step as u32,
		position: input.0 as u32,
		tokens: (input.1.len() / hidden) as u32,
		hidden: hidden as u32,
	}
}

/// The receipt `signer`'s node signs for answering `step` (whose input was `input`) with
/// `answer`: its output hash is the answer's last per-layer hash, its root their root.
fn sign(
	signer: &ReceiptSigner,
	step: &ExpectedStep,
	input: &[f32],
	answer: &Answer,
) -> SignedReceipt {
	let receipt = Receipt {
		node: step.node,
		model: step.model,
		start: step.layers.0,
		end: step.layers.1,
		session: step.session,
		step: step.step,
		position: step.position,
		tokens: step.tokens,
		input_hash: activation_hash(step.tokens, step.hidden, input),
		output_hash: *answer.hashes.last().unwrap(),
		layer_root: layer_root(step.layers.0, &answer.hashes),
	};
	signer.sign(receipt, answer.hashes.clone())
}

/// One line of the table.
struct Row {
	name: &'static str,
	trials: usize,
	/// Receipts the client's check accepted.
	accepted: usize,
	/// Replays that diverged.
	detected: usize,
	/// Diverging replays by first divergent layer.
	layers: BTreeMap<u32, usize>,
}

impl Row {
	fn new(name: &'static str) -> Self {
		Self { name, trials: 0, accepted: 0, detected: 0, layers: BTreeMap::new() }
	}

	fn record(&mut self, verdict: &Verdict) {
		self.trials += 1;
		if let Verdict::Diverges { layer, .. } = verdict {
			self.detected += 1;
			*self.layers.entry(*layer).or_default() += 1;
		}
	}

	fn print(&self) {
		let layers = if self.layers.is_empty() {
			"-".to_string()
		} else {
			self.layers.iter().map(|(l, n)| format!("{l}: {n}")).collect::<Vec<_>>().join(", ")
		};
		println!(
			"{:<22} {:>6} {:>8} {:>8}   {layers}",
			self.name, self.trials, self.accepted, self.detected
		);
	}
}

#[test]
fn re_execution_catches_every_cheating_strategy_at_its_layer() {
	let spec = TinySpec::default();
	assert_eq!(spec.layers, 6);
	let (file, dir) = tiny("model", &spec);
	let (other_file, other_dir) = tiny("other", &TinySpec { seed: spec.seed + 1, ..spec.clone() });
	let load = |file: &WeightFile, start: u32, end: u32| {
		LayerShard::load(file, start, end, MAX_CONTEXT).unwrap()
	};
	let node = load(&file, START, END);
	let verifier = load(&file, START, END);
	let shards = Shards {
		first_three: load(&file, 1, 4),
		layer_one: load(&file, 1, 2),
		layers_three_four: load(&file, 3, 5),
		shifted: load(&file, 2, 6),
		other_model: load(&other_file, START, END),
	};
	assert_eq!(shards.other_model.config(), node.config(), "another model of the same shape");
	let hidden = node.config().hidden;
	let honest_signer = ReceiptSigner::new(1, GENESIS, key("//Alice"));
	let cheat_signer = ReceiptSigner::new(2, GENESIS, key("//Bob"));

	let mut honest_row = Row::new("honest (control)");
	let mut rows: Vec<(Strategy, Row)> =
		Strategy::ALL.iter().map(|s| (*s, Row::new(s.name()))).collect();
	for index in 0..SESSIONS {
		let session = session_id(index);
		let inputs = session_inputs(index, hidden);
		let honest = run(&node, &inputs);

		for (step, answer) in honest.iter().enumerate() {
			let asked = expected(&honest_signer, session, step, &inputs[step], hidden);
			let signed = sign(&honest_signer, &asked, &inputs[step].1, answer);
			let owner = honest_signer.owner();
			assert_eq!(
				signed.check(&asked, &inputs[step].1, &answer.output, &owner, &GENESIS),
				Ok(())
			);
			honest_row.accepted += 1;
			let verdict = verify_step(&verifier, &inputs[..=step], &signed).unwrap();
			honest_row.record(&verdict);
		}

		for (strategy, row) in &mut rows {
			let strategy = *strategy;
			let answers = cheat(strategy, &shards, &inputs, &honest, hidden, 0x4e01 + index as u64);
			assert_eq!(answers.len(), inputs.len());
			for (step, answer) in answers.iter().enumerate() {
				let Some(answer) = answer else { continue };
				let what = format!("{}: session {index} step {step}", strategy.name());
				// The cheat is real: another output than the honest node's.
				assert_eq!(answer.hashes.len(), (END - START) as usize, "{what}");
				assert_ne!(answer.hashes.last(), honest[step].hashes.last(), "{what}");
				match strategy {
					Strategy::Noise => {
						let largest = answer
							.output
							.iter()
							.zip(&honest[step].output)
							.map(|(n, h)| (n - h).abs() / h.abs())
							.filter(|r| r.is_finite())
							.fold(0.0f32, f32::max);
						assert!(largest > 0.0 && largest <= NOISE * 1.01, "{what}: {largest}");
					},
					Strategy::Replay if step >= 2 => {
						assert_eq!(answer.hashes, honest[step - 1].hashes, "{what}: the old claim");
					},
					_ => {},
				}
				// The cheater signs for what it returns: the client accepts the step.
				let asked = expected(&cheat_signer, session, step, &inputs[step], hidden);
				let signed = sign(&cheat_signer, &asked, &inputs[step].1, answer);
				let owner = cheat_signer.owner();
				assert_eq!(
					signed.check(&asked, &inputs[step].1, &answer.output, &owner, &GENESIS),
					Ok(()),
					"{what}"
				);
				row.accepted += 1;
				// The verifier replays steps 0..=step from the signed inputs.
				let verdict = verify_step(&verifier, &inputs[..=step], &signed).unwrap();
				if let Verdict::Diverges { ours, .. } = &verdict {
					assert_eq!(ours, &honest[step].hashes, "{what}: the replay is the honest run");
				}
				row.record(&verdict);
			}
		}
	}

	println!(
		"challenged steps of layers [{START}, {END}) of a {}-layer tiny model: {SESSIONS} \
		 sessions of 1 prompt step and {DECODE_STEPS} one-token steps",
		spec.layers
	);
	println!(
		"{:<22} {:>6} {:>8} {:>8}   first divergent layer: count",
		"strategy", "trials", "accepted", "detected"
	);
	honest_row.print();
	for (_, row) in &rows {
		row.print();
	}

	let steps = SESSIONS * (DECODE_STEPS + 1);
	assert_eq!(honest_row.trials, steps);
	assert_eq!(honest_row.accepted, steps);
	assert_eq!(honest_row.detected, 0, "an honest step was called a cheat");
	for (strategy, row) in &rows {
		let trials = SESSIONS * strategy.trials_per_session();
		assert_eq!(row.trials, trials, "{}", row.name);
		assert_eq!(row.accepted, trials, "{}: the client accepts every step", row.name);
		assert_eq!(row.detected, trials, "{}: every challenged step is caught", row.name);
		assert_eq!(
			row.layers,
			BTreeMap::from([(strategy.first_divergent_layer(), trials)]),
			"{}: located at layer {}",
			row.name,
			strategy.first_divergent_layer()
		);
	}
	let _ = std::fs::remove_dir_all(&dir);
	let _ = std::fs::remove_dir_all(&other_dir);
}
