//! The pricing agent of an inference node: P2P-LLM's adaptive pricing and layer reallocation
//! (§3.3–3.4) run live against the chain, with the rules of `appchain_primitives::pricing` that
//! `simulate` also runs.
//!
//! Every `reprice_every` blocks the agent reads the nodes of every shard of its model
//! (`registry_shardNodes`), takes as competitors the serving nodes with exactly its layer range,
//! and computes its next price: a gradient step `p + η·dR/dp` ([`Policy::Gradient`], the paper's
//! rule) or its best response ([`Policy::BestResponse`], which converges in a few rounds). It
//! calls `set_price` only when the price changes by more than `min_change` (a fee is not worth a
//! rounding). Every `move_every` blocks, offset by its node id so that agents do not all move at
//! once, it evaluates moving to another shard (eq. 8, [`pricing::best_layer`] with hysteresis);
//! to move it loads the new layers, makes them the ones new sessions get (sessions in flight keep
//! the old ones), then calls `move_layers`, and stops offering the old layers one move period
//! later.
//!
//! **Units.** The model's price `p` is dimensionless and weighed against costs in
//! milliseconds; on chain a price is in plancks. `price_unit` plancks make one unit of `p`.
//!
//! Log events: `agent_view` (debug), `agent_reprice`, `agent_move`, `agent_settled`, each with
//! the numbers that decided it.

use std::{path::PathBuf, sync::Arc};

use appchain_llm_engine::{LayerShard, WeightFile};
use appchain_primitives::pricing::{self, Offer};

use crate::{
	chain::{calls, Chain, ShardNodeView, Tag},
	duty::{BlockContext, Duty, Step},
	error::WorkerError,
	node_api::server::ActivationServer,
};

/// The tag of the agent's `set_price` transactions.
pub const SET_PRICE: Tag = Tag::only("set-price");

/// How the agent picks its next price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
	/// One gradient-ascent step on expected revenue, `p + η·dR/dp` (the paper's rule).
	Gradient,
	/// The revenue-maximising price against the others' current prices (closed form).
	BestResponse,
}

/// What the agent is told.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRules {
	/// `α` clients are assumed to weigh price against cost with.
	pub alpha: f64,
	/// `η`, the gradient step.
	pub eta: f64,
	/// Gradient or best response.
	pub policy: Policy,
	/// Plancks per unit of the model's price.
	pub price_unit: u128,
	/// The highest price asked, in units.
	pub max_price: f64,
	/// Blocks between two pricing decisions.
	pub reprice_every: u64,
	/// A new price is sent only if it differs from the chain's by more than this fraction.
	pub min_change: f64,
	/// Blocks between two move evaluations (0: never move).
	pub move_every: u64,
	/// A move must raise the share of compute by more than this fraction.
	pub move_hysteresis: f64,
}

/// The market as the agent sees it at one block: the model's shards, and the serving nodes
/// whose range is exactly one shard's.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketView {
	/// This node.
	pub node: u64,
	/// This node's layers on chain.
	pub layers: (u16, u16),
	/// This node's price on chain, in plancks.
	pub price: u128,
	/// This node's declared cost (ms).
	pub cost_ms: u32,
	/// Each shard's range and its serving nodes that serve exactly that range: `(id, price
	/// in plancks, cost in ms)`, this node included where it serves.
	pub shards: Vec<((u16, u16), Vec<Competitor>)>,
}

/// A serving node as the agent weighs it: id, price in plancks, cost in ms.
pub type Competitor = (u64, u128, u32);

/// What the agent decides at one block.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
	/// Ask `price` plancks (from `from`), with the numbers behind it.
	Reprice {
		/// The new price, in plancks.
		price: u128,
		/// The old one.
		from: u128,
		/// Choice probability now.
		probability: f64,
		/// `dR/dp` now.
		gradient: f64,
		/// Competitors on the same layers.
		competitors: usize,
	},
	/// Move to `to`, with the shares behind it.
	Move {
		/// The layers to serve.
		to: (u16, u16),
		/// Share of compute there.
		share: f64,
		/// Share of compute here.
		current_share: f64,
	},
	/// Nothing worth a transaction.
	Stay {
		/// The price the rule asks for (plancks) although the change is too small.
		price: u128,
		/// Competitors on the same layers.
		competitors: usize,
	},
}

fn units(plancks: u128, unit: u128) -> f64 {
	plancks as f64 / unit.max(1) as f64
}

fn plancks(units: f64, unit: u128) -> u128 {
	// Saturating float-to-int conversion; never below 1 planck.
	((units * unit as f64).round() as u128).max(1)
}

