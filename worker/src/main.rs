//! `appchain-worker`: earn tokens on the compute-marketplace appchain by hashing SHA-256
//! subjobs, and post and follow hash jobs as a client. See `appchain-worker --help`.

use std::{path::PathBuf, process::ExitCode};

use appchain_hash_engine as engine;
use appchain_worker::{
	chain::{log, Account, Chain},
	client::{self, JobRequest},
	keys::{self, KeySource},
	run::{self, RunOptions},
	WorkerError,
};
use clap::{Args, Parser, Subcommand};

/// Worker and client of the compute-marketplace appchain.
///
/// A worker registers a hashing node with collateral and its measured hash rate, then `run`s:
/// it claims subjobs of posted hash jobs, hashes them on all cores, commits to and reveals
/// the winning nonces, answers the chain's spot checks and is paid per verified subjob.
/// Clients `job post` nonce-search jobs with an escrowed budget and `job watch` them.
///
/// The signing key comes from $APPCHAIN_SURI (a secret URI such as a phrase or `//Alice`) or
/// else from the keystore file (`key generate` creates one).
#[derive(Debug, Parser)]
#[command(name = "appchain-worker", version, about, long_about)]
struct Cli {
	/// WebSocket URL of an appchain node's RPC.
	#[arg(long, global = true, env = "APPCHAIN_URL", default_value = "ws://127.0.0.1:9944")]
	url: String,

	/// Directory for the keystore and the journal of committed results
	/// [default: ~/.local/share/appchain-worker].
	#[arg(long, global = true, env = "APPCHAIN_WORKER_BASE")]
	base_path: Option<PathBuf>,

	/// Keystore file holding the secret URI [default: <base-path>/key]. Ignored when
	/// $APPCHAIN_SURI is set.
	#[arg(long, global = true)]
	keystore: Option<PathBuf>,

	#[command(subcommand)]
	command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
	/// Create or show the signing key.
	#[command(subcommand)]
	Key(KeyCommand),
	/// Register this machine as a hashing node, holding collateral, with its hash rate
	/// (measured now unless --hash-rate is given). Does nothing if the account already has one.
	Register {
		/// Collateral to hold, in CPU (e.g. 100 or 2.5).
		#[arg(long)]
		collateral: String,
		/// Hash rate to declare, in hashes per second, instead of measuring it.
		#[arg(long)]
		hash_rate: Option<u64>,
		/// Hashing threads to measure with [default: all cores].
		#[arg(long)]
		threads: Option<usize>,
	},
	/// Measure the hashing engine: nonces per second per core, the raw SHA-256 compression
	/// rate of this machine and their ratio, scaling over cores, and peak memory.
	Bench {
		/// Seconds per measurement.
		#[arg(long, default_value_t = 3.0)]
		seconds: f64,
		/// Thread counts to measure, comma-separated [default: 1 and all cores].
		#[arg(long, value_delimiter = ',')]
		threads: Vec<usize>,
	},
	/// Serve hash jobs until stopped (SIGINT/SIGTERM): heartbeats, claims subjobs, hashes
	/// them, commits, reveals, answers spot checks, reclaims expired subjobs of others.
	Run {
		/// The hashing node to serve as, if the account has several.
		#[arg(long)]
		node: Option<u64>,
		/// Hashing threads [default: all cores].
		#[arg(long)]
		threads: Option<usize>,
	},
	/// Show the node's state, collateral, open subjobs and earnings.
	Status {
		/// The hashing node, if the account has several.
		#[arg(long)]
		node: Option<u64>,
	},
	/// Client side: post and follow hash jobs.
	#[command(subcommand)]
	Job(JobCommand),
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
	/// Create a new key (a 24-word phrase) in the keystore file, readable only by you.
	Generate,
	/// Show the address and public key of the key in use (never the secret).
	Inspect,
}

