//! Routes through the layer DAG of a model (P2P-LLM §3.1-3.2).
//!
//! A *route* for a model of `m` layers is a sequence of nodes whose layer ranges tile `[0, m)`
//! exactly: the first starts at layer 0, each next one starts where the previous one ends and the
//! last ends at `m`. Every node that ends at layer `y` connects to every node that starts at `y`,
//! so instead of materialising those edges (quadratic in the nodes of a layer boundary) both
//! algorithms below work on the layer boundaries `0..=m` and visit each node once per boundary:
//!
//! - [`best_route`] minimises the sum of node weights `w = alpha * p + (1 - alpha) * c` in
//!   `O(nodes + layers)` time;
//! - [`pareto_frontier`] returns every route that no other route beats on both total price and
//!   total cost, in `O((nodes + layers) · F · log)` time and `O(layers · F)` memory for
//!   frontiers of at most `F` routes (see its *Cost* section).
//!
//! # Determinism
//!
//! Runtime and worker must agree on *the* route, so ties are broken the same way everywhere:
//! among routes of equal weight (or, on the frontier, of equal totals) the one whose sequence of
//! node ids is lexicographically smallest wins. Node ids must be unique.
//!
//! # Arithmetic
//!
//! Weights are exact integers in units of `10^-9`: `w = a * p + (10^9 - a) * c` where `a` is
//! `alpha` in parts per billion, so no rounding ever decides a route. Sums saturate at the type's
//! maximum instead of wrapping; with the registry's bounded prices and costs they never get there.

use crate::layers::{Layer, LayerRange};
use alloc::{vec, vec::Vec};
use codec::{Decode, Encode};
use core::cmp::Ordering;
use scale_info::TypeInfo;
use sp_arithmetic::{PerThing, Perbill};

/// What the routing algorithms need to know about one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteCandidate<Id> {
	/// Unique id of the node.
	pub id: Id,
	/// Layers the node serves.
	pub layers: LayerRange,
	/// Measured cost of one forward pass over its layers, in milliseconds.
	pub cost: u32,
	/// Price of one forward pass over its layers, in the chain's smallest balance unit.
	pub price: u128,
}

/// A route through all layers of a model, with its totals.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Encode, Decode, TypeInfo)]
pub struct Route<Id> {
	/// Sum of the node prices.
	pub total_price: u128,
	/// Sum of the node costs, in milliseconds.
	pub total_cost: u64,
	/// The nodes, in layer order.
	pub nodes: Vec<Id>,
}

impl<Id> Route<Id> {
	/// The route's weight `alpha * total_price + (1 - alpha) * total_cost` in units of `10^-9`;
	/// equal to the sum of its nodes' [`node_weight`]s.
	pub fn weight(&self, alpha: Perbill) -> u128 {
		weigh(alpha, self.total_price, u128::from(self.total_cost))
	}
}

/// Why no route could be returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum RouteError {
	/// The model has no layers.
	NoLayers,
	/// The candidate at this index (in the input slice) has an empty range or one that ends past
	/// the model's last layer.
	InvalidRange(u32),
	/// The nodes do not cover every layer: there is no route from layer 0 to layer `m`.
	NoRoute,
	/// More than the allowed number of routes are Pareto-optimal from some layer boundary.
	FrontierTooLarge,
}

/// The weight of one node, `alpha * price + (1 - alpha) * cost`, in units of `10^-9`.
pub fn node_weight(alpha: Perbill, price: u128, cost: u32) -> u128 {
	weigh(alpha, price, u128::from(cost))
}

fn weigh(alpha: Perbill, price: u128, cost: u128) -> u128 {
	let a = u128::from(alpha.deconstruct());
	let one_minus_a = u128::from(Perbill::ACCURACY).saturating_sub(a);
	a.saturating_mul(price).saturating_add(one_minus_a.saturating_mul(cost))
}

/// Candidates grouped by the layer they start at, built with a counting sort in
/// `O(nodes + layers)`.
struct ByStart {
	/// `offsets[y]..offsets[y + 1]` is the slice of `order` holding the nodes that start at `y`.
	offsets: Vec<usize>,
	/// Candidate indices ordered by start layer.
	order: Vec<usize>,
}

