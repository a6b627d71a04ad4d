//! The hashing engine of the worker: it searches SHA-256 nonce ranges ("subjobs") for winning
//! nonces and computes the per-chunk digests and their Merkle root exactly as the on-chain
//! verifier defines them in [`appchain_primitives::pow`], only much faster.
//!
//! The on-chain code is the reference: for every nonce, [`Engine::hash`] equals
//! [`PowCheck::hash`], winners are decided by [`PowCheck::wins`], chunk digests equal
//! [`PowCheck::chunk`] and the root is `pow::merkle_root` over them. The property tests check this
//! on random payloads, ranges, chunk sizes and thread counts.
//!
//! # Cost model
//!
//! The unit of work is one call of the SHA-256 compression function on a 64-byte block
//! (`sha2::compress256`, which uses the CPU's SHA extensions where it has them). Hashing a
//! preimage of `L` bytes from scratch costs `ceil((L + 9) / 64)` compressions; the engine
//! cuts that down as follows.
//!
//! - **Midstate.** Every full 64-byte block of the payload before the nonce is the same for
//!   all nonces, so [`Engine::new`] compresses those blocks once. What is left per nonce is
//!   the *tail*: the remaining `r = len % 64` payload bytes, the nonce, the `0x80` padding byte
//!   and the 8-byte bit length. That is one block if `r + nonce_len + 9 <= 64` (`r <= 47` for
//!   8-byte generic nonces, `r <= 51` for 4-byte Bitcoin nonces) and two blocks otherwise; the
//!   nonce may straddle the two blocks. Per nonce the engine only overwrites the nonce bytes of
//!   the tail template, copies the 8-word midstate and compresses the tail.
//!   The nonce is written as one or two fixed-size 64-bit stores merged with template
//!   bytes, never with a variable-length copy.
//! - **Double SHA-256** adds exactly one compression: the first hash (32 bytes), `0x80`, zeros
//!   and the bit length 256 always fit one block, compressed from the initial hash value.
//! - **Groups.** Nonces are hashed eight at a time: the eight first compressions, then the
//!   eight second ones. Compressions of different nonces are independent, so the CPU overlaps
//!   them instead of waiting for each hash before starting the next; this matters most for
//!   double SHA-256, whose second compression depends on the first.
//! - So [`Engine::compressions_per_nonce`] is 1 or 2 for single SHA-256 and 2 or 3 for
//!   double; a Bitcoin header (76-byte prefix, 4-byte nonce) costs 2.
//! - **Chunk digests** ([`run_subjob`]) hash the chunk's `K` 32-byte nonce hashes: every two
//!   hashes fill one block, compressed as soon as it is full, plus one final padding block, so
//!   `ceil((32 K + 9) / 64)` compressions per chunk (33 for `K = 64`, about half a compression
//!   per nonce). Only the digests are kept (32 bytes per chunk), never the nonce hashes.
//! - **Merkle root.** `chunks - 1` inner nodes of `SHA-256(left ‖ right)`, 2 compressions each
//!   (a 64-byte message plus its padding block), computed after all chunks on one thread; about
//!   `2 / K` compressions per nonce.
//! - **Winner check.** Before the full 32-byte comparison of [`PowCheck::wins`], the engine
//!   compares the most significant 32 bits of the hash (as the job reads it: big-endian for
//!   generic jobs, little-endian for Bitcoin) with those of the target and skips hashes that
//!   are already larger, which is nearly all of them at real difficulties.
//! - **Threads.** [`run_subjob`] and [`search`] run on `threads` scoped OS threads. Work is
//!   handed out in batches (up to 256 chunks, or 65 536 nonces in pure search) from a shared
//!   queue so threads stay balanced; nothing is shared while hashing except the [`Progress`]
//!   counter, updated every few thousand nonces, and its stop flag, read as often.
//!
//! A single thread thus runs at about the raw compression rate of its core divided by the
//! compressions per nonce; [`bench::run`] measures that ratio. (The raw rate is measured on a
//! chain of compressions, each waiting for the previous one, so overlapping independent
//! nonces can even exceed it slightly.)

