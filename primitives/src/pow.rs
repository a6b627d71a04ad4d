//! Hash jobs: nonce search with SHA-256, its difficulty targets, chunk digests, the Merkle tree
//! over them, challenge selection and result commitments.
//!
//! The runtime (which verifies) and the worker (which computes) run this same code, so they
//! agree to the bit. Hashing goes through [`Sha256`]: the runtime plugs in its native host
//! function, the worker and the tests the pure-Rust [`Sha2`].
//!
//! # Definitions
//!
//! - **Preimage of nonce `n`.** [`PowSpec::Generic`]: `payload ‖ n` with `n` as 8 bytes
//!   little-endian. [`PowSpec::BitcoinHeader`]: the 76-byte header prefix `‖ n` as 4 bytes
//!   little-endian (so `n < 2^32`), exactly the 80-byte Bitcoin block header.
//! - **Hash.** [`HashFunction::Sha256`] or [`HashFunction::DoubleSha256`] (`SHA-256(SHA-256(x))`);
//!   Bitcoin headers always use double SHA-256.
//! - **Winning nonce.** Generic: the hash, read as a big-endian 256-bit number, is at most the
//!   target. Bitcoin: the hash read as a *little-endian* number (Bitcoin's convention) is at most
//!   the target decoded from the header's compact `bits` field (bytes 72..76, little-endian).
//! - **Chunk.** A job's range `[a, b)` is cut into chunks of `K` consecutive nonces starting at
//!   `a` (the last one may be shorter). The **chunk digest** is `SHA-256(h_0 ‖ h_1 ‖ … )` over
//!   the raw 32-byte hashes of the chunk's nonces in order.
//! - **Merkle root.** Over a subjob's chunk digests, in order: each level hashes adjacent pairs
//!   as `SHA-256(left ‖ right)`; an odd last node moves up unchanged. A proof lists the siblings
//!   from the leaf up, skipping levels where the node had none.
//! - **Challenges.** Chunk index `j` of `c` is `u64_le(SHA-256(seed ‖ subjob_le ‖ j_le)[..8]) mod
//!   chunks`, drawn with replacement. A worker that skipped a fraction `f` of its chunks escapes
//!   all `c` challenges with probability `(1 - f)^c`.
//! - **Commitment.** `SHA-256(subjob_le ‖ root ‖ salt ‖ n_0 ‖ n_1 ‖ …)` with the found nonces as
//!   8-byte little-endian numbers.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// A 256-bit hash or number, as 32 bytes.
pub type Hash256 = [u8; 32];

/// Length of a Bitcoin block header without its nonce.
pub const BITCOIN_HEADER_PREFIX_LEN: usize = 76;

/// One-shot SHA-256.
pub trait Sha256 {
	/// `SHA-256(data)`.
	fn hash(data: &[u8]) -> Hash256;
}

/// SHA-256 from the pure-Rust `sha2` crate.
pub struct Sha2;

impl Sha256 for Sha2 {
	fn hash(data: &[u8]) -> Hash256 {
		use sha2::Digest;
		sha2::Sha256::digest(data).into()
	}
}

/// The hash function of a generic job.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum HashFunction {
	/// `SHA-256(x)`.
	Sha256,
	/// `SHA-256(SHA-256(x))`.
	DoubleSha256,
}

/// How hard a generic job is.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum Difficulty {
	/// The hash starts with at least this many zero bits (at most 256).
	LeadingZeroBits(u16),
	/// The hash, as a big-endian number, is at most this big-endian target.
	Target(Hash256),
}

/// What a job computes and what counts as a winning nonce.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum PowSpec {
	/// `hash(payload ‖ nonce_le_u64)` against a difficulty.
	Generic {
		/// The hash function.
		hash: HashFunction,
		/// The difficulty.
		difficulty: Difficulty,
	},
	/// Bitcoin block header mining: the payload is the 76-byte header prefix.
	BitcoinHeader,
}