/// The next price of this node, in plancks, and the numbers it came from.
pub fn next_price(view: &MarketView, rules: &AgentRules) -> Option<(u128, f64, f64, usize)> {
	let (_, members) = view.shards.iter().find(|(range, _)| *range == view.layers)?;
	let offers: Vec<Offer> = members
		.iter()
		.map(|&(_, price, cost)| Offer {
			price: units(price, rules.price_unit),
			cost: f64::from(cost),
		})
		.collect();
	let own = members.iter().position(|&(id, _, _)| id == view.node)?;
	let probability = *pricing::choice_probabilities(rules.alpha, &offers).get(own)?;
	let price = offers.get(own)?.price;
	let gradient = pricing::revenue_gradient(rules.alpha, price, probability);
	let next = match rules.policy {
		Policy::Gradient => {
			*pricing::price_step(rules.alpha, rules.eta, &offers, 0.0, rules.max_price).get(own)?
		},
		Policy::BestResponse => {
			pricing::best_bounded_price(rules.alpha, &offers, own, 0.0, rules.max_price)?
		},
	};
	Some((plancks(next, rules.price_unit), probability, gradient, members.len() - 1))
}

/// Whether this node should move, and where: the shard whose share of compute is largest.
pub fn next_move(view: &MarketView, rules: &AgentRules) -> Option<Decision> {
	let current = view.shards.iter().position(|(range, _)| *range == view.layers)?;
	let costs: Vec<Vec<f64>> = view
		.shards
		.iter()
		.map(|(_, members)| members.iter().map(|&(_, _, cost)| f64::from(cost)).collect())
		.collect();
	let m = pricing::best_layer(f64::from(view.cost_ms), current, &costs, rules.move_hysteresis)?;
	let (to, _) = view.shards.get(m.to)?;
	Some(Decision::Move { to: *to, share: m.share, current_share: m.current_share })
}

/// The agent's decision at block `now`: a move on this node's move blocks if one is worth it,
/// else a new price on its pricing blocks if the change is worth the fee.
pub fn decide(view: &MarketView, rules: &AgentRules, now: u64) -> Option<Decision> {
	let move_block =
		rules.move_every > 0 && now.wrapping_add(view.node).is_multiple_of(rules.move_every);
	if move_block {
		if let Some(m) = next_move(view, rules) {
			return Some(m);
		}
	}
	if rules.reprice_every == 0 || !now.is_multiple_of(rules.reprice_every) {
		return None;
	}
	let (price, probability, gradient, competitors) = next_price(view, rules)?;
	let change = (price as f64 - view.price as f64).abs() / (view.price.max(1) as f64);
	if change > rules.min_change {
		Some(Decision::Reprice { price, from: view.price, probability, gradient, competitors })
	} else {
		Some(Decision::Stay { price, competitors })
	}
}

/// Reads the market of `model` as the agent sees it: every shard's serving nodes that serve
/// exactly that shard's layers. `None` if `node` is not among them.
pub async fn read_market(
	chain: &Chain,
	model: u32,
	layers: u16,
	shard_size: u16,
	node: u64,
) -> Result<Option<MarketView>, WorkerError> {
	let mut shards = Vec::new();
	let mut own = None;
	let size = shard_size.max(1);
	let count = layers.div_ceil(size);
	for s in 0..count {
		let range = (s * size, (s * size).saturating_add(size).min(layers));
		let nodes: Vec<ShardNodeView> = chain.shard_nodes(model, u32::from(s)).await?;
		let mut members = Vec::new();
		for n in nodes {
			let Ok(price) = n.price.parse::<u128>() else { continue };
			if n.id == node {
				own = Some(((n.layers.start, n.layers.end), price, n.cost_ms));
			}
			if n.serving && (n.layers.start, n.layers.end) == range {
				members.push((n.id, price, n.cost_ms));
			}
		}
		shards.push((range, members));
	}
	Ok(own.map(|(layers, price, cost_ms)| MarketView { node, layers, price, cost_ms, shards }))
}

/// What the agent needs to load other layers of its model.
pub struct Loader {
	/// The model file.
	pub file: PathBuf,
	/// Longest session, in tokens.
	pub max_context: usize,
}

impl Loader {
	/// Loads `layers` of the model file on the blocking pool.
	pub async fn load(&self, layers: (u16, u16)) -> Result<LayerShard, WorkerError> {
		let (file, max_context) = (self.file.clone(), self.max_context);
		let shard = tokio::task::spawn_blocking(move || {
			let file = WeightFile::open(&file)?;
			LayerShard::load(&file, u32::from(layers.0), u32::from(layers.1), max_context)
		})
		.await
		.map_err(|e| WorkerError::Engine(e.to_string()))??;
		Ok(shard)
	}
}

