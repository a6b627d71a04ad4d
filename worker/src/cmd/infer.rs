//! `infer`: generate text through the network. Finds the chain's route for `--alpha`, checks
//! it covers every layer, runs the model's ends locally (embedding, final norm, LM head,
//! tokenizer, sampling) and the layers on the route's nodes, streams the tokens, and prints
//! the route, the price and per-token latency. When a node fails mid-generation it re-routes
//! without it and replays the session to the replacement ([`crate::pipeline`]).
//!
//! Every step's receipt is checked against the node's owner and kept; `--receipts FILE`
//! writes them as JSON lines (one receipt per forward pass, in the order computed: the
//! fields of `crate::proofs::receipts`' JSON form plus the node's `endpoint` and `owner`).

use std::{io::Write, path::PathBuf, sync::Arc, time::Instant};

use appchain_llm_engine::{
	chatml_prompt, digest, generate_local, ClientHead, Decoder, LayerShard, Sampler, Sampling,
	TextTokenizer, WeightFile,
};
use appchain_primitives::{
	routing::{best_route, RouteCandidate},
	token::format_amount,
	LayerRange,
};
use sp_arithmetic::Perbill;

use crate::{
	chain::{self, calls, Chain, Signer},
	cmd::{check_weights, Global, TextStream},
	error::WorkerError,
	keys::ss58,
	node_api::{self, client::http_client},
	payments::{VoucherBook, Wallet},
	pipeline::{HopReceipt, Pipeline, PlannedHop, Planner, ReceiptPolicy, TokenEvent},
};

fn pipeline_passes_json(
	passes: &std::collections::BTreeMap<u64, (u64, u128)>,
) -> serde_json::Value {
	passes
		.iter()
		.map(|(node, (n, total))| {
			(node.to_string(), serde_json::json!({"passes": n, "price": total.to_string()}))
		})
		.collect::<serde_json::Map<_, _>>()
		.into()
}

/// `infer` arguments.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["prompt", "chat"])))]
pub struct InferArgs {
	/// The model's id on chain.
	#[arg(long)]
	pub model: u32,
	/// The model file (the client runs its embedding, final norm and LM head, and its
	/// tokenizer); checked against the chain's digest.
	#[arg(long)]
	pub file: PathBuf,
	/// Raw prompt text, tokenized as is.
	#[arg(long)]
	pub prompt: Option<String>,
	/// A user message, wrapped in the model's chat template.
	#[arg(long)]
	pub chat: Option<String>,
	/// System message for --chat [default: the model's].
	#[arg(long, requires = "chat")]
	pub system: Option<String>,
	/// Most tokens to generate.
	#[arg(long, default_value_t = 64)]
	pub max_tokens: usize,
	/// Route weight: alpha × price + (1 − alpha) × cost, alpha in [0, 1].
	#[arg(long, default_value_t = 0.5)]
	pub alpha: f64,
	/// Sampling temperature; 0 is greedy.
	#[arg(long, default_value_t = 0.0)]
	pub temperature: f32,
	/// Nucleus mass for sampling.
	#[arg(long, default_value_t = 1.0)]
	pub top_p: f32,
	/// Seed of the sampler.
	#[arg(long, default_value_t = 0)]
	pub seed: u64,
	/// Run every layer in this process instead of through the network (no chain needed).
	#[arg(long)]
	pub local: bool,
	/// Print one JSON object with the tokens, text, route and timings instead of streaming.
	#[arg(long)]
	pub json: bool,
	/// Seconds before a hop that does not answer counts as failed.
	#[arg(long, default_value_t = 30)]
	pub hop_timeout: u64,
	/// A payment channel opened to a node holds its price times this many forward passes
	/// (at least the chain's minimum deposit).
	#[arg(long, default_value_t = 1000)]
	pub channel_passes: u128,
	/// Write every forward pass's signed receipt (checked) to FILE as JSON lines, with the
	/// node's endpoint and owner.
	#[arg(long, value_name = "FILE")]
	pub receipts: Option<PathBuf>,
	/// Accept nodes that send no receipts (older nodes); a receipt that is sent is still
	/// checked.
	#[arg(long)]
	pub allow_unsigned: bool,
	/// Leave out of routes the nodes whose verified work (the registry's record of
	/// unchallenged and upheld commitments against proven faults) succeeded less often than
	/// this; 0 trusts every node.
	#[arg(long, default_value_t = 0.9)]
	pub min_success: f64,
}