/// Why a job specification is unusable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SpecError {
	/// More than 256 leading zero bits.
	DifficultyTooHigh,
	/// A Bitcoin payload that is not 76 bytes long.
	BadHeaderLength,
	/// A compact `bits` field that is negative, zero or overflows 256 bits.
	BadCompactTarget,
	/// A nonce range that is empty or, for Bitcoin, goes past `2^32`.
	BadRange,
}

/// A checked job specification, ready to hash.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PowCheck {
	/// Double SHA-256 instead of single.
	pub double: bool,
	/// Nonces are 4 bytes (Bitcoin) instead of 8.
	pub short_nonce: bool,
	/// The hash is a little-endian number (Bitcoin) instead of big-endian.
	pub little_endian: bool,
	/// Big-endian target: a hash at most this wins.
	pub target: Hash256,
}

/// The big-endian target of `n` leading zero bits: `2^(256 - n) - 1`.
pub fn target_from_leading_zeros(n: u16) -> Option<Hash256> {
	if n > 256 {
		return None;
	}
	let mut target = [0xffu8; 32];
	let full = usize::from(n / 8);
	for byte in target.iter_mut().take(full) {
		*byte = 0;
	}
	if let Some(byte) = target.get_mut(full) {
		*byte = 0xffu8.checked_shr(u32::from(n % 8)).unwrap_or(0);
	}
	Some(target)
}

/// Decodes Bitcoin's compact `bits` (`mantissa * 256^(exponent - 3)`) into a big-endian target.
pub fn target_from_compact(bits: u32) -> Result<Hash256, SpecError> {
	let exponent = usize::try_from(bits >> 24).map_err(|_| SpecError::BadCompactTarget)?;
	let mantissa = bits & 0x007f_ffff;
	if bits & 0x0080_0000 != 0 || mantissa == 0 {
		return Err(SpecError::BadCompactTarget);
	}
	let mantissa_bytes = mantissa.to_be_bytes(); // [0, m2, m1, m0]
	let mut target = [0u8; 32];
	// Byte `i` of the 3-byte mantissa (most significant first) lands at big-endian position
	// `32 - exponent + i`; bytes shifted below the units are dropped, above 2^256 overflow.
	for (i, &byte) in mantissa_bytes.iter().skip(1).enumerate() {
		let position = 32usize.checked_add(i).and_then(|p| p.checked_sub(exponent));
		match position.and_then(|p| target.get_mut(p)) {
			Some(slot) => *slot = byte,
			None if byte == 0 => {},
			None if exponent > 32 => return Err(SpecError::BadCompactTarget),
			None => {}, // shifted right past the units: dropped, as in Bitcoin Core
		}
	}
	if target == [0u8; 32] {
		return Err(SpecError::BadCompactTarget);
	}
	Ok(target)
}

impl PowSpec {
	/// Checks the specification against its payload and nonce range `[start, end)`.
	pub fn check(&self, payload: &[u8], start: u64, end: u64) -> Result<PowCheck, SpecError> {
		if end <= start {
			return Err(SpecError::BadRange);
		}
		match *self {
			PowSpec::Generic { hash, difficulty } => {
				let target = match difficulty {
					Difficulty::LeadingZeroBits(n) => {
						target_from_leading_zeros(n).ok_or(SpecError::DifficultyTooHigh)?
					},
					Difficulty::Target(t) => t,
				};
				Ok(PowCheck {
					double: hash == HashFunction::DoubleSha256,
					short_nonce: false,
					little_endian: false,
					target,
				})
			},
			PowSpec::BitcoinHeader => {
				if payload.len() != BITCOIN_HEADER_PREFIX_LEN {
					return Err(SpecError::BadHeaderLength);
				}
				if end > (1u64 << 32) {
					return Err(SpecError::BadRange);
				}
				let bits = payload
					.get(72..76)
					.and_then(|b| <[u8; 4]>::try_from(b).ok())
					.map(u32::from_le_bytes)
					.ok_or(SpecError::BadHeaderLength)?;
				Ok(PowCheck {
					double: true,
					short_nonce: true,
					little_endian: true,
					target: target_from_compact(bits)?,
				})
			},
		}
	}
}

