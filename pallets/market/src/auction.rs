//! Settlement rules of a sale, as pure functions of the listed asks.
//!
//! Asks are given in *listing order* (earliest listing first). Both rules pick the lowest ask, the
//! earliest listing among equal asks; they differ in what the winner and the market owner get.
//! Nothing here moves funds or reads storage, so the property tests can run them millions of
//! times and the pallet only has to apply the [`Sale`] they return.

use crate::types::Sale;
use sp_arithmetic::{
	helpers_128bit::multiply_by_rational_with_rounding, traits::AtLeast32BitUnsigned, Rounding,
};

/// Why no sale can be made.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AuctionError {
	/// Nobody is selling.
	NoSellers,
	/// Even the lowest ask (plus the seller margin, in variable mode) exceeds the buyer's maximum.
	PriceAboveMaximum,
	/// A price does not fit the balance type.
	Overflow,
}

/// Position of the lowest ask, the earliest among equal asks.
fn lowest<B: Ord + Copy>(asks: &[B]) -> Option<(usize, B)> {
	let mut best: Option<(usize, B)> = None;
	for (i, &ask) in asks.iter().enumerate() {
		if best.is_none_or(|(_, b)| ask < b) {
			best = Some((i, ask));
		}
	}
	best
}

/// Reverse-Vickrey (second-price) settlement with the buyer's `max_price` as reserve price.
///
/// The lowest ask wins if it is at most `max_price`, and is paid per unit the lowest ask among
/// the *other* sellers, capped at `max_price`; with no other seller, `max_price`. The payment
/// never falls below the winner's ask and does not depend on it, so asking one's true cost is a
/// dominant strategy. The market owner gets nothing from the sale (its fee is paid at listing).
pub fn settle_second_price<B: AtLeast32BitUnsigned + Copy>(
	asks: &[B],
	max_price: B,
) -> Result<Sale<B>, AuctionError> {
	let (winner, ask) = lowest(asks).ok_or(AuctionError::NoSellers)?;
	if ask > max_price {
		return Err(AuctionError::PriceAboveMaximum);
	}
	let runner_up = asks
		.iter()
		.enumerate()
		.filter(|(i, _)| *i != winner)
		.map(|(_, &a)| a)
		.min()
		.unwrap_or(max_price);
	Ok(Sale { winner, price_per_unit: runner_up.min(max_price), owner_fee: B::zero() })
}

/// The max-min payoff of CompuP2P's variable listing-price mode.
///
/// The lowest-ask seller (`MC_1`) is paid `MC_1 + margin` per unit, which must be at most
/// `max_price`; the buyer pays the owner `scale * (MC_N - MC_1) / MC_N^2` once, `MC_N` being the
/// highest ask. With prices in whole tokens the paper's payoff is a fraction of a token, so
/// `scale` (in balance units squared) turns it into balance units: with `scale = UNITS^2` it is
/// the paper's formula with prices in whole tokens. Computed in 128-bit fixed point as
/// `floor(floor(scale * (MC_N - MC_1) / MC_N) / MC_N)`, which equals `floor(scale * (MC_N -
/// MC_1) / MC_N^2)` without ever forming `MC_N^2`.
pub fn settle_max_min<B: AtLeast32BitUnsigned + Copy>(
	asks: &[B],
	max_price: B,
	scale: B,
	margin: B,
) -> Result<Sale<B>, AuctionError> {
	let (winner, mc_1) = lowest(asks).ok_or(AuctionError::NoSellers)?;
	let price = mc_1.checked_add(&margin).ok_or(AuctionError::Overflow)?;
	if price > max_price {
		return Err(AuctionError::PriceAboveMaximum);
	}
	let mc_n = asks.iter().copied().max().unwrap_or(mc_1);
	let owner_fee = max_min_owner_payoff(mc_1, mc_n, scale)?;
	Ok(Sale { winner, price_per_unit: price, owner_fee })
}

