//! The P2P-LLM market simulated (paper §5–6, Table 1): nodes on layers re-price by gradient
//! ascent on their expected revenue and move to the layer where their share of compute is
//! largest. Pure and deterministic; `simulate` prints, writes and plots what it records.
//!
//! The rules themselves are `appchain_primitives::pricing`, shared with the serving agent; this
//! module only schedules them:
//!
//! - every iteration, every layer's nodes take one simultaneous gradient step
//!   ([`pricing::price_step`]) against the prices of the other nodes on the same layer, within
//!   `[0, max_price]` (a node alone on its layer would otherwise raise its price for ever);
//! - every `move_every` iterations, after the price step, the one node whose share would grow
//!   the most by moving ([`pricing::best_layer`], beyond the hysteresis) moves, keeping its
//!   price; ties go to the lowest node index. One mover at a time avoids the herd in which every
//!   node of a crowded layer leaves it at once.
//!
//! The [`Simulation::equilibrium`] check asks, for every node, what the paper's equilibrium
//! means: the first-order condition's residual ([`pricing::first_order_residual`]), the revenue a
//! best response within the bounds ([`pricing::best_bounded_price`]) would add, and the share a
//! move would add.

use appchain_primitives::pricing::{self, Offer};

/// A node of the simulated network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimNode {
	/// The layer it serves.
	pub layer: usize,
	/// Its price per forward pass.
	pub price: f64,
	/// Its cost per forward pass (milliseconds).
	pub cost: f64,
}

/// What a simulation runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
	/// Nodes per layer at the start; its length is the number of layers.
	pub start: Vec<usize>,
	/// Every node's cost, in node order (layer 0's nodes first); as many as `start` sums to.
	pub costs: Vec<f64>,
	/// Every node's starting price.
	pub initial_price: f64,
	/// `α`: how much clients weigh price against cost.
	pub alpha: f64,
	/// `η`: the gradient step size.
	pub eta: f64,
	/// The highest price a node asks.
	pub max_price: f64,
	/// Iterations between two moves; 0 never moves.
	pub move_every: usize,
	/// A move must raise the mover's share by more than this fraction.
	pub hysteresis: f64,
}

/// A node that moved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MoveRecord {
	/// The iteration it moved at.
	pub iteration: usize,
	/// The node's index.
	pub node: usize,
	/// The layer it left.
	pub from: usize,
	/// The layer it joined.
	pub to: usize,
	/// Its share of compute before the move.
	pub share_before: f64,
	/// Its share after.
	pub share_after: f64,
}

/// One layer at one iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerState {
	/// Nodes serving it.
	pub nodes: usize,
	/// Their average price (`NaN` without nodes).
	pub average_price: f64,
	/// Their lowest price.
	pub min_price: f64,
	/// Their highest price.
	pub max_price: f64,
}

/// The equilibrium check of one node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeCheck {
	/// The node's layer.
	pub layer: usize,
	/// Its price.
	pub price: f64,
	/// Its choice probability on its layer.
	pub probability: f64,
	/// Its expected revenue per request reaching its layer, `p·P`.
	pub revenue: f64,
	/// `dR/dp` at its price.
	pub gradient: f64,
	/// The first-order (KKT) condition's residual: `|dR/dp|` inside the price bounds, only an
	/// outward gradient at a bound.
	pub residual: f64,
	/// Whether it is alone on its layer (its best price is then the ceiling).
	pub alone: bool,
	/// The revenue-maximising price within the bounds against the others' prices.
	pub best_price: f64,
	/// The revenue that price would add (`R(best) − R`, never negative).
	pub price_gain: f64,
	/// How much larger its share of compute would be on the best other layer, as a fraction
	/// of its share now (0 when no layer is better).
	pub share_gain: f64,
}

/// The simulated network.
#[derive(Clone, Debug)]
pub struct Simulation {
	setup: Setup,
	nodes: Vec<SimNode>,
	iteration: usize,
}

