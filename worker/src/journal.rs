//! The worker's on-disk journal: what it must not forget across a crash.
//!
//! Before a commitment is submitted, its subjob's result (Merkle root, secret salt, revealed
//! nonces, commitment) and chunk digests are written here and synced to disk. A worker killed
//! between commit and reveal therefore finds, after a restart, exactly the salt and result it
//! committed to, reveals them and answers the spot checks, instead of being slashed for
//! silence. Every write goes to a temporary file that is synced and then renamed over the
//! old one, so a crash leaves either the old or the new record, never half of one.
//!
//! Layout under `<base-path>/chains/<genesis hash>/`:
//! - `subjob-<id>.json`: [`SubjobRecord`];
//! - `subjob-<id>.digests`: the chunk digests, 32 bytes each, in chunk order;
//! - `ledger.jsonl`: one [`LedgerEntry`] per reward, bonus or penalty seen on chain.
//!
//! Records are per chain (the directory is named after the genesis hash), and each names its
//! job and nonce range: a record that does not match the subjob on chain (a `--dev` chain
//! started afresh has the same genesis and reuses subjob ids) is discarded, never committed or
//! revealed. Records of subjobs that are settled on finalized chain state are deleted. Files
//! are readable by their owner only (salts are secret until revealed).

use std::{
	fs,
	io::{Read, Write},
	path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::error::WorkerError;

/// A 32-byte value.
pub type Bytes32 = [u8; 32];

/// What the worker committed to for one subjob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjobRecord {
	/// The subjob.
	pub subjob: u64,
	/// Its job.
	pub job: u64,
	/// First nonce.
	pub start: u64,
	/// One past the last nonce.
	pub end: u64,
	/// Merkle root of the chunk digests, hex.
	#[serde(with = "hex32")]
	pub root: Bytes32,
	/// The secret salt of the commitment, hex.
	#[serde(with = "hex32")]
	pub salt: Bytes32,
	/// The winning nonces to reveal, ascending.
	pub nonces: Vec<u64>,
	/// The commitment submitted, hex.
	#[serde(with = "hex32")]
	pub commitment: Bytes32,
}

/// A payment or penalty the chain recorded for this worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
	/// Block number.
	pub block: u64,
	/// The subjob.
	pub subjob: u64,
	/// `reward`, `bonus` or `penalty`.
	pub kind: String,
	/// Amount in planck (as a string: JSON numbers are not 128-bit).
	pub amount: String,
}

/// The journal of one chain.
#[derive(Clone, Debug)]
pub struct Journal {
	dir: PathBuf,
}

impl Journal {
	/// Opens (creating) the journal of the chain with `genesis` under `base`.
	pub fn open(base: &Path, genesis: &[u8]) -> Result<Self, WorkerError> {
		let dir = base.join("chains").join(hex::encode(genesis));
		fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
		#[cfg(unix)]
		{
			use std::os::unix::fs::PermissionsExt;
			fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
				.map_err(|e| io_error(&dir, e))?;
		}
		Ok(Self { dir })
	}

	/// The journal's directory.
	pub fn dir(&self) -> &Path {
		&self.dir
	}

	fn record_path(&self, subjob: u64) -> PathBuf {
		self.dir.join(format!("subjob-{subjob}.json"))
	}

	fn digests_path(&self, subjob: u64) -> PathBuf {
		self.dir.join(format!("subjob-{subjob}.digests"))
	}

	/// Durably stores a subjob's result: digests first, then the record that refers to them.
	pub fn record(&self, record: &SubjobRecord, digests: &[Bytes32]) -> Result<(), WorkerError> {
		write_atomically(&self.digests_path(record.subjob), |out| {
			digests.iter().try_for_each(|digest| out.write_all(digest))
		})?;
		let json = serde_json::to_vec_pretty(record)
			.map_err(|e| io_error(&self.record_path(record.subjob), e))?;
		write_atomically(&self.record_path(record.subjob), |out| out.write_all(&json))
	}