impl PowCheck {
	/// The raw hash of `nonce` after `payload`.
	pub fn hash<H: Sha256>(&self, payload: &[u8], nonce: u64, buffer: &mut Vec<u8>) -> Hash256 {
		buffer.clear();
		buffer.extend_from_slice(payload);
		if self.short_nonce {
			// Checked at job creation: Bitcoin nonces are below 2^32.
			buffer.extend_from_slice(&nonce.to_le_bytes()[..4]);
		} else {
			buffer.extend_from_slice(&nonce.to_le_bytes());
		}
		let once = H::hash(buffer);
		if self.double {
			H::hash(&once)
		} else {
			once
		}
	}

	/// Whether a raw hash wins.
	pub fn wins(&self, hash: &Hash256) -> bool {
		if self.little_endian {
			let mut big_endian = *hash;
			big_endian.reverse();
			big_endian <= self.target
		} else {
			*hash <= self.target
		}
	}

	/// Digest of the chunk of nonces `[first, end)`, and the winning nonces in it.
	pub fn chunk<H: Sha256>(&self, payload: &[u8], first: u64, end: u64) -> (Hash256, Vec<u64>) {
		let mut preimage = Vec::with_capacity(payload.len().saturating_add(8));
		let count = usize::try_from(end.saturating_sub(first)).unwrap_or(0);
		let mut hashes = Vec::with_capacity(count.saturating_mul(32));
		let mut winners = Vec::new();
		for nonce in first..end {
			let hash = self.hash::<H>(payload, nonce, &mut preimage);
			if self.wins(&hash) {
				winners.push(nonce);
			}
			hashes.extend_from_slice(&hash);
		}
		(H::hash(&hashes), winners)
	}
}

/// `SHA-256(left ‖ right)`.
fn node<H: Sha256>(left: &Hash256, right: &Hash256) -> Hash256 {
	let mut both = [0u8; 64];
	both[..32].copy_from_slice(left);
	both[32..].copy_from_slice(right);
	H::hash(&both)
}

/// Merkle root of `leaves` (all-zero for none).
pub fn merkle_root<H: Sha256>(leaves: &[Hash256]) -> Hash256 {
	let mut level: Vec<Hash256> = leaves.to_vec();
	while level.len() > 1 {
		level = level
			.chunks(2)
			.map(|pair| match pair {
				[left, right] => node::<H>(left, right),
				[single] => *single,
				_ => [0u8; 32],
			})
			.collect();
	}
	level.first().copied().unwrap_or([0u8; 32])
}

/// Siblings of leaf `index` from the bottom up (levels where it has none are skipped).
pub fn merkle_proof<H: Sha256>(leaves: &[Hash256], index: usize) -> Vec<Hash256> {
	let mut proof = Vec::new();
	let mut level: Vec<Hash256> = leaves.to_vec();
	let mut index = index;
	while level.len() > 1 {
		if let Some(sibling) = level.get(index ^ 1) {
			proof.push(*sibling);
		}
		level = level
			.chunks(2)
			.map(|pair| match pair {
				[left, right] => node::<H>(left, right),
				[single] => *single,
				_ => [0u8; 32],
			})
			.collect();
		index /= 2;
	}
	proof
}

/// Whether `proof` shows `leaf` at `index` of a tree of `count` leaves with `root`.
pub fn verify_merkle_proof<H: Sha256>(
	root: &Hash256,
	leaf: &Hash256,
	index: u64,
	count: u64,
	proof: &[Hash256],
) -> bool {
	if index >= count {
		return false;
	}
	let (mut hash, mut index, mut width) = (*leaf, index, count);
	let mut siblings = proof.iter();
	while width > 1 {
		let sibling_index = index ^ 1;
		if sibling_index < width {
			let Some(sibling) = siblings.next() else { return false };
			hash =
				if index % 2 == 0 { node::<H>(&hash, sibling) } else { node::<H>(sibling, &hash) };
		}
		index /= 2;
		width = width.div_ceil(2);
	}
	siblings.next().is_none() && hash == *root
}