#[derive(Debug, Subcommand)]
enum JobCommand {
	/// Post a nonce-search job with an escrowed budget; prints its id.
	Post(PostArgs),
	/// Follow a job until it completes: claims, reveals, verifications, winning nonces.
	Watch {
		/// The job id.
		job: u64,
	},
}

#[derive(Debug, Args)]
struct PostArgs {
	/// Payload as hex (the preimage is payload ‖ nonce as 8 bytes little-endian).
	#[arg(long, conflicts_with = "text")]
	payload: Option<String>,
	/// Payload as UTF-8 text.
	#[arg(long)]
	text: Option<String>,
	/// Mine a Bitcoin block header: --payload is the 76-byte header prefix, the nonce 4 bytes,
	/// the target its compact `bits`.
	#[arg(long, conflicts_with_all = ["single", "zeros", "target", "text"])]
	bitcoin_header: bool,
	/// Single SHA-256 instead of double.
	#[arg(long)]
	single: bool,
	/// Difficulty: the hash must start with this many zero bits.
	#[arg(long)]
	zeros: Option<u32>,
	/// Difficulty: the hash, big-endian, must be at most this 32-byte hex target.
	#[arg(long)]
	target: Option<String>,
	/// First nonce.
	#[arg(long, default_value_t = 0)]
	start: u64,
	/// One past the last nonce.
	#[arg(long)]
	end: u64,
	/// Budget in CPU, held until the job completes.
	#[arg(long)]
	budget: String,
	/// Follow the job after posting it.
	#[arg(long)]
	watch: bool,
}

fn main() -> ExitCode {
	let cli = Cli::parse();
	let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
		Ok(runtime) => runtime,
		Err(e) => {
			eprintln!("error: cannot start the async runtime: {e}");
			return ExitCode::FAILURE;
		},
	};
	match runtime.block_on(dispatch(cli)) {
		Ok(()) => ExitCode::SUCCESS,
		Err(e) => {
			eprintln!("error: {e}");
			ExitCode::FAILURE
		},
	}
}

fn base_path(cli: &Cli) -> PathBuf {
	cli.base_path.clone().unwrap_or_else(|| {
		std::env::var_os("HOME")
			.map(PathBuf::from)
			.unwrap_or_else(|| PathBuf::from("."))
			.join(".local/share/appchain-worker")
	})
}

fn key_source(cli: &Cli) -> KeySource {
	let keystore = cli.keystore.clone().unwrap_or_else(|| base_path(cli).join("key"));
	KeySource::pick(&keystore)
}

fn threads(requested: Option<usize>) -> Result<usize, WorkerError> {
	let most = engine::available_threads().saturating_mul(4);
	match requested {
		Some(0) => Err(WorkerError::Usage("--threads must be at least 1".into())),
		Some(n) if n > most => Err(WorkerError::Usage(format!(
			"--threads {n} is more than 4 per hardware thread ({most} here)"
		))),
		Some(n) => Ok(n),
		None => Ok(engine::available_threads()),
	}
}

/// Connects for a one-shot command: a few quick silent tries, then one clear error.
async fn connect(cli: &Cli) -> Result<Chain, WorkerError> {
	Chain::connect(&cli.url, 3).await
}

