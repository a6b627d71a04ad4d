//! Adaptive pricing and layer reallocation of P2P-LLM (§3.3–3.4), as pure functions shared by the
//! simulator (`appchain-worker simulate`) and the serving worker's live agent.
//!
//! Floating point, so `std` only: these rules advise off-chain agents; the runtime never decides
//! anything with them.
//!
//! # The model
//!
//! Nodes serving the same layers compete for every request that passes those layers. Node `i`
//! has a price `p_i` and a cost `c_i` (milliseconds per forward pass); a client weighs it
//! `w_i = α·p_i + (1 − α)·c_i` ([`weight`]) and picks it with the Boltzmann probability
//! `P_i = e^{−w_i} / Σ_j e^{−w_j}` ([`choice_probabilities`]). Its expected revenue per request is
//! `R_i = p_i·P_i` ([`expected_revenue`]), whose derivative is
//! `dR_i/dp_i = P_i·(1 + α·p_i·(P_i − 1))` ([`revenue_gradient`]); each node climbs it,
//! `p ← p + η·dR/dp` ([`price_step`]).
//!
//! A node's share of a layer's compute is `s_l(c_i) = c_i^{−1} / Σ_j c_j^{−1}`, itself counted in
//! ([`compute_share`]), and it moves to the layer where that share is largest, when that beats
//! where it is ([`best_layer`]).
//!
//! # What the paper leaves open, worked out
//!
//! **Best response in closed form.** Write `x = α·p_i`, `K = e^{−(1−α)c_i}` (the node's own cost
//! factor) and `O = Σ_{j≠i} e^{−w_j}` (its competitors). The first-order condition
//! `1 + x·(P_i − 1) = 0` with `P_i = K·e^{−x} / (K·e^{−x} + O)` becomes `(x − 1)·e^{x−1} =
//! K / (e·O)`, so `x = 1 + W(K / (e·O))` with `W` the principal branch of Lambert's W function:
//! [`best_response_price`]. `R_i` rises below that price and falls above it, so it is the unique
//! maximum. A node without competitors (`O = 0`) has no best price: `P_i = 1` and its revenue
//! grows with its price without bound; the gradient step then adds `η` every iteration. Prices
//! therefore live in `[floor, ceiling]` (the agent's maximum price, the simulator's
//! `--max-price`): [`price_step`] clamps, and since `R_i` is unimodal the best price within the
//! bounds is the unconstrained one clamped, or the ceiling for a lone node
//! ([`best_bounded_price`]). At a bound the first-order condition becomes the Karush–Kuhn–Tucker
//! one: `dR/dp ≥ 0` at the ceiling, `≤ 0` at the floor ([`first_order_residual`]).
//!
//! **Equal costs.** With `n ≥ 2` nodes of equal cost on a layer, the symmetric equilibrium has
//! `P_i = 1/n` and `1 + α·p·(1/n − 1) = 0`, so `p* = n / (α·(n − 1))`
//! ([`symmetric_equilibrium_price`]); costs cancel out of `P_i`. Table 1's `[7, 7, 7, 7]` with
//! `α = 0.5` gives `p* = 7/3 ≈ 2.333`, the paper's 2.33. Seven nodes of cost 1 cannot all serve
//! four layers evenly unless each moves, and with equal costs the share rule is a head count
//! (`1/n_l`): a node moves from a layer of `n` to one of `m` nodes when `1/(m + 1) > 1/n`, that is
//! `m + 1 < n`, so moves stop exactly when every two layers differ by at most one node.
//!
//! **Unequal costs.** Costs do not cancel: a node `Δc` cheaper than its rival is `e^{(1−α)Δc}`
//! times likelier to be chosen at equal prices, so with the paper's `c_i ∈ (1, 50)` the cheapest
//! node of a layer takes almost every request and prices a premium (`x ≈ 1 + W(large)`), while
//! dear nodes' `P_i` is near zero and so is their gradient: their prices barely move. The
//! equilibrium is then checked, not solved: each node's first-order residual and the gain a
//! best response would give it. The share rule is a weighted load-balancing game: a move lowers
//! `Σ` of the moved node's old layer and raises its new one by less than the gap, so the sorted
//! vector of per-layer sums falls lexicographically with every move and moves stop after
//! finitely many.
//!
//! **How often and ties.** The simulator prices every iteration and lets the one node with the
//! largest share gain move every `move_every` iterations (ties: the lowest node index; a node
//! never moves for a share gain below a relative hysteresis). Among equally good target layers
//! the lowest index wins.
//!
//! **Ranges of layers.** A real node serves a range of layers, and a *layer* of this model is
//! then a layer range that nodes can serve interchangeably: on this chain a shard (a
//! `LayerShard` market). Competitors are the nodes serving the same range; moving is
//! `move_layers` to another shard's range.

