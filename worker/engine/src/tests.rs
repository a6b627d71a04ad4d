//! Unit tests of the internals; the reference comparisons are in `tests/reference.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::lane::{chunk_digest_compressions, ChunkDigest, Lane};
use super::*;
use appchain_primitives::pow::{Difficulty, HashFunction, Sha2, Sha256};

fn generic(hash: HashFunction, zeros: u16) -> PowSpec {
	PowSpec::Generic { hash, difficulty: Difficulty::LeadingZeroBits(zeros) }
}

#[test]
fn compressions_per_nonce_follow_the_tail_length() {
	for len in 0..=200usize {
		let payload = vec![7u8; len];
		let rest = len % 64;
		let single = if rest + 8 + 9 <= 64 { 1 } else { 2 };
		let engine = Engine::new(&payload, &generic(HashFunction::Sha256, 0), 0, 1).unwrap();
		assert_eq!(engine.compressions_per_nonce(), single, "payload of {len} bytes");
		let engine = Engine::new(&payload, &generic(HashFunction::DoubleSha256, 0), 0, 1).unwrap();
		assert_eq!(engine.compressions_per_nonce(), single + 1, "payload of {len} bytes");
	}
	// 47 bytes: 47 + 8 + 9 = 64 fits one block; 48 does not.
	assert_eq!(Lane::new(&[0; 47], false, false).compressions_per_nonce(), 1);
	assert_eq!(Lane::new(&[0; 48], false, false).compressions_per_nonce(), 2);
	// Bitcoin: 76-byte prefix, the tail is 12 bytes + 4-byte nonce: one block, plus the second
	// hash.
	assert_eq!(Lane::new(&[0; 76], true, true).compressions_per_nonce(), 2);
}

#[test]
fn incremental_chunk_digests_equal_one_shot_sha256() {
	let mut lane = Lane::new(b"chunk digests", false, false);
	let mut digest = ChunkDigest::new();
	for count in 1..=9u64 {
		// Twice, to check that `finish` resets.
		for _ in 0..2 {
			let mut all = Vec::new();
			for nonce in 0..count {
				let state = lane.hash_state(nonce);
				digest.push(&state);
				all.extend_from_slice(&lane::to_bytes(&state));
			}
			assert_eq!(digest.finish(), Sha2::hash(&all), "{count} hashes");
		}
	}
}

#[test]
fn chunk_digest_compression_counts() {
	assert_eq!(chunk_digest_compressions(64), 33);
	assert_eq!(chunk_digest_compressions(1), 1);
	assert_eq!(chunk_digest_compressions(2), 2);
	assert_eq!(chunk_digest_compressions(3), 2);
}

#[test]
fn the_top_word_filter_agrees_with_the_exact_check() {
	// Targets whose top 32 bits equal the hashes' make the filter undecided: the exact check
	// must then decide.
	let payload = b"filter";
	let engine = Engine::new(payload, &generic(HashFunction::Sha256, 0), 0, 100).unwrap();
	for nonce in 0..100 {
		let hash = engine.hash(nonce);
		for target in [hash, [0; 32], [0xff; 32], {
			let mut t = hash;
			t[31] = t[31].wrapping_sub(1);
			t
		}] {
			let spec = PowSpec::Generic {
				hash: HashFunction::Sha256,
				difficulty: Difficulty::Target(target),
			};
			let engine = Engine::new(payload, &spec, 0, 100).unwrap();
			let mut lane = engine.lane.clone();
			let state = lane.hash_state(nonce);
			assert_eq!(engine.state_wins(&state), engine.wins(&hash));
		}
	}
}

#[test]
fn progress_counts_every_hashed_nonce() {
	let engine = Engine::new(b"count", &generic(HashFunction::Sha256, 8), 0, 1 << 20).unwrap();
	let progress = Progress::new();
	run_subjob(&engine, 10, 100_010, 64, 2, &progress).unwrap();
	assert_eq!(progress.hashed(), 100_000);
	search(&engine, 0, 12_345, 3, &progress).unwrap();
	assert_eq!(progress.hashed(), 112_345);
	assert!(!progress.is_stopped());
}

#[test]
fn errors_display() {
	assert_eq!(EngineError::Stopped.to_string(), "hashing was stopped");
	assert!(EngineError::TooManyChunks { chunks: 5 }.to_string().starts_with("5 chunks"));
}

#[test]
fn a_short_benchmark_fills_its_report() {
	let report = bench::run(std::time::Duration::from_millis(20), &[1, 2], |_| {});
	assert_eq!(report.rows.len(), 2 * 2 * 2);
	assert!(report.raw_compressions_per_sec_one_core > 0.0);
	for row in &report.rows {
		assert!(row.nonces > 0);
		assert!(row.speedup_vs_one_thread.is_some());
	}
	let table = report.to_string();
	assert!(table.contains("raw SHA-256 compression rate"));
	assert!(table.contains("subjob"));
}

#[test]
fn lanes_with_short_nonces_hash_any_payload_length() {
	// Bitcoin payloads are always 76 bytes; the lane itself supports 4-byte nonces after any
	// payload, including where they straddle the two tail blocks.
	for len in 0..=140usize {
		let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
		for double in [false, true] {
			let mut lane = Lane::new(&payload, true, double);
			for nonce in [0u64, 1, 0x1234_5678, u64::from(u32::MAX)] {
				let mut preimage = payload.clone();
				preimage.extend_from_slice(&(nonce as u32).to_le_bytes());
				let once = Sha2::hash(&preimage);
				let expected = if double { Sha2::hash(&once) } else { once };
				assert_eq!(lane::to_bytes(&lane.hash_state(nonce)), expected, "{len} bytes");
			}
		}
	}
}

#[test]
fn grouped_and_single_hashing_agree() {
	for len in [0usize, 47, 48, 56, 57, 63, 64, 76, 120] {
		for (short, double) in [(false, false), (false, true), (true, true)] {
			let mut lane = Lane::new(&vec![9u8; len], short, double);
			let mut group = [[0u32; 8]; lane::GROUP];
			lane.hash_group(1000, &mut group);
			for (nonce, state) in (1000u64..).zip(&group) {
				assert_eq!(*state, lane.hash_state(nonce));
			}
		}
	}
}
