//! `job post | watch`: the client side of hash jobs.

use std::collections::BTreeMap;

use appchain_primitives::{
	pow::{Difficulty, HashFunction, PowSpec, SpecError},
	token::format_amount,
};
use clap::{Args, Subcommand};

use crate::{
	chain::{self, calls, Chain, HashJobEvent, Signer, SubjobState},
	cmd::{self, Global},
	error::WorkerError,
};

/// `job` subcommands.
#[derive(Debug, Subcommand)]
pub enum JobCommand {
	/// Post a nonce-search job with an escrowed budget; prints its id.
	Post(PostArgs),
	/// Follow a job until it completes: claims, reveals, verifications, winning nonces.
	Watch {
		/// The job id.
		job: u64,
	},
}

/// `job post` arguments.
#[derive(Debug, Args)]
pub struct PostArgs {
	/// Payload as hex (the preimage is payload ‖ nonce as 8 bytes little-endian).
	#[arg(long, conflicts_with = "text")]
	pub payload: Option<String>,
	/// Payload as UTF-8 text.
	#[arg(long)]
	pub text: Option<String>,
	/// Mine a Bitcoin block header: --payload is the 76-byte header prefix, the nonce 4 bytes,
	/// the target its compact `bits`.
	#[arg(long, conflicts_with_all = ["single", "zeros", "target", "text"])]
	pub bitcoin_header: bool,
	/// Single SHA-256 instead of double.
	#[arg(long)]
	pub single: bool,
	/// Difficulty: the hash must start with this many zero bits.
	#[arg(long)]
	pub zeros: Option<u32>,
	/// Difficulty: the hash, big-endian, must be at most this 32-byte hex target.
	#[arg(long)]
	pub target: Option<String>,
	/// First nonce.
	#[arg(long, default_value_t = 0)]
	pub start: u64,
	/// One past the last nonce.
	#[arg(long)]
	pub end: u64,
	/// Budget in CPU, held until the job completes.
	#[arg(long)]
	pub budget: String,
	/// Follow the job after posting it.
	#[arg(long)]
	pub watch: bool,
}

/// Runs a `job` subcommand.
pub async fn run(global: &Global, command: JobCommand) -> Result<(), WorkerError> {
	match command {
		JobCommand::Post(args) => {
			let request = JobRequest::from_args(&args)?;
			// Checked before touching the key or the network: a bad job changes nothing.
			request.spec()?;
			let signer = global.signer()?;
			let chain = global.connect().await?;
			let job = post_job(&chain, &signer, &request).await?;
			if args.watch {
				watch_job(&chain, job).await?;
			}
			Ok(())
		},
		JobCommand::Watch { job } => watch_job(&global.connect().await?, job).await,
	}
}

/// What to hash, as given on the command line.
#[derive(Debug, Clone)]
pub struct JobRequest {
	/// The payload (or 76-byte Bitcoin header prefix).
	pub payload: Vec<u8>,
	/// Bitcoin header mining instead of a generic job.
	pub bitcoin_header: bool,
	/// Double SHA-256 (generic jobs).
	pub double: bool,
	/// Leading zero bits.
	pub zeros: Option<u32>,
	/// Big-endian target, instead of `zeros`.
	pub target: Option<[u8; 32]>,
	/// First nonce.
	pub start: u64,
	/// One past the last nonce.
	pub end: u64,
	/// Budget in planck.
	pub budget: u128,
}

impl JobRequest {
	/// The request `job post`'s arguments describe.
	pub fn from_args(args: &PostArgs) -> Result<Self, WorkerError> {
		let payload = match (&args.payload, &args.text) {
			(Some(hex_payload), None) => {
				let digits = hex_payload.strip_prefix("0x").unwrap_or(hex_payload);
				hex::decode(digits)
					.map_err(|e| WorkerError::Job(format!("--payload is not hex: {e}")))?
			},
			(None, Some(text)) => text.as_bytes().to_vec(),
			(None, None) => Vec::new(),
			(Some(_), Some(_)) => {
				return Err(WorkerError::Usage("give either --payload or --text".into()))
			},
		};
		let target = match &args.target {
			Some(text) => {
				let digits = text.strip_prefix("0x").unwrap_or(text);
				let mut target = [0u8; 32];
				hex::decode_to_slice(digits, &mut target).map_err(|_| {
					WorkerError::Job("--target must be 32 bytes of hex (64 digits)".into())
				})?;
				Some(target)
			},
			None => None,
		};
		Ok(Self {
			payload,
			bitcoin_header: args.bitcoin_header,
			double: !args.single,
			zeros: args.zeros,
			target,
			start: args.start,
			end: args.end,
			budget: cmd::parse_amount(&args.budget)?,
		})
	}