/// The pricing-agent duty of one inference node.
pub struct PricingAgent {
	node: u64,
	model: u32,
	layers: u16,
	shard_size: u16,
	rules: AgentRules,
	server: ActivationServer,
	loader: Loader,
	/// The block of the last move, to retire the old layers one move period later.
	moved_at: Option<u64>,
	/// Whether the last decision was to stay (logs `agent_settled` once per settling).
	settled: bool,
}

impl PricingAgent {
	/// The agent of `node`, serving `model` (of `layers` layers in shards of `shard_size`)
	/// through `server`.
	pub fn new(
		node: u64,
		model: (u32, u16, u16),
		rules: AgentRules,
		server: ActivationServer,
		loader: Loader,
	) -> Self {
		let (model, layers, shard_size) = model;
		Self {
			node,
			model,
			layers,
			shard_size,
			rules,
			server,
			loader,
			moved_at: None,
			settled: false,
		}
	}

	async fn move_to(
		&mut self,
		ctx: &BlockContext,
		to: (u16, u16),
		share: f64,
		current_share: f64,
		from: (u16, u16),
	) -> Result<(), WorkerError> {
		let now = ctx.head.best.block_number();
		tracing::info!(
			event = "agent_move",
			node = self.node,
			from = ?from,
			to = ?to,
			share,
			current_share,
			"node {} moves from layers [{}, {}) to [{}, {}): share of compute {:.4} -> {:.4}",
			self.node,
			from.0,
			from.1,
			to.0,
			to.1,
			current_share,
			share
		);
		let shard = self.loader.load(to).await?;
		self.server.replace_shard(Arc::new(shard));
		if let Err(e) =
			ctx.signer.submit_and_wait(&ctx.head.chain, &calls::move_layers(self.node, to)).await
		{
			// The chain still lists the old layers: serve them again.
			let back = self.loader.load(from).await?;
			self.server.replace_shard(Arc::new(back));
			return Err(e);
		}
		self.moved_at = Some(now);
		self.settled = false;
		Ok(())
	}
}

