//! The activation frame a client and a node exchange for one forward step.
//!
//! A frame is a 48-byte little-endian header followed by `tokens × hidden` little-endian
//! f32 values:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `ACT1` |
//! | 4 | 4 | model id (u32) |
//! | 8 | 4 | first layer (u32) |
//! | 12 | 4 | one past the last layer (u32) |
//! | 16 | 16 | session id |
//! | 32 | 4 | position of the first token (u32) |
//! | 36 | 4 | token count (u32) |
//! | 40 | 4 | hidden size (u32) |
//! | 44 | 4 | reserved, zero |
//!
//! The request carries the input of the node's first layer; the response, with the same
//! header, the output of its last layer.

use thiserror::Error;

/// Frame magic.
pub const MAGIC: [u8; 4] = *b"ACT1";
/// Header length in bytes.
pub const HEADER_LEN: usize = 48;

/// Header of an activation frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
	/// Model id on chain.
	pub model: u32,
	/// Layers `[start, end)` the frame is for.
	pub layers: (u32, u32),
	/// Session id.
	pub session: [u8; 16],
	/// Position of the first token.
	pub position: u32,
	/// Tokens in the frame.
	pub tokens: u32,
	/// Values per token.
	pub hidden: u32,
}

/// Why a frame was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
	/// Shorter than a header.
	#[error("frame of {0} bytes is shorter than the {HEADER_LEN}-byte header")]
	Truncated(usize),
	/// Wrong magic.
	#[error("not an activation frame (bad magic)")]
	BadMagic,
	/// Reserved bytes are not zero.
	#[error("reserved header bytes are not zero")]
	Reserved,
	/// Zero tokens or zero hidden size.
	#[error("a frame carries at least one token of at least one value")]
	Empty,
	/// Payload length does not match `tokens × hidden × 4`.
	#[error("payload has {got} bytes, the header implies {expected}")]
	Length {
		/// Bytes implied by the header.
		expected: u64,
		/// Bytes present.
		got: u64,
	},
	/// A value is NaN or infinite.
	#[error("activation {0} is not finite")]
	NotFinite(usize),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
	let mut w = [0u8; 4];
	if let Some(s) = b.get(at..at + 4) {
		w.copy_from_slice(s);
	}
	u32::from_le_bytes(w)
}

/// Encodes a frame.
pub fn encode(header: &FrameHeader, values: &[f32]) -> Vec<u8> {
	let mut out = Vec::with_capacity(HEADER_LEN + values.len() * 4);
	out.extend_from_slice(&MAGIC);
	out.extend_from_slice(&header.model.to_le_bytes());
	out.extend_from_slice(&header.layers.0.to_le_bytes());
	out.extend_from_slice(&header.layers.1.to_le_bytes());
	out.extend_from_slice(&header.session);
	out.extend_from_slice(&header.position.to_le_bytes());
	out.extend_from_slice(&header.tokens.to_le_bytes());
	out.extend_from_slice(&header.hidden.to_le_bytes());
	out.extend_from_slice(&[0u8; 4]);
	for v in values {
		out.extend_from_slice(&v.to_le_bytes());
	}
	out
}

/// Decodes and checks a frame.
pub fn decode(bytes: &[u8]) -> Result<(FrameHeader, Vec<f32>), WireError> {
	if bytes.len() < HEADER_LEN {
		return Err(WireError::Truncated(bytes.len()));
	}
	if bytes.get(0..4) != Some(&MAGIC[..]) {
		return Err(WireError::BadMagic);
	}
	if u32_at(bytes, 44) != 0 {
		return Err(WireError::Reserved);
	}
	let mut session = [0u8; 16];
	if let Some(s) = bytes.get(16..32) {
		session.copy_from_slice(s);
	}
	let header = FrameHeader {
		model: u32_at(bytes, 4),
		layers: (u32_at(bytes, 8), u32_at(bytes, 12)),
		session,
		position: u32_at(bytes, 32),
		tokens: u32_at(bytes, 36),
		hidden: u32_at(bytes, 40),
	};
	if header.tokens == 0 || header.hidden == 0 {
		return Err(WireError::Empty);
	}
	let expected = u64::from(header.tokens) * u64::from(header.hidden) * 4;
	let got = (bytes.len() - HEADER_LEN) as u64;
	if expected != got {
		return Err(WireError::Length { expected, got });
	}
	let payload = bytes.get(HEADER_LEN..).unwrap_or_default();
	let mut values = Vec::with_capacity(payload.len() / 4);
	for (i, c) in payload.chunks_exact(4).enumerate() {
		let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
		if !v.is_finite() {
			return Err(WireError::NotFinite(i));
		}
		values.push(v);
	}
	Ok((header, values))
}

#[cfg(test)]
mod tests {
	use super::*;

	fn header() -> FrameHeader {
		FrameHeader {
			model: 3,
			layers: (10, 20),
			session: [7; 16],
			position: 5,
			tokens: 2,
			hidden: 3,
		}
	}

	#[test]
	fn frames_round_trip_bit_exactly() {
		let values = [1.5, -0.0, f32::MIN_POSITIVE, 3.25e-7, -2.0, 1e30];
		let bytes = encode(&header(), &values);
		assert_eq!(bytes.len(), HEADER_LEN + 24);
		let (h, v) = decode(&bytes).unwrap();
		assert_eq!(h, header());
		assert_eq!(
			v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
			values.map(f32::to_bits).to_vec()
		);
	}

	#[test]
	fn malformed_frames_are_refused_with_their_reason() {
		let good = encode(&header(), &[0.0; 6]);
		assert_eq!(decode(&good[..10]), Err(WireError::Truncated(10)));
		let mut bad = good.clone();
		bad[0] = b'X';
		assert_eq!(decode(&bad), Err(WireError::BadMagic));
		let mut bad = good.clone();
		bad[45] = 1;
		assert_eq!(decode(&bad), Err(WireError::Reserved));
		assert_eq!(
			decode(&good[..good.len() - 4]),
			Err(WireError::Length { expected: 24, got: 20 })
		);
		let mut long = good.clone();
		long.extend_from_slice(&[0; 4]);
		assert_eq!(decode(&long), Err(WireError::Length { expected: 24, got: 28 }));
		let empty = encode(&FrameHeader { tokens: 0, ..header() }, &[]);
		assert_eq!(decode(&empty), Err(WireError::Empty));
		let nan = encode(&header(), &[0.0, 0.0, f32::NAN, 0.0, 0.0, 0.0]);
		assert_eq!(decode(&nan), Err(WireError::NotFinite(2)));
	}
}