pub mod bench;
mod lane;
pub mod merkle;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

pub use appchain_primitives::pow::{Hash256, PowCheck, PowSpec, SpecError};
use lane::{to_bytes, ChunkDigest, Lane, GROUP};

/// Most chunks [`run_subjob`] accepts in one call (512 MiB of digests); the runtime allows
/// `2^20` per subjob.
pub const MAX_CHUNKS: u64 = 1 << 24;

/// Nonces hashed between two updates of the [`Progress`] counter and checks of its stop flag.
const STEP: u64 = 4096;

/// Most chunks handed to a thread at once by [`run_subjob`].
const MAX_BATCH_CHUNKS: u64 = 256;

/// Aim for batches of about this many nonces.
const BATCH_NONCES: u64 = 1 << 16;

/// A job prepared for hashing: the payload prefix compressed once (midstate).
#[derive(Clone, Debug)]
pub struct Engine {
	check: PowCheck,
	lane: Lane,
	/// The most significant 32 bits of the big-endian target.
	target_top: u32,
	start: u64,
	end: u64,
}

impl Engine {
	/// Checks `spec` against `payload` and the nonce range `[start, end)` with
	/// [`PowSpec::check`] and prepares the midstate. The engine hashes nonces of that range
	/// only: [`run_subjob`] and [`search`] refuse ranges outside it.
	pub fn new(payload: &[u8], spec: &PowSpec, start: u64, end: u64) -> Result<Engine, SpecError> {
		let check = spec.check(payload, start, end)?;
		let lane = Lane::new(payload, check.short_nonce, check.double);
		let [a, b, c, d, ..] = check.target;
		Ok(Engine { check, lane, target_top: u32::from_be_bytes([a, b, c, d]), start, end })
	}

	/// The checked specification.
	pub fn check(&self) -> &PowCheck {
		&self.check
	}

	/// The nonce range `[start, end)` the engine was prepared for.
	pub fn range(&self) -> (u64, u64) {
		(self.start, self.end)
	}

	/// Hash of one nonce, identical to [`PowCheck::hash`] with [`Sha2`] (including its
	/// truncation of Bitcoin nonces to 4 bytes).
	pub fn hash(&self, nonce: u64) -> Hash256 {
		let mut lane = self.lane.clone();
		to_bytes(&lane.hash_state(nonce))
	}

	/// Whether the hash wins (delegates to [`PowCheck::wins`]).
	pub fn wins(&self, hash: &Hash256) -> bool {
		self.check.wins(hash)
	}

	/// SHA-256 compressions one nonce costs after the midstate: 1 or 2 for single SHA-256
	/// depending on the tail length, one more for double SHA-256.
	pub fn compressions_per_nonce(&self) -> u32 {
		self.lane.compressions_per_nonce()
	}

	/// Whether the hash with final state `state` wins: a cheap look at its top 32 bits, then
	/// the exact check.
	#[inline(always)]
	fn state_wins(&self, state: &[u32; 8]) -> bool {
		// Generic hashes are big-endian numbers: their top bits are word 0. Bitcoin reads the
		// hash bytes little-endian: the top four bytes are those of word 7, reversed.
		let top = if self.check.little_endian { state[7].swap_bytes() } else { state[0] };
		top <= self.target_top && self.check.wins(&to_bytes(state))
	}

	/// Checks that `[start, end)` is a non-empty part of the engine's range.
	fn check_range(&self, start: u64, end: u64) -> Result<(), EngineError> {
		if end <= start || start < self.start || end > self.end {
			return Err(EngineError::BadRange);
		}
		Ok(())
	}
}

/// Pads its content to its own cache lines so the counter and the flag do not share one with
/// anything else.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// Shared progress counter and stop flag, to be put in an `Arc` or borrowed by the threads:
/// how many nonces were hashed so far, and whether the workers should return early.
#[derive(Debug, Default)]
pub struct Progress {
	hashed: Padded<AtomicU64>,
	stop: Padded<AtomicBool>,
}

