//! Measures the engine against the raw SHA-256 compression rate of this machine.
//!
//! All figures of a [`Report`] come from the same run: first the raw rate of
//! `sha2::compress256` on one core, then the engine on two representative jobs, in
//! [`Mode::Search`] and [`Mode::Subjob`], for each requested thread count. The *efficiency*
//! of a row is the fraction of the raw rate its threads turn into useful compressions:
//! `nonces/s per core × compressions per nonce / raw rate`. Near 1 means the engine adds
//! little overhead around the compression function; slightly above 1 is possible, since the
//! raw rate is that of a dependent chain of compressions while the engine overlaps
//! independent ones.

use std::fmt;
use std::time::{Duration, Instant};

use appchain_primitives::pow::{Difficulty, HashFunction};
use sha2::compress256;

use crate::lane::{chunk_digest_compressions, Block, IV};
use crate::{available_threads, run_subjob, search, sha_ni_detected, Engine, PowSpec, Progress};

/// Chunk size of the subjob runs: the runtime's `ChunkSize`.
pub const CHUNK_SIZE: u64 = 64;

/// Difficulty of the benchmark jobs: rare winners, as in real jobs.
const ZERO_BITS: u16 = 32;

/// A benchmark job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
	/// Generic double SHA-256 over a 76-byte payload (Bitcoin-like): 2 compressions per nonce.
	DoubleSha256Payload76,
	/// Generic single SHA-256 over a 32-byte payload: 1 compression per nonce.
	Sha256Payload32,
}

impl Job {
	/// Both jobs.
	pub const ALL: [Job; 2] = [Job::DoubleSha256Payload76, Job::Sha256Payload32];

	/// A short name for tables.
	pub fn label(&self) -> &'static str {
		match self {
			Job::DoubleSha256Payload76 => "sha256d, 76 B",
			Job::Sha256Payload32 => "sha256, 32 B",
		}
	}

	fn payload(&self) -> Vec<u8> {
		let len = match self {
			Job::DoubleSha256Payload76 => 76u8,
			Job::Sha256Payload32 => 32,
		};
		(0..len).map(|i| i.wrapping_mul(31).wrapping_add(7)).collect()
	}

	fn spec(&self) -> PowSpec {
		let hash = match self {
			Job::DoubleSha256Payload76 => HashFunction::DoubleSha256,
			Job::Sha256Payload32 => HashFunction::Sha256,
		};
		PowSpec::Generic { hash, difficulty: Difficulty::LeadingZeroBits(ZERO_BITS) }
	}
}

/// What the engine computes in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
	/// [`crate::search`]: nonce hashes and winners only.
	Search,
	/// [`crate::run_subjob`] with chunks of [`CHUNK_SIZE`]: also chunk digests and their Merkle
	/// root.
	Subjob,
}

impl Mode {
	/// A short name for tables.
	pub fn label(&self) -> &'static str {
		match self {
			Mode::Search => "search",
			Mode::Subjob => "subjob",
		}
	}
}

/// One measurement: a job in a mode on a number of threads.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
	/// The job.
	pub job: Job,
	/// The mode.
	pub mode: Mode,
	/// Threads used.
	pub threads: usize,
	/// Nonces hashed.
	pub nonces: u64,
	/// Wall-clock time taken.
	pub elapsed: Duration,
	/// Nonces per second, all threads together.
	pub nonces_per_sec: f64,
	/// Nonces per second divided by the cores used (`min(threads, available threads)`).
	pub nonces_per_sec_per_core: f64,
	/// SHA-256 compressions per nonce: the engine's, plus in subjob mode the chunk digest's
	/// share (33 compressions per 64-nonce chunk) and the Merkle tree's (2 per chunk).
	pub compressions_per_nonce: f64,
	/// `nonces_per_sec_per_core × compressions_per_nonce / raw rate`.
	pub efficiency: f64,
	/// Nonces per second relative to the one-thread row of the same job and mode, if measured.
	pub speedup_vs_one_thread: Option<f64>,
}

/// Figures of one benchmark run (all measured in this same run).
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
	/// `sha2::compress256` calls on one 64-byte block per second, one thread.
	pub raw_compressions_per_sec_one_core: f64,
	/// One row per job, mode and thread count.
	pub rows: Vec<Row>,
	/// Whether the CPU has SHA extensions (see [`sha_ni_detected`]).
	pub sha_ni: bool,
	/// Hardware threads available to the process.
	pub available_threads: usize,
	/// Target duration of each measurement.
	pub duration: Duration,
	/// Peak resident memory of the process (`VmHWM` of `/proc/self/status`), where known.
	pub peak_rss_bytes: Option<u64>,
	/// One-minute load average before the run, where known (`/proc/loadavg`).
	pub load_before: Option<f64>,
	/// One-minute load average after the run, where known.
	pub load_after: Option<f64>,
}