	/// The stored result of `subjob`, if any.
	pub fn load(&self, subjob: u64) -> Result<Option<SubjobRecord>, WorkerError> {
		let path = self.record_path(subjob);
		let json = match fs::read(&path) {
			Ok(json) => json,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
			Err(e) => return Err(io_error(&path, e)),
		};
		serde_json::from_slice(&json).map(Some).map_err(|e| io_error(&path, e))
	}

	/// The number of stored chunk digests of `subjob` and a reader that returns them one by
	/// one, in order, so that they need not all be in memory.
	pub fn digest_reader(
		&self,
		subjob: u64,
	) -> Result<(usize, impl FnMut() -> Result<Bytes32, WorkerError>), WorkerError> {
		let path = self.digests_path(subjob);
		let file = fs::File::open(&path).map_err(|e| io_error(&path, e))?;
		let len = file.metadata().map_err(|e| io_error(&path, e))?.len();
		if len % 32 != 0 {
			return Err(io_error(&path, "length is not a multiple of 32"));
		}
		let count = usize::try_from(len / 32).map_err(|e| io_error(&path, e))?;
		let mut reader = std::io::BufReader::new(file);
		let next = move || {
			let mut digest = [0u8; 32];
			reader.read_exact(&mut digest).map_err(|e| io_error(&path, e))?;
			Ok(digest)
		};
		Ok((count, next))
	}

	/// The stored chunk digests of `subjob`. A missing file or one of the wrong length is an
	/// error: the worker cannot answer spot checks without them.
	pub fn load_digests(&self, subjob: u64) -> Result<Vec<Bytes32>, WorkerError> {
		let digests_path = self.digests_path(subjob);
		// Read straight into the digests: a subjob's can take 32 MiB.
		let file = fs::File::open(&digests_path).map_err(|e| io_error(&digests_path, e))?;
		let len = file.metadata().map_err(|e| io_error(&digests_path, e))?.len();
		if len % 32 != 0 {
			return Err(io_error(&digests_path, "length is not a multiple of 32"));
		}
		let count = usize::try_from(len / 32).map_err(|e| io_error(&digests_path, e))?;
		let mut reader = std::io::BufReader::new(file);
		let mut digests = Vec::with_capacity(count);
		for _ in 0..count {
			let mut digest = [0u8; 32];
			reader.read_exact(&mut digest).map_err(|e| io_error(&digests_path, e))?;
			digests.push(digest);
		}
		Ok(digests)
	}

	/// The subjobs with anything stored: a record, digests, or a temporary file a crash
	/// left behind.
	pub fn subjobs(&self) -> Result<Vec<u64>, WorkerError> {
		let mut ids = Vec::new();
		for entry in fs::read_dir(&self.dir).map_err(|e| io_error(&self.dir, e))? {
			let entry = entry.map_err(|e| io_error(&self.dir, e))?;
			let name = entry.file_name();
			let name = name.to_string_lossy();
			let id = name
				.strip_prefix("subjob-")
				.and_then(|rest| rest.split('.').next())
				.and_then(|id| id.parse().ok());
			if let Some(id) = id {
				ids.push(id);
			}
		}
		ids.sort_unstable();
		ids.dedup();
		Ok(ids)
	}

	/// Deletes the result of a settled subjob.
	pub fn forget(&self, subjob: u64) -> Result<(), WorkerError> {
		let record = self.record_path(subjob);
		let digests = self.digests_path(subjob);
		for path in [temp_path(&record), temp_path(&digests), record, digests] {
			match fs::remove_file(&path) {
				Ok(()) => {},
				Err(e) if e.kind() == std::io::ErrorKind::NotFound => {},
				Err(e) => return Err(io_error(&path, e)),
			}
		}
		Ok(())
	}

	/// The last finalized block whose payments are in the ledger, if any.
	pub fn ledger_cursor(&self) -> Result<Option<u64>, WorkerError> {
		let path = self.dir.join("ledger.cursor");
		match fs::read_to_string(&path) {
			Ok(text) => text.trim().parse().map(Some).map_err(|e| io_error(&path, e)),
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
			Err(e) => Err(io_error(&path, e)),
		}
	}

