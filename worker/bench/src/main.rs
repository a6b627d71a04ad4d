//! `appchain-inference-bench`: the inference figures of the README, each a ratio against a
//! baseline measured in the same run (see `scripts/bench-inference.sh`).
//!
//! ```text
//! appchain-inference-bench [--model FILE] [--tokens N] [--prompt TEXT]
//! ```
//!
//! 1. Our engine, all 30 layers in process: prefill tokens/s and decode tokens/s.
//! 2. candle-transformers' `quantized_llama` on the same file, same prompt, same greedy
//!    decoding: decode tokens/s; ratio ours ÷ candle (and whether the tokens agree).
//! 3. The pipeline over three loopback HTTP workers serving `[0,10)`, `[10,20)`, `[20,30)`:
//!    decode tokens/s; ratio pipeline ÷ in-process.
//! 4. Peak resident memory of a process that loads layers `[10, 20)` and runs a step, against
//!    one that loads all 30 layers and the head (each measured in a child process).

use std::{path::PathBuf, sync::Arc, time::Instant};

use appchain_llm_engine::{
	chatml_prompt, ClientHead, Decoder, LayerShard, Sampler, Sampling, TextTokenizer, WeightFile,
};
use appchain_worker::{
	node_api::{
		client::http_client,
		server::{ActivationServer, ServerLimits},
	},
	pipeline::{FixedPlanner, Pipeline, PlannedHop, ReceiptPolicy},
	proofs::ReceiptSigner,
	shutdown::Shutdown,
};
use candle_core::{quantized::gguf_file, Device, Tensor};

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
	model: PathBuf,
	tokens: usize,
	prompt: String,
}

fn args() -> Result<Args, Error> {
	let mut out = Args {
		model: std::env::var_os("HOME")
			.map(PathBuf::from)
			.unwrap_or_default()
			.join(".cache/appchain-models/SmolLM2-135M-Instruct.Q4_1.gguf"),
		tokens: 64,
		prompt: "Tell me a story about a robot.".into(),
	};
	let mut it = std::env::args().skip(1);
	while let Some(a) = it.next() {
		match a.as_str() {
			"--model" => out.model = it.next().ok_or("--model FILE")?.into(),
			"--tokens" => out.tokens = it.next().ok_or("--tokens N")?.parse()?,
			"--prompt" => out.prompt = it.next().ok_or("--prompt TEXT")?,
			"-h" | "--help" => {
				println!("appchain-inference-bench [--model FILE] [--tokens N] [--prompt TEXT]");
				std::process::exit(0);
			},
			other => return Err(format!("unknown argument {other}").into()),
		}
	}
	Ok(out)
}

/// Peak resident set of this process, in bytes.
fn peak_rss() -> Result<u64, Error> {
	let status = std::fs::read_to_string("/proc/self/status")?;
	let line = status.lines().find(|l| l.starts_with("VmHWM:")).ok_or("no VmHWM")?;
	let kb: u64 = line.split_whitespace().nth(1).ok_or("bad VmHWM")?.parse()?;
	Ok(kb * 1024)
}

/// Child mode: `rss FILE START END [head]` loads the layers (and the head), runs one step,
/// prints the peak RSS.
fn rss_child(mut it: impl Iterator<Item = String>) -> Result<(), Error> {
	let file = WeightFile::open(&PathBuf::from(it.next().ok_or("file")?))?;
	let start: u32 = it.next().ok_or("start")?.parse()?;
	let end: u32 = it.next().ok_or("end")?.parse()?;
	let with_head = it.next().is_some();
	let shard = LayerShard::load(&file, start, end, 256)?;
	let x = if with_head {
		ClientHead::load(&file)?.embed(&[1, 2, 3, 4])?
	} else {
		vec![0.01; 4 * file.config().hidden]
	};
	shard.forward(&mut shard.new_session(), 0, &x)?;
	println!("{}", peak_rss()?);
	Ok(())
}