async fn dispatch(cli: Cli) -> Result<(), WorkerError> {
	match &cli.command {
		Command::Key(KeyCommand::Generate) => {
			let path = cli.keystore.clone().unwrap_or_else(|| base_path(&cli).join("key"));
			if matches!(key_source(&cli), KeySource::Env(_)) {
				eprintln!(
					"warning: ${} is set, so the other commands use it, not the new key",
					keys::SURI_ENV
				);
			}
			let pair = keys::generate(&path)?;
			let account = Account::new(pair);
			println!("new key written to {} (mode 0600); back it up", path.display());
			println!("address     {}", keys::ss58(&account.id));
			println!("public key  0x{}", hex::encode(account.id.0));
			Ok(())
		},
		Command::Key(KeyCommand::Inspect) => {
			let source = key_source(&cli);
			let account = Account::new(source.load()?);
			let from = match &source {
				KeySource::Env(_) => format!("${}", keys::SURI_ENV),
				KeySource::File(path) => path.display().to_string(),
			};
			println!("key from    {from}");
			println!("address     {}", keys::ss58(&account.id));
			println!("public key  0x{}", hex::encode(account.id.0));
			Ok(())
		},
		Command::Register { collateral, hash_rate, threads: t } => {
			let collateral = client::parse_amount(collateral)?;
			let mut account = Account::new(key_source(&cli).load()?);
			let chain = connect(&cli).await?;
			let rate = match hash_rate {
				Some(rate) => *rate,
				None => {
					let threads = threads(*t)?;
					log(&format!("measuring the hash rate on {threads} threads for 3 s"));
					let rate = tokio::task::spawn_blocking(move || {
						client::measure_hash_rate(std::time::Duration::from_secs(3), threads)
					})
					.await
					.map_err(|e| WorkerError::Engine(e.to_string()))??;
					log(&format!("measured {rate} H/s"));
					rate
				},
			};
			client::register(&chain, &mut account, collateral, rate).await.map(|_| ())
		},
		Command::Bench { seconds, threads: list } => {
			if !(seconds.is_finite() && *seconds > 0.0 && *seconds <= 3600.0) {
				return Err(WorkerError::Usage(
					"--seconds must be above 0 and at most 3600".into(),
				));
			}
			let list = if list.is_empty() {
				let all = engine::available_threads();
				if all > 1 {
					vec![1, all]
				} else {
					vec![1]
				}
			} else {
				list.clone()
			};
			for &count in &list {
				threads(Some(count))?;
			}
			let duration = std::time::Duration::from_secs_f64(*seconds);
			let report =
				tokio::task::spawn_blocking(move || engine::bench::run(duration, &list, log))
					.await
					.map_err(|e| WorkerError::Engine(e.to_string()))?;
			println!("{report}");
			Ok(())
		},
		Command::Run { node, threads: t } => {
			let threads = threads(*t)?;
			let account = Account::new(key_source(&cli).load()?);
			let options = RunOptions { node: *node, threads, base_path: base_path(&cli) };
			run::run(&cli.url, account, options).await
		},
		Command::Status { node } => {
			let account = Account::new(key_source(&cli).load()?);
			let chain = connect(&cli).await?;
			client::status(&chain, &account, *node, &base_path(&cli)).await
		},
		Command::Job(JobCommand::Post(args)) => {
			let request = job_request(args)?;
			// Checked before touching the key or the network: a bad job changes nothing.
			request.spec()?;
			let mut account = Account::new(key_source(&cli).load()?);
			let chain = connect(&cli).await?;
			let job = client::post_job(&chain, &mut account, &request).await?;
			if args.watch {
				client::watch_job(&chain, job).await?;
			}
			Ok(())
		},
		Command::Job(JobCommand::Watch { job }) => {
			let chain = connect(&cli).await?;
			client::watch_job(&chain, *job).await
		},
	}
}

fn job_request(args: &PostArgs) -> Result<JobRequest, WorkerError> {
	let payload = match (&args.payload, &args.text) {
		(Some(hex_payload), None) => {
			let digits = hex_payload.strip_prefix("0x").unwrap_or(hex_payload);
			hex::decode(digits)
				.map_err(|e| WorkerError::Job(format!("--payload is not hex: {e}")))?
		},
		(None, Some(text)) => text.as_bytes().to_vec(),
		(None, None) => Vec::new(),
		(Some(_), Some(_)) => unreachable_conflict()?,
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
	Ok(JobRequest {
		payload,
		bitcoin_header: args.bitcoin_header,
		double: !args.single,
		zeros: args.zeros,
		target,
		start: args.start,
		end: args.end,
		budget: client::parse_amount(&args.budget)?,
	})
}

fn unreachable_conflict() -> Result<Vec<u8>, WorkerError> {
	Err(WorkerError::Usage("give either --payload or --text".into()))
}