	/// Remembers that the ledger has every payment up to finalized block `block`.
	pub fn set_ledger_cursor(&self, block: u64) -> Result<(), WorkerError> {
		write_atomically(&self.dir.join("ledger.cursor"), |out| write!(out, "{block}"))
	}

	/// Appends a ledger entry (synced).
	pub fn append_ledger(&self, entry: &LedgerEntry) -> Result<(), WorkerError> {
		let path = self.dir.join("ledger.jsonl");
		let mut line = serde_json::to_vec(entry).map_err(|e| io_error(&path, e))?;
		line.push(b'\n');
		let mut options = fs::OpenOptions::new();
		options.create(true).append(true);
		#[cfg(unix)]
		{
			use std::os::unix::fs::OpenOptionsExt;
			options.mode(0o600);
		}
		let mut file = options.open(&path).map_err(|e| io_error(&path, e))?;
		file.write_all(&line).and_then(|()| file.sync_data()).map_err(|e| io_error(&path, e))
	}

	/// Every ledger entry, oldest first.
	pub fn ledger(&self) -> Result<Vec<LedgerEntry>, WorkerError> {
		let path = self.dir.join("ledger.jsonl");
		let text = match fs::read_to_string(&path) {
			Ok(text) => text,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
			Err(e) => return Err(io_error(&path, e)),
		};
		text.lines()
			.filter(|l| !l.trim().is_empty())
			.map(|l| serde_json::from_str(l).map_err(|e| io_error(&path, e)))
			.collect()
	}
}

/// Writes what `write` produces to `path` through a synced temporary file and a rename, then
/// syncs the directory so the rename itself survives a crash.
fn write_atomically(
	path: &Path,
	write: impl FnOnce(&mut std::io::BufWriter<fs::File>) -> std::io::Result<()>,
) -> Result<(), WorkerError> {
	let tmp = temp_path(path);
	let file = private_file(&tmp).map_err(|e| io_error(&tmp, e))?;
	let mut out = std::io::BufWriter::new(file);
	write(&mut out)
		.and_then(|()| out.into_inner().map_err(|e| e.into_error()))
		.and_then(|file| file.sync_all())
		.map_err(|e| io_error(&tmp, e))?;
	fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
	if let Some(dir) = path.parent() {
		fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, e))?;
	}
	Ok(())
}

/// `<path>.tmp`: each file has its own temporary file.
fn temp_path(path: &Path) -> PathBuf {
	let mut name = path.as_os_str().to_os_string();
	name.push(".tmp");
	PathBuf::from(name)
}

/// Creates (truncating) a file only its owner can read: it may hold a secret salt.
fn private_file(path: &Path) -> std::io::Result<fs::File> {
	let mut options = fs::OpenOptions::new();
	options.write(true).create(true).truncate(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::OpenOptionsExt;
		options.mode(0o600);
	}
	options.open(path)
}