fn child_rss(model: &std::path::Path, start: u32, end: u32, head: bool) -> Result<u64, Error> {
	let mut cmd = std::process::Command::new(std::env::current_exe()?);
	cmd.arg("rss").arg(model).arg(start.to_string()).arg(end.to_string());
	if head {
		cmd.arg("head");
	}
	let out = cmd.output()?;
	if !out.status.success() {
		return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
	}
	Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

fn per_second(n: usize, seconds: f64) -> f64 {
	n as f64 / seconds.max(1e-9)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Error> {
	let mut raw = std::env::args().skip(1).peekable();
	if raw.peek().map(String::as_str) == Some("rss") {
		raw.next();
		return rss_child(raw);
	}
	let args = args()?;
	let file = WeightFile::open(&args.model)?;
	let tok = TextTokenizer::from_model(&file)?;
	let prompt = tok.encode(&chatml_prompt(None, &args.prompt))?;
	let n = args.tokens;
	println!("model {} · prompt {} tokens · {n} tokens greedy", args.model.display(), prompt.len());

	// 1. Ours, in process.
	let head = ClientHead::load(&file)?;
	let whole = LayerShard::load(&file, 0, 30, prompt.len() + n + 1)?;
	let mut session = whole.new_session();
	let mut dec = Decoder::new(&head, prompt.clone(), n, Sampler::new(Sampling::Greedy)?, vec![])?;
	let mut prefill_s = 0.0;
	let t_all = Instant::now();
	let mut first = true;
	while let Some(step) = dec.next_step()? {
		let t = Instant::now();
		let out = whole.forward(&mut session, step.position, &step.hidden)?;
		dec.accept(&out)?;
		if first {
			prefill_s = t.elapsed().as_secs_f64();
			first = false;
		}
	}
	let ours_tokens = dec.generated().to_vec();
	let ours_decode = per_second(n - 1, t_all.elapsed().as_secs_f64() - prefill_s);
	let ours_prefill = per_second(prompt.len(), prefill_s);

	// 2. candle-transformers' quantized_llama on the same file.
	let mut reader = std::fs::File::open(&args.model)?;
	let content = gguf_file::Content::read(&mut reader)?;
	let mut candle = candle_transformers::models::quantized_llama::ModelWeights::from_gguf(
		content,
		&mut reader,
		&Device::Cpu,
	)?;
	let t = Instant::now();
	let input = Tensor::new(prompt.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
	let logits = candle.forward(&input, 0)?.squeeze(0)?.to_vec1::<f32>()?;
	let candle_prefill_s = t.elapsed().as_secs_f64();
	let mut next = appchain_llm_engine::sampling::argmax(&logits).ok_or("no logits")?;
	let mut candle_tokens = vec![next];
	let t = Instant::now();
	for i in 1..n {
		let input = Tensor::new(&[next], &Device::Cpu)?.unsqueeze(0)?;
		let logits = candle.forward(&input, prompt.len() + i - 1)?.squeeze(0)?.to_vec1::<f32>()?;
		next = appchain_llm_engine::sampling::argmax(&logits).ok_or("no logits")?;
		candle_tokens.push(next);
	}
	let candle_decode = per_second(n - 1, t.elapsed().as_secs_f64());
	let candle_prefill = per_second(prompt.len(), candle_prefill_s);
	let agree = ours_tokens.iter().zip(&candle_tokens).take_while(|(a, b)| a == b).count();

	// 3. The pipeline over three loopback workers.
	// Each node signs a receipt per step (as `serve` does; kept nowhere) and the client checks it.
	let mut hops = Vec::new();
	let shutdown = Shutdown::new();
	let genesis = [0u8; 32];
	let key = appchain_worker::keys::keypair_from_suri("//Bob")?;
	for (i, (a, b)) in [(0u32, 10u32), (10, 20), (20, 30)].into_iter().enumerate() {
		let shard = Arc::new(LayerShard::load(&file, a, b, 2048)?);
		let server = ActivationServer::new(shard, 0, String::new(), ServerLimits::default());
		server.sign_receipts(ReceiptSigner::new(i as u64, genesis, key.clone()));
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
		let endpoint = format!("http://{}", listener.local_addr()?);
		tokio::spawn(server.serve(listener, shutdown.clone()));
		let owner = key.public_key().0;
		hops.push(PlannedHop {
			node: i as u64,
			owner,
			endpoint,
			layers: (a, b),
			price: 1,
			cost_ms: 1,
		});
	}
	let mut pipeline = Pipeline::start(
		FixedPlanner { nodes: hops, layers: 30, alpha: sp_arithmetic::Perbill::zero() },
		http_client(std::time::Duration::from_secs(30)),
		0,
		&head,
		ReceiptPolicy::required(genesis),
	)
	.await?;
	let mut dec = Decoder::new(&head, prompt.clone(), n, Sampler::new(Sampling::Greedy)?, vec![])?;
	let mut latencies = Vec::new();
	let piped = pipeline.generate(&mut dec, |e| latencies.push(e.latency_ms)).await?;
	pipeline.close().await;
	shutdown.trigger();
	let pipe_prefill = per_second(prompt.len(), latencies.first().copied().unwrap_or(0.0) / 1e3);
	let pipe_decode = per_second(n - 1, latencies.iter().skip(1).sum::<f64>() / 1e3);

	// 4. Memory: a third of the layers against the whole model.
	let third = child_rss(&args.model, 10, 20, false)?;
	let all = child_rss(&args.model, 0, 30, true)?;

	let mib = |b: u64| b as f64 / (1 << 20) as f64;
	println!();
	println!("| measurement | figure | baseline | ratio |");
	println!("|---|---|---|---|");
	println!(
		"| decode, ours ÷ candle-transformers quantized_llama | {ours_decode:.1} tok/s | {candle_decode:.1} tok/s | {:.2} |",
		ours_decode / candle_decode
	);
	println!(
		"| prefill ({} tokens), ours ÷ candle-transformers | {ours_prefill:.0} tok/s | {candle_prefill:.0} tok/s | {:.2} |",
		prompt.len(),
		ours_prefill / candle_prefill
	);
	println!(
		"| decode, pipeline over 3 loopback workers ÷ in process | {pipe_decode:.1} tok/s | {ours_decode:.1} tok/s | {:.2} |",
		pipe_decode / ours_decode
	);
	println!(
		"| prefill, pipeline ÷ in process | {pipe_prefill:.0} tok/s | {ours_prefill:.0} tok/s | {:.2} |",
		pipe_prefill / ours_prefill
	);
	println!(
		"| peak RSS, layers [10,20) ÷ all 30 layers and head | {:.1} MiB | {:.1} MiB | {:.2} |",
		mib(third),
		mib(all),
		third as f64 / all as f64
	);
	println!();
	println!(
		"tokens: pipeline = in process: {}; candle-transformers agrees on the first {agree} of {n}",
		piped == ours_tokens
	);
	if piped != ours_tokens {
		return Err("the pipeline generated other tokens than the in-process engine".into());
	}
	Ok(())
}