	/// The job's specification, checked exactly as the chain checks it.
	pub fn spec(&self) -> Result<PowSpec, WorkerError> {
		let spec = if self.bitcoin_header {
			PowSpec::BitcoinHeader
		} else {
			let difficulty = match (self.zeros, self.target) {
				(Some(_), Some(_)) => {
					return Err(WorkerError::Job(
						"give either --zeros or --target, not both".into(),
					))
				},
				(_, Some(target)) => Difficulty::Target(target),
				(Some(zeros), None) => match u16::try_from(zeros) {
					Ok(z) if z <= 256 => Difficulty::LeadingZeroBits(z),
					_ => {
						return Err(WorkerError::Job(format!(
							"a difficulty of {zeros} leading zero bits is above the 256 bits of SHA-256"
						)))
					},
				},
				(None, None) => {
					return Err(WorkerError::Job(
						"give the difficulty with --zeros or --target".into(),
					))
				},
			};
			let hash = if self.double { HashFunction::DoubleSha256 } else { HashFunction::Sha256 };
			PowSpec::Generic { hash, difficulty }
		};
		spec.check(&self.payload, self.start, self.end).map_err(|e| {
			WorkerError::Job(match e {
				SpecError::BadRange if self.end <= self.start => format!(
					"the nonce range {}..{} is empty (--end must be above --start)",
					self.start, self.end
				),
				SpecError::BadRange => "a Bitcoin header nonce range must end by 2^32".into(),
				SpecError::DifficultyTooHigh => "difficulty above 256 bits".into(),
				SpecError::BadHeaderLength => {
					format!("a Bitcoin header prefix is 76 bytes, not {}", self.payload.len())
				},
				SpecError::BadCompactTarget => {
					"the header's compact `bits` target is invalid".into()
				},
			})
		})?;
		Ok(spec)
	}
}

/// `job post`: checks the job locally (so a bad one never reaches the chain), posts it, and
/// returns its id.
pub async fn post_job(
	chain: &Chain,
	signer: &Signer,
	request: &JobRequest,
) -> Result<u64, WorkerError> {
	let spec = request.spec()?;
	let at = chain.finalized().await?;
	let consts = chain::hash_job_constants(&at)?;
	if request.payload.len() > consts.max_payload_len as usize {
		return Err(WorkerError::Job(format!(
			"the payload is {} bytes; the chain takes at most {}",
			request.payload.len(),
			consts.max_payload_len
		)));
	}
	if request.budget < consts.min_budget {
		return Err(WorkerError::Job(format!(
			"a budget of {} is below the minimum of {}",
			format_amount(request.budget),
			format_amount(consts.min_budget)
		)));
	}
	let call =
		calls::post_job(request.payload.clone(), spec, request.start, request.end, request.budget);
	let events = signer.submit_and_wait(chain, &call).await?;
	let (job, start, end, budget) = chain::posted_job(&events)?;
	println!(
		"posted job {job} over nonces {start}..{end} with a budget of {}",
		format_amount(budget)
	);
	Ok(job)
}

