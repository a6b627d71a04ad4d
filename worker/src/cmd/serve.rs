//! `serve`: an inference node. Loads only its layers of the model, checks the file against
//! the digest registered on chain, measures its cost per forward pass, registers (or updates)
//! its node with collateral, then serves the activation API and sends heartbeats until
//! stopped.
//!
//! A node whose price is above zero takes a payment-channel voucher with every forward pass
//! ([`PaymentGate`]) and claims them ([`ChannelWatcher`]).
//!
//! Every node signs a receipt for every forward step with its owner's key
//! ([`ReceiptSigner`]) and keeps each step's input and receipt under
//! `<base-path>/<genesis>/receipts-node<id>/` for `--keep-receipts-hours` after the session's
//! last step ([`ReceiptStore`]), served read-only by the proofs API.
//!
//! Its receipts are committed on chain once a session has been idle `--commit-after` seconds,
//! its challenges answered and the challenges it is drawn to verify re-run ([`ProofDuty`]).
//!
//! Duties: [`Heartbeat`], [`ChannelWatcher`], [`ProofDuty`], and with `--agent` the [`PricingAgent`] (re-prices and moves layers
//! as P2P-LLM's rules advise); the HTTP server ([`ActivationServer`]) runs beside the daemon and
//! stops with it.

use std::{path::PathBuf, sync::Arc, time::Duration};

use appchain_llm_engine::{digest, LayerShard, WeightFile};
use appchain_primitives::token::format_amount;

use crate::{
	chain::{self, calls, Chain, NodeKind, Signer},
	cmd::{self, Global},
	daemon::Daemon,
	duty::{
		channels::ChannelWatcher,
		heartbeat::Heartbeat,
		pricing::{AgentRules, Loader, Policy, PricingAgent},
		proofs::{ProofDuty, Replayer},
	},
	error::WorkerError,
	keys::ss58,
	node_api::server::{ActivationServer, ServerLimits},
	payments::{PaymentGate, VoucherBook},
	proofs::{ReceiptSigner, ReceiptStore},
};

/// `serve` arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
	/// The model's id on chain.
	#[arg(long)]
	pub model: u32,
	/// The model file: a `.gguf`, or a directory with `config.json` and `model.safetensors`.
	#[arg(long)]
	pub file: PathBuf,
	/// Layers to serve, `START..END` (END excluded), e.g. `0..10`.
	#[arg(long, value_parser = parse_layers)]
	pub layers: (u32, u32),
	/// Price per forward pass over the layers, in CPU.
	#[arg(long, default_value = "0.001")]
	pub price: String,
	/// Collateral to hold when registering, in CPU.
	#[arg(long, default_value = "100")]
	pub collateral: String,
	/// Address to listen on.
	#[arg(long, default_value = "127.0.0.1:8700")]
	pub listen: String,
	/// URL clients reach this node at, registered on chain [default: http://<listen address>].
	#[arg(long)]
	pub endpoint: Option<String>,
	/// Most sessions at once.
	#[arg(long, default_value_t = 16)]
	pub max_sessions: usize,
	/// Longest session, in tokens.
	#[arg(long, default_value_t = 2048)]
	pub max_context: usize,
	/// Close sessions idle for this many seconds.
	#[arg(long, default_value_t = 300)]
	pub idle_timeout: u64,
	/// Forward passes computed at once [default: 1; each uses all cores].
	#[arg(long, default_value_t = 1)]
	pub compute_slots: usize,
	/// Declare this cost (ms per forward pass) instead of measuring it.
	#[arg(long)]
	pub cost_ms: Option<u32>,
	/// Run the pricing agent: re-price by P2P-LLM's rule against the nodes serving the same
	/// layers, and move to the shard where this node's share of compute is largest.
	#[arg(long)]
	pub agent: bool,
	/// Agent: the alpha clients are assumed to weigh price against cost with, in (0, 1].
	#[arg(long, default_value_t = 0.5)]
	pub agent_alpha: f64,
	/// Agent: a gradient step on expected revenue (the paper's rule), or the best response.
	#[arg(long, value_enum, default_value = "gradient")]
	pub agent_policy: Policy,
	/// Agent: the gradient step size.
	#[arg(long, default_value_t = 1.0)]
	pub agent_eta: f64,
	/// Agent: CPU per unit of the model's price (the unit costs in ms are weighed against).
	#[arg(long, default_value = "0.001")]
	pub price_unit: String,
	/// Agent: the highest price asked, in units of --price-unit.
	#[arg(long, default_value_t = 100.0)]
	pub agent_max_price: f64,
	/// Agent: blocks between two pricing decisions.
	#[arg(long, default_value_t = 5)]
	pub reprice_every: u64,
	/// Agent: send a new price only when it differs from the chain's by more than this
	/// fraction (a transaction costs a fee).
	#[arg(long, default_value_t = 0.01)]
	pub min_price_change: f64,
	/// Agent: blocks between two move evaluations, offset by the node id (0: never move).
	#[arg(long, default_value_t = 50)]
	pub move_every: u64,
	/// Agent: a move must raise the share of compute by more than this fraction.
	#[arg(long, default_value_t = 0.05)]
	pub move_hysteresis: f64,
	/// Blocks between two rounds of claiming the vouchers received (a channel whose payer
	/// asks to close is claimed at once).
	#[arg(long, default_value_t = 100)]
	pub claim_every: u64,
	/// Hours a session's receipts and inputs are kept on disk after its last step, for
	/// verifiers to re-execute its steps. Keep it above the chain's audit window (2 hours)
	/// plus the challenge phases: an audited step whose inputs are gone is slashed.
	#[arg(long, default_value_t = 24)]
	pub keep_receipts_hours: u64,
	/// Commit a session's receipts on chain once it has had no step for this many seconds.
	#[arg(long, default_value_t = 10)]
	pub commit_after: u64,
	/// TESTING ONLY: never commit this node's receipts, as a node hiding its work from the
	/// chain's sampling would; its clients' audits (`audit`) still sample and check them.
	#[arg(long)]
	pub never_commit: bool,
	/// TESTING ONLY: answer every step wrongly (and sign for it), to show that the chain's
	/// challenges catch and slash a cheating node. Loses this node's collateral.
	#[arg(long, value_enum)]
	pub inject_fault: Option<crate::node_api::server::Fault>,
}