/// Runs: (1) the raw rate, `sha2::compress256` over one 64-byte block in a tight loop (state
/// fed back), one thread, for `duration`; (2) the engine on both [`Job`]s in [`Mode::Search`]
/// (for about `duration`) and [`Mode::Subjob`] (a range sized to take about `duration`), for
/// each thread count in `threads`. `on_progress` hears what is being measured and each result.
pub fn run(duration: Duration, threads: &[usize], mut on_progress: impl FnMut(&str)) -> Report {
	let load_before = load_average();
	let cores = available_threads();
	on_progress(&format!("raw compression rate, 1 thread, {:.1} s", duration.as_secs_f64()));
	let raw = raw_rate(duration);
	on_progress(&format!("raw compression rate: {}/s", si(raw)));

	let mut rows: Vec<Row> = Vec::new();
	for job in Job::ALL {
		let payload = job.payload();
		let Ok(engine) = Engine::new(&payload, &job.spec(), 0, u64::MAX) else { continue };
		let per_nonce = f64::from(engine.compressions_per_nonce());
		for &count in threads {
			let count = count.max(1);
			// Search: run for `duration`, then stop.
			on_progress(&format!("{}, search, {count} thread(s)", job.label()));
			let (nonces, elapsed) = timed_search(&engine, count, duration);
			rows.push(row(job, Mode::Search, count, nonces, elapsed, per_nonce, raw, cores));
			on_progress(&format!("  {}/s", si(rate(nonces, elapsed))));

			// Subjob: a whole range (with its Merkle root) sized from the search rate.
			let subjob_per_nonce = per_nonce
				+ chunk_digest_compressions(CHUNK_SIZE) as f64 / CHUNK_SIZE as f64
				+ 2.0 / CHUNK_SIZE as f64;
			let target =
				rate(nonces, elapsed) * duration.as_secs_f64() * per_nonce / subjob_per_nonce;
			let chunks = ((target / CHUNK_SIZE as f64) as u64).clamp(count as u64, 1 << 20);
			let len = chunks * CHUNK_SIZE;
			on_progress(&format!("{}, subjob of {len} nonces, {count} thread(s)", job.label()));
			let begin = Instant::now();
			let done = run_subjob(&engine, 0, len, CHUNK_SIZE, count, &Progress::new());
			let elapsed = begin.elapsed();
			if let Ok(output) = done {
				let merkle = 2.0 * output.digests.len().saturating_sub(1) as f64 / len as f64;
				let digests = chunk_digest_compressions(CHUNK_SIZE) as f64 / CHUNK_SIZE as f64;
				let per_nonce = per_nonce + digests + merkle;
				rows.push(row(job, Mode::Subjob, count, len, elapsed, per_nonce, raw, cores));
				on_progress(&format!("  {}/s", si(rate(len, elapsed))));
			}
		}
	}

	// Speedups against the one-thread row of the same job and mode.
	let singles: Vec<(Job, Mode, f64)> =
		rows.iter().filter(|r| r.threads == 1).map(|r| (r.job, r.mode, r.nonces_per_sec)).collect();
	for r in &mut rows {
		r.speedup_vs_one_thread = singles
			.iter()
			.find(|(job, mode, _)| *job == r.job && *mode == r.mode)
			.filter(|(_, _, single)| *single > 0.0)
			.map(|(_, _, single)| r.nonces_per_sec / single);
	}

	Report {
		raw_compressions_per_sec_one_core: raw,
		rows,
		sha_ni: sha_ni_detected(),
		available_threads: cores,
		duration,
		peak_rss_bytes: peak_rss_bytes(),
		load_before,
		load_after: load_average(),
	}
}

#[allow(clippy::too_many_arguments)]
fn row(
	job: Job,
	mode: Mode,
	threads: usize,
	nonces: u64,
	elapsed: Duration,
	compressions_per_nonce: f64,
	raw: f64,
	cores: usize,
) -> Row {
	let nonces_per_sec = rate(nonces, elapsed);
	let nonces_per_sec_per_core = nonces_per_sec / threads.min(cores).max(1) as f64;
	let efficiency =
		if raw > 0.0 { nonces_per_sec_per_core * compressions_per_nonce / raw } else { 0.0 };
	Row {
		job,
		mode,
		threads,
		nonces,
		elapsed,
		nonces_per_sec,
		nonces_per_sec_per_core,
		compressions_per_nonce,
		efficiency,
		speedup_vs_one_thread: None,
	}
}