use alloc::vec::Vec;

/// `w = α·p + (1 − α)·c`.
pub fn weight(alpha: f64, price: f64, cost: f64) -> f64 {
	alpha * price + (1.0 - alpha) * cost
}

/// One competitor on a layer: its price and its cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Offer {
	/// Price per forward pass.
	pub price: f64,
	/// Cost of a forward pass (milliseconds).
	pub cost: f64,
}

/// The Boltzmann choice probabilities `P_i = e^{−w_i} / Σ_j e^{−w_j}`, computed relative to the
/// lightest weight so that no exponential overflows or underflows to all zeros.
pub fn choice_probabilities(alpha: f64, offers: &[Offer]) -> Vec<f64> {
	let weights: Vec<f64> = offers.iter().map(|o| weight(alpha, o.price, o.cost)).collect();
	let lightest = weights.iter().copied().fold(f64::INFINITY, f64::min);
	let terms: Vec<f64> = weights.iter().map(|w| (lightest - w).exp()).collect();
	let total: f64 = terms.iter().sum();
	terms.iter().map(|t| t / total).collect()
}

/// `R_i = p_i·P_i` for offer `i` among `offers`.
pub fn expected_revenue(alpha: f64, offers: &[Offer], i: usize) -> f64 {
	let p = choice_probabilities(alpha, offers);
	offers.get(i).zip(p.get(i)).map_or(0.0, |(o, p)| o.price * p)
}

/// `dR/dp = P·(1 + α·p·(P − 1))` at price `price` and choice probability `probability`.
pub fn revenue_gradient(alpha: f64, price: f64, probability: f64) -> f64 {
	probability * (1.0 + alpha * price * (probability - 1.0))
}

/// Every offer's price after one simultaneous gradient-ascent step `p ← p + η·dR/dp`, kept
/// within `[floor, ceiling]`.
pub fn price_step(alpha: f64, eta: f64, offers: &[Offer], floor: f64, ceiling: f64) -> Vec<f64> {
	let p = choice_probabilities(alpha, offers);
	offers
		.iter()
		.zip(p)
		.map(|(o, p)| (o.price + eta * revenue_gradient(alpha, o.price, p)).clamp(floor, ceiling))
		.collect()
}

/// The revenue-maximising price of offer `i` within `[floor, ceiling]`: the best response
/// clamped, or the ceiling for a node without competitors (whose revenue only grows with
/// price). `None` for an unknown offer or `α = 0`.
pub fn best_bounded_price(
	alpha: f64,
	offers: &[Offer],
	i: usize,
	floor: f64,
	ceiling: f64,
) -> Option<f64> {
	if alpha <= 0.0 || offers.get(i).is_none() {
		return None;
	}
	Some(best_response_price(alpha, offers, i).map_or(ceiling, |p| p.clamp(floor, ceiling)))
}

/// How far a price in `[floor, ceiling]` is from the first-order (KKT) condition: `|dR/dp|`
/// inside, and only the part of the gradient that points out of the bound at a bound.
pub fn first_order_residual(gradient: f64, price: f64, floor: f64, ceiling: f64) -> f64 {
	if price >= ceiling {
		(-gradient).max(0.0)
	} else if price <= floor {
		gradient.max(0.0)
	} else {
		gradient.abs()
	}
}

/// The symmetric equilibrium price of `n ≥ 2` equal-cost nodes, `n / (α·(n − 1))`; `None` for
/// fewer nodes (a lone node has no best price) or `α = 0` (price does not matter).
pub fn symmetric_equilibrium_price(alpha: f64, n: usize) -> Option<f64> {
	if n < 2 || alpha <= 0.0 {
		return None;
	}
	let n = n as f64;
	Some(n / (alpha * (n - 1.0)))
}

/// The principal branch of Lambert's W for `z ≥ 0`: the `w ≥ 0` with `w·e^w = z`, by Halley's
/// iteration (to the last bits of an `f64`).
pub fn lambert_w(z: f64) -> f64 {
	if z.is_nan() || z <= 0.0 {
		return 0.0;
	}
	// A start within a factor of the root: log(1 + z) below e, log z − log log z above.
	let mut w = if z < core::f64::consts::E { (1.0 + z).ln() * 0.75 } else { z.ln() - z.ln().ln() };
	for _ in 0..64 {
		let ew = w.exp();
		let f = w * ew - z;
		let step = f / (ew * (w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0));
		w -= step;
		if step.abs() <= 1e-15 * w.abs().max(1e-300) {
			break;
		}
	}
	w
}

