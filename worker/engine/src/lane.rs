//! The per-nonce hashing core: a midstate, a tail template and the raw compression function.
//!
//! A [`Lane`] is owned by one thread at a time (it mutates its templates in place); every
//! worker thread clones the engine's lane once and then hashes without allocating.

use appchain_primitives::pow::Hash256;
use sha2::compress256;
use sha2::digest::{generic_array::GenericArray, typenum::U64};

/// One 64-byte SHA-256 message block, as `compress256` takes it.
pub(crate) type Block = GenericArray<u8, U64>;

/// Nonces hashed together by [`Lane::hash_group`].
pub(crate) const GROUP: usize = 8;

/// The SHA-256 initial hash value.
pub(crate) const IV: [u32; 8] = [
	0x6a09_e667,
	0xbb67_ae85,
	0x3c6e_f372,
	0xa54f_f53a,
	0x510e_527f,
	0x9b05_688c,
	0x1f83_d9ab,
	0x5be0_cd19,
];

/// How the nonce is written into the tail template: as one or two little-endian 64-bit words
/// (fixed-size stores, no `memcpy`), the other bytes of those words taken from a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NonceSlot {
	/// The nonce lies in bytes `at..at + 8` of the first tail block (`at <= 56`); those bytes
	/// are `template | nonce` read little-endian.
	Word { at: usize, template: u64 },
	/// The nonce starts at byte `at > 56` of the first tail block and may run into the
	/// second: bytes `56..64` of the first block are `low | nonce << low_shift`, bytes `0..8` of
	/// the second `high | nonce >> high_shift` (shifts `8 * (at - 56)` and `8 * (64 - at)`,
	/// both in `8..=56`).
	Straddle { low: u64, high: u64, low_shift: u32, high_shift: u32 },
}

/// The prepared hashing state of one job.
#[derive(Clone, Debug)]
pub(crate) struct Lane {
	/// State after compressing every full payload block that holds no nonce byte.
	midstate: [u32; 8],
	/// The last one or two blocks of the padded preimage: remaining payload bytes, the nonce
	/// slot, `0x80`, zeros and the big-endian bit length.
	tail: [Block; 2],
	/// How many of `tail` are in use (1 or 2).
	tail_blocks: usize,
	/// Where the nonce goes.
	slot: NonceSlot,
	/// The nonce bits written: the low 32 bits for 4-byte nonces, all 64 otherwise.
	mask: u64,
	/// Double SHA-256: hash the 32-byte first hash once more.
	double: bool,
	/// The second hash's single block: 32 hash bytes, `0x80`, zeros, bit length 256.
	outer: Block,
}

/// Writes the state words big-endian at byte `OFF` of `block`.
#[inline(always)]
pub(crate) fn write_be<const OFF: usize>(block: &mut Block, state: &[u32; 8]) {
	for (bytes, word) in block[OFF..OFF + 32].chunks_exact_mut(4).zip(state) {
		bytes.copy_from_slice(&word.to_be_bytes());
	}
}

/// The hash bytes of a final state (words big-endian).
#[inline(always)]
pub(crate) fn to_bytes(state: &[u32; 8]) -> Hash256 {
	let mut out = [0u8; 32];
	for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
		bytes.copy_from_slice(&word.to_be_bytes());
	}
	out
}

/// Copies 64 bytes into a block.
fn block_from(bytes: &[u8; 64]) -> Block {
	Block::from(*bytes)
}

impl Lane {
	/// Prepares `payload ‖ nonce` hashing with 4-byte (`short_nonce`) or 8-byte little-endian
	/// nonces, single or double SHA-256.
	pub(crate) fn new(payload: &[u8], short_nonce: bool, double: bool) -> Lane {
		let nonce_len: usize = if short_nonce { 4 } else { 8 };
		let full = payload.len() / 64;
		let (head, rest) = payload.split_at(full * 64);
		let mut midstate = IV;
		let head_blocks: Vec<Block> = head.chunks_exact(64).map(Block::clone_from_slice).collect();
		compress256(&mut midstate, &head_blocks);

		// `rest` is shorter than 64 bytes; with the nonce, `0x80` and the 8-byte length the tail
		// is at most 63 + 8 + 9 = 80 bytes, so it always fits two blocks.
		let mut buffer = [0u8; 128];
		buffer[..rest.len()].copy_from_slice(rest);
		let message_end = rest.len() + nonce_len;
		buffer[message_end] = 0x80;
		let tail_blocks = if message_end + 9 <= 64 { 1 } else { 2 };
		let total_bits = ((payload.len() + nonce_len) as u64).wrapping_mul(8);
		buffer[tail_blocks * 64 - 8..tail_blocks * 64].copy_from_slice(&total_bits.to_be_bytes());
		let mut first = [0u8; 64];
		let mut second = [0u8; 64];
		first.copy_from_slice(&buffer[..64]);
		second.copy_from_slice(&buffer[64..]);

		let at = rest.len();
		let word = |bytes: &[u8]| {
			let mut le = [0u8; 8];
			le.copy_from_slice(bytes);
			u64::from_le_bytes(le)
		};
		// The template bytes of the nonce are still zero here.
		let slot = if at <= 56 {
			NonceSlot::Word { at, template: word(&buffer[at..at + 8]) }
		} else {
			// `at > 56`: then `at + nonce_len + 9 > 64` and the tail has two blocks.
			NonceSlot::Straddle {
				low: word(&buffer[56..64]),
				high: word(&buffer[64..72]),
				low_shift: 8 * (at as u32 - 56),
				high_shift: 8 * (64 - at as u32),
			}
		};
		let mask = if short_nonce { u64::from(u32::MAX) } else { u64::MAX };

		let mut outer = [0u8; 64];
		outer[32] = 0x80;
		outer[56..].copy_from_slice(&256u64.to_be_bytes());

		Lane {
			midstate,
			tail: [block_from(&first), block_from(&second)],
			tail_blocks,
			slot,
			mask,
			double,
			outer: block_from(&outer),
		}
	}