impl ServeArgs {
	/// The agent's rules, checked.
	fn agent_rules(&self) -> Result<AgentRules, WorkerError> {
		let usage = |m: &str| Err(WorkerError::Usage(m.into()));
		if !(self.agent_alpha > 0.0 && self.agent_alpha <= 1.0) {
			return usage("--agent-alpha must be in (0, 1]");
		}
		if !(self.agent_eta.is_finite() && self.agent_eta > 0.0) {
			return usage("--agent-eta must be a positive number");
		}
		if !(self.agent_max_price.is_finite() && self.agent_max_price > 0.0) {
			return usage("--agent-max-price must be a positive number");
		}
		if !(self.min_price_change.is_finite() && self.min_price_change >= 0.0) {
			return usage("--min-price-change must be a number at least 0");
		}
		if !(self.move_hysteresis.is_finite() && self.move_hysteresis >= 0.0) {
			return usage("--move-hysteresis must be a number at least 0");
		}
		let price_unit = cmd::parse_amount(&self.price_unit)?;
		if price_unit == 0 {
			return usage("--price-unit must be more than 0");
		}
		Ok(AgentRules {
			alpha: self.agent_alpha,
			eta: self.agent_eta,
			policy: self.agent_policy,
			price_unit,
			max_price: self.agent_max_price,
			reprice_every: self.reprice_every,
			min_change: self.min_price_change,
			move_every: self.move_every,
			move_hysteresis: self.move_hysteresis,
		})
	}
}

/// Parses `START..END`.
pub fn parse_layers(text: &str) -> Result<(u32, u32), String> {
	let (a, b) = text.split_once("..").ok_or_else(|| format!("`{text}` is not START..END"))?;
	let a: u32 = a.trim().parse().map_err(|_| format!("`{a}` is not a layer"))?;
	let b: u32 = b.trim().parse().map_err(|_| format!("`{b}` is not a layer"))?;
	if a >= b {
		return Err(format!("{a}..{b} is empty"));
	}
	Ok((a, b))
}

/// Milliseconds per single-token forward pass over `shard` (median of 7 after a 16-token
/// prefill), at least 1.
pub fn measure_cost_ms(shard: &LayerShard) -> Result<u32, WorkerError> {
	let h = shard.config().hidden;
	let mut session = shard.new_session();
	let prefill = vec![0.01f32; 16 * h];
	shard.forward(&mut session, 0, &prefill)?;
	let mut times = Vec::new();
	for i in 0..7 {
		let x = vec![0.01f32 * i as f32; h];
		let started = std::time::Instant::now();
		shard.forward(&mut session, 16 + i, &x)?;
		times.push(started.elapsed().as_secs_f64() * 1e3);
	}
	times.sort_by(f64::total_cmp);
	Ok(times.get(3).copied().unwrap_or(1.0).ceil().max(1.0) as u32)
}