/// The price that maximises offer `i`'s revenue against the others' current offers:
/// `(1 + W(K / (e·O))) / α` (see the module docs); `None` without competitors or with `α = 0`.
pub fn best_response_price(alpha: f64, offers: &[Offer], i: usize) -> Option<f64> {
	let own = offers.get(i)?;
	if alpha <= 0.0 {
		return None;
	}
	// Relative to node i's cost term so that K = 1 and O stays representable.
	let own_cost_term = (1.0 - alpha) * own.cost;
	let others: f64 = offers
		.iter()
		.enumerate()
		.filter(|(j, _)| *j != i)
		.map(|(_, o)| (own_cost_term - weight(alpha, o.price, o.cost)).exp())
		.sum();
	if others.is_nan() || others <= 0.0 {
		return None;
	}
	let x = 1.0 + lambert_w(1.0 / (core::f64::consts::E * others));
	Some(x / alpha)
}

/// Node `i`'s share of a layer's compute, `c_i^{−1} / Σ_j c_j^{−1}`, where `others` are the costs
/// of the other nodes on the layer (node `i` counted in once).
pub fn compute_share(cost: f64, others: &[f64]) -> f64 {
	let own = 1.0 / cost;
	own / (own + others.iter().map(|c| 1.0 / c).sum::<f64>())
}

/// Where a node of cost `cost` on layer `current` would move (eq. 8): the layer with the largest
/// [`compute_share`], counting the node into each candidate layer and out of its own, if it beats
/// the current share by more than the relative `hysteresis` (0 moves on any strict gain). Ties
/// go to the lowest layer index. `layers[l]` lists the costs of the nodes on layer `l`, the node
/// itself included in `layers[current]`.
pub fn best_layer(cost: f64, current: usize, layers: &[Vec<f64>], hysteresis: f64) -> Option<Move> {
	let here = layers.get(current)?;
	// The node's own entry once out of its current layer.
	let mut others_here = here.clone();
	let own = others_here.iter().position(|c| *c == cost)?;
	others_here.swap_remove(own);
	let current_share = compute_share(cost, &others_here);
	let mut best: Option<Move> = None;
	for (l, costs) in layers.iter().enumerate() {
		if l == current {
			continue;
		}
		let share = compute_share(cost, costs);
		if best.as_ref().is_none_or(|b| share > b.share) {
			best = Some(Move { to: l, share, current_share });
		}
	}
	best.filter(|m| m.share > current_share * (1.0 + hysteresis))
}

/// A move [`best_layer`] advises.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Move {
	/// Layer to move to.
	pub to: usize,
	/// The node's share there.
	pub share: f64,
	/// Its share where it is.
	pub current_share: f64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)] // test code
mod tests {
	use super::*;

	fn offers(list: &[(f64, f64)]) -> Vec<Offer> {
		list.iter().map(|&(price, cost)| Offer { price, cost }).collect()
	}

	#[test]
	fn the_gradient_matches_a_finite_difference() {
		for (alpha, list) in [
			(0.5, vec![(1.0, 1.0), (2.0, 1.0), (1.5, 3.0)]),
			(0.2, vec![(3.0, 10.0), (0.5, 12.0)]),
			(0.9, vec![(2.3, 1.0), (2.4, 1.0), (2.2, 1.0), (2.33, 1.0)]),
		] {
			let mut o = offers(&list);
			for i in 0..o.len() {
				let p = choice_probabilities(alpha, &o)[i];
				let analytic = revenue_gradient(alpha, o[i].price, p);
				let h = 1e-6;
				let price = o[i].price;
				o[i].price = price + h;
				let up = expected_revenue(alpha, &o, i);
				o[i].price = price - h;
				let down = expected_revenue(alpha, &o, i);
				o[i].price = price;
				let numeric = (up - down) / (2.0 * h);
				assert!((analytic - numeric).abs() < 1e-7, "{analytic} vs {numeric}");
			}
		}
	}

	#[test]
	fn probabilities_are_a_distribution_even_for_huge_weights() {
		let p = choice_probabilities(0.5, &offers(&[(1.0, 1.0), (1.0, 3000.0), (1e6, 1.0)]));
		assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
		assert!(p[0] > 0.999_999 && p[1] >= 0.0 && p[2] >= 0.0);
	}

	#[test]
	fn lambert_w_inverts_w_exp_w() {
		for z in [1e-12, 1e-3, 0.1, 0.5, 1.0, core::f64::consts::E, 10.0, 1e3, 1e12] {
			let w = lambert_w(z);
			assert!(((w * w.exp()) - z).abs() <= 1e-12 * z.max(1.0), "W({z}) = {w}");
		}
		assert_eq!(lambert_w(0.0), 0.0);
		assert!((lambert_w(core::f64::consts::E) - 1.0).abs() < 1e-14);
	}

