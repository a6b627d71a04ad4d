//! The chain's token and address format, defined once for the runtime, the node and the
//! worker: symbol, decimals, the planck value of one token, the SS58 prefix, and the parsing
//! and printing of human amounts (`2.5 CPU`).

use alloc::string::String;

/// The token's symbol.
pub const SYMBOL: &str = "CPU";
/// Decimals of the token: one token is `10^DECIMALS` plancks.
pub const DECIMALS: u8 = 12;
/// One whole token, in plancks.
pub const UNITS: u128 = 1_000_000_000_000;
/// The SS58 address format of the chain's accounts.
pub const SS58_PREFIX: u16 = 4242;

const _: () = assert!(10u128.pow(DECIMALS as u32) == UNITS);

/// Why a text is not an amount of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountError {
	/// Empty, or something other than digits with at most one `.`.
	Malformed,
	/// More fractional digits than [`DECIMALS`].
	TooPrecise,
	/// More plancks than a `u128` holds.
	Overflow,
}

impl core::fmt::Display for AmountError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match self {
			AmountError::Malformed => {
				write!(f, "expected digits with at most one `.` (e.g. 100 or 2.5)")
			},
			AmountError::TooPrecise => write!(f, "more than {DECIMALS} decimals"),
			AmountError::Overflow => write!(f, "too large"),
		}
	}
}

impl core::error::Error for AmountError {}

/// Parses a token amount such as `100`, `2.5` or `.001` into plancks.
pub fn parse_amount(text: &str) -> Result<u128, AmountError> {
	let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
	if (whole.is_empty() && fraction.is_empty())
		|| !whole.bytes().chain(fraction.bytes()).all(|c| c.is_ascii_digit())
	{
		return Err(AmountError::Malformed);
	}
	if fraction.len() > usize::from(DECIMALS) {
		return Err(AmountError::TooPrecise);
	}
	let mut whole_value: u128 = 0;
	for digit in whole.bytes() {
		whole_value = whole_value
			.checked_mul(10)
			.and_then(|v| v.checked_add(u128::from(digit.saturating_sub(b'0'))))
			.ok_or(AmountError::Overflow)?;
	}
	let mut fraction_value: u128 = 0;
	for position in 0..usize::from(DECIMALS) {
		let digit = fraction.as_bytes().get(position).map_or(0, |d| d.saturating_sub(b'0'));
		// At most 10^12 - 1: cannot overflow.
		fraction_value = fraction_value.saturating_mul(10).saturating_add(u128::from(digit));
	}
	whole_value
		.checked_mul(UNITS)
		.and_then(|w| w.checked_add(fraction_value))
		.ok_or(AmountError::Overflow)
}

/// Formats plancks as a token amount, without trailing zeros: `2.5 CPU`, `100 CPU`.
pub fn format_amount(plancks: u128) -> String {
	let whole = plancks / UNITS;
	let fraction = alloc::format!("{:012}", plancks % UNITS);
	let fraction = fraction.trim_end_matches('0');
	if fraction.is_empty() {
		alloc::format!("{whole} {SYMBOL}")
	} else {
		alloc::format!("{whole}.{fraction} {SYMBOL}")
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn amounts_parse_and_print() {
		assert_eq!(parse_amount("100"), Ok(100 * UNITS));
		assert_eq!(parse_amount("2.5"), Ok(2_500_000_000_000));
		assert_eq!(parse_amount(".000000000001"), Ok(1));
		assert_eq!(parse_amount("7."), Ok(7 * UNITS));
		for bad in ["", ".", "1.2.3", "-1", "1e3", "abc", " 1"] {
			assert_eq!(parse_amount(bad), Err(AmountError::Malformed), "{bad}");
		}
		assert_eq!(parse_amount("0.0000000000001"), Err(AmountError::TooPrecise));
		assert_eq!(parse_amount("1000000000000000000000000000000"), Err(AmountError::Overflow));
		assert_eq!(format_amount(2_500_000_000_000), "2.5 CPU");
		assert_eq!(format_amount(100 * UNITS), "100 CPU");
		assert_eq!(format_amount(1), "0.000000000001 CPU");
		assert_eq!(format_amount(u128::MAX), "340282366920938463463374607.431768211455 CPU");
	}

	#[test]
	fn every_printed_amount_parses_back() {
		for plancks in [0, 1, 999, UNITS - 1, UNITS, 12_345_678_901_234_567, u128::MAX] {
			let printed = format_amount(plancks);
			let number = printed.strip_suffix(" CPU").unwrap_or(&printed);
			assert_eq!(parse_amount(number), Ok(plancks));
		}
	}
}