/// Runs `serve` until SIGINT/SIGTERM.
pub async fn run(global: &Global, args: ServeArgs) -> Result<(), WorkerError> {
	let price = cmd::parse_amount(&args.price)?;
	let collateral = cmd::parse_amount(&args.collateral)?;
	let rules = if args.agent { Some(args.agent_rules()?) } else { None };
	let Some((signer, shutdown, chain)) = global.start_daemon().await? else {
		return Ok(());
	};
	let at = chain.finalized().await?;
	let model = chain::model(&at, args.model).await?.ok_or_else(|| {
		WorkerError::Usage(format!("model {} is not registered on chain", args.model))
	})?;

	// The file must be the registered model: same digest, same number of layers.
	tracing::info!(event = "checking_weights", file = %args.file.display(), "checking the file against the chain's weights digest");
	let (start, end) = args.layers;
	let (file, max_context) = (args.file.clone(), args.max_context);
	let expected = model.weights_digest;
	let (shard, digest_hex) = tokio::task::spawn_blocking(move || {
		let file = WeightFile::open(&file)?;
		digest::verify(&file, &expected)?;
		let shard = LayerShard::load(&file, start, end, max_context)?;
		Ok::<_, WorkerError>((shard, digest::hex(&expected)))
	})
	.await
	.map_err(|e| WorkerError::Engine(e.to_string()))??;
	if shard.config().layers != u32::from(model.layers) {
		return Err(WorkerError::Usage(format!(
			"the file has {} layers, model {} has {}",
			shard.config().layers,
			args.model,
			model.layers
		)));
	}
	let shard = Arc::new(shard);
	let cost_ms = match args.cost_ms {
		Some(c) => c.max(1),
		None => {
			let s = shard.clone();
			tokio::task::spawn_blocking(move || measure_cost_ms(&s))
				.await
				.map_err(|e| WorkerError::Engine(e.to_string()))??
		},
	};

	let limits = ServerLimits {
		max_sessions: args.max_sessions.max(1),
		max_context: args.max_context,
		max_step_tokens: args.max_context,
		idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
		compute_slots: args.compute_slots,
	};
	let server = ActivationServer::new(shard.clone(), args.model, digest_hex, limits);
	let listener = tokio::net::TcpListener::bind(&args.listen)
		.await
		.map_err(|e| WorkerError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
	let bound = listener.local_addr().map_err(|e| WorkerError::Usage(e.to_string()))?;
	let endpoint = args.endpoint.clone().unwrap_or_else(|| format!("http://{bound}"));

	let node = ensure_node(
		&chain,
		&signer,
		args.model,
		(start, end),
		cost_ms,
		price,
		&endpoint,
		collateral,
	)
	.await?;
	// Proofs: the node's results are verified within its engine class, declared on chain.
	let (class, class_text) = crate::proofs::engine_class();
	if chain::engine_class(&chain.best().await?, node).await? != Some(class) {
		signer.submit_and_wait(&chain, &calls::declare_engine_class(node, class)).await?;
	}
	tracing::info!(event = "engine_class", node, class = %hex::encode(class), description = %class_text, "engine class {}: {class_text}", hex::encode(class));
	tracing::info!(
		event = "serving_inference",
		node,
		model = args.model,
		start,
		end,
		cost_ms,
		%endpoint,
		account = %ss58(signer.account()),
		cache_bytes = server.max_cache_bytes(),
		"node {node} serves layers [{start}, {end}) of model {} at {endpoint} ({cost_ms} ms per pass, {} per pass; KV cache at most {:.1} MiB)",
		args.model,
		format_amount(price),
		server.max_cache_bytes() as f64 / (1 << 20) as f64
	);
	// Payment: every forward pass carries a voucher when the node charges; the watcher keeps
	// the gate on finalized state and claims.
	let genesis = chain.genesis_hash();
	// Receipts: every step signed by the owner's key and kept for verifiers.
	let store = ReceiptStore::for_node(&global.base_path(), &genesis, node)
		.with_retention(Duration::from_secs(args.keep_receipts_hours.max(1).saturating_mul(3600)));
	tracing::info!(event = "keeping_receipts", node, dir = %store.dir().display(), hours = args.keep_receipts_hours.max(1), "receipts and step inputs kept in {}", store.dir().display());
	server.sign_receipts(
		ReceiptSigner::new(node, genesis, signer.keypair().clone()).keep_in(store.clone()),
	);
	let book = VoucherBook::received(&global.base_path(), &genesis, node)?;
	let gate = Arc::new(PaymentGate::new(node, genesis, book));
	gate.set_price(price);
	if price > 0 {
		server.require_payment(gate.clone());
	}
	if let Some(fault) = args.inject_fault {
		tracing::warn!(
			event = "fault_injected",
			node,
			?fault,
			"TESTING: node {node} answers every step wrongly ({fault:?}); challenges will slash it"
		);
		server.inject_fault(fault);
	}
	let registry = chain::registry_constants(&chain.finalized().await?)?;
	let replayer = Replayer {
		shard: shard.clone(),
		loader: Loader { file: args.file.clone(), max_context: args.max_context },
	};
	server.set_best_block(chain.best().await?.block_number() as u32);
	let proofs = ProofDuty::new(
		node,
		genesis,
		store.clone(),
		&global.base_path(),
		(!args.never_commit).then(|| Duration::from_secs(args.commit_after)),
		replayer,
	)
	.stamping(server.clone());
	let mut daemon = Daemon::new(chain, signer, shutdown.clone())
		.with(Heartbeat::new(node, registry))
		.with(ChannelWatcher::new(gate, args.claim_every))
		.with(proofs);
	if let Some(rules) = rules {
		tracing::info!(event = "agent_started", node, rules = ?rules, "pricing agent on");
		let loader = Loader { file: args.file.clone(), max_context: args.max_context };
		let model_shape = (args.model, model.layers, model.shard_size);
		daemon = daemon.with(PricingAgent::new(node, model_shape, rules, server.clone(), loader));
	}
	let http = tokio::spawn(server.serve(listener, shutdown.clone()));
	let ended = daemon.run().await;
	shutdown.trigger();
	match http.await {
		Ok(Ok(())) => {},
		Ok(Err(e)) => tracing::warn!(event = "http_failed", error = %e, "activation API: {e}"),
		Err(e) => tracing::warn!(event = "http_failed", error = %e, "activation API task: {e}"),
	}
	ended
}

/// The account's inference node for `model`, registered now if it has none; its layers,
/// price and cost are brought up to date (`move_layers`, `set_price`, `declare_cost`).
/// Refuses an existing node registered at another endpoint.
#[allow(clippy::too_many_arguments)]
async fn ensure_node(
	chain: &Chain,
	signer: &Signer,
	model: u32,
	layers: (u32, u32),
	cost_ms: u32,
	price: u128,
	endpoint: &str,
	collateral: u128,
) -> Result<u64, WorkerError> {
	let at = chain.finalized().await?;
	let wanted = (
		u16::try_from(layers.0).map_err(|_| WorkerError::Usage("layer out of range".into()))?,
		u16::try_from(layers.1).map_err(|_| WorkerError::Usage("layer out of range".into()))?,
	);
	let existing = chain::inference_nodes(&at, signer.account(), model).await?;
	if let Some((id, info)) = existing.into_iter().next() {
		if let NodeKind::Inference { layers: l, cost_ms: c, price: p, endpoint: e, .. } = info.kind
		{
			if e.0 != endpoint.as_bytes() {
				return Err(WorkerError::Usage(format!(
					"node {id} of this account is registered at {}; the chain has no call to move an endpoint, so unregister it or use another account",
					String::from_utf8_lossy(&e.0)
				)));
			}
			if (l.start, l.end) != wanted {
				tracing::info!(
					event = "moving_layers",
					node = id,
					from = ?(l.start, l.end),
					to = ?wanted,
					"node {id} moves from layers [{}, {}) to [{}, {})",
					l.start,
					l.end,
					wanted.0,
					wanted.1
				);
				signer.submit_and_wait(chain, &calls::move_layers(id, wanted)).await?;
			}
			if p != price {
				signer.submit_and_wait(chain, &calls::set_price(id, price)).await?;
			}
			if c != cost_ms {
				signer.submit_and_wait(chain, &calls::declare_cost(id, cost_ms)).await?;
			}
			return Ok(id);
		}
	}
	let events = signer
		.submit_and_wait(
			chain,
			&calls::register_inference_node(
				model,
				wanted,
				cost_ms,
				price,
				endpoint.as_bytes().to_vec(),
				collateral,
			),
		)
		.await?;
	chain::registered_inference_node(&events)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn layer_ranges_parse() {
		assert_eq!(parse_layers("0..10"), Ok((0, 10)));
		assert_eq!(parse_layers(" 10 .. 20 "), Ok((10, 20)));
		assert!(parse_layers("10..10").is_err());
		assert!(parse_layers("5").is_err());
		assert!(parse_layers("a..3").is_err());
	}
}