	#[test]
	fn the_best_response_zeroes_the_gradient_and_beats_nearby_prices() {
		let mut o = offers(&[(1.0, 2.0), (2.0, 1.0), (1.5, 4.0)]);
		let alpha = 0.5;
		let best = best_response_price(alpha, &o, 0).unwrap();
		o[0].price = best;
		let p = choice_probabilities(alpha, &o)[0];
		assert!(revenue_gradient(alpha, best, p).abs() < 1e-12);
		let at_best = expected_revenue(alpha, &o, 0);
		for delta in [-0.1, -0.01, 0.01, 0.1] {
			o[0].price = best + delta;
			assert!(expected_revenue(alpha, &o, 0) < at_best);
		}
		// Alone, there is no best price, but there is a best bounded one: the ceiling.
		assert_eq!(best_response_price(alpha, &o[..1], 0), None);
		assert_eq!(best_bounded_price(alpha, &o[..1], 0, 0.0, 50.0), Some(50.0));
		assert_eq!(best_bounded_price(alpha, &o, 0, 0.0, 1.0), Some(1.0));
		assert!((best_bounded_price(alpha, &o, 0, 0.0, 50.0).unwrap() - best).abs() < 1e-15);
		// A lone node climbs by eta per step until the ceiling, where the KKT residual is 0.
		let lone = price_step(alpha, 1.0, &[Offer { price: 49.5, cost: 1.0 }], 0.0, 50.0);
		assert_eq!(lone, vec![50.0]);
		assert_eq!(first_order_residual(1.0, 50.0, 0.0, 50.0), 0.0);
		assert_eq!(first_order_residual(-0.5, 50.0, 0.0, 50.0), 0.5);
		assert_eq!(first_order_residual(-0.5, 20.0, 0.0, 50.0), 0.5);
		assert_eq!(first_order_residual(-0.5, 0.0, 0.0, 50.0), 0.0);
	}

	#[test]
	fn the_symmetric_equilibrium_is_a_best_response_to_itself() {
		for (alpha, n) in [(0.5, 7usize), (0.5, 2), (0.3, 5), (1.0, 10)] {
			let p = symmetric_equilibrium_price(alpha, n).unwrap();
			let o = vec![Offer { price: p, cost: 3.0 }; n];
			let best = best_response_price(alpha, &o, 0).unwrap();
			assert!((best - p).abs() < 1e-9, "n {n}: {best} vs {p}");
		}
		assert!((symmetric_equilibrium_price(0.5, 7).unwrap() - 7.0 / 3.0).abs() < 1e-15);
		assert_eq!(symmetric_equilibrium_price(0.5, 1), None);
	}

	#[test]
	fn gradient_steps_converge_to_the_symmetric_equilibrium() {
		let mut o = vec![Offer { price: 1.0, cost: 1.0 }; 7];
		for _ in 0..1000 {
			let next = price_step(0.5, 1.0, &o, 0.0, f64::INFINITY);
			for (offer, p) in o.iter_mut().zip(next) {
				offer.price = p;
			}
		}
		for offer in &o {
			assert!((offer.price - 7.0 / 3.0).abs() < 1e-9);
		}
	}

	#[test]
	fn nodes_move_to_the_largest_share_and_only_for_a_real_gain() {
		// Equal costs: a node on a layer of 10 moves to a layer of 4 (share 1/5 > 1/10) ...
		let layers = vec![vec![1.0; 10], vec![1.0; 4], vec![1.0; 10], vec![1.0; 4]];
		let m = best_layer(1.0, 0, &layers, 0.0).unwrap();
		assert_eq!(m.to, 1, "ties between layers 1 and 3 go to the lowest index");
		assert!((m.share - 0.2).abs() < 1e-12 && (m.current_share - 0.1).abs() < 1e-12);
		// ... but not between layers that differ by one node, nor by less than the hysteresis.
		let balanced = vec![vec![1.0; 8], vec![1.0; 7]];
		assert_eq!(best_layer(1.0, 0, &balanced, 0.0), None);
		let near = vec![vec![1.0; 10], vec![1.0; 8]];
		assert!(best_layer(1.0, 0, &near, 0.0).is_some());
		assert_eq!(best_layer(1.0, 0, &near, 0.2), None, "1/9 is only 11% above 1/10");
		// Unequal costs: a fast node leaves a layer of another fast node for a layer of slow ones.
		let mixed = vec![vec![1.0, 1.0], vec![10.0, 10.0, 10.0]];
		let m = best_layer(1.0, 0, &mixed, 0.0).unwrap();
		assert_eq!(m.to, 1);
		assert!((m.share - 1.0 / 1.3).abs() < 1e-12);
		// A node not on its claimed layer, or an unknown layer: no advice.
		assert_eq!(best_layer(5.0, 0, &mixed, 0.0), None);
		assert_eq!(best_layer(1.0, 9, &mixed, 0.0), None);
	}
}
