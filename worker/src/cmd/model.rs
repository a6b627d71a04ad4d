//! `model inspect | register | list`: model files and the models registered on chain.

use std::path::PathBuf;

use appchain_llm_engine::{digest, WeightFile};
use appchain_primitives::token::format_amount;

use crate::{
	chain::{self, calls},
	cmd::Global,
	error::WorkerError,
	keys::ss58,
};

/// `model` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
	/// Show a model file: format, shape and its weights digest (reads the whole file once).
	Inspect(InspectArgs),
	/// Register a model on chain from its file (computes the digest), holding the model deposit.
	Register(RegisterModelArgs),
	/// List the models registered on chain.
	List,
}

/// `model inspect` arguments.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
	/// A `.gguf` file, or a directory with `config.json` and `model.safetensors`.
	pub file: PathBuf,
	/// Also print the digest's manifest: one line per tensor with its SHA-256.
	#[arg(long)]
	pub manifest: bool,
}

/// `model register` arguments.
#[derive(Debug, clap::Args)]
pub struct RegisterModelArgs {
	/// The model file (as for `model inspect`).
	#[arg(long)]
	pub file: PathBuf,
	/// Name on chain [default: the file's name without extension].
	#[arg(long)]
	pub name: Option<String>,
	/// Layers per shard of the registry.
	#[arg(long, default_value_t = 10)]
	pub shard_size: u16,
}

/// Opens a model file and computes its digest on the blocking pool.
pub async fn open_with_digest(path: PathBuf) -> Result<(WeightFile, [u8; 32]), WorkerError> {
	tokio::task::spawn_blocking(move || {
		let file = WeightFile::open(&path)?;
		let d = digest::weights_digest(&file)?;
		Ok::<_, WorkerError>((file, d))
	})
	.await
	.map_err(|e| WorkerError::Engine(e.to_string()))?
}

/// Runs a `model` subcommand.
pub async fn run(global: &Global, command: ModelCommand) -> Result<(), WorkerError> {
	match command {
		ModelCommand::Inspect(args) => inspect(args).await,
		ModelCommand::Register(args) => register(global, args).await,
		ModelCommand::List => list(global).await,
	}
}

async fn inspect(args: InspectArgs) -> Result<(), WorkerError> {
	let path = args.file.clone();
	let (file, lines) = tokio::task::spawn_blocking(move || {
		let file = WeightFile::open(&path)?;
		let lines = digest::manifest(&file)?;
		Ok::<_, WorkerError>((file, lines))
	})
	.await
	.map_err(|e| WorkerError::Engine(e.to_string()))??;
	let c = file.config();
	let d = digest::digest_of(&c.canonical_line(), &lines);
	let bytes: u64 = file.tensors().iter().map(|t| t.bytes).sum();
	println!("file:           {}", file.path().display());
	println!("format:         {:?}", file.format());
	println!("layers:         {}", c.layers);
	println!(
		"hidden:         {} (heads {}, kv heads {}, head dim {})",
		c.hidden,
		c.heads,
		c.kv_heads,
		c.head_dim()
	);
	println!("mlp:            {}", c.intermediate);
	println!("vocabulary:     {}", c.vocab);
	println!("context:        {}", c.max_context);
	println!("rope:           {:?}, theta {}", c.rope, c.rope_theta);
	println!("tensors:        {} ({:.1} MiB stored)", lines.len(), bytes as f64 / (1 << 20) as f64);
	println!("weights digest: 0x{}", digest::hex(&d));
	if args.manifest {
		println!("{}", digest::DIGEST_DOMAIN);
		println!("{}", c.canonical_line());
		for l in &lines {
			let dims: Vec<String> = l.shape.iter().map(|d| d.to_string()).collect();
			println!("{} {} {} {}", l.name, l.dtype, dims.join("x"), digest::hex(&l.sha256));
		}
	}
	Ok(())
}

async fn register(global: &Global, args: RegisterModelArgs) -> Result<(), WorkerError> {
	let signer = global.signer()?;
	let chain = global.connect().await?;
	let name = match args.name {
		Some(n) => n,
		None => args
			.file
			.file_stem()
			.map(|s| s.to_string_lossy().into_owned())
			.unwrap_or_else(|| "model".into()),
	};
	tracing::info!(event = "digesting", file = %args.file.display(), "computing the weights digest");
	let (file, d) = open_with_digest(args.file.clone()).await?;
	let layers = u16::try_from(file.config().layers)
		.map_err(|_| WorkerError::Usage("too many layers".into()))?;
	if args.shard_size == 0 || args.shard_size > layers {
		return Err(WorkerError::Usage(format!("--shard-size must be in 1..={layers}")));
	}
	let events = signer
		.submit_and_wait(
			&chain,
			&calls::register_model(name.clone().into_bytes(), layers, args.shard_size, d),
		)
		.await?;
	let model = chain::registered_model(&events)?;
	println!(
		"registered model {model} `{name}`: {layers} layers, shards of {}, weights digest 0x{}",
		args.shard_size,
		digest::hex(&d)
	);
	Ok(())
}

async fn list(global: &Global) -> Result<(), WorkerError> {
	let chain = global.connect().await?;
	let at = chain.finalized().await?;
	let next = chain::next_model_id(&at).await?;
	let mut any = false;
	for id in 0..next {
		if let Some(m) = chain::model(&at, id).await? {
			any = true;
			println!(
				"model {id}: `{}`, {} layers, shards of {}, owner {}, deposit {}, digest 0x{}",
				String::from_utf8_lossy(&m.name.0),
				m.layers,
				m.shard_size,
				ss58(&m.owner),
				format_amount(m.deposit),
				digest::hex(&m.weights_digest)
			);
		}
	}
	if !any {
		println!("no models registered");
	}
	Ok(())
}
