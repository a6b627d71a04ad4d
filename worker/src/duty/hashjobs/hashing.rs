//! The work behind the hash-job actions: hashing a subjob in the background, journaling its
//! result with a fresh salt, and answering spot checks from the journaled digests.

use std::{
	sync::Arc,
	time::{Duration, Instant},
};

use appchain_hash_engine::{self as engine, Engine, Progress, SubjobOutput};
use appchain_primitives::pow::{self, PowSpec, Sha2};

use crate::{
	chain::ChunkAnswerOf,
	error::WorkerError,
	journal::{Journal, SubjobRecord},
};

/// What the hashing task returns: the result and the time it took.
type HashingResult = (Result<SubjobOutput, engine::EngineError>, Duration);

/// A subjob being hashed on a blocking thread.
pub struct Hashing {
	/// The subjob.
	pub subjob: u64,
	/// Its job.
	pub job: u64,
	/// First nonce.
	pub start: u64,
	/// One past the last nonce.
	pub end: u64,
	progress: Arc<Progress>,
	started: Instant,
	task: tokio::task::JoinHandle<HashingResult>,
}

/// How far a hashing task is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HashingProgress {
	/// Nonces hashed.
	pub hashed: u64,
	/// Nonces in all.
	pub total: u64,
	/// Million nonces per second so far.
	pub mhs: f64,
}

impl Hashing {
	/// Starts hashing nonces `start..end` of a job on `threads` threads, keeping at most
	/// `keep` winners.
	#[allow(clippy::too_many_arguments)]
	pub fn start(
		subjob: u64,
		job: u64,
		payload: &[u8],
		spec: &PowSpec,
		(start, end): (u64, u64),
		chunk_size: u64,
		threads: usize,
		keep: usize,
	) -> Result<Self, WorkerError> {
		let engine = Engine::new(payload, spec, start, end)
			.map_err(|e| WorkerError::Engine(format!("job {job}: {e:?}")))?;
		let progress = Arc::new(Progress::new());
		let task_progress = progress.clone();
		let task = tokio::task::spawn_blocking(move || {
			let started = Instant::now();
			let result = engine::run_subjob_keeping(
				&engine,
				start,
				end,
				chunk_size,
				threads,
				keep,
				&task_progress,
			);
			(result, started.elapsed())
		});
		Ok(Self { subjob, job, start, end, progress, started: Instant::now(), task })
	}

	/// Whether the task has finished.
	pub fn is_finished(&self) -> bool {
		self.task.is_finished()
	}

	/// How far it is.
	pub fn progress(&self) -> HashingProgress {
		let hashed = self.progress.hashed();
		let total = self.end.saturating_sub(self.start).max(1);
		let secs = self.started.elapsed().as_secs_f64().max(1e-9);
		HashingProgress { hashed, total, mhs: hashed as f64 / secs / 1e6 }
	}

	/// Stops the task (it returns soon; nothing waits for it).
	pub fn stop(&self) {
		self.progress.stop();
	}

	/// Stops the task and waits for it to return.
	pub async fn stop_and_wait(self) {
		self.progress.stop();
		let _ = self.task.await;
	}

	/// The finished result and the time it took.
	pub async fn output(self) -> Result<(SubjobOutput, Duration), WorkerError> {
		let (output, took) = self.task.await.map_err(|e| WorkerError::Engine(e.to_string()))?;
		Ok((output.map_err(|e| WorkerError::Engine(e.to_string()))?, took))
	}
}

/// Journals a finished subjob's result with a fresh secret salt (synced to disk before the
/// commitment is submitted) and returns the record.
pub async fn journal_result(
	journal: &Journal,
	subjob: u64,
	(job, start, end): (u64, u64, u64),
	output: SubjobOutput,
) -> Result<SubjobRecord, WorkerError> {
	let mut salt = [0u8; 32];
	getrandom::getrandom(&mut salt)
		.map_err(|e| WorkerError::Engine(format!("no randomness: {e}")))?;
	let nonces = output.winners;
	let commitment = pow::commitment::<Sha2>(subjob, &output.root, &salt, &nonces);
	let record =
		SubjobRecord { subjob, job, start, end, root: output.root, salt, nonces, commitment };
	let journal = journal.clone();
	let (to_write, digests) = (record.clone(), output.digests);
	tokio::task::spawn_blocking(move || journal.record(&to_write, &digests))
		.await
		.map_err(|e| WorkerError::Engine(e.to_string()))??;
	Ok(record)
}

/// The spot-check answers for the challenged chunk `indices` of subjob `id`, streamed from its
/// journaled digests (at most half of them in memory), checked against the revealed root.
pub fn answers_from_journal(
	journal: &Journal,
	id: u64,
	indices: &[u64],
	revealed_root: &[u8; 32],
) -> Result<Vec<ChunkAnswerOf>, WorkerError> {
	let positions: Vec<usize> =
		indices.iter().map(|&i| usize::try_from(i).unwrap_or(usize::MAX)).collect();
	let (count, mut next) = journal.digest_reader(id)?;
	if positions.iter().any(|&p| p >= count) {
		return Err(WorkerError::Engine(format!(
			"subjob {id}: a challenged chunk is missing from the journal"
		)));
	}
	let proven = engine::merkle::root_and_proofs_streamed(count, &positions, &mut next)?;
	if proven.root != *revealed_root {
		return Err(WorkerError::Engine(format!(
			"subjob {id}: the journaled digests do not give the revealed root"
		)));
	}
	Ok(proven
		.leaves
		.into_iter()
		.zip(proven.proofs)
		.map(|(digest, proof)| crate::chain::ChunkAnswer {
			digest,
			proof: crate::chain::Bounded(proof),
		})
		.collect())
}

#[cfg(test)]
mod tests {
	use super::*;
	use appchain_primitives::pow::{merkle_root, verify_merkle_proof};

	#[test]
	fn spot_check_answers_stream_from_the_journal_and_verify() {
		let base = std::env::temp_dir().join(format!("appchain-answers-{}", std::process::id()));
		let _ = std::fs::remove_dir_all(&base);
		let journal = Journal::open(&base, &[1u8; 32]).unwrap();
		let digests: Vec<[u8; 32]> =
			(0u64..37).map(|i| <Sha2 as pow::Sha256>::hash(&i.to_le_bytes())).collect();
		let root = merkle_root::<Sha2>(&digests);
		let record = SubjobRecord {
			subjob: 3,
			job: 0,
			start: 0,
			end: 37 * 64,
			root,
			salt: [0; 32],
			nonces: vec![],
			commitment: [0; 32],
		};
		journal.record(&record, &digests).unwrap();

		let indices = [0u64, 36, 17, 17, 5];
		let answers = answers_from_journal(&journal, 3, &indices, &root).unwrap();
		assert_eq!(answers.len(), indices.len());
		for (index, answer) in indices.iter().zip(&answers) {
			assert_eq!(answer.digest, digests[*index as usize]);
			assert!(verify_merkle_proof::<Sha2>(
				&root,
				&answer.digest,
				*index,
				37,
				&answer.proof.0
			));
		}
		// A root that is not the journaled one, or a chunk past the end, is refused.
		assert!(answers_from_journal(&journal, 3, &[1], &[9; 32]).is_err());
		assert!(answers_from_journal(&journal, 3, &[37], &root).is_err());
		std::fs::remove_dir_all(&base).unwrap();
	}
}