impl Progress {
	/// A counter at zero, not stopped.
	pub fn new() -> Progress {
		Progress::default()
	}

	/// Nonces hashed so far (updated every few thousand nonces per thread, and at the end).
	pub fn hashed(&self) -> u64 {
		self.hashed.0.load(Ordering::Relaxed)
	}

	/// Asks every run using this progress to return [`EngineError::Stopped`] soon.
	pub fn stop(&self) {
		self.stop.0.store(true, Ordering::Relaxed);
	}

	/// Whether [`Progress::stop`] was called.
	pub fn is_stopped(&self) -> bool {
		self.stop.0.load(Ordering::Relaxed)
	}

	fn add(&self, nonces: u64) {
		self.hashed.0.fetch_add(nonces, Ordering::Relaxed);
	}
}

/// Counts a thread's hashed nonces and passes them on to the shared [`Progress`] every
/// [`STEP`] nonces, checking the stop flag at the same time.
struct Meter<'a> {
	progress: &'a Progress,
	pending: u64,
}

impl<'a> Meter<'a> {
	fn new(progress: &'a Progress) -> Meter<'a> {
		Meter { progress, pending: 0 }
	}

	/// Records `nonces` more; fails if the run was stopped.
	#[inline]
	fn tick(&mut self, nonces: u64) -> Result<(), EngineError> {
		self.pending = self.pending.saturating_add(nonces);
		if self.pending >= STEP {
			self.flush();
			if self.progress.is_stopped() {
				return Err(EngineError::Stopped);
			}
		}
		Ok(())
	}

	/// Fails if the run was stopped.
	fn stopped(&self) -> Result<(), EngineError> {
		if self.progress.is_stopped() {
			return Err(EngineError::Stopped);
		}
		Ok(())
	}

	fn flush(&mut self) {
		if self.pending > 0 {
			self.progress.add(self.pending);
			self.pending = 0;
		}
	}
}

impl Drop for Meter<'_> {
	fn drop(&mut self) {
		self.flush();
	}
}

/// The result of hashing a subjob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjobOutput {
	/// The chunk digests, in order.
	pub digests: Vec<Hash256>,
	/// Merkle root of `digests`.
	pub root: Hash256,
	/// The winning nonces, ascending: all of them, or the first `max_winners` for
	/// [`run_subjob_keeping`].
	pub winners: Vec<u64>,
	/// How many winning nonces the range has in all.
	pub found: u64,
}

/// Why a run did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineError {
	/// [`Progress::stop`] was called.
	Stopped,
	/// The range is empty or not inside the engine's range.
	BadRange,
	/// A chunk size of zero.
	BadChunkSize,
	/// Zero threads.
	NoThreads,
	/// More chunks than [`MAX_CHUNKS`].
	TooManyChunks {
		/// How many the range and chunk size make.
		chunks: u64,
	},
	/// A worker thread panicked (a bug).
	WorkerPanicked,
}

impl fmt::Display for EngineError {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		match self {
			EngineError::Stopped => write!(f, "hashing was stopped"),
			EngineError::BadRange => {
				write!(f, "the nonce range is empty or outside the engine's range")
			},
			EngineError::BadChunkSize => write!(f, "the chunk size is zero"),
			EngineError::NoThreads => write!(f, "zero threads"),
			EngineError::TooManyChunks { chunks } => {
				write!(f, "{chunks} chunks, more than the {MAX_CHUNKS} a run accepts")
			},
			EngineError::WorkerPanicked => write!(f, "a hashing thread panicked"),
		}
	}
}

impl std::error::Error for EngineError {}

