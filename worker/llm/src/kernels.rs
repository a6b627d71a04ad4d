//! CPU matrix–vector kernels for 4-bit weights (GGUF `Q4_1`), written for this engine.
//!
//! candle multiplies `Q4_1` weights with a scalar dot product and f16 block scales decoded
//! in the inner loop, on a thread pool that spins on a barrier after every matmul — most of
//! a forward pass waits (see the benchmark). [`Q4Matrix`] instead:
//!
//! - repacks the weights once at load: per 32-weight block, 16 bytes of nibbles and the
//!   scale `d` and minimum `m` as f32 (the file's f16 values, exactly);
//! - rounds each 32-value block of the activations once per call to i8 `y` with an f32 scale
//!   `s` (as llama.cpp's `Q8_1`, with the scale and block sum kept in f32 rather than f16), so
//!   `Σ (d·q + m)·s·y = d·s·Σ q·y + m·s·Σ y` needs only an integer dot product per block,
//!   which the compiler vectorizes;
//! - splits the output rows over rayon's pool (threads sleep when idle); each output value
//!   is computed by one thread in a fixed order, so results do not depend on the thread count;
//! - for several tokens (prefill), runs every token against a row while the row is in cache.

use candle_core::quantized::{GgmlDType, QTensor};
use rayon::prelude::*;

/// Weights per block.
pub const BLOCK: usize = 32;
/// Bytes of one `Q4_1` block in a GGUF file: f16 `d`, f16 `m`, 16 bytes of nibbles.
const Q4_1_BYTES: usize = 20;

/// An IEEE half-precision value's bits as f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
	let sign = u32::from(h >> 15) << 31;
	let exp = u32::from((h >> 10) & 0x1f);
	let frac = u32::from(h & 0x3ff);
	let bits = match (exp, frac) {
		(0, 0) => sign,
		(0, _) => {
			// Subnormal: normalise.
			let mut e = 127 - 15 + 1;
			let mut f = frac;
			while f & 0x400 == 0 {
				f <<= 1;
				e -= 1;
			}
			sign | ((e as u32) << 23) | ((f & 0x3ff) << 13)
		},
		(0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
		_ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
	};
	f32::from_bits(bits)
}

/// A `[rows, cols]` matrix of `Q4_1` weights, repacked.
#[derive(Clone)]
pub struct Q4Matrix {
	rows: usize,
	cols: usize,
	/// `rows × cols / 2` bytes: per block, byte `j` holds weight `j` (low nibble) and `j + 16`.
	nibbles: Vec<u8>,
	/// Per block: scale.
	d: Vec<f32>,
	/// Per block: minimum.
	m: Vec<f32>,
}

/// Activations of `t` tokens, rounded per block.
pub struct QuantizedRows {
	t: usize,
	blocks: usize,
	q: Vec<i8>,
	scale: Vec<f32>,
	sum: Vec<f32>,
}

impl QuantizedRows {
	/// Rounds `x` (`t × cols`, `cols` a multiple of 32) block by block to i8.
	pub fn new(x: &[f32], cols: usize) -> Self {
		let blocks = cols / BLOCK;
		let t = x.len().checked_div(cols).unwrap_or(0);
		let mut q = vec![0i8; t * cols];
		let mut scale = vec![0f32; t * blocks];
		let mut sum = vec![0f32; t * blocks];
		for ((xb, qb), (s, total)) in x
			.chunks_exact(BLOCK)
			.zip(q.chunks_exact_mut(BLOCK))
			.zip(scale.iter_mut().zip(sum.iter_mut()))
		{
			let amax = xb.iter().fold(0f32, |a, v| a.max(v.abs()));
			if amax > 0.0 {
				*s = amax / 127.0;
				let inv = 127.0 / amax;
				for (o, v) in qb.iter_mut().zip(xb) {
					*o = (v * inv).round() as i8;
				}
				// The sum of the *rounded* values: then the block computes exactly Σ w·x̂ and
				// the rounding errors meet weights centred on zero (`d·q + m`), not the
				// all-positive `d·q` — half the error of using the exact sum.
				*total = *s * qb.iter().map(|&q| f32::from(q)).sum::<f32>();
			}
		}
		Self { t, blocks, q, scale, sum }
	}
}