impl Simulation {
	/// The network at iteration 0. `setup.costs` must hold one cost per node; extra costs are
	/// ignored and missing ones are taken as 1.
	pub fn new(setup: Setup) -> Self {
		let mut nodes = Vec::new();
		for (layer, &count) in setup.start.iter().enumerate() {
			for _ in 0..count {
				let cost = setup.costs.get(nodes.len()).copied().unwrap_or(1.0);
				nodes.push(SimNode { layer, price: setup.initial_price, cost });
			}
		}
		Simulation { setup, nodes, iteration: 0 }
	}

	/// What it runs with.
	pub fn setup(&self) -> &Setup {
		&self.setup
	}

	/// The iterations run so far.
	pub fn iteration(&self) -> usize {
		self.iteration
	}

	/// The nodes now.
	pub fn nodes(&self) -> &[SimNode] {
		&self.nodes
	}

	/// The number of layers.
	pub fn layers(&self) -> usize {
		self.setup.start.len()
	}

	/// The indices of the nodes on `layer`, in node order.
	fn members(&self, layer: usize) -> Vec<usize> {
		(0..self.nodes.len()).filter(|&i| self.nodes[i].layer == layer).collect()
	}

	fn offers(&self, members: &[usize]) -> Vec<Offer> {
		members
			.iter()
			.map(|&i| Offer { price: self.nodes[i].price, cost: self.nodes[i].cost })
			.collect()
	}

	fn layer_costs(&self) -> Vec<Vec<f64>> {
		let mut costs = vec![Vec::new(); self.layers()];
		for node in &self.nodes {
			costs[node.layer].push(node.cost);
		}
		costs
	}

	/// Runs one iteration: every layer's price step, then, on every `move_every`-th
	/// iteration, the best move if there is one.
	pub fn step(&mut self) -> Option<MoveRecord> {
		self.iteration += 1;
		for layer in 0..self.layers() {
			let members = self.members(layer);
			let offers = self.offers(&members);
			let (alpha, eta, ceiling) = (self.setup.alpha, self.setup.eta, self.setup.max_price);
			let prices = pricing::price_step(alpha, eta, &offers, 0.0, ceiling);
			for (&i, price) in members.iter().zip(prices) {
				self.nodes[i].price = price;
			}
		}
		if self.setup.move_every == 0 || !self.iteration.is_multiple_of(self.setup.move_every) {
			return None;
		}
		let mover = self.best_mover()?;
		self.nodes[mover.node].layer = mover.to;
		Some(mover)
	}

	/// The node whose share would grow the most by moving, and where to.
	fn best_mover(&self) -> Option<MoveRecord> {
		let costs = self.layer_costs();
		let mut best: Option<(f64, MoveRecord)> = None;
		for (i, node) in self.nodes.iter().enumerate() {
			let Some(m) = pricing::best_layer(node.cost, node.layer, &costs, self.setup.hysteresis)
			else {
				continue;
			};
			let gain = m.share / m.current_share;
			if best.as_ref().is_none_or(|(g, _)| gain > *g) {
				let record = MoveRecord {
					iteration: self.iteration,
					node: i,
					from: node.layer,
					to: m.to,
					share_before: m.current_share,
					share_after: m.share,
				};
				best = Some((gain, record));
			}
		}
		best.map(|(_, record)| record)
	}

	/// Every layer now.
	pub fn snapshot(&self) -> Vec<LayerState> {
		(0..self.layers())
			.map(|layer| {
				let prices: Vec<f64> =
					self.nodes.iter().filter(|n| n.layer == layer).map(|n| n.price).collect();
				LayerState {
					nodes: prices.len(),
					average_price: prices.iter().sum::<f64>() / prices.len() as f64,
					min_price: prices.iter().copied().fold(f64::NAN, f64::min),
					max_price: prices.iter().copied().fold(f64::NAN, f64::max),
				}
			})
			.collect()
	}