/// Hashes `[start, end)` in chunks of `chunk_size` nonces (chunk `i` is
/// `[start + i k, min(start + (i + 1) k, end))`) on `threads` OS threads, and returns every
/// chunk's digest (SHA-256 of the concatenated 32-byte nonce hashes), their Merkle root
/// ([`merkle::root`], equal to `pow::merkle_root` without copying the digests) and all winning nonces in ascending order.
///
/// Threads take batches of up to 256 chunks from a shared queue. `progress` counts the hashed
/// nonces as they go; after [`Progress::stop`] the run returns [`EngineError::Stopped`] within
/// a few thousand nonces per thread. Memory: the digests (32 bytes per chunk), nothing per
/// nonce.
pub fn run_subjob(
	engine: &Engine,
	start: u64,
	end: u64,
	chunk_size: u64,
	threads: usize,
	progress: &Progress,
) -> Result<SubjobOutput, EngineError> {
	run_subjob_keeping(engine, start, end, chunk_size, threads, usize::MAX, progress)
}

/// [`run_subjob`] keeping only the first `max_winners` winning nonces (and counting the rest):
/// a job with a very easy target cannot make the worker store one nonce per hash. Each thread
/// takes its batches in ascending order, so the first `max_winners` of all are among the first
/// `max_winners` of each thread.
pub fn run_subjob_keeping(
	engine: &Engine,
	start: u64,
	end: u64,
	chunk_size: u64,
	threads: usize,
	max_winners: usize,
	progress: &Progress,
) -> Result<SubjobOutput, EngineError> {
	engine.check_range(start, end)?;
	if chunk_size == 0 {
		return Err(EngineError::BadChunkSize);
	}
	if threads == 0 {
		return Err(EngineError::NoThreads);
	}
	// `end > start`, so the length is positive and the division exact.
	let chunks = (end - start).div_ceil(chunk_size);
	if chunks > MAX_CHUNKS {
		return Err(EngineError::TooManyChunks { chunks });
	}
	// Below MAX_CHUNKS, so this fits a usize.
	let mut digests = vec![[0u8; 32]; chunks as usize];

	// Batches small enough that every thread gets several, at most 256 chunks.
	let wanted = (threads as u64).saturating_mul(4);
	let batch = (BATCH_NONCES / chunk_size).clamp(1, MAX_BATCH_CHUNKS).min(chunks.div_ceil(wanted));
	let batch = batch.max(1);
	let batches = chunks.div_ceil(batch);
	// The queue hands out batches of digest slots to the threads.
	let queue = Mutex::new(digests.chunks_mut(batch as usize).enumerate());

	let found = AtomicU64::new(0);
	let work = || -> Result<Vec<u64>, EngineError> {
		let mut lane = engine.lane.clone();
		let mut digest = ChunkDigest::new();
		let mut winners = Vec::new();
		let mut extra = 0u64;
		let mut meter = Meter::new(progress);
		loop {
			meter.stopped()?;
			let next = queue.lock().map_err(|_| EngineError::WorkerPanicked)?.next();
			let Some((index, slots)) = next else { break };
			let mut first = start + index as u64 * batch * chunk_size;
			for slot in slots {
				let chunk_end = first.saturating_add(chunk_size).min(end);
				let mut nonce = first;
				while nonce < chunk_end {
					let step_end = nonce.saturating_add(STEP).min(chunk_end);
					hash_range(&mut lane, nonce, step_end, |n, state| {
						digest.push(state);
						if engine.state_wins(state) {
							if winners.len() < max_winners {
								winners.push(n);
							} else {
								extra += 1;
							}
						}
					});
					meter.tick(step_end - nonce)?;
					nonce = step_end;
				}
				*slot = digest.finish();
				first = chunk_end;
			}
		}
		found.fetch_add(extra + winners.len() as u64, Ordering::Relaxed);
		Ok(winners)
	};

	let mut winners = run_threads(threads.min(batches as usize), &work)?;
	winners.truncate(max_winners);
	let root = merkle::root(&digests);
	Ok(SubjobOutput { digests, root, winners, found: found.into_inner() })
}