/// `job watch`: follows a job block by block, printing its progress and events, until it
/// completes or is cancelled. Prints the verified winning nonces at the end.
pub async fn watch_job(chain: &Chain, job: u64) -> Result<(), WorkerError> {
	let at = chain.finalized().await?;
	let Some(info) = chain::job(&at, job).await? else {
		return Err(WorkerError::Job(format!(
			"job {job} does not exist (or has already completed)"
		)));
	};
	let total = info.range.end.saturating_sub(info.range.start);
	println!(
		"job {job}: {total} nonces {}..{}, budget {}",
		info.range.start,
		info.range.end,
		format_amount(info.budget)
	);
	// Subjobs of this job and the nonces each revealed.
	let mut subjobs: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
	for (sid, subjob) in chain::subjobs(&at, chain::SubjobFilter::Job(job)).await? {
		let nonces = match subjob.state {
			SubjobState::Revealed { nonces, .. } => nonces.0,
			_ => Vec::new(),
		};
		subjobs.insert(sid, nonces);
	}
	// Winners are known from the subjobs verified while watching: a job watched from its
	// start gets all of them.
	let complete = info.hashed == 0;
	let snapshot = at.block_number();
	let mut found: Vec<u64> = Vec::new();
	let mut blocks = chain.finalized_blocks().await?;
	let mut last_hashed = None;
	while let Some(at) = blocks.next().await {
		let at = at?;
		let number = at.block_number();
		if number <= snapshot {
			// Already in the snapshot above.
			continue;
		}
		for event in chain::hash_job_events(&at).await? {
			match event {
				HashJobEvent::SubjobClaimed { job: j, subjob, node, start, end } if j == job => {
					subjobs.insert(subjob, Vec::new());
					println!(
						"#{number} subjob {subjob} claimed by node {node}: nonces {start}..{end}"
					);
				},
				HashJobEvent::ResultRevealed { subjob, nonces } => {
					if let Some(known) = subjobs.get_mut(&subjob) {
						println!(
							"#{number} subjob {subjob} revealed {} winning nonce(s)",
							nonces.len()
						);
						*known = nonces;
					}
				},
				HashJobEvent::SubjobVerified { job: j, subjob, node, hashed, reward }
					if j == job =>
				{
					let nonces = subjobs.remove(&subjob).unwrap_or_default();
					println!(
						"#{number} subjob {subjob} verified: node {node} paid {} for {hashed} nonces",
						format_amount(reward)
					);
					found.extend(nonces);
				},
				HashJobEvent::SubjobFailed { job: j, subjob, node, reason, penalty }
					if j == job =>
				{
					subjobs.remove(&subjob);
					println!(
						"#{number} subjob {subjob} failed ({reason}): node {node} slashed {}; its range is handed out again",
						format_amount(penalty)
					);
				},
				HashJobEvent::JobCompleted { job: j, hashed, found: winners, refunded }
					if j == job =>
				{
					found.sort_unstable();
					println!(
						"#{number} job {job} completed: {hashed} nonces hashed, {winners} winning, {} refunded",
						format_amount(refunded)
					);
					if complete {
						println!("winning nonces: {found:?}");
					} else {
						println!(
							"winning nonces of the subjobs verified while watching (the job had started): {found:?}"
						);
					}
					return Ok(());
				},
				HashJobEvent::JobCancelled { job: j } if j == job => {
					println!("#{number} job {job} cancelled");
					return Ok(());
				},
				_ => {},
			}
		}
		if let Some(info) = chain::job(&at, job).await? {
			if last_hashed != Some(info.hashed) {
				last_hashed = Some(info.hashed);
				println!(
					"#{number} job {job}: {}/{total} nonces verified ({:.0}%), {} open subjob(s), {} winning so far",
					info.hashed,
					info.hashed as f64 * 100.0 / total.max(1) as f64,
					info.open_subjobs,
					info.found
				);
			}
		}
	}
	Err(WorkerError::Missing("the node stopped sending blocks".into()))
}

#[cfg(test)]
mod tests {
	use super::*;

	fn request(zeros: Option<u32>, start: u64, end: u64) -> JobRequest {
		JobRequest {
			payload: b"hello".to_vec(),
			bitcoin_header: false,
			double: true,
			zeros,
			target: None,
			start,
			end,
			budget: 10u128.pow(13),
		}
	}

	#[test]
	fn bad_jobs_are_refused_with_a_clear_reason() {
		let empty = request(Some(8), 10, 10).spec().unwrap_err().to_string();
		assert!(empty.contains("empty"), "{empty}");
		let hard = request(Some(300), 0, 10).spec().unwrap_err().to_string();
		assert!(hard.contains("above the 256 bits"), "{hard}");
		assert!(request(None, 0, 10).spec().is_err());
		assert_eq!(
			request(Some(256), 0, 10).spec().unwrap(),
			PowSpec::Generic {
				hash: HashFunction::DoubleSha256,
				difficulty: Difficulty::LeadingZeroBits(256)
			}
		);
		let mut header = request(None, 0, 10);
		header.bitcoin_header = true;
		assert!(header.spec().unwrap_err().to_string().contains("76 bytes"));
	}
}
