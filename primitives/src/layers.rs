//! Model layers, layer ranges and layer shards.
//!
//! A model has `m` layers numbered `0..m`. A node serves a half-open range `[start, end)` of
//! them. The registry is partitioned into *layer shards* of `shard_size` consecutive layers:
//! shard `s` holds layers `[s * shard_size, (s + 1) * shard_size)`, and a node is listed in
//! every shard its range overlaps.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use core::ops::RangeInclusive;
use scale_info::TypeInfo;

/// Index of a transformer layer in a model.
pub type Layer = u16;

/// Index of a layer shard in a model.
pub type ShardIndex = u16;

/// The half-open layer range `[start, end)` a node serves.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct LayerRange {
	/// First layer served.
	pub start: Layer,
	/// One past the last layer served.
	pub end: Layer,
}

impl LayerRange {
	/// The range `[start, end)`.
	pub const fn new(start: Layer, end: Layer) -> Self {
		Self { start, end }
	}

	/// Whether the range holds no layer (`end <= start`).
	pub const fn is_empty(&self) -> bool {
		self.end <= self.start
	}

	/// Number of layers in the range (0 when empty).
	pub const fn len(&self) -> Layer {
		self.end.saturating_sub(self.start)
	}

	/// Whether the range is non-empty and lies inside a model of `layers` layers.
	pub const fn fits(&self, layers: Layer) -> bool {
		!self.is_empty() && self.end <= layers
	}

	/// The shards a non-empty range overlaps with shards of `shard_size` layers, or `None` for an
	/// empty range or a zero shard size.
	pub fn shards(&self, shard_size: Layer) -> Option<RangeInclusive<ShardIndex>> {
		if self.is_empty() {
			return None;
		}
		let first = self.start.checked_div(shard_size)?;
		let last = self.end.checked_sub(1)?.checked_div(shard_size)?;
		Some(first..=last)
	}

	/// Number of shards of `shard_size` layers the range overlaps (0 when empty).
	pub fn shard_count(&self, shard_size: Layer) -> u32 {
		self.shards(shard_size)
			.map(|s| u32::from(s.end().saturating_sub(*s.start())).saturating_add(1))
			.unwrap_or(0)
	}

	/// Whether the range overlaps shard `shard` of `shard_size` layers.
	pub fn overlaps_shard(&self, shard: ShardIndex, shard_size: Layer) -> bool {
		self.shards(shard_size).is_some_and(|s| s.contains(&shard))
	}
}

/// Number of shards of `shard_size` layers in a model of `layers` layers (`ceil(layers /
/// shard_size)`), or `None` when `shard_size` is zero.
pub fn shard_count(layers: Layer, shard_size: Layer) -> Option<u32> {
	let layers = u32::from(layers);
	let size = u32::from(shard_size);
	layers.checked_add(size.checked_sub(1)?)?.checked_div(size)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn shards_of_a_range() {
		let r = LayerRange::new(3, 7);
		assert_eq!(r.shards(2), Some(1..=3));
		assert_eq!(r.shard_count(2), 3);
		assert!(!r.overlaps_shard(0, 2));
		assert!(r.overlaps_shard(3, 2));
		assert!(!r.overlaps_shard(4, 2));
		assert_eq!(LayerRange::new(0, 2).shards(2), Some(0..=0));
		assert_eq!(LayerRange::new(2, 2).shards(2), None);
		assert_eq!(LayerRange::new(0, 2).shards(0), None);
		assert_eq!(LayerRange::new(5, 4).shard_count(2), 0);
	}

	#[test]
	fn ranges_fit_models() {
		assert!(LayerRange::new(0, 8).fits(8));
		assert!(!LayerRange::new(0, 9).fits(8));
		assert!(!LayerRange::new(4, 4).fits(8));
		assert_eq!(LayerRange::new(2, 5).len(), 3);
	}

	#[test]
	fn shards_of_a_model() {
		assert_eq!(shard_count(8, 2), Some(4));
		assert_eq!(shard_count(9, 2), Some(5));
		assert_eq!(shard_count(1, 4), Some(1));
		assert_eq!(shard_count(8, 0), None);
		assert_eq!(shard_count(u16::MAX, u16::MAX), Some(1));
	}
}
