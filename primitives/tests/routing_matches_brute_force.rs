#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::indexing_slicing)] // test code
//! Property test: on random registries the linear-time route and the Pareto frontier equal a
//! brute-force enumeration of every route through the layer DAG.
//!
//! The random registries are small (so that enumeration stays cheap) but dense in the cases that
//! matter: several nodes per layer boundary, ranges that leave gaps, nodes past the model's end
//! are not generated (they are an input error, tested in the unit tests), and prices and costs
//! drawn from a narrow range so that ties are frequent.

use appchain_primitives::{
	routing::{best_route, pareto_frontier, Route, RouteCandidate, RouteError},
	Layer, LayerRange,
};
use proptest::prelude::*;
use sp_arithmetic::Perbill;

/// Every route from layer 0 to layer `m`, by depth-first enumeration.
fn all_routes(m: Layer, nodes: &[RouteCandidate<u32>]) -> Vec<Route<u32>> {
	fn walk(
		at: Layer,
		m: Layer,
		nodes: &[RouteCandidate<u32>],
		prefix: &mut Vec<usize>,
		out: &mut Vec<Route<u32>>,
	) {
		if at == m {
			out.push(Route {
				total_price: prefix.iter().map(|&i| nodes[i].price).sum(),
				total_cost: prefix.iter().map(|&i| u64::from(nodes[i].cost)).sum(),
				nodes: prefix.iter().map(|&i| nodes[i].id).collect(),
			});
			return;
		}
		for (i, n) in nodes.iter().enumerate() {
			if n.layers.start == at {
				prefix.push(i);
				walk(n.layers.end, m, nodes, prefix, out);
				prefix.pop();
			}
		}
	}
	let mut out = Vec::new();
	walk(0, m, nodes, &mut Vec::new(), &mut out);
	out
}

fn brute_best(
	m: Layer,
	nodes: &[RouteCandidate<u32>],
	alpha: Perbill,
) -> Result<Route<u32>, RouteError> {
	all_routes(m, nodes)
		.into_iter()
		.min_by(|a, b| (a.weight(alpha), &a.nodes).cmp(&(b.weight(alpha), &b.nodes)))
		.ok_or(RouteError::NoRoute)
}

fn brute_frontier(m: Layer, nodes: &[RouteCandidate<u32>]) -> Result<Vec<Route<u32>>, RouteError> {
	let routes = all_routes(m, nodes);
	if routes.is_empty() {
		return Err(RouteError::NoRoute);
	}
	let dominates = |a: &Route<u32>, b: &Route<u32>| {
		a.total_price <= b.total_price
			&& a.total_cost <= b.total_cost
			&& (a.total_price < b.total_price || a.total_cost < b.total_cost)
	};
	let mut frontier: Vec<Route<u32>> = Vec::new();
	for r in &routes {
		if routes.iter().any(|other| dominates(other, r)) {
			continue;
		}
		// One representative per pair of totals: the smallest sequence of ids.
		let same = routes
			.iter()
			.filter(|o| (o.total_price, o.total_cost) == (r.total_price, r.total_cost))
			.map(|o| &o.nodes)
			.min()
			.unwrap();
		if &r.nodes == same {
			frontier.push(r.clone());
		}
	}
	frontier.sort_by_key(|r| r.total_price);
	Ok(frontier)
}

/// A registry of up to 14 nodes on a model of 1 to 8 layers; ids are unique but shuffled.
fn registry() -> impl Strategy<Value = (Layer, Vec<RouteCandidate<u32>>)> {
	(1u16..=8).prop_flat_map(|m| {
		let node =
			(0..m, 1u16..=4, 0u32..6, 0u128..6).prop_map(move |(start, len, cost, price)| {
				let end = start.saturating_add(len).min(m);
				(LayerRange::new(start, end), cost, price)
			});
		(Just(m), proptest::collection::vec(node, 0..14), any::<u32>()).prop_map(
			|(m, raw, salt)| {
				let nodes = raw
					.into_iter()
					.enumerate()
					.map(|(i, (layers, cost, price))| RouteCandidate {
						id: (i as u32).wrapping_mul(2_654_435_761).wrapping_add(salt) % 1_000_003,
						layers,
						cost,
						price,
					})
					.collect::<Vec<_>>();
				(m, nodes)
			},
		)
	})
}

fn alpha() -> impl Strategy<Value = Perbill> {
	prop_oneof![
		Just(Perbill::zero()),
		Just(Perbill::from_percent(50)),
		Just(Perbill::one()),
		(0u32..=1_000_000_000).prop_map(Perbill::from_parts),
	]
}

fn unique_ids(nodes: &[RouteCandidate<u32>]) -> bool {
	let mut ids: Vec<_> = nodes.iter().map(|n| n.id).collect();
	ids.sort_unstable();
	ids.windows(2).all(|w| w[0] != w[1])
}

proptest! {
	#![proptest_config(ProptestConfig::with_cases(2_000))]

	#[test]
	fn best_route_equals_brute_force((m, nodes) in registry(), alpha in alpha()) {
		prop_assume!(unique_ids(&nodes));
		prop_assert_eq!(best_route(m, &nodes, alpha), brute_best(m, &nodes, alpha));
	}

	#[test]
	fn pareto_frontier_equals_brute_force((m, nodes) in registry()) {
		prop_assume!(unique_ids(&nodes));
		prop_assert_eq!(pareto_frontier(m, &nodes, 1_000), brute_frontier(m, &nodes));
	}

	#[test]
	fn best_route_lies_on_the_frontier((m, nodes) in registry(), alpha in alpha()) {
		prop_assume!(unique_ids(&nodes));
		if let Ok(best) = best_route(m, &nodes, alpha) {
			let frontier = pareto_frontier(m, &nodes, 1_000).unwrap();
			let w = best.weight(alpha);
			// Some frontier route is exactly as light: the weighted optimum is Pareto-optimal.
			prop_assert!(frontier.iter().any(|r| r.weight(alpha) == w));
		}
	}
}