impl ByStart {
	fn new<Id>(layers: Layer, candidates: &[RouteCandidate<Id>]) -> Result<Self, RouteError> {
		let m = usize::from(layers);
		let mut offsets = vec![0usize; m.saturating_add(2)];
		for (i, c) in candidates.iter().enumerate() {
			if !c.layers.fits(layers) {
				return Err(RouteError::InvalidRange(u32::try_from(i).unwrap_or(u32::MAX)));
			}
			// Count into the slot after the start, so that the prefix sum gives each start's
			// first position.
			let slot = offsets
				.get_mut(usize::from(c.layers.start).saturating_add(1))
				.ok_or(RouteError::InvalidRange(u32::try_from(i).unwrap_or(u32::MAX)))?;
			*slot = slot.saturating_add(1);
		}
		let mut running = 0usize;
		for slot in offsets.iter_mut() {
			running = running.saturating_add(*slot);
			*slot = running;
		}
		let mut next = offsets.clone();
		let mut order = vec![0usize; candidates.len()];
		for (i, c) in candidates.iter().enumerate() {
			if let Some(pos) = next.get_mut(usize::from(c.layers.start)) {
				if let Some(dest) = order.get_mut(*pos) {
					*dest = i;
				}
				*pos = pos.saturating_add(1);
			}
		}
		Ok(Self { offsets, order })
	}

	/// Indices of the candidates that start at layer `y`.
	fn starting_at(&self, y: usize) -> &[usize] {
		let from = self.offsets.get(y).copied().unwrap_or(0);
		let to = self.offsets.get(y.saturating_add(1)).copied().unwrap_or(from);
		self.order.get(from..to).unwrap_or(&[])
	}
}

/// The lightest route from layer 0 to layer `layers` under weight `alpha`, in
/// `O(nodes + layers)` time and memory.
///
/// Among equally light routes the one with the lexicographically smallest sequence of node ids
/// is returned. Works backwards over the layer boundaries: `best[y]` is the lightest way to finish
/// the model from layer `y`, and each node starting at `y` is looked at exactly once.
pub fn best_route<Id: Copy + Ord>(
	layers: Layer,
	candidates: &[RouteCandidate<Id>],
	alpha: Perbill,
) -> Result<Route<Id>, RouteError> {
	if layers == 0 {
		return Err(RouteError::NoLayers);
	}
	let by_start = ByStart::new(layers, candidates)?;
	let m = usize::from(layers);
	// best[y] = (weight of the lightest finish from y, index of its first node).
	let mut best: Vec<Option<(u128, usize)>> = vec![None; m.saturating_add(1)];
	if let Some(end) = best.get_mut(m) {
		*end = Some((0, usize::MAX));
	}
	for y in (0..m).rev() {
		let mut choice: Option<(u128, usize)> = None;
		for &i in by_start.starting_at(y) {
			let Some(c) = candidates.get(i) else { continue };
			let Some(Some((rest, _))) = best.get(usize::from(c.layers.end)) else { continue };
			let total = node_weight(alpha, c.price, c.cost).saturating_add(*rest);
			let better = match choice.and_then(|(w, j)| candidates.get(j).map(|b| (w, b.id))) {
				None => true,
				Some(current) => (total, c.id) < current,
			};
			if better {
				choice = Some((total, i));
			}
		}
		if let Some(slot) = best.get_mut(y) {
			*slot = choice;
		}
	}

	let mut route = Route { total_price: 0, total_cost: 0, nodes: Vec::new() };
	let mut y = 0usize;
	while y < m {
		let Some(Some((_, i))) = best.get(y) else { return Err(RouteError::NoRoute) };
		let c = candidates.get(*i).ok_or(RouteError::NoRoute)?;
		route.nodes.push(c.id);
		route.total_price = route.total_price.saturating_add(c.price);
		route.total_cost = route.total_cost.saturating_add(u64::from(c.cost));
		y = usize::from(c.layers.end);
	}
	Ok(route)
}