/// `floor(scale * (mc_n - mc_1) / mc_n^2)`, zero when `mc_n` is zero or not above `mc_1`.
pub fn max_min_owner_payoff<B: AtLeast32BitUnsigned + Copy>(
	mc_1: B,
	mc_n: B,
	scale: B,
) -> Result<B, AuctionError> {
	let to_u128 =
		|b: B| -> Result<u128, AuctionError> { b.try_into().map_err(|_| AuctionError::Overflow) };
	let (mc_1, mc_n, scale) = (to_u128(mc_1)?, to_u128(mc_n)?, to_u128(scale)?);
	let spread = mc_n.saturating_sub(mc_1);
	if mc_n == 0 || spread == 0 {
		return Ok(B::zero());
	}
	// `spread <= mc_n`, so the first quotient is at most `scale` and cannot overflow.
	let per_mc_n = multiply_by_rational_with_rounding(scale, spread, mc_n, Rounding::Down)
		.ok_or(AuctionError::Overflow)?;
	let fee = per_mc_n.checked_div(mc_n).ok_or(AuctionError::Overflow)?;
	B::try_from(fee).map_err(|_| AuctionError::Overflow)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test code on small, known values
mod tests {
	use super::*;
	use proptest::prelude::*;

	#[test]
	fn second_price_pays_the_runner_up() {
		assert_eq!(
			settle_second_price(&[7u128, 5, 9], 10),
			Ok(Sale { winner: 1, price_per_unit: 7, owner_fee: 0 })
		);
	}

	#[test]
	fn a_lone_seller_is_paid_the_reserve_price() {
		assert_eq!(settle_second_price(&[5u128], 10).map(|s| s.price_per_unit), Ok(10));
	}

	#[test]
	fn the_reserve_price_caps_the_runner_up() {
		assert_eq!(settle_second_price(&[5u128, 12], 10).map(|s| s.price_per_unit), Ok(10));
	}

	#[test]
	fn ties_go_to_the_earlier_listing_at_the_tied_price() {
		assert_eq!(
			settle_second_price(&[9u128, 5, 5], 10),
			Ok(Sale { winner: 1, price_per_unit: 5, owner_fee: 0 })
		);
	}

	#[test]
	fn no_sale_without_sellers_or_above_the_maximum() {
		assert_eq!(settle_second_price::<u128>(&[], 10), Err(AuctionError::NoSellers));
		assert_eq!(settle_second_price(&[11u128, 12], 10), Err(AuctionError::PriceAboveMaximum));
		assert_eq!(settle_max_min::<u128>(&[], 10, 1, 1), Err(AuctionError::NoSellers));
		assert_eq!(settle_max_min(&[10u128], 10, 1, 1), Err(AuctionError::PriceAboveMaximum));
		assert_eq!(settle_max_min(&[u128::MAX], u128::MAX, 1, 1), Err(AuctionError::Overflow));
	}

	#[test]
	fn max_min_matches_the_paper() {
		// Prices in whole tokens of 10^12 units, scale UNITS^2: the owner gets
		// (9 - 5) / 81 = 0.049382716049... tokens and the seller 5 + 1 tokens.
		let unit = 1_000_000_000_000u128;
		let sale = settle_max_min(&[7 * unit, 5 * unit, 9 * unit], 10 * unit, unit * unit, unit);
		assert_eq!(
			sale,
			Ok(Sale { winner: 1, price_per_unit: 6 * unit, owner_fee: 49_382_716_049 })
		);
		// The owner's payoff peaks at MC_N = 2 MC_1, where it is 1 / (4 MC_1).
		assert_eq!(max_min_owner_payoff(5 * unit, 10 * unit, unit * unit), Ok(unit / 20));
		assert_eq!(max_min_owner_payoff(5u128, 5, 100), Ok(0));
		assert_eq!(max_min_owner_payoff(0u128, 0, 100), Ok(0));
	}

	/// A seller's profit per unit from a sale: payment minus true cost when it wins, else zero.
	fn profit(asks: &[u64], seller: usize, cost: u64, max: u64) -> i128 {
		match settle_second_price(asks, max) {
			Ok(sale) if sale.winner == seller => i128::from(sale.price_per_unit) - i128::from(cost),
			_ => 0,
		}
	}

	proptest! {
		#![proptest_config(ProptestConfig::with_cases(20_000))]

		/// Truthfulness: on random markets (small values, so ties are frequent), no seller
		/// profits more by asking anything but its true cost; and the winner is paid at least
		/// its ask.
		#[test]
		fn asking_the_true_cost_is_dominant(
			costs in proptest::collection::vec(1u64..40, 1..8),
			seller in any::<prop::sample::Index>(),
			lie in 0u64..48,
			max in 1u64..48,
		) {
			let seller = seller.index(costs.len());
			let cost = costs[seller];
			let truthful = profit(&costs, seller, cost, max);
			let mut lied = costs.clone();
			lied[seller] = lie;
			let untruthful = profit(&lied, seller, cost, max);
			prop_assert!(truthful >= 0);
			prop_assert!(truthful >= untruthful, "truthful {truthful} < lying {untruthful}");

			if let Ok(sale) = settle_second_price(&costs, max) {
				let ask = costs[sale.winner];
				prop_assert!(sale.price_per_unit >= ask);
				prop_assert!(sale.price_per_unit <= max);
				// The winner is the lowest ask, the earliest among equals.
				prop_assert!(costs.iter().all(|&a| a >= ask));
				prop_assert!(costs[..sale.winner].iter().all(|&a| a > ask));
			}
		}

		/// The fixed-point payoff equals the exact rational payoff rounded down, wherever the
		/// exact one can be computed in 128 bits.
		#[test]
		fn max_min_payoff_is_the_exact_floor(
			mc_1 in 1u128..1_000_000_000_000_000,
			extra in 0u128..1_000_000_000_000_000,
			scale in 1u128..1_000_000_000_000_000_000_000,
		) {
			let mc_n = mc_1 + extra;
			let exact = scale.checked_mul(extra).zip(mc_n.checked_mul(mc_n)).map(|(a, b)| a / b);
			let fee = max_min_owner_payoff(mc_1, mc_n, scale).unwrap();
			if let Some(exact) = exact {
				prop_assert_eq!(fee, exact);
			}
			// Never above the paper's bound 1 / (4 MC_1), scaled.
			prop_assert!(fee <= scale / (4 * mc_1) + 1);
		}
	}
}