/// The `count` chunk indices (in `0..chunks`) challenged for `subjob` with `seed`.
pub fn challenge_indices<H: Sha256>(
	seed: &Hash256,
	subjob: u64,
	chunks: u64,
	count: u32,
) -> Vec<u64> {
	let mut preimage = [0u8; 44];
	preimage[..32].copy_from_slice(seed);
	preimage[32..40].copy_from_slice(&subjob.to_le_bytes());
	(0..count)
		.map(|j| {
			preimage[40..].copy_from_slice(&j.to_le_bytes());
			let hash = H::hash(&preimage);
			let mut first = [0u8; 8];
			first.copy_from_slice(&hash[..8]);
			u64::from_le_bytes(first).checked_rem(chunks).unwrap_or(0)
		})
		.collect()
}

/// The commitment to a subjob's result.
pub fn commitment<H: Sha256>(
	subjob: u64,
	root: &Hash256,
	salt: &Hash256,
	nonces: &[u64],
) -> Hash256 {
	let mut preimage = Vec::with_capacity(72usize.saturating_add(nonces.len().saturating_mul(8)));
	preimage.extend_from_slice(&subjob.to_le_bytes());
	preimage.extend_from_slice(root);
	preimage.extend_from_slice(salt);
	for nonce in nonces {
		preimage.extend_from_slice(&nonce.to_le_bytes());
	}
	H::hash(&preimage)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // test code on small, known values
mod tests {
	use super::*;

	fn hex32(s: &str) -> Hash256 {
		let mut out = [0u8; 32];
		for (i, byte) in out.iter_mut().enumerate() {
			*byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
		}
		out
	}

	fn le32(s: &str) -> Hash256 {
		let mut h = hex32(s);
		h.reverse();
		h
	}

	/// The 76-byte header prefix of a block: version, previous hash and Merkle root (both given
	/// in the usual reversed hex), time and bits.
	fn header(version: u32, prev: &str, merkle: &str, time: u32, bits: u32) -> Vec<u8> {
		let mut h = Vec::new();
		h.extend_from_slice(&version.to_le_bytes());
		h.extend_from_slice(&le32(prev));
		h.extend_from_slice(&le32(merkle));
		h.extend_from_slice(&time.to_le_bytes());
		h.extend_from_slice(&bits.to_le_bytes());
		h
	}

	#[test]
	fn the_bitcoin_genesis_block_verifies_and_its_nonce_plus_one_does_not() {
		let prefix = header(
			1,
			"0000000000000000000000000000000000000000000000000000000000000000",
			"4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
			1_231_006_505,
			0x1d00_ffff,
		);
		let nonce = 2_083_236_893u64;
		let check = PowSpec::BitcoinHeader.check(&prefix, 0, 1 << 32).unwrap();
		let mut buffer = Vec::new();
		let hash = check.hash::<Sha2>(&prefix, nonce, &mut buffer);
		assert_eq!(hash, le32("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"));
		assert!(check.wins(&hash));
		assert!(!check.wins(&check.hash::<Sha2>(&prefix, nonce + 1, &mut buffer)));
	}

	#[test]
	fn block_125552_verifies() {
		// The block of the Bitcoin wiki's "Block hashing algorithm" page.
		let prefix = header(
			1,
			"00000000000008a3a41b85b8b29ad444def299fee21793cd8b9e567eab02cd81",
			"2b12fcf1b09288fcaff797d71e950e71ae42b91e8bdb2304758dfcffc2b620e3",
			1_305_998_791,
			440_711_666,
		);
		let check = PowSpec::BitcoinHeader.check(&prefix, 0, 1 << 32).unwrap();
		let mut buffer = Vec::new();
		let hash = check.hash::<Sha2>(&prefix, 2_504_433_986, &mut buffer);
		assert_eq!(hash, le32("00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d"));
		assert!(check.wins(&hash));
		assert!(!check.wins(&check.hash::<Sha2>(&prefix, 2_504_433_987, &mut buffer)));
	}

	#[test]
	fn compact_targets_decode() {
		assert_eq!(
			target_from_compact(0x1d00_ffff).unwrap(),
			hex32("00000000ffff0000000000000000000000000000000000000000000000000000")
		);
		assert_eq!(target_from_compact(0x0300_0001).unwrap()[31], 1);
		assert_eq!(target_from_compact(0x0280_0001), Err(SpecError::BadCompactTarget)); // sign bit
		assert_eq!(target_from_compact(0x0200_8000).unwrap()[31], 0x80);
		assert_eq!(target_from_compact(0x2100_0001).unwrap()[1], 1);
		assert_eq!(target_from_compact(0x2200_0001).unwrap()[0], 1);
		assert_eq!(target_from_compact(0x2200_0100), Err(SpecError::BadCompactTarget));
		assert_eq!(target_from_compact(0x1d00_0000), Err(SpecError::BadCompactTarget));
		assert_eq!(target_from_compact(0x0100_0001), Err(SpecError::BadCompactTarget));
	}

	#[test]
	fn leading_zero_targets() {
		assert_eq!(target_from_leading_zeros(0), Some([0xff; 32]));
		let t = target_from_leading_zeros(12).unwrap();
		assert_eq!((t[0], t[1], t[2]), (0, 0x0f, 0xff));
		assert_eq!(target_from_leading_zeros(256), Some([0; 32]));
		assert_eq!(target_from_leading_zeros(257), None);
		let spec = PowSpec::Generic {
			hash: HashFunction::Sha256,
			difficulty: Difficulty::LeadingZeroBits(257),
		};
		assert_eq!(spec.check(b"x", 0, 1), Err(SpecError::DifficultyTooHigh));
		assert_eq!(spec.check(b"x", 5, 5), Err(SpecError::BadRange));
		assert_eq!(PowSpec::BitcoinHeader.check(&[0; 75], 0, 1), Err(SpecError::BadHeaderLength));
	}

	#[test]
	fn merkle_proofs_verify_for_every_leaf_and_tree_size() {
		for count in 1..=17u64 {
			let leaves: Vec<Hash256> = (0..count).map(|i| Sha2::hash(&i.to_le_bytes())).collect();
			let root = merkle_root::<Sha2>(&leaves);
			for (i, leaf) in leaves.iter().enumerate() {
				let proof = merkle_proof::<Sha2>(&leaves, i);
				assert!(verify_merkle_proof::<Sha2>(&root, leaf, i as u64, count, &proof));
				let wrong = Sha2::hash(b"wrong");
				assert!(!verify_merkle_proof::<Sha2>(&root, &wrong, i as u64, count, &proof));
				if count > 1 {
					assert!(!verify_merkle_proof::<Sha2>(
						&root,
						leaf,
						(i as u64 + 1) % count,
						count,
						&proof
					));
				}
			}
			assert!(!verify_merkle_proof::<Sha2>(&root, &leaves[0], count, count, &[]));
		}
	}

	#[test]
	fn challenges_are_deterministic_and_in_range() {
		let a = challenge_indices::<Sha2>(&[7; 32], 3, 10, 8);
		assert_eq!(a, challenge_indices::<Sha2>(&[7; 32], 3, 10, 8));
		assert_ne!(a, challenge_indices::<Sha2>(&[8; 32], 3, 10, 8));
		assert!(a.iter().all(|&i| i < 10));
		assert_eq!(a.len(), 8);
	}
}
