//! The engine against the on-chain reference in `appchain_primitives::pow`: hashes, chunk
//! digests, Merkle roots and winners must be bit-identical.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use appchain_hash_engine::{
	run_subjob, run_subjob_keeping, search, Engine, EngineError, Hash256, PowCheck, PowSpec,
	Progress, SpecError, SubjobOutput, MAX_CHUNKS,
};
use appchain_primitives::pow::{merkle_root, Difficulty, HashFunction, Sha2};
use proptest::prelude::*;

/// The reference: `PowCheck::chunk` per chunk, then `merkle_root`.
fn reference(
	check: &PowCheck,
	payload: &[u8],
	start: u64,
	end: u64,
	chunk_size: u64,
) -> SubjobOutput {
	let mut digests = Vec::new();
	let mut winners = Vec::new();
	let mut first = start;
	while first < end {
		let last = first.saturating_add(chunk_size).min(end);
		let (digest, found) = check.chunk::<Sha2>(payload, first, last);
		digests.push(digest);
		winners.extend(found);
		first = last;
	}
	let root = merkle_root::<Sha2>(&digests);
	SubjobOutput { digests, root, found: winners.len() as u64, winners }
}

fn generic(double: bool, zeros: u16) -> PowSpec {
	PowSpec::Generic {
		hash: if double { HashFunction::DoubleSha256 } else { HashFunction::Sha256 },
		difficulty: Difficulty::LeadingZeroBits(zeros),
	}
}

/// Payload lengths around every block boundary the nonce and the padding can cross, and any
/// other length up to 200.
fn payload_len() -> impl Strategy<Value = usize> {
	prop_oneof![
		prop::sample::select(vec![
			0usize, 1, 8, 46, 47, 48, 51, 52, 55, 56, 57, 60, 63, 64, 65, 111, 112, 119, 120, 127,
			128, 200
		]),
		0usize..=200,
	]
}

/// A 76-byte Bitcoin header prefix with an easy compact target in its `bits` field.
fn bitcoin_payload() -> impl Strategy<Value = Vec<u8>> {
	(
		prop::collection::vec(any::<u8>(), 72),
		prop::sample::select(vec![0x207f_ffffu32, 0x2100_ffff, 0x2000_ffff, 0x1f00_ffff]),
	)
		.prop_map(|(mut prefix, bits)| {
			prefix.extend_from_slice(&bits.to_le_bytes());
			prefix
		})
}

/// Starts anywhere, near zero and just below the largest nonce `limit - 1`.
fn start_below(limit: u64) -> impl Strategy<Value = u64> {
	prop_oneof![0u64..1000, 0u64..limit - 1, (limit - 3000)..limit - 1]
}

proptest! {
	#![proptest_config(ProptestConfig::with_cases(256))]

	#[test]
	fn generic_hashes_equal_the_reference(
		payload in payload_len().prop_flat_map(|len| prop::collection::vec(any::<u8>(), len)),
		double in any::<bool>(),
		nonces in prop::collection::vec(any::<u64>(), 1..20),
	) {
		let spec = generic(double, 0);
		let engine = Engine::new(&payload, &spec, 0, u64::MAX).unwrap();
		let check = spec.check(&payload, 0, u64::MAX).unwrap();
		let mut buffer = Vec::new();
		for nonce in nonces.into_iter().chain([0, 1, 255, 256, u64::MAX - 1, u64::MAX]) {
			prop_assert_eq!(engine.hash(nonce), check.hash::<Sha2>(&payload, nonce, &mut buffer));
		}
	}

	#[test]
	fn bitcoin_hashes_equal_the_reference(
		payload in bitcoin_payload(),
		nonces in prop::collection::vec(0u64..1 << 32, 1..20),
	) {
		let engine = Engine::new(&payload, &PowSpec::BitcoinHeader, 0, 1 << 32).unwrap();
		let check = PowSpec::BitcoinHeader.check(&payload, 0, 1 << 32).unwrap();
		let mut buffer = Vec::new();
		for nonce in nonces.into_iter().chain([0, u64::from(u32::MAX)]) {
			let hash = engine.hash(nonce);
			prop_assert_eq!(hash, check.hash::<Sha2>(&payload, nonce, &mut buffer));
			prop_assert_eq!(engine.wins(&hash), check.wins(&hash));
		}
	}

	#[test]
	fn generic_subjobs_equal_the_reference(
		payload in payload_len().prop_flat_map(|len| prop::collection::vec(any::<u8>(), len)),
		double in any::<bool>(),
		zeros in 0u16..6,
		start in start_below(u64::MAX),
		len in 1u64..600,
		chunk_size in 1u64..100,
		threads in 1usize..=4,
	) {
		let end = start.saturating_add(len);
		let spec = generic(double, zeros);
		let engine = Engine::new(&payload, &spec, start, end).unwrap();
		let check = spec.check(&payload, start, end).unwrap();
		let progress = Progress::new();
		let output = run_subjob(&engine, start, end, chunk_size, threads, &progress).unwrap();
		let expected = reference(&check, &payload, start, end, chunk_size);
		prop_assert_eq!(&output, &expected);
		prop_assert_eq!(progress.hashed(), end - start);
		let found = search(&engine, start, end, threads, &progress).unwrap();
		prop_assert_eq!(found, expected.winners);
	}

	#[test]
	fn bitcoin_subjobs_equal_the_reference(
		payload in bitcoin_payload(),
		start in start_below(1 << 32),
		len in 1u64..600,
		chunk_size in 1u64..100,
		threads in 1usize..=4,
	) {
		let end = start.saturating_add(len).min(1 << 32);
		let engine = Engine::new(&payload, &PowSpec::BitcoinHeader, start, end).unwrap();
		let check = PowSpec::BitcoinHeader.check(&payload, start, end).unwrap();
		let progress = Progress::new();
		let output = run_subjob(&engine, start, end, chunk_size, threads, &progress).unwrap();
		let expected = reference(&check, &payload, start, end, chunk_size);
		prop_assert_eq!(&output, &expected);
		let found = search(&engine, start, end, threads, &progress).unwrap();
		prop_assert_eq!(found, expected.winners);
	}

	#[test]
	fn sub_ranges_of_the_engine_range_equal_the_reference(
		payload in prop::collection::vec(any::<u8>(), 0..=130),
		offset in 0u64..500,
		len in 1u64..500,
		chunk_size in 1u64..70,
		threads in 1usize..=3,
	) {
		let spec = generic(true, 3);
		let engine = Engine::new(&payload, &spec, 1000, 3000).unwrap();
		let check = spec.check(&payload, 1000, 3000).unwrap();
		let (start, end) = (1000 + offset, 1000 + offset + len);
		let output = run_subjob(&engine, start, end, chunk_size, threads, &Progress::new()).unwrap();
		prop_assert_eq!(output, reference(&check, &payload, start, end, chunk_size));
	}
}