fn rate(count: u64, elapsed: Duration) -> f64 {
	let seconds = elapsed.as_secs_f64();
	if seconds > 0.0 {
		count as f64 / seconds
	} else {
		0.0
	}
}

/// Compressions per second of `compress256` on one block, state fed back, for `duration`.
fn raw_rate(duration: Duration) -> f64 {
	let mut block = Block::default();
	for (i, byte) in block.iter_mut().enumerate() {
		*byte = i as u8;
	}
	let mut state = IV;
	let mut count = 0u64;
	let begin = Instant::now();
	loop {
		for _ in 0..4096 {
			compress256(&mut state, core::slice::from_ref(&block));
		}
		count += 4096;
		if begin.elapsed() >= duration {
			break;
		}
	}
	let elapsed = begin.elapsed();
	std::hint::black_box(state);
	rate(count, elapsed)
}

/// Searches from nonce 0 on `threads` threads for `duration`, then stops; returns the nonces
/// hashed and the time taken.
fn timed_search(engine: &Engine, threads: usize, duration: Duration) -> (u64, Duration) {
	let progress = Progress::new();
	let begin = Instant::now();
	std::thread::scope(|scope| {
		let handle = scope.spawn(|| search(engine, 0, u64::MAX, threads, &progress));
		std::thread::sleep(duration);
		progress.stop();
		// Stopped (or, impossibly, done): either way `progress` holds the count.
		let _ = handle.join();
	});
	(progress.hashed(), begin.elapsed())
}

/// `VmHWM` of `/proc/self/status`, in bytes.
fn peak_rss_bytes() -> Option<u64> {
	let status = std::fs::read_to_string("/proc/self/status").ok()?;
	let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
	let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
	kib.checked_mul(1024)
}

/// The one-minute load average.
fn load_average() -> Option<f64> {
	let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
	loadavg.split_whitespace().next()?.parse().ok()
}

/// `12.3 M`-style numbers.
fn si(value: f64) -> String {
	if value >= 1e9 {
		format!("{:.2} G", value / 1e9)
	} else if value >= 1e6 {
		format!("{:.2} M", value / 1e6)
	} else if value >= 1e3 {
		format!("{:.2} k", value / 1e3)
	} else {
		format!("{value:.2} ")
	}
}

impl fmt::Display for Report {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		writeln!(
			f,
			"hash engine benchmark: SHA-NI {}, {} hardware thread(s), {:.1} s per measurement",
			if self.sha_ni { "yes" } else { "no" },
			self.available_threads,
			self.duration.as_secs_f64(),
		)?;
		writeln!(
			f,
			"raw SHA-256 compression rate, one core: {}/s",
			si(self.raw_compressions_per_sec_one_core)
		)?;
		writeln!(f)?;
		writeln!(
			f,
			"{:<14} {:<7} {:>7} {:>12} {:>12} {:>11} {:>10} {:>8}",
			"job",
			"mode",
			"threads",
			"nonces/s",
			"per core",
			"compr/nonce",
			"efficiency",
			"speedup"
		)?;
		for row in &self.rows {
			let speedup = match row.speedup_vs_one_thread {
				Some(speedup) => format!("{speedup:.2}x"),
				None => "-".to_string(),
			};
			writeln!(
				f,
				"{:<14} {:<7} {:>7} {:>12} {:>12} {:>11.3} {:>10.3} {:>8}",
				row.job.label(),
				row.mode.label(),
				row.threads,
				si(row.nonces_per_sec),
				si(row.nonces_per_sec_per_core),
				row.compressions_per_nonce,
				row.efficiency,
				speedup,
			)?;
		}
		writeln!(f)?;
		match self.peak_rss_bytes {
			Some(bytes) => write!(f, "peak RSS: {:.1} MB", bytes as f64 / 1e6)?,
			None => write!(f, "peak RSS: unknown")?,
		}
		if let (Some(before), Some(after)) = (self.load_before, self.load_after) {
			write!(f, "; load average (1 min) before/after: {before:.2} / {after:.2}")?;
		}
		Ok(())
	}
}