/// A journal error at `path`: an I/O error as it is, anything else as invalid data.
fn io_error(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> WorkerError {
	let source = match e.into().downcast::<std::io::Error>() {
		Ok(io) => *io,
		Err(other) => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
	};
	WorkerError::journal(path, source)
}

/// Serde for 32-byte values as hex strings.
mod hex32 {
	use serde::{Deserialize, Deserializer, Serializer};

	pub fn serialize<S: Serializer>(value: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
		s.serialize_str(&hex::encode(value))
	}

	pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
		let text = String::deserialize(d)?;
		let mut out = [0u8; 32];
		hex::decode_to_slice(text, &mut out).map_err(serde::de::Error::custom)?;
		Ok(out)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn temp_journal(name: &str) -> (PathBuf, Journal) {
		let base =
			std::env::temp_dir().join(format!("appchain-journal-{name}-{}", std::process::id()));
		let _ = fs::remove_dir_all(&base);
		let journal = Journal::open(&base, &[7u8; 32]).unwrap();
		(base, journal)
	}

	#[test]
	fn records_survive_reopening_and_are_forgotten() {
		let (base, journal) = temp_journal("roundtrip");
		let record = SubjobRecord {
			subjob: 5,
			job: 1,
			start: 64,
			end: 192,
			root: [1; 32],
			salt: [2; 32],
			nonces: vec![70, 100],
			commitment: [3; 32],
		};
		let digests = vec![[9u8; 32], [8u8; 32]];
		journal.record(&record, &digests).unwrap();

		let reopened = Journal::open(&base, &[7u8; 32]).unwrap();
		assert_eq!(reopened.subjobs().unwrap(), vec![5]);
		assert_eq!(reopened.load(5).unwrap(), Some(record));
		assert_eq!(reopened.load_digests(5).unwrap(), digests);
		assert_eq!(reopened.load(6).unwrap(), None);
		// Another chain does not see it.
		assert_eq!(Journal::open(&base, &[8u8; 32]).unwrap().subjobs().unwrap(), Vec::<u64>::new());

		let (count, mut next) = reopened.load_digests(5).map(|d| (d.len(), d.into_iter())).unwrap();
		let (streamed_count, mut read) = reopened.digest_reader(5).unwrap();
		assert_eq!(streamed_count, count);
		for _ in 0..count {
			assert_eq!(read().unwrap(), next.next().unwrap());
		}
		assert!(read().is_err(), "reading past the digests fails");
		#[cfg(unix)]
		{
			use std::os::unix::fs::PermissionsExt;
			for name in ["subjob-5.json", "subjob-5.digests"] {
				let mode = fs::metadata(reopened.dir().join(name)).unwrap().permissions().mode();
				assert_eq!(mode & 0o777, 0o600, "{name}");
			}
		}

		// A crash may leave a temporary file: it is listed and forgotten with the rest.
		fs::write(reopened.dir().join("subjob-9.digests.tmp"), [0u8; 5]).unwrap();
		assert_eq!(reopened.subjobs().unwrap(), vec![5, 9]);
		reopened.forget(9).unwrap();
		reopened.forget(5).unwrap();
		assert_eq!(reopened.subjobs().unwrap(), Vec::<u64>::new());
		assert_eq!(reopened.load(5).unwrap(), None);
		reopened.forget(5).unwrap();
		fs::remove_dir_all(&base).unwrap();
	}

	#[test]
	fn a_truncated_digest_file_is_an_error() {
		let (base, journal) = temp_journal("truncated");
		let record = SubjobRecord {
			subjob: 1,
			job: 0,
			start: 0,
			end: 64,
			root: [0; 32],
			salt: [0; 32],
			nonces: vec![],
			commitment: [0; 32],
		};
		journal.record(&record, &[[1u8; 32]]).unwrap();
		fs::write(journal.dir().join("subjob-1.digests"), [0u8; 31]).unwrap();
		assert!(journal.load(1).unwrap().is_some());
		assert!(matches!(journal.load_digests(1), Err(WorkerError::Journal { .. })));
		fs::remove_dir_all(&base).unwrap();
	}

	#[test]
	fn ledger_appends_in_order() {
		let (base, journal) = temp_journal("ledger");
		assert!(journal.ledger().unwrap().is_empty());
		assert_eq!(journal.ledger_cursor().unwrap(), None);
		journal.set_ledger_cursor(41).unwrap();
		journal.set_ledger_cursor(42).unwrap();
		assert_eq!(journal.ledger_cursor().unwrap(), Some(42));
		for (i, kind) in ["reward", "bonus", "penalty"].into_iter().enumerate() {
			let entry = LedgerEntry {
				block: i as u64,
				subjob: 3,
				kind: kind.into(),
				amount: "340282366920938463463374607431768211455".into(),
			};
			journal.append_ledger(&entry).unwrap();
		}
		let kinds: Vec<_> = journal.ledger().unwrap().into_iter().map(|e| e.kind).collect();
		assert_eq!(kinds, ["reward", "bonus", "penalty"]);
		fs::remove_dir_all(&base).unwrap();
	}
}