/// The same search as [`run_subjob`] without chunk digests: hashes `[start, end)` on
/// `threads` OS threads and returns all winning nonces, ascending. This is the pure per-nonce
/// cost, used for benchmarking and for jobs that need no proof of work done.
pub fn search(
	engine: &Engine,
	start: u64,
	end: u64,
	threads: usize,
	progress: &Progress,
) -> Result<Vec<u64>, EngineError> {
	engine.check_range(start, end)?;
	if threads == 0 {
		return Err(EngineError::NoThreads);
	}
	let len = end - start;
	let wanted = (threads as u64).saturating_mul(4);
	let batch = BATCH_NONCES.min(len.div_ceil(wanted)).max(1);
	let batches = len.div_ceil(batch);
	// Offset (from `start`) of the next batch to hand out; it never passes `len`.
	let next = AtomicU64::new(0);

	let work = || -> Result<Vec<u64>, EngineError> {
		let mut lane = engine.lane.clone();
		let mut winners = Vec::new();
		let mut meter = Meter::new(progress);
		loop {
			meter.stopped()?;
			let taken = next.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
				(offset < len).then(|| offset.saturating_add(batch).min(len))
			});
			let Ok(offset) = taken else { break };
			let first = start + offset;
			let last = first.saturating_add(batch).min(end);
			let mut nonce = first;
			while nonce < last {
				let step_end = nonce.saturating_add(STEP).min(last);
				hash_range(&mut lane, nonce, step_end, |n, state| {
					if engine.state_wins(state) {
						winners.push(n);
					}
				});
				meter.tick(step_end - nonce)?;
				nonce = step_end;
			}
		}
		Ok(winners)
	};

	run_threads(usize::try_from(batches).unwrap_or(usize::MAX).min(threads), &work)
}

/// Hashes the nonces `[first, end)` in order, [`GROUP`] at a time while enough are left, and
/// hands each nonce and its final hash state to `each`.
#[inline(always)]
fn hash_range(lane: &mut Lane, first: u64, end: u64, mut each: impl FnMut(u64, &[u32; 8])) {
	let mut group = [[0u32; 8]; GROUP];
	let mut nonce = first;
	// `nonce + GROUP <= end`: no overflow.
	while end - nonce >= GROUP as u64 {
		lane.hash_group(nonce, &mut group);
		for (n, state) in (nonce..).zip(&group) {
			each(n, state);
		}
		nonce += GROUP as u64;
	}
	while nonce < end {
		let state = lane.hash_state(nonce);
		each(nonce, &state);
		nonce += 1;
	}
}

/// Runs `work` on `threads` threads (on the calling thread if just one) and merges the
/// winners they found, ascending.
fn run_threads<F>(threads: usize, work: &F) -> Result<Vec<u64>, EngineError>
where
	F: Fn() -> Result<Vec<u64>, EngineError> + Sync,
{
	let results: Vec<Result<Vec<u64>, EngineError>> = if threads <= 1 {
		vec![work()]
	} else {
		std::thread::scope(|scope| {
			let handles: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
			handles
				.into_iter()
				.map(|handle| handle.join().unwrap_or(Err(EngineError::WorkerPanicked)))
				.collect()
		})
	};
	let mut winners = Vec::new();
	let mut failure = None;
	for result in results {
		match result {
			Ok(found) => winners.extend(found),
			// A panic is worse news than a stop.
			Err(error) if failure.is_none() || error == EngineError::WorkerPanicked => {
				failure = Some(error)
			},
			Err(_) => {},
		}
	}
	if let Some(error) = failure {
		return Err(error);
	}
	winners.sort_unstable();
	Ok(winners)
}

/// Hardware threads available to this process (`std::thread::available_parallelism`), at
/// least 1.
pub fn available_threads() -> usize {
	std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

/// Whether the CPU has the SHA extensions `sha2::compress256` uses (x86-64: SHA, SSE2, SSSE3
/// and SSE4.1). Always false on other architectures, where `sha2` compresses in software.
pub fn sha_ni_detected() -> bool {
	#[cfg(target_arch = "x86_64")]
	{
		std::arch::is_x86_feature_detected!("sha")
			&& std::arch::is_x86_feature_detected!("sse2")
			&& std::arch::is_x86_feature_detected!("ssse3")
			&& std::arch::is_x86_feature_detected!("sse4.1")
	}
	#[cfg(not(target_arch = "x86_64"))]
	{
		false
	}
}

#[cfg(test)]
mod tests;