/// Σ of `nibbles` (16 bytes, 32 weights) times `y` (32 values).
#[inline(always)]
fn block_dot(nibbles: &[u8], y: &[i8]) -> i32 {
	let (lo, hi) = y.split_at(16);
	let mut s = 0i32;
	for ((&b, &a), &c) in nibbles.iter().zip(lo).zip(hi) {
		s += i32::from(b & 0x0f) * i32::from(a) + i32::from(b >> 4) * i32::from(c);
	}
	s
}

impl Q4Matrix {
	/// Repacks a `Q4_1` tensor of shape `[rows, cols]`; `None` for any other type or shape.
	pub fn from_qtensor(q: &QTensor) -> Option<Self> {
		if q.dtype() != GgmlDType::Q4_1 {
			return None;
		}
		let (rows, cols) = match q.shape().dims() {
			[r, c] => (*r, *c),
			_ => return None,
		};
		if cols % BLOCK != 0 {
			return None;
		}
		let raw = q.data().ok()?;
		let blocks = rows * cols / BLOCK;
		if raw.len() != blocks * Q4_1_BYTES {
			return None;
		}
		let mut nibbles = Vec::with_capacity(rows * cols / 2);
		let mut d = Vec::with_capacity(blocks);
		let mut m = Vec::with_capacity(blocks);
		for block in raw.chunks_exact(Q4_1_BYTES) {
			let (head, qs) = block.split_at(4);
			d.push(f16_to_f32(u16::from_le_bytes([head[0], head[1]])));
			m.push(f16_to_f32(u16::from_le_bytes([head[2], head[3]])));
			nibbles.extend_from_slice(qs);
		}
		Some(Self { rows, cols, nibbles, d, m })
	}

	/// Output size.
	pub fn rows(&self) -> usize {
		self.rows
	}

	/// Input size.
	pub fn cols(&self) -> usize {
		self.cols
	}

	/// Weight `(r, c)`, dequantized (for tests).
	pub fn get(&self, r: usize, c: usize) -> f32 {
		let b = (r * self.cols + c) / BLOCK;
		let j = c % BLOCK;
		let byte = self.nibbles[b * 16 + j % 16];
		let q = if j < 16 { byte & 0x0f } else { byte >> 4 };
		self.d[b] * f32::from(q) + self.m[b]
	}