	/// The equilibrium check of every node, in node order.
	pub fn equilibrium(&self) -> Vec<NodeCheck> {
		let alpha = self.setup.alpha;
		let costs = self.layer_costs();
		let mut checks = Vec::with_capacity(self.nodes.len());
		for (i, node) in self.nodes.iter().enumerate() {
			let members = self.members(node.layer);
			let own = members.iter().position(|&m| m == i).unwrap_or(0);
			let mut offers = self.offers(&members);
			let probability = pricing::choice_probabilities(alpha, &offers)[own];
			let revenue = node.price * probability;
			let ceiling = self.setup.max_price;
			let best_price = pricing::best_bounded_price(alpha, &offers, own, 0.0, ceiling)
				.unwrap_or(node.price);
			offers[own].price = best_price;
			let price_gain = (pricing::expected_revenue(alpha, &offers, own) - revenue).max(0.0);
			let gradient = pricing::revenue_gradient(alpha, node.price, probability);
			let share_gain = pricing::best_layer(node.cost, node.layer, &costs, 0.0)
				.map_or(0.0, |m| m.share / m.current_share - 1.0);
			checks.push(NodeCheck {
				layer: node.layer,
				price: node.price,
				probability,
				revenue,
				gradient,
				residual: pricing::first_order_residual(gradient, node.price, 0.0, ceiling),
				alone: members.len() == 1,
				best_price,
				price_gain,
				share_gain,
			});
		}
		checks
	}

	/// Where each layer's price would settle if its nodes stayed where they are: the closed
	/// form `n / (α·(n − 1))` when all its nodes cost the same (`None` otherwise, or for fewer
	/// than two nodes).
	pub fn predicted_prices(&self) -> Vec<Option<f64>> {
		(0..self.layers())
			.map(|layer| {
				let costs: Vec<f64> =
					self.nodes.iter().filter(|n| n.layer == layer).map(|n| n.cost).collect();
				let equal = costs.windows(2).all(|w| w[0] == w[1]);
				if !equal {
					return None;
				}
				pricing::symmetric_equilibrium_price(self.setup.alpha, costs.len())
			})
			.collect()
	}
}