/// Writes `receipts` to `path`, one JSON object per line.
pub fn write_receipts(path: &std::path::Path, receipts: &[HopReceipt]) -> Result<(), WorkerError> {
	let io = |e| WorkerError::Output { path: path.to_path_buf(), source: e };
	let mut text = String::new();
	for r in receipts {
		let line = serde_json::to_string(r)
			.map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
		text.push_str(&line);
		text.push('\n');
	}
	std::fs::write(path, text).map_err(io)
}

/// Plans routes from the chain: the chain's own `registry_route` first, then, after a
/// failure, the same algorithm over the serving nodes minus the failed ones. With a
/// [`Payer`], makes sure every priced hop has a channel to pay through.
#[derive(Clone)]
pub struct ChainPlanner {
	/// The connection.
	pub chain: Chain,
	/// The model's id.
	pub model: u32,
	/// Its layers.
	pub layers: u16,
	/// Its shard size.
	pub shard_size: u16,
	/// Route weight.
	pub alpha: f64,
	/// Who pays, if anyone.
	pub payer: Option<Payer>,
	/// Least success ratio of a node's verified work for it to be routed through
	/// ([`InferArgs::min_success`]).
	pub min_success: f64,
	/// The best block of the last plan: sessions must be stamped near it.
	pub planned_at: Option<u32>,
}

/// How `infer` pays: the account's signer (to open and top up channels), its wallet (vouchers)
/// and how big a channel it opens.
#[derive(Clone)]
pub struct Payer {
	/// Opens and tops up channels.
	pub signer: Signer,
	/// Signs a voucher per forward pass.
	pub wallet: Arc<Wallet>,
	/// A new channel holds the node's price times this many passes.
	pub channel_passes: u128,
	/// Passes a channel must still cover to be used (a generation's worth).
	pub min_passes: u128,
}

impl Payer {
	/// Makes sure the wallet pays each priced hop of `route` through an open channel with
	/// room for a generation: reuses one of the account's channels to the node, tops it up,
	/// or opens one.
	async fn ensure_channels(
		&self,
		chain: &Chain,
		route: &[PlannedHop],
	) -> Result<(), WorkerError> {
		let at = chain.finalized().await?;
		let consts = chain::channel_constants(&at)?;
		let mine = chain.channels_of(&ss58(self.signer.account())).await?;
		for hop in route.iter().filter(|h| h.price > 0) {
			let need = hop.price.saturating_mul(self.min_passes);
			let size =
				hop.price.saturating_mul(self.channel_passes).max(consts.min_deposit).max(need);
			let mut found = None;
			for id in &mine {
				if let Some(c) = chain::channel(&at, *id).await? {
					if c.node == hop.node
						&& c.closes_at.is_none()
						&& c.payer == *self.signer.account()
					{
						found = Some((*id, c));
						break;
					}
				}
			}
			let id = match found {
				Some((id, c)) => {
					let promised = self.wallet.promised(id).max(c.claimed);
					if c.deposit.saturating_sub(promised) < need {
						self.signer
							.submit_and_wait(chain, &calls::top_up_channel(id, size))
							.await?;
						tracing::info!(event = "channel_topped_up", channel = id, node = hop.node, amount = %size, "topped up channel {id} to node {} by {}", hop.node, format_amount(size));
					}
					self.wallet.use_channel(hop.node, id, c.claimed);
					id
				},
				None => {
					// Money goes into a channel only for a node that answers: a listed node
					// whose heartbeats have not timed out yet may be gone, and the pipeline
					// routes around it.
					let http = http_client(std::time::Duration::from_secs(5));
					if let Err(e) =
						node_api::client::info(&http, hop.endpoint.trim_end_matches('/')).await
					{
						tracing::info!(event = "channel_skipped", node = hop.node, error = %e, "no channel to node {}: {e}", hop.node);
						continue;
					}
					let events = self
						.signer
						.submit_and_wait(chain, &calls::open_channel(hop.node, size))
						.await?;
					let id = chain::opened_channel(&events)?;
					tracing::info!(event = "channel_opened", channel = id, node = hop.node, deposit = %size, "opened channel {id} to node {} with {}", hop.node, format_amount(size));
					self.wallet.use_channel(hop.node, id, 0);
					id
				},
			};
			tracing::debug!(
				event = "paying_through",
				node = hop.node,
				channel = id,
				"node {} is paid through channel {id}",
				hop.node
			);
		}
		Ok(())
	}
}

/// The public key of `node`'s owner (the signer of its receipts), from its SS58 address.
fn owner_key(node: &chain::ShardNodeView) -> Result<[u8; 32], WorkerError> {
	let account = node.owner.parse::<subxt::utils::AccountId32>().map_err(|e| {
		WorkerError::Hop(format!(
			"node {}'s owner `{}` is not an address: {e}",
			node.id, node.owner
		))
	})?;
	Ok(account.0)
}