	/// SHA-256 compressions per nonce after the midstate.
	pub(crate) fn compressions_per_nonce(&self) -> u32 {
		// `tail_blocks` is 1 or 2.
		let tail = if self.tail_blocks == 1 { 1 } else { 2 };
		if self.double {
			tail + 1
		} else {
			tail
		}
	}

	/// Puts `nonce` into the tail template.
	#[inline(always)]
	fn set_nonce(&mut self, nonce: u64) {
		let nonce = nonce & self.mask;
		match self.slot {
			NonceSlot::Word { at, template } => {
				let at = at.min(56);
				self.tail[0][at..at + 8].copy_from_slice(&(template | nonce).to_le_bytes());
			},
			NonceSlot::Straddle { low, high, low_shift, high_shift } => {
				let [first, second] = &mut self.tail;
				first[56..].copy_from_slice(&(low | (nonce << low_shift)).to_le_bytes());
				second[..8].copy_from_slice(&(high | (nonce >> high_shift)).to_le_bytes());
			},
		}
	}

	/// The final hash state of `nonce` (the hash is its words big-endian).
	#[inline(always)]
	pub(crate) fn hash_state(&mut self, nonce: u64) -> [u32; 8] {
		self.set_nonce(nonce);
		let mut state = self.midstate;
		compress256(&mut state, &self.tail[..self.tail_blocks]);
		if self.double {
			write_be::<0>(&mut self.outer, &state);
			state = IV;
			compress256(&mut state, core::slice::from_ref(&self.outer));
		}
		state
	}

	/// The final hash states of the [`GROUP`] nonces from `first` on (`first + GROUP` must not
	/// overflow). All first hashes come before all second hashes, so the compressions in
	/// flight are independent and the CPU overlaps them.
	#[inline(always)]
	pub(crate) fn hash_group(&mut self, first: u64, out: &mut [[u32; 8]; GROUP]) {
		let mut nonce = first;
		for state in out.iter_mut() {
			self.set_nonce(nonce);
			nonce = nonce.wrapping_add(1);
			*state = self.midstate;
			compress256(state, &self.tail[..self.tail_blocks]);
		}
		if self.double {
			for state in out.iter_mut() {
				write_be::<0>(&mut self.outer, state);
				*state = IV;
				compress256(state, core::slice::from_ref(&self.outer));
			}
		}
	}
}

/// Incremental SHA-256 of a chunk's concatenated 32-byte hashes: every two hashes fill one
/// block, which is compressed at once; the padding is added by hand at the end.
#[derive(Clone, Debug)]
pub(crate) struct ChunkDigest {
	state: [u32; 8],
	block: Block,
	count: u64,
}

impl ChunkDigest {
	/// An empty digest.
	pub(crate) fn new() -> ChunkDigest {
		ChunkDigest { state: IV, block: Block::default(), count: 0 }
	}

	/// Appends one 32-byte hash, given as its final state words.
	#[inline(always)]
	pub(crate) fn push(&mut self, hash: &[u32; 8]) {
		if self.count.is_multiple_of(2) {
			write_be::<0>(&mut self.block, hash);
		} else {
			write_be::<32>(&mut self.block, hash);
			compress256(&mut self.state, core::slice::from_ref(&self.block));
		}
		self.count = self.count.wrapping_add(1);
	}

	/// The digest of everything pushed since the last `finish`; resets for the next chunk.
	pub(crate) fn finish(&mut self) -> Hash256 {
		let bits = self.count.wrapping_mul(256);
		if self.count % 2 == 1 {
			// Half a block of data: the padding fits behind it (32 + 1 + 8 <= 64).
			self.block[32] = 0x80;
			self.block[33..56].fill(0);
		} else {
			self.block[..56].fill(0);
			self.block[0] = 0x80;
		}
		self.block[56..].copy_from_slice(&bits.to_be_bytes());
		compress256(&mut self.state, core::slice::from_ref(&self.block));
		let digest = to_bytes(&self.state);
		*self = ChunkDigest::new();
		digest
	}
}

/// SHA-256 compressions for the digest of a chunk of `nonces` hashes (`32 * nonces` bytes).
pub(crate) fn chunk_digest_compressions(nonces: u64) -> u64 {
	nonces.saturating_mul(32).saturating_add(9).div_ceil(64)
}
