#![allow(
	clippy::unwrap_used,
	clippy::expect_used,
	clippy::indexing_slicing,
	clippy::arithmetic_side_effects
)] // a benchmark may fail loudly
//! Benchmark of route finding: 10,000 and 20,000 nodes over a model of 80 layers.
//!
//! Run with `cargo bench --locked --workspace --bench routing` (or `scripts/bench-routing.sh`).
//! Prints the median time of `best_route` on both registries and their ratio: the algorithm is
//! linear in nodes plus layers, so doubling the nodes should about double the time (ratio ≈ 2).
//! A quadratic algorithm (every node ending at `y` linked to every node starting at `y`) would
//! show a ratio near 4.
//!
//! Then the worst case the registry allows (256 one-layer shards of 64 nodes, every boundary's
//! Pareto frontier full): the frontier's time against `best_route` on the same nodes.

use appchain_primitives::{
	routing::{best_route, pareto_frontier, RouteCandidate},
	LayerRange,
};
use sp_arithmetic::Perbill;
use std::{hint::black_box, time::Instant};

const LAYERS: u16 = 80;

/// xorshift64*: a small deterministic generator, so both runs see the same kind of registry.
struct Rng(u64);
impl Rng {
	fn next(&mut self) -> u64 {
		self.0 ^= self.0 >> 12;
		self.0 ^= self.0 << 25;
		self.0 ^= self.0 >> 27;
		self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
	}
	fn below(&mut self, n: u64) -> u64 {
		self.next() % n
	}
}

/// `n` nodes with ranges of 1 to 8 layers, costs of 5..500 ms and prices of 1..10,000 units.
fn registry(n: usize, seed: u64) -> Vec<RouteCandidate<u64>> {
	let mut rng = Rng(seed);
	(0..n as u64)
		.map(|id| {
			let len = 1 + rng.below(8) as u16;
			let start = rng.below(u64::from(LAYERS - len + 1)) as u16;
			RouteCandidate {
				id,
				layers: LayerRange::new(start, start + len),
				cost: 5 + rng.below(495) as u32,
				price: 1 + u128::from(rng.below(10_000)),
			}
		})
		.collect()
}

/// Median wall time of one call, over samples of at least 50 ms each.
fn median_secs(mut f: impl FnMut()) -> f64 {
	// Warm up and size a sample.
	let mut iters = 1u32;
	loop {
		let t = Instant::now();
		for _ in 0..iters {
			f();
		}
		if t.elapsed().as_secs_f64() > 0.05 {
			break;
		}
		iters *= 2;
	}
	let mut samples: Vec<f64> = (0..21)
		.map(|_| {
			let t = Instant::now();
			for _ in 0..iters {
				f();
			}
			t.elapsed().as_secs_f64() / f64::from(iters)
		})
		.collect();
	samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
	samples[samples.len() / 2]
}

fn main() {
	// `cargo test --benches` runs bench targets with `--bench` missing: keep that quick.
	if !std::env::args().any(|a| a == "--bench") {
		println!("routing bench: pass --bench (cargo bench) to measure");
		return;
	}
	let alpha = Perbill::from_percent(50);
	let mut rows = Vec::new();
	for n in [10_000usize, 20_000] {
		let nodes = registry(n, 0x5eed_0000 + n as u64);
		let route = best_route(LAYERS, &nodes, alpha).expect("dense registries cover all layers");
		let secs = median_secs(|| {
			black_box(best_route(LAYERS, black_box(&nodes), alpha).ok());
		});
		println!(
			"best_route  {n:>6} nodes x {LAYERS} layers: {:>9.1} µs  (route of {} nodes, price {}, cost {} ms)",
			secs * 1e6,
			route.nodes.len(),
			route.total_price,
			route.total_cost,
		);
		rows.push(secs);
	}
	println!("ratio 20,000 / 10,000 nodes: {:.2} (linear ≈ 2, quadratic ≈ 4)", rows[1] / rows[0]);

	// The frontier on the same registries, for reference (its size, not only the nodes, drives it).
	let mut frows = Vec::new();
	for n in [10_000usize, 20_000] {
		let nodes = registry(n, 0x5eed_0000 + n as u64);
		let frontier = pareto_frontier(LAYERS, &nodes, 10_000).expect("bounded frontier");
		let secs = median_secs(|| {
			black_box(pareto_frontier(LAYERS, black_box(&nodes), 10_000).ok());
		});
		println!(
			"pareto      {n:>6} nodes x {LAYERS} layers: {:>9.1} µs  ({} Pareto-optimal routes)",
			secs * 1e6,
			frontier.len()
		);
		frows.push(secs);
	}
	println!("ratio 20,000 / 10,000 nodes: {:.2}", frows[1] / frows[0]);

	// The worst case the registry allows: `MAX_LAYERS` one-layer shards of `SHARD_NODES` nodes,
	// shaped so that every boundary keeps a full frontier of `SHARD_NODES` finishes and extends
	// `SHARD_NODES²` of them (see `worst_registry`), against `best_route` on the same nodes.
	let nodes = worst_registry();
	let frontier = pareto_frontier(MAX_LAYERS, &nodes, SHARD_NODES as u32).expect("full frontier");
	assert_eq!(frontier.len(), SHARD_NODES);
	let pareto = median_secs(|| {
		black_box(pareto_frontier(MAX_LAYERS, black_box(&nodes), SHARD_NODES as u32).ok());
	});
	let best = median_secs(|| {
		black_box(best_route(MAX_LAYERS, black_box(&nodes), alpha).ok());
	});
	println!(
		"worst case {} nodes x {MAX_LAYERS} layers: pareto {:.1} µs, best_route {:.1} µs, ratio {:.1} \
		 (frontier of {} routes; bound F·log(n·F) ≈ {})",
		nodes.len(),
		pareto * 1e6,
		best * 1e6,
		pareto / best,
		frontier.len(),
		SHARD_NODES * 12,
	);
}

/// The runtime's `MaxLayers` and `MaxNodesPerShard`.
const MAX_LAYERS: u16 = 256;
const SHARD_NODES: usize = 64;

/// On the last layer `SHARD_NODES` nodes trading price for cost one for one, so the frontier
/// there is full; on every other layer one node that costs nothing extra and `SHARD_NODES - 1`
/// dominated ones, so every boundary extends `SHARD_NODES²` finishes and keeps `SHARD_NODES`.
fn worst_registry() -> Vec<RouteCandidate<u64>> {
	let mut nodes = Vec::new();
	for layer in 0..MAX_LAYERS {
		for j in 0..SHARD_NODES as u64 {
			let (price, cost) = if layer == MAX_LAYERS - 1 {
				(1 + u128::from(j), 64 - j as u32)
			} else if j == 0 {
				(1, 1)
			} else {
				(1_000, 1_000)
			};
			nodes.push(RouteCandidate {
				id: u64::from(layer) * 1_000 + j,
				layers: LayerRange::new(layer, layer + 1),
				cost,
				price,
			});
		}
	}
	nodes
}