impl Duty for PricingAgent {
	fn name(&self) -> &'static str {
		"pricing-agent"
	}

	fn on_block<'a>(&'a mut self, ctx: &'a BlockContext) -> Step<'a> {
		Box::pin(async move {
			let now = ctx.head.best.block_number();
			let period = self.rules.move_every.max(self.rules.reprice_every).max(1);
			if self.moved_at.is_some_and(|at| now >= at.saturating_add(period)) {
				self.server.retire_previous();
				self.moved_at = None;
			}
			let on_move_block = self.rules.move_every > 0
				&& now.wrapping_add(self.node).is_multiple_of(self.rules.move_every);
			let on_price_block =
				self.rules.reprice_every > 0 && now.is_multiple_of(self.rules.reprice_every);
			if !on_move_block && !on_price_block {
				return Ok(());
			}
			let Some(view) =
				read_market(&ctx.head.chain, self.model, self.layers, self.shard_size, self.node)
					.await?
			else {
				return Ok(());
			};
			tracing::debug!(event = "agent_view", node = self.node, view = ?view, "market view");
			// Until a move is on chain and served, the view and the server disagree: wait.
			let served = self.server.shard().layers();
			if (u32::from(view.layers.0), u32::from(view.layers.1)) != served {
				return Ok(());
			}
			match decide(&view, &self.rules, now) {
				Some(Decision::Move { to, share, current_share }) => {
					self.move_to(ctx, to, share, current_share, view.layers).await?;
				},
				Some(Decision::Reprice { price, from, probability, gradient, competitors }) => {
					tracing::info!(
						event = "agent_reprice",
						node = self.node,
						from = %from,
						to = %price,
						probability,
						gradient,
						competitors,
						"node {} re-prices from {from} to {price} plancks (P {probability:.4}, \
						 dR/dp {gradient:+.4}, {competitors} competitors)",
						self.node
					);
					self.settled = false;
					ctx.signer
						.submit(
							&ctx.head.chain,
							&ctx.head.best,
							SET_PRICE,
							&calls::set_price(self.node, price),
						)
						.await?;
				},
				Some(Decision::Stay { price, competitors }) if !self.settled => {
					self.settled = true;
					tracing::info!(
						event = "agent_settled",
						node = self.node,
						layers = ?view.layers,
						price = %view.price,
						target = %price,
						competitors,
						"node {} settles at {} plancks on layers [{}, {}) ({competitors} \
						 competitors; no move beats its share)",
						self.node,
						view.price,
						view.layers.0,
						view.layers.1
					);
				},
				_ => {},
			}
			Ok(())
		})
	}
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
	use super::*;

	const UNIT: u128 = 1_000_000_000;

	fn rules(policy: Policy) -> AgentRules {
		AgentRules {
			alpha: 0.5,
			eta: 1.0,
			policy,
			price_unit: UNIT,
			max_price: 10.0,
			reprice_every: 2,
			min_change: 0.001,
			move_every: 10,
			move_hysteresis: 0.0,
		}
	}

	/// Node `me` among `counts[s]` nodes of cost 20 at `price` on each of three shards.
	fn view(counts: [u64; 3], me: u64, price: u128) -> MarketView {
		let mut id = 0;
		let mut shards = Vec::new();
		let mut layers = (0, 0);
		for (s, &n) in counts.iter().enumerate() {
			let range = (s as u16 * 10, s as u16 * 10 + 10);
			let mut members = Vec::new();
			for _ in 0..n {
				if id == me {
					layers = range;
				}
				members.push((id, price, 20));
				id += 1;
			}
			shards.push((range, members));
		}
		MarketView { node: me, layers, price, cost_ms: 20, shards }
	}

	#[test]
	fn a_crowded_node_moves_to_the_emptiest_shard_on_its_move_block_only() {
		let v = view([3, 1, 1], 0, UNIT);
		// Node 0 moves on blocks where (block + 0) % 10 == 0.
		let Some(Decision::Move { to, share, current_share }) =
			decide(&v, &rules(Policy::Gradient), 20)
		else {
			unreachable!("node 0 should move");
		};
		assert_eq!(to, (10, 20), "ties between shards 1 and 2 go to the lowest");
		assert!((share - 0.5).abs() < 1e-12 && (current_share - 1.0 / 3.0).abs() < 1e-12);
		// Elsewhere it only prices (block 22 is a pricing block).
		assert!(matches!(decide(&v, &rules(Policy::Gradient), 22), Some(Decision::Reprice { .. })));
		assert_eq!(decide(&v, &rules(Policy::Gradient), 21), None);
		// Balanced within one node: nobody moves.
		let v = view([2, 2, 1], 0, UNIT);
		assert!(!matches!(decide(&v, &rules(Policy::Gradient), 20), Some(Decision::Move { .. })));
	}

	#[test]
	fn the_gradient_step_and_the_best_response_agree_with_the_pure_rules() {
		let v = view([2, 2, 1], 0, UNIT);
		// Two equal nodes at price 1: P = 1/2, dR/dp = 1/2 · (1 − 0.5 · 1 · 1/2) = 0.375.
		let (price, p, g, competitors) = next_price(&v, &rules(Policy::Gradient)).unwrap();
		assert_eq!((p, competitors), (0.5, 1));
		assert!((g - 0.375).abs() < 1e-12);
		assert_eq!(price, 1_375_000_000);
		// The best response to an equal rival at price 1 is (1 + W(e^{α·1} / e)) / α.
		let (price, ..) = next_price(&v, &rules(Policy::BestResponse)).unwrap();
		let expected = (1.0 + pricing::lambert_w((-0.5f64).exp())) / 0.5;
		assert_eq!(price, (expected * UNIT as f64).round() as u128);
		// Best responses of two equal nodes converge to the closed form 2 / (0.5 · 1) = 4.
		let mut prices = [UNIT, UNIT];
		for _ in 0..60 {
			let next: Vec<u128> = (0..2)
				.map(|me| {
					let mut v = view([2, 0, 0], me, 0);
					for (i, member) in v.shards[0].1.iter_mut().enumerate() {
						member.1 = prices[i];
					}
					v.price = prices[me as usize];
					next_price(&v, &rules(Policy::BestResponse)).unwrap().0
				})
				.collect();
			prices = [next[0], next[1]];
		}
		for p in prices {
			assert!((units(p, UNIT) - 4.0).abs() < 1e-6, "{p}");
		}
		// A node alone asks the ceiling.
		let v = view([2, 2, 1], 4, UNIT);
		assert_eq!(next_price(&v, &rules(Policy::BestResponse)).unwrap().0, 10 * UNIT);
	}

	#[test]
	fn small_changes_are_not_worth_a_transaction() {
		let four = 4 * UNIT;
		let v = view([2, 2, 1], 0, four);
		let d = decide(&v, &rules(Policy::BestResponse), 22).unwrap();
		assert!(matches!(d, Decision::Stay { price, competitors: 1 } if price == four), "{d:?}");
		// A node not serving exactly a shard's range decides nothing.
		let mut v = view([2, 2, 1], 0, four);
		v.layers = (0, 5);
		assert_eq!(decide(&v, &rules(Policy::BestResponse), 22), None);
	}
}
