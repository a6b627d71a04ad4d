//! Choosing the next token from logits: greedy, or temperature and nucleus (top-p) sampling
//! from a seeded generator, so a seed always gives the same text.

use crate::error::{EngineError, Result};

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
	/// The most likely token (ties go to the lowest id).
	Greedy,
	/// Softmax of `logits / temperature`, restricted to the smallest set of most likely
	/// tokens whose probability reaches `top_p`, drawn with a generator seeded by `seed`.
	TopP {
		/// Temperature, > 0.
		temperature: f32,
		/// Nucleus mass in (0, 1].
		top_p: f32,
		/// Seed of the generator.
		seed: u64,
	},
}

/// A token chooser with its generator state.
#[derive(Clone, Debug)]
pub struct Sampler {
	mode: Sampling,
	state: u64,
}

impl Sampler {
	/// Checks the parameters.
	pub fn new(mode: Sampling) -> Result<Self> {
		if let Sampling::TopP { temperature, top_p, seed } = mode {
			if !(temperature.is_finite() && temperature > 0.0) {
				return Err(EngineError::BadSampling(format!(
					"temperature {temperature} must be > 0"
				)));
			}
			if !(top_p > 0.0 && top_p <= 1.0) {
				return Err(EngineError::BadSampling(format!("top-p {top_p} must be in (0, 1]")));
			}
			return Ok(Self { mode, state: seed });
		}
		Ok(Self { mode, state: 0 })
	}

	/// SplitMix64: small, fast and fully specified, so any client can reproduce a draw.
	fn next_u64(&mut self) -> u64 {
		self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
		let mut z = self.state;
		z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
		z ^ (z >> 31)
	}

	/// A uniform draw in [0, 1) with 53 bits.
	fn next_f64(&mut self) -> f64 {
		(self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
	}

	/// The next token for `logits`; `None` when every logit is NaN or there are none.
	pub fn sample(&mut self, logits: &[f32]) -> Option<u32> {
		match self.mode {
			Sampling::Greedy => argmax(logits),
			Sampling::TopP { temperature, top_p, .. } => {
				let max = logits
					.iter()
					.copied()
					.filter(|l| !l.is_nan())
					.fold(f32::NEG_INFINITY, f32::max);
				if !max.is_finite() {
					return argmax(logits);
				}
				let mut probs: Vec<(u32, f64)> = logits
					.iter()
					.enumerate()
					.filter(|(_, l)| !l.is_nan())
					.map(|(i, &l)| (i as u32, (f64::from(l - max) / f64::from(temperature)).exp()))
					.collect();
				let total: f64 = probs.iter().map(|p| p.1).sum();
				probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
				let mut mass = 0.0;
				let mut keep = 0;
				for (_, p) in &probs {
					mass += p / total;
					keep += 1;
					if mass >= f64::from(top_p) {
						break;
					}
				}
				probs.truncate(keep.max(1));
				let kept: f64 = probs.iter().map(|p| p.1).sum();
				let mut u = self.next_f64() * kept;
				for (id, p) in &probs {
					if u < *p {
						return Some(*id);
					}
					u -= p;
				}
				probs.last().map(|p| p.0)
			},
		}
	}
}

/// Index of the largest logit; ties go to the lowest index, NaNs are skipped.
pub fn argmax(logits: &[f32]) -> Option<u32> {
	let mut best: Option<(usize, f32)> = None;
	for (i, &l) in logits.iter().enumerate() {
		if l.is_nan() {
			continue;
		}
		if best.is_none_or(|(_, b)| l > b) {
			best = Some((i, l));
		}
	}
	best.map(|(i, _)| i as u32)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn greedy_takes_the_first_maximum_and_skips_nans() {
		assert_eq!(argmax(&[1.0, 3.0, 3.0, f32::NAN]), Some(1));
		assert_eq!(argmax(&[f32::NAN]), None);
		assert_eq!(argmax(&[]), None);
	}

	#[test]
	fn top_p_is_reproducible_and_respects_the_nucleus() {
		let logits = [5.0, 4.9, 0.0, -1.0, -3.0];
		let mode = Sampling::TopP { temperature: 1.0, top_p: 0.9, seed: 7 };
		let draw = |n| {
			let mut s = Sampler::new(mode).unwrap();
			(0..n).map(|_| s.sample(&logits).unwrap()).collect::<Vec<_>>()
		};
		let a = draw(400);
		assert_eq!(a, draw(400), "same seed, same draws");
		// p(0) ≈ 0.52, p(1) ≈ 0.47, the rest ≈ 0.01: the 0.9 nucleus is {0, 1}.
		assert!(a.iter().all(|&t| t < 2), "only nucleus tokens are drawn");
		let zeros = a.iter().filter(|&&t| t == 0).count();
		assert!(
			(170..=250).contains(&zeros),
			"both nucleus tokens are drawn in proportion: {zeros}"
		);
		let other = Sampler::new(Sampling::TopP { temperature: 1.0, top_p: 0.9, seed: 8 }).unwrap();
		let mut other = other;
		let b: Vec<u32> = (0..400).map(|_| other.sample(&logits).unwrap()).collect();
		assert_ne!(a, b, "another seed draws otherwise");
	}

	#[test]
	fn a_tiny_top_p_is_greedy_and_bad_parameters_are_refused() {
		let mut s =
			Sampler::new(Sampling::TopP { temperature: 0.7, top_p: 1e-6, seed: 1 }).unwrap();
		assert!((0..50).all(|_| s.sample(&[0.0, 2.0, 1.0]) == Some(1)));
		for (temperature, top_p) in
			[(0.0, 0.5), (-1.0, 0.5), (f32::NAN, 0.5), (1.0, 0.0), (1.0, 1.5)]
		{
			assert!(matches!(
				Sampler::new(Sampling::TopP { temperature, top_p, seed: 0 }),
				Err(EngineError::BadSampling(_))
			));
		}
	}
}