fn hex(s: &str) -> Vec<u8> {
	(0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

const GENESIS_HEADER: &str = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";
const GENESIS_NONCE: u64 = 2_083_236_893;

#[test]
fn the_bitcoin_genesis_nonce_wins_and_is_the_only_winner_around_it() {
	let header = hex(GENESIS_HEADER);
	assert_eq!(header.len(), 80);
	assert_eq!(header[76..], (GENESIS_NONCE as u32).to_le_bytes());
	let payload = &header[..76];
	let (start, end) = (GENESIS_NONCE - 1000, GENESIS_NONCE + 1000);
	let engine = Engine::new(payload, &PowSpec::BitcoinHeader, start, end).unwrap();
	assert_eq!(engine.compressions_per_nonce(), 2);

	let mut hash = engine.hash(GENESIS_NONCE);
	assert!(engine.wins(&hash));
	hash.reverse();
	assert_eq!(hash, hex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")[..]);

	for threads in [1, 2, 3] {
		let output = run_subjob(&engine, start, end, 64, threads, &Progress::new()).unwrap();
		assert_eq!(output.winners, vec![GENESIS_NONCE]);
		assert_eq!(output.digests.len(), 2000usize.div_ceil(64));
		let check = PowSpec::BitcoinHeader.check(payload, start, end).unwrap();
		assert_eq!(output, reference(&check, payload, start, end, 64));
		let found = search(&engine, start, end, threads, &Progress::new()).unwrap();
		assert_eq!(found, vec![GENESIS_NONCE]);
	}
}

#[test]
fn a_progress_stopped_before_the_run_stops_it_at_once() {
	let engine = Engine::new(b"stop", &generic(false, 0), 0, u64::MAX).unwrap();
	let progress = Progress::new();
	progress.stop();
	assert!(progress.is_stopped());
	for threads in [1, 2] {
		assert_eq!(
			run_subjob(&engine, 0, 1 << 30, 1 << 20, threads, &progress),
			Err(EngineError::Stopped)
		);
		assert_eq!(search(&engine, 0, u64::MAX, threads, &progress), Err(EngineError::Stopped));
	}
	assert_eq!(progress.hashed(), 0);
}

/// Starts `run` on another thread, waits until it has hashed something, stops it and returns
/// its result.
fn stop_while_running<T: Send>(progress: &Progress, run: impl FnOnce() -> T + Send) -> T {
	std::thread::scope(|scope| {
		let handle = scope.spawn(run);
		while progress.hashed() == 0 {
			std::thread::yield_now();
		}
		progress.stop();
		handle.join().unwrap()
	})
}

#[test]
fn a_progress_stopped_while_running_stops_the_run() {
	// Target zero: nothing wins, and the ranges would take years.
	let engine = Engine::new(b"stop", &generic(true, 256), 0, u64::MAX).unwrap();
	for threads in [1, 2, 4] {
		let progress = Progress::new();
		let result =
			stop_while_running(&progress, || search(&engine, 0, u64::MAX, threads, &progress));
		assert_eq!(result, Err(EngineError::Stopped));

		// Huge chunks: the stop flag is also read inside a chunk.
		let progress = Progress::new();
		let result = stop_while_running(&progress, || {
			run_subjob(&engine, 0, 1 << 40, 1 << 30, threads, &progress)
		});
		assert_eq!(result, Err(EngineError::Stopped));
	}
}

#[test]
fn bad_specifications_are_refused() {
	let err = |r: Result<Engine, SpecError>| r.err();
	assert_eq!(err(Engine::new(b"x", &generic(false, 0), 5, 5)), Some(SpecError::BadRange));
	assert_eq!(err(Engine::new(b"x", &generic(false, 0), 6, 5)), Some(SpecError::BadRange));
	assert_eq!(
		err(Engine::new(b"x", &generic(false, 257), 0, 5)),
		Some(SpecError::DifficultyTooHigh)
	);
	assert_eq!(
		err(Engine::new(&[0; 75], &PowSpec::BitcoinHeader, 0, 5)),
		Some(SpecError::BadHeaderLength)
	);
	let header = hex(GENESIS_HEADER);
	assert_eq!(
		err(Engine::new(&header[..76], &PowSpec::BitcoinHeader, 0, (1 << 32) + 1)),
		Some(SpecError::BadRange)
	);
	let mut bad_bits = header[..76].to_vec();
	bad_bits[72..76].copy_from_slice(&0x1d00_0000u32.to_le_bytes());
	assert_eq!(
		err(Engine::new(&bad_bits, &PowSpec::BitcoinHeader, 0, 5)),
		Some(SpecError::BadCompactTarget)
	);
}

#[test]
fn bad_runs_are_refused() {
	let engine = Engine::new(b"runs", &generic(false, 0), 100, 200).unwrap();
	let progress = Progress::new();
	let subjob =
		|start, end, chunk, threads| run_subjob(&engine, start, end, chunk, threads, &progress);
	assert_eq!(subjob(150, 150, 4, 1), Err(EngineError::BadRange));
	assert_eq!(subjob(160, 150, 4, 1), Err(EngineError::BadRange));
	assert_eq!(subjob(99, 150, 4, 1), Err(EngineError::BadRange));
	assert_eq!(subjob(150, 201, 4, 1), Err(EngineError::BadRange));
	assert_eq!(subjob(100, 200, 0, 1), Err(EngineError::BadChunkSize));
	assert_eq!(subjob(100, 200, 4, 0), Err(EngineError::NoThreads));
	assert_eq!(search(&engine, 100, 100, 1, &progress), Err(EngineError::BadRange));
	assert_eq!(search(&engine, 0, 150, 1, &progress), Err(EngineError::BadRange));
	assert_eq!(search(&engine, 100, 200, 0, &progress), Err(EngineError::NoThreads));
	assert_eq!(progress.hashed(), 0);

	let wide = Engine::new(b"runs", &generic(false, 0), 0, u64::MAX).unwrap();
	assert_eq!(
		run_subjob(&wide, 0, MAX_CHUNKS + 1, 1, 1, &progress),
		Err(EngineError::TooManyChunks { chunks: MAX_CHUNKS + 1 })
	);
}

#[test]
fn whole_range_winners_at_difficulty_zero_are_every_nonce() {
	let engine = Engine::new(b"all", &generic(false, 0), 0, 1000).unwrap();
	let output = run_subjob(&engine, 0, 1000, 7, 3, &Progress::new()).unwrap();
	assert_eq!(output.winners, (0..1000).collect::<Vec<_>>());
	let root: Hash256 = merkle_root::<Sha2>(&output.digests);
	assert_eq!(output.root, root);
}

#[test]
fn keeping_the_first_winners_bounds_memory_and_counts_the_rest() {
	// Every nonce wins: the worker must not store one nonce per hash.
	let engine = Engine::new(b"easy", &generic(true, 0), 1_000, 11_000).unwrap();
	let full = run_subjob(&engine, 1_000, 11_000, 64, 1, &Progress::new()).unwrap();
	for threads in 1..=3 {
		let kept =
			run_subjob_keeping(&engine, 1_000, 11_000, 64, threads, 32, &Progress::new()).unwrap();
		assert_eq!(kept.winners, (1_000..1_032).collect::<Vec<u64>>(), "{threads} threads");
		assert_eq!(kept.found, 10_000);
		assert_eq!((kept.digests.as_slice(), kept.root), (full.digests.as_slice(), full.root));
	}
}