/// Every Pareto-optimal route over (total price, total cost), cheapest total price first.
///
/// A route is on the frontier when no other route is at most as expensive *and* at most as slow
/// while being strictly better in one of the two. Routes with identical totals are represented by
/// the one with the lexicographically smallest sequence of node ids.
///
/// Works backwards over the layer boundaries keeping, at each boundary, the frontier of the ways
/// to finish the model from there (a suffix of a Pareto-optimal route is itself Pareto-optimal
/// from its first layer). Fails with [`RouteError::FrontierTooLarge`] rather than return a
/// truncated frontier when a boundary has more than `max_routes` optimal finishes.
///
/// # Cost
///
/// A finish is stored as its totals, its first node and the position of the rest in the next
/// boundary's frontier, never as a list of nodes, so with `n_y` nodes starting at boundary `y`
/// and frontiers of at most `F = max_routes` finishes the work is
/// `O(nodes + layers + Σ_y n_y·F·log(n_y·F))` and the memory `O(layers·F + max_y n_y·F)`; only the
/// `≤ F` routes returned are spelled out, `O(F·layers)`. In the registry `n_y` is at most a shard's
/// node limit, so the cost is bounded by the chain's constants whatever the nodes declare.
pub fn pareto_frontier<Id: Copy + Ord>(
	layers: Layer,
	candidates: &[RouteCandidate<Id>],
	max_routes: u32,
) -> Result<Vec<Route<Id>>, RouteError> {
	if layers == 0 {
		return Err(RouteError::NoLayers);
	}
	let by_start = ByStart::new(layers, candidates)?;
	let m = usize::from(layers);
	let limit = usize::try_from(max_routes).unwrap_or(usize::MAX);
	let mut finishes: Vec<Vec<Finish<Id>>> = vec![Vec::new(); m.saturating_add(1)];
	if let Some(end) = finishes.get_mut(m) {
		end.push(Finish { total_price: 0, total_cost: 0, step: None });
	}
	for y in (0..m).rev() {
		let mut extended: Vec<Finish<Id>> = Vec::new();
		for &i in by_start.starting_at(y) {
			let Some(c) = candidates.get(i) else { continue };
			let Some(rest) = finishes.get(usize::from(c.layers.end)) else { continue };
			for (position, tail) in rest.iter().enumerate() {
				extended.push(Finish {
					total_price: tail.total_price.saturating_add(c.price),
					total_cost: tail.total_cost.saturating_add(u64::from(c.cost)),
					step: Some(Step { id: c.id, candidate: i, rest: position }),
				});
			}
		}
		let frontier = non_dominated(extended);
		if frontier.len() > limit {
			return Err(RouteError::FrontierTooLarge);
		}
		if let Some(slot) = finishes.get_mut(y) {
			*slot = frontier;
		}
	}
	let first = finishes.first().map(Vec::as_slice).unwrap_or_default();
	if first.is_empty() {
		return Err(RouteError::NoRoute);
	}
	Ok(first.iter().map(|finish| spell_out(finish, candidates, &finishes)).collect())
}

/// One way to finish the model from a layer boundary: its totals and, unless it is the end, its
/// first node and where the rest of it is kept.
#[derive(Clone, Copy, Debug)]
struct Finish<Id> {
	total_price: u128,
	total_cost: u64,
	step: Option<Step<Id>>,
}

#[derive(Clone, Copy, Debug)]
struct Step<Id> {
	/// Id of the first node.
	id: Id,
	/// Index of the first node in the candidates.
	candidate: usize,
	/// Position of the rest in the frontier of the boundary where the first node ends.
	rest: usize,
}

/// The nodes of a finish, followed through the frontiers it continues in.
fn spell_out<Id: Copy>(
	finish: &Finish<Id>,
	candidates: &[RouteCandidate<Id>],
	finishes: &[Vec<Finish<Id>>],
) -> Route<Id> {
	let mut route =
		Route { total_price: finish.total_price, total_cost: finish.total_cost, nodes: Vec::new() };
	let mut step = finish.step;
	while let Some(Step { id, candidate, rest }) = step {
		route.nodes.push(id);
		step = candidates
			.get(candidate)
			.and_then(|c| finishes.get(usize::from(c.layers.end)))
			.and_then(|frontier| frontier.get(rest))
			.and_then(|next| next.step);
	}
	route
}

/// Keeps the finishes no other finish dominates, one per distinct pair of totals, sorted by total
/// price. Sorting by (price, cost, first id) puts the representative of each pair first and every
/// dominated finish after one that dominates it.
///
/// Comparing first ids is comparing whole node sequences: two finishes with equal totals and the
/// same first node continue from the same boundary with equal totals, and a frontier holds one
/// finish per pair of totals, so they are the same finish.
fn non_dominated<Id: Ord>(mut finishes: Vec<Finish<Id>>) -> Vec<Finish<Id>> {
	finishes.sort_unstable_by(|a, b| {
		(a.total_price, a.total_cost)
			.cmp(&(b.total_price, b.total_cost))
			.then_with(|| match (&a.step, &b.step) {
				(Some(x), Some(y)) => x.id.cmp(&y.id).then(x.rest.cmp(&y.rest)),
				(None, None) => Ordering::Equal,
				(None, Some(_)) => Ordering::Less,
				(Some(_), None) => Ordering::Greater,
			})
	});
	let mut frontier: Vec<Finish<Id>> = Vec::new();
	for finish in finishes {
		let dominated = frontier.last().is_some_and(|kept| kept.total_cost <= finish.total_cost);
		if !dominated {
			frontier.push(finish);
		}
	}
	frontier
}