/// A small deterministic generator (SplitMix64) for reproducible costs from a seed.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
	/// Seeded.
	pub fn new(seed: u64) -> Self {
		SplitMix64(seed)
	}

	/// The next 64 bits.
	pub fn next_u64(&mut self) -> u64 {
		self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
		let mut z = self.0;
		z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
		z ^ (z >> 31)
	}

	/// Uniform in the open interval `(low, high)`.
	pub fn open_interval(&mut self, low: f64, high: f64) -> f64 {
		// 53 random bits, shifted off zero by half a step: never `low`, never `high`.
		let unit = ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
		low + (high - low) * unit
	}
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
	use super::*;

	fn table_1() -> Setup {
		Setup {
			start: vec![10, 4, 10, 4],
			costs: vec![1.0; 28],
			initial_price: 1.0,
			alpha: 0.5,
			eta: 1.0,
			max_price: 100.0,
			move_every: 100,
			hysteresis: 0.0,
		}
	}

	fn run(sim: &mut Simulation, steps: usize) -> Vec<MoveRecord> {
		(0..steps).filter_map(|_| sim.step()).collect()
	}

	#[test]
	fn table_1_ends_balanced_at_the_closed_form_price() {
		let mut sim = Simulation::new(table_1());
		let moves = run(&mut sim, 1000);
		let end = sim.snapshot();
		assert_eq!(end.iter().map(|l| l.nodes).collect::<Vec<_>>(), vec![7, 7, 7, 7]);
		assert_eq!(moves.len(), 6, "three nodes leave each crowded layer: {moves:?}");
		for (layer, predicted) in end.iter().zip(sim.predicted_prices()) {
			let predicted = predicted.unwrap();
			assert!((predicted - 7.0 / 3.0).abs() < 1e-12);
			assert!((layer.average_price - predicted).abs() < 0.01, "{layer:?}");
			assert!(layer.max_price - layer.min_price < 0.01, "{layer:?}");
		}
		// Nobody can gain by a price change or a move.
		for check in sim.equilibrium() {
			assert!(check.residual < 1e-3 && check.price_gain < 1e-6, "{check:?}");
			assert_eq!(check.share_gain, 0.0);
		}
	}

	#[test]
	fn moves_happen_only_on_schedule_and_keep_every_node() {
		let mut sim = Simulation::new(table_1());
		let moves = run(&mut sim, 1000);
		let mut counts = vec![10usize, 4, 10, 4];
		for m in &moves {
			assert_eq!(m.iteration % 100, 0);
			assert!(m.share_after > m.share_before);
			counts[m.from] -= 1;
			counts[m.to] += 1;
		}
		assert_eq!(sim.snapshot().iter().map(|l| l.nodes).collect::<Vec<_>>(), counts);
		// The first mover is the lowest-index node of the first crowded layer, to the first
		// sparse layer; then a node of layer 3 to layer 4.
		assert_eq!((moves[0].node, moves[0].from, moves[0].to), (0, 0, 1));
		assert_eq!((moves[1].from, moves[1].to), (2, 3));
		// Without moves the layers keep their nodes and settle at their own closed forms.
		let mut still = Simulation::new(Setup { move_every: 0, ..table_1() });
		assert!(run(&mut still, 1000).is_empty());
		for layer in still.snapshot() {
			let n = layer.nodes as f64;
			assert!((layer.average_price - n / (0.5 * (n - 1.0))).abs() < 1e-6, "{layer:?}");
		}
	}

	#[test]
	fn a_second_configuration_reaches_its_own_closed_form() {
		// 30 nodes on 5 layers, alpha 0.4: six per layer at 6 / (0.4 · 5) = 3.
		let mut sim = Simulation::new(Setup {
			start: vec![12, 3, 6, 3, 6],
			costs: vec![5.0; 30],
			alpha: 0.4,
			move_every: 50,
			..table_1()
		});
		run(&mut sim, 1000);
		for layer in sim.snapshot() {
			assert_eq!(layer.nodes, 6);
			assert!((layer.average_price - 3.0).abs() < 0.01, "{layer:?}");
		}
	}

	#[test]
	fn unequal_costs_settle_where_no_node_gains_more_than_epsilon() {
		let mut rng = SplitMix64::new(7);
		let costs: Vec<f64> = (0..28).map(|_| rng.open_interval(1.0, 50.0)).collect();
		assert!(costs.iter().all(|c| *c > 1.0 && *c < 50.0));
		let mut sim = Simulation::new(Setup { costs, move_every: 10, ..table_1() });
		run(&mut sim, 5000);
		let checks = sim.equilibrium();
		for check in &checks {
			assert!(check.price_gain < 1e-3, "{check:?}");
			assert_eq!(check.share_gain, 0.0, "{check:?}");
		}
		// The cheapest node of a layer takes most requests and prices above the equal-cost
		// equilibrium; it sits at its best response.
		let leader = checks.iter().max_by(|a, b| a.probability.total_cmp(&b.probability)).unwrap();
		assert!(leader.probability > 0.5 && (leader.best_price - leader.price).abs() < 1e-3);
	}

	#[test]
	fn costs_from_a_seed_are_reproducible_and_in_range() {
		let a: Vec<f64> = {
			let mut r = SplitMix64::new(1);
			(0..1000).map(|_| r.open_interval(1.0, 50.0)).collect()
		};
		let mut r = SplitMix64::new(1);
		assert!(a.iter().all(|&c| c == r.open_interval(1.0, 50.0)));
		assert!(a.iter().all(|&c| c > 1.0 && c < 50.0));
		let mean = a.iter().sum::<f64>() / a.len() as f64;
		assert!((mean - 25.5).abs() < 1.5, "mean {mean}");
	}
}