fn parse_price(text: &str) -> u128 {
	text.parse().unwrap_or(u128::MAX)
}

/// Whether a node that completed `completed` and failed `failed` units of verified work
/// falls below `min_success`: a node with no proven fault is always trusted.
pub fn distrusted(completed: u32, failed: u32, min_success: f64) -> bool {
	let total = f64::from(completed) + f64::from(failed);
	failed > 0 && f64::from(completed) / total < min_success
}

impl ChainPlanner {
	/// The candidates whose record of verified work is below the least success ratio.
	async fn distrusted(&self, nodes: &[chain::ShardNodeView]) -> Result<Vec<u64>, WorkerError> {
		if self.min_success <= 0.0 {
			return Ok(Vec::new());
		}
		let at = self.chain.best().await?;
		let mut out = Vec::new();
		for n in nodes {
			if let Some((completed, failed)) = chain::node_record(&at, n.id).await? {
				if distrusted(completed, failed, self.min_success) {
					tracing::info!(event = "node_distrusted", node = n.id, completed, failed, "leaving node {} out of routes: {failed} proven faults against {completed} verified units of work", n.id);
					out.push(n.id);
				}
			}
		}
		Ok(out)
	}

	async fn candidates(&self) -> Result<Vec<chain::ShardNodeView>, WorkerError> {
		let mut nodes: Vec<chain::ShardNodeView> = Vec::new();
		let shards = self.layers.div_ceil(self.shard_size.max(1));
		for shard in 0..u32::from(shards) {
			for n in self.chain.shard_nodes(self.model, shard).await? {
				if !nodes.iter().any(|m| m.id == n.id) {
					nodes.push(n);
				}
			}
		}
		Ok(nodes)
	}
}

impl Planner for ChainPlanner {
	fn chain_head(&self) -> Option<u32> {
		self.planned_at
	}

	async fn plan(&mut self, exclude: &[u64]) -> Result<Vec<PlannedHop>, WorkerError> {
		self.planned_at = Some(self.chain.best().await?.block_number() as u32);
		let nodes = self.candidates().await?;
		let mut exclude = exclude.to_vec();
		exclude.extend(self.distrusted(&nodes).await?);
		let exclude = &exclude[..];
		let ids: Vec<u64> = if exclude.is_empty() {
			self.chain.route(self.model, self.alpha).await?.nodes
		} else {
			let serving: Vec<&chain::ShardNodeView> =
				nodes.iter().filter(|n| n.serving && !exclude.contains(&n.id)).collect();
			let candidates: Vec<RouteCandidate<u64>> = serving
				.iter()
				.map(|n| RouteCandidate {
					id: n.id,
					layers: LayerRange { start: n.layers.start, end: n.layers.end },
					cost: n.cost_ms,
					price: parse_price(&n.price),
				})
				.collect();
			let alpha = Perbill::from_parts((self.alpha.clamp(0.0, 1.0) * 1e9).round() as u32);
			best_route(self.layers, &candidates, alpha)
				.map_err(|e| {
					WorkerError::Hop(format!("no route without nodes {exclude:?}: {e:?}"))
				})?
				.nodes
		};
		let route = ids
			.iter()
			.map(|id| {
				let n = nodes.iter().find(|n| n.id == *id).ok_or_else(|| {
					WorkerError::Missing(format!("route node {id} is not in any shard"))
				})?;
				let owner = owner_key(n)?;
				Ok(PlannedHop {
					node: n.id,
					owner,
					endpoint: n.endpoint.clone(),
					layers: (u32::from(n.layers.start), u32::from(n.layers.end)),
					price: parse_price(&n.price),
					cost_ms: n.cost_ms,
				})
			})
			.collect::<Result<Vec<_>, WorkerError>>()?;
		if let Some(payer) = &self.payer {
			payer.ensure_channels(&self.chain, &route).await?;
		}
		Ok(route)
	}
}

fn sampler(args: &InferArgs) -> Result<Sampler, WorkerError> {
	let mode = if args.temperature == 0.0 {
		Sampling::Greedy
	} else {
		Sampling::TopP { temperature: args.temperature, top_p: args.top_p, seed: args.seed }
	};
	Ok(Sampler::new(mode)?)
}