	/// `x · Wᵀ` for `x` of `t × cols`: `t × rows`, token-major.
	pub fn matmul(&self, x: &QuantizedRows) -> Vec<f32> {
		let (t, rows, bpr) = (x.t, self.rows, self.cols / BLOCK);
		// Row-major result per chunk of rows, then transposed to token-major at the end.
		let chunk = (rows / (rayon::current_num_threads() * 4)).max(16);
		let mut by_row = vec![0f32; rows * t];
		by_row.par_chunks_mut(chunk * t).enumerate().for_each(|(ci, dst)| {
			let first = ci * chunk;
			for (k, row_out) in dst.chunks_exact_mut(t).enumerate() {
				let r = first + k;
				let nib = &self.nibbles[r * bpr * 16..(r + 1) * bpr * 16];
				let d = &self.d[r * bpr..(r + 1) * bpr];
				let m = &self.m[r * bpr..(r + 1) * bpr];
				for (i, o) in row_out.iter_mut().enumerate() {
					let y = &x.q[i * self.cols..(i + 1) * self.cols];
					let s = &x.scale[i * x.blocks..(i + 1) * x.blocks];
					let sum = &x.sum[i * x.blocks..(i + 1) * x.blocks];
					let mut acc = 0f32;
					for b in 0..bpr {
						let dot =
							block_dot(&nib[b * 16..b * 16 + 16], &y[b * BLOCK..b * BLOCK + BLOCK]);
						acc += d[b] * s[b] * dot as f32 + m[b] * sum[b];
					}
					*o = acc;
				}
			}
		});
		if t == 1 {
			return by_row;
		}
		let mut out = vec![0f32; t * rows];
		for r in 0..rows {
			for i in 0..t {
				out[i * rows + r] = by_row[r * t + i];
			}
		}
		out
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use candle_core::{Device, Module, Tensor};

	#[test]
	fn half_floats_decode_exactly() {
		for bits in 0..=u16::MAX {
			let ours = f16_to_f32(bits);
			if (bits >> 10) & 0x1f == 0x1f && bits & 0x3ff != 0 {
				assert!(ours.is_nan());
				continue;
			}
			let sign = if bits >> 15 == 1 { -1.0f64 } else { 1.0 };
			let exp = i32::from((bits >> 10) & 0x1f);
			let frac = f64::from(bits & 0x3ff);
			let expected = match exp {
				0 => sign * frac * 2f64.powi(-24),
				0x1f => sign * f64::INFINITY,
				e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
			};
			assert_eq!(f64::from(ours), expected, "bits {bits:#06x}");
		}
	}

	#[test]
	fn q4_matmul_matches_the_dequantized_weights() {
		let (rows, cols, t) = (70, 96, 3);
		let w: Vec<f32> =
			(0..rows * cols).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.3).collect();
		let x: Vec<f32> = (0..t * cols).map(|i| (i * 104729 % 997) as f32 / 498.5 - 1.0).collect();
		let q = QTensor::quantize(
			&Tensor::from_vec(w, (rows, cols), &Device::Cpu).unwrap(),
			GgmlDType::Q4_1,
		)
		.unwrap();
		let deq = q.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
		let m = Q4Matrix::from_qtensor(&q).unwrap();
		for (r, row) in deq.iter().enumerate() {
			for (c, v) in row.iter().enumerate() {
				assert_eq!(m.get(r, c), *v, "weight ({r}, {c}) as candle dequantizes it");
			}
		}
		let rounded = m.matmul(&QuantizedRows::new(&x, cols));
		// candle's own Q4_1 × Q8_1 product on the same input: ours must be as close to exact.
		let theirs = candle_core::quantized::QMatMul::from_qtensor(q)
			.unwrap()
			.forward(&Tensor::from_vec(x.clone(), (1, t, cols), &Device::Cpu).unwrap())
			.unwrap()
			.flatten_all()
			.unwrap()
			.to_vec1::<f32>()
			.unwrap();
		let (mut ours_err, mut candle_err) = (0f64, 0f64);
		for i in 0..t {
			for r in 0..rows {
				let exact: f64 =
					(0..cols).map(|c| f64::from(deq[r][c]) * f64::from(x[i * cols + c])).sum();
				let got = f64::from(rounded[i * rows + r]);
				// Activations rounded to 8 bits per block: about 1/254 of the block's largest.
				assert!(
					(got - exact).abs() < 0.02 * (1.0 + exact.abs()),
					"({i}, {r}): {got} vs {exact}"
				);
				ours_err += (got - exact).powi(2);
				candle_err += (f64::from(theirs[i * rows + r]) - exact).powi(2);
			}
		}
		assert!(
			ours_err <= candle_err * 1.05,
			"rms error {} against candle's {}",
			ours_err.sqrt(),
			candle_err.sqrt()
		);
	}

	#[test]
	fn a_token_in_a_batch_is_computed_bit_for_bit_as_alone() {
		let (rows, cols, t) = (40, 128, 5);
		let w: Vec<f32> = (0..rows * cols).map(|i| (i as f32 * 0.013).sin()).collect();
		let x: Vec<f32> = (0..t * cols).map(|i| (i as f32 * 0.071).cos() * 3.0).collect();
		let q = QTensor::quantize(
			&Tensor::from_vec(w, (rows, cols), &Device::Cpu).unwrap(),
			GgmlDType::Q4_1,
		)
		.unwrap();
		let m = Q4Matrix::from_qtensor(&q).unwrap();
		let batch = m.matmul(&QuantizedRows::new(&x, cols));
		for i in 0..t {
			let alone = m.matmul(&QuantizedRows::new(&x[i * cols..(i + 1) * cols], cols));
			assert_eq!(
				alone.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
				batch[i * rows..(i + 1) * rows].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
				"token {i}"
			);
		}
	}

	#[test]
	fn results_do_not_depend_on_the_thread_count() {
		let (rows, cols, t) = (257, 64, 2);
		let w: Vec<f32> = (0..rows * cols).map(|i| (i as f32 * 0.37).sin()).collect();
		let x: Vec<f32> = (0..t * cols).map(|i| (i as f32 * 0.11).cos()).collect();
		let q = QTensor::quantize(
			&Tensor::from_vec(w, (rows, cols), &Device::Cpu).unwrap(),
			GgmlDType::Q4_1,
		)
		.unwrap();
		let m = Q4Matrix::from_qtensor(&q).unwrap();
		let y = QuantizedRows::new(&x, cols);
		let run = |threads| {
			let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
			pool.install(|| m.matmul(&y))
		};
		let one = run(1);
		for threads in [2, 3, 8] {
			assert_eq!(
				run(threads).iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
				one.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
			);
		}
	}
}