#[cfg(test)]
mod tests {
	use super::*;

	fn node(id: u32, start: Layer, end: Layer, cost: u32, price: u128) -> RouteCandidate<u32> {
		RouteCandidate { id, layers: LayerRange::new(start, end), cost, price }
	}

	/// Four layers; a fast expensive pair, a slow cheap pair and a single node for everything.
	fn network() -> Vec<RouteCandidate<u32>> {
		vec![
			node(1, 0, 2, 10, 50), // fast, expensive
			node(2, 2, 4, 10, 50),
			node(3, 0, 2, 40, 5), // slow, cheap
			node(4, 2, 4, 40, 5),
			node(5, 0, 4, 45, 40), // one node, middle of the road
			node(6, 1, 3, 1, 1),   // cannot be part of any route
		]
	}

	#[test]
	fn alpha_moves_the_best_route_along_the_frontier() {
		let nodes = network();
		let cost_only = best_route(4, &nodes, Perbill::zero()).unwrap();
		assert_eq!(cost_only.nodes, vec![1, 2]);
		assert_eq!((cost_only.total_price, cost_only.total_cost), (100, 20));
		let price_only = best_route(4, &nodes, Perbill::one()).unwrap();
		assert_eq!(price_only.nodes, vec![3, 4]);
		let balanced = best_route(4, &nodes, Perbill::from_percent(50)).unwrap();
		assert_eq!(balanced.nodes, vec![5]);
		assert_eq!(balanced.weight(Perbill::from_percent(50)), 42_500_000_000);
	}

	#[test]
	fn frontier_lists_every_optimal_trade_off() {
		let frontier = pareto_frontier(4, &network(), 16).unwrap();
		let totals: Vec<_> =
			frontier.iter().map(|r| (r.total_price, r.total_cost, r.nodes.clone())).collect();
		assert_eq!(totals, vec![(10, 80, vec![3, 4]), (40, 45, vec![5]), (100, 20, vec![1, 2])]);
		assert_eq!(pareto_frontier(4, &network(), 2), Err(RouteError::FrontierTooLarge));
	}

	#[test]
	fn ties_go_to_the_smallest_id_sequence() {
		let nodes = vec![node(9, 0, 1, 5, 5), node(2, 0, 1, 5, 5), node(4, 1, 2, 1, 1)];
		assert_eq!(best_route(2, &nodes, Perbill::from_percent(30)).unwrap().nodes, vec![2, 4]);
		let frontier = pareto_frontier(2, &nodes, 4).unwrap();
		assert_eq!(frontier.len(), 1);
		assert_eq!(frontier[0].nodes, vec![2, 4]);
	}

	#[test]
	fn gaps_and_bad_input_are_errors() {
		let gap = vec![node(1, 0, 2, 1, 1), node(2, 3, 4, 1, 1)];
		assert_eq!(best_route(4, &gap, Perbill::zero()), Err(RouteError::NoRoute));
		assert_eq!(pareto_frontier(4, &gap, 8), Err(RouteError::NoRoute));
		assert_eq!(best_route::<u32>(4, &[], Perbill::zero()), Err(RouteError::NoRoute));
		assert_eq!(best_route::<u32>(0, &[], Perbill::zero()), Err(RouteError::NoLayers));
		let outside = vec![node(1, 0, 2, 1, 1), node(2, 2, 5, 1, 1)];
		assert_eq!(best_route(4, &outside, Perbill::zero()), Err(RouteError::InvalidRange(1)));
		let empty = vec![node(1, 2, 2, 1, 1)];
		assert_eq!(pareto_frontier(4, &empty, 8), Err(RouteError::InvalidRange(0)));
	}

	#[test]
	fn weights_are_exact_and_saturate() {
		assert_eq!(
			node_weight(Perbill::from_percent(25), 4, 8),
			25 * 4 * 10_000_000 + 75 * 8 * 10_000_000
		);
		assert_eq!(node_weight(Perbill::one(), u128::MAX, 0), u128::MAX);
	}
}