/// Runs `infer`.
pub async fn run(global: &Global, args: InferArgs) -> Result<(), WorkerError> {
	if !(0.0..=1.0).contains(&args.alpha) {
		return Err(WorkerError::Usage(format!("--alpha {} is not in [0, 1]", args.alpha)));
	}
	let started = Instant::now();
	let path = args.file.clone();
	let local = args.local;
	let (file, head, tokenizer, file_digest) = tokio::task::spawn_blocking(move || {
		let file = WeightFile::open(&path)?;
		let d = if local { [0; 32] } else { digest::weights_digest(&file)? };
		let head = ClientHead::load(&file)?;
		let tokenizer = TextTokenizer::from_model(&file)?;
		Ok::<_, WorkerError>((file, head, tokenizer, d))
	})
	.await
	.map_err(|e| WorkerError::Engine(e.to_string()))??;
	let text = match (&args.prompt, &args.chat) {
		(Some(p), _) => p.clone(),
		(None, Some(c)) => chatml_prompt(args.system.as_deref(), c),
		(None, None) => return Err(WorkerError::Usage("give --prompt or --chat".into())),
	};
	let prompt = tokenizer.encode(&text)?;
	if prompt.is_empty() {
		return Err(WorkerError::Usage("the prompt has no tokens".into()));
	}
	let stop = tokenizer.stop_tokens.clone();
	let mut latencies: Vec<f64> = Vec::new();
	let mut out = std::io::stdout();
	let json = args.json;
	// Streams the text as tokens arrive.
	let mut stream = TextStream::default();
	let mut on_token = |e: &TokenEvent, tokenizer: &TextTokenizer| {
		latencies.push(e.latency_ms);
		if json || tokenizer.is_stop(e.token) {
			return;
		}
		if let Some(new) = stream.push(tokenizer, e.token) {
			let _ = write!(out, "{new}");
			let _ = out.flush();
		}
	};

	if args.local {
		let (tokens, elapsed) = {
			let s = sampler(&args)?;
			let max = args.max_tokens;
			let t0 = Instant::now();
			let p = prompt.clone();
			let stop = stop.clone();
			// The file and head already loaded above; only the blocks are added.
			let tokens = tokio::task::spawn_blocking(move || {
				let shard = LayerShard::load(&file, 0, file.config().layers, p.len() + max + 1)?;
				Ok::<_, WorkerError>(generate_local(&head, &[&shard], p, max, s, stop)?)
			})
			.await
			.map_err(|e| WorkerError::Engine(e.to_string()))??;
			(tokens, t0.elapsed())
		};
		let text = tokenizer.decode(&tokens)?;
		if json {
			let summary = serde_json::json!({
				"tokens": tokens, "text": text, "promptTokens": prompt.len(),
				"elapsedMs": elapsed.as_secs_f64() * 1e3, "route": "local",
			});
			println!("{summary}");
		} else {
			println!("{text}");
		}
		return Ok(());
	}

	let chain = global.connect().await?;
	let at = chain.finalized().await?;
	let model = chain::model(&at, args.model).await?.ok_or_else(|| {
		WorkerError::Usage(format!("model {} is not registered on chain", args.model))
	})?;
	check_weights(&model.weights_digest, &file_digest)?;
	drop(file);
	// Paying needs the account's key; a route of free nodes needs none.
	let payer = match global.key_source().load() {
		Ok(keypair) => {
			let genesis = chain.genesis_hash();
			let book = VoucherBook::paid(&global.base_path(), &genesis, &keypair.public_key().0)?;
			Some(Payer {
				signer: Signer::new(keypair.clone()),
				wallet: Arc::new(Wallet::new(keypair, genesis, book)),
				channel_passes: args.channel_passes.max(1),
				min_passes: (prompt.len() + args.max_tokens + 1) as u128,
			})
		},
		Err(e) => {
			tracing::info!(event = "no_key", reason = %e, "no signing key: only free nodes can serve this generation ({e})");
			None
		},
	};
	let wallet = payer.as_ref().map(|p| p.wallet.clone());
	let policy = ReceiptPolicy {
		genesis: chain.genesis_hash(),
		require: !args.allow_unsigned,
		client: payer.as_ref().map(|p| p.signer.account().0),
	};
	let planner = ChainPlanner {
		chain,
		model: args.model,
		layers: model.layers,
		shard_size: model.shard_size,
		alpha: args.alpha,
		payer,
		min_success: args.min_success,
		planned_at: None,
	};
	let http = http_client(std::time::Duration::from_secs(args.hop_timeout.max(1)));
	let mut pipeline = Pipeline::start(planner, http, args.model, &head, policy).await?;
	if let Some(wallet) = &wallet {
		pipeline.pay_with(wallet.clone());
	}
	let route = pipeline.route();
	let price_per_token: u128 = route.iter().map(|h| h.price).sum();
	tracing::info!(
		event = "route",
		nodes = ?route.iter().map(|h| h.node).collect::<Vec<_>>(),
		price_per_token = %price_per_token,
		"route: {}; {} per token",
		route
			.iter()
			.map(|h| format!("node {} [{}, {}) {}", h.node, h.layers.0, h.layers.1, h.endpoint))
			.collect::<Vec<_>>()
			.join(" → "),
		format_amount(price_per_token)
	);
	let mut decoder = Decoder::new(&head, prompt.clone(), args.max_tokens, sampler(&args)?, stop)?;
	let generated = pipeline.generate(&mut decoder, |e| on_token(e, &tokenizer)).await;
	// The receipts of a generation that failed are kept too: they are what the nodes claimed.
	if let Some(path) = &args.receipts {
		write_receipts(path, pipeline.receipts())?;
		tracing::info!(event = "receipts_written", count = pipeline.receipts().len(), file = %path.display(), "{} receipts written to {}", pipeline.receipts().len(), path.display());
	}
	let tokens = generated?;
	let price: u128 = pipeline.passes.values().map(|p| p.1).sum();
	let paid: u128 = wallet.as_ref().map_or(0, |w| w.spent().values().map(|s| s.1).sum());
	let failovers = pipeline.failovers().to_vec();
	let passes = pipeline.passes.clone();
	let final_route = pipeline.route();
	pipeline.close().await;
	let text = tokenizer.decode(&tokens)?;
	let (first, rest) =
		latencies.split_first().map(|(f, r)| (*f, r.to_vec())).unwrap_or((0.0, Vec::new()));
	let mean_rest =
		if rest.is_empty() { 0.0 } else { rest.iter().sum::<f64>() / rest.len() as f64 };
	if json {
		let summary = serde_json::json!({
			"tokens": tokens,
			"text": text,
			"promptTokens": prompt.len(),
			"route": route.iter().map(|h| h.node).collect::<Vec<_>>(),
			"finalRoute": final_route.iter().map(|h| h.node).collect::<Vec<_>>(),
			"failovers": failovers.iter().map(|f| serde_json::json!({"failed": f.failed, "route": f.route, "replayed": f.replayed, "reason": f.reason})).collect::<Vec<_>>(),
			"price": price.to_string(),
			"paid": paid.to_string(),
			"passes": pipeline_passes_json(&passes),
			"prefillMs": first,
			"meanTokenMs": mean_rest,
			"elapsedMs": started.elapsed().as_secs_f64() * 1e3,
		});
		println!("{summary}");
	} else {
		println!();
	}
	tracing::info!(
		event = "generated",
		tokens = tokens.len(),
		prefill_ms = first,
		mean_token_ms = mean_rest,
		price = %price,
		failovers = failovers.len(),
		"{} tokens; prefill {first:.1} ms, then {mean_rest:.1} ms per token; {} at the route's prices; {} failovers",
		tokens.len(),
		format_amount(price),
		failovers.len()
	);
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn only_nodes_with_proven_faults_below_the_ratio_are_distrusted() {
		assert!(!distrusted(0, 0, 0.9), "a new node is trusted");
		assert!(!distrusted(100, 0, 0.9));
		assert!(distrusted(0, 1, 0.9), "a first proven fault");
		assert!(distrusted(8, 1, 0.9), "8 of 9 is below 0.9");
		assert!(!distrusted(9, 1, 0.9), "9 of 10 is not");
		assert!(!distrusted(0, 5, 0.0), "0 trusts everyone");
	}

	#[test]
	fn a_node_owner_address_gives_its_receipt_key() {
		let alice = crate::keys::keypair_from_suri("//Alice").unwrap().public_key();
		let node = |owner: String| chain::ShardNodeView {
			id: 3,
			owner,
			model: 0,
			layers: chain::LayersView { start: 0, end: 10 },
			cost_ms: 1,
			price: "0".into(),
			endpoint: String::new(),
			serving: true,
		};
		let ss58 = ss58(&subxt::utils::AccountId32(alice.0));
		assert_eq!(owner_key(&node(ss58)).unwrap(), alice.0, "the chain's format (prefix 4242)");
		let generic = crate::keys::ss58_with_prefix(&alice.0, 42);
		assert_eq!(owner_key(&node(generic)).unwrap(), alice.0, "any prefix");
		assert!(owner_key(&node("not an address".into())).is_err());
	}
}
