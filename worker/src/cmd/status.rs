//! `status`: the node's registry entry, its open subjobs, and what it earned.

use appchain_primitives::token::format_amount;

use crate::{
	chain::{self, NodeKind, NodeStatus, SubjobState},
	cmd::Global,
	error::WorkerError,
	journal::Journal,
	keys::ss58,
};

/// `status` arguments.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
	/// The hashing node, if the account has several.
	#[arg(long)]
	pub node: Option<u64>,
}

/// Runs `status`: prints the table on standard output.
pub async fn run(global: &Global, args: StatusArgs) -> Result<(), WorkerError> {
	let signer = global.signer()?;
	let chain = global.connect().await?;
	let account = signer.account();
	let at = chain.finalized().await?;
	let now = at.block_number();
	let balance = chain::account_info(&at, account).await?;
	println!("account       {}", ss58(account));
	println!("free balance  {}", format_amount(balance.free));
	println!("held          {}", format_amount(balance.held));
	let id = chain::own_hashing_node(&at, account, args.node).await?;
	let info = chain::node(&at, id)
		.await?
		.ok_or_else(|| WorkerError::Missing(format!("node {id} is gone")))?;
	let registry = chain::registry_constants(&at)?;
	let rate = match info.kind {
		NodeKind::Hashing { hash_rate } => hash_rate,
		_ => 0,
	};
	let state = match info.status {
		NodeStatus::Registered if info.collateral < registry.min_collateral => format!(
			"registered, not serving (collateral below the minimum of {})",
			format_amount(registry.min_collateral)
		),
		NodeStatus::Registered
			if now.saturating_sub(u64::from(info.last_heartbeat)) <= registry.heartbeat_timeout =>
		{
			"registered, serving".to_string()
		},
		NodeStatus::Registered => "registered, not serving (no recent heartbeat)".to_string(),
		NodeStatus::Unbonding { unlocks_at } => format!("unbonding until block {unlocks_at}"),
	};
	println!("node          {id} (hashing, {rate} H/s)");
	println!("state         {state} at block {now}; last heartbeat {}", info.last_heartbeat);
	println!("collateral    {}", format_amount(info.collateral));
	println!(
		"work          {} verified, {} failed, {} slashed",
		info.stats.completed, info.stats.failed, info.stats.slashed
	);
	let mut open = Vec::new();
	for (sid, subjob) in chain::subjobs(&at, chain::SubjobFilter::Node(id)).await? {
		let state = match subjob.state {
			SubjobState::Claimed => "claimed".to_string(),
			SubjobState::Committed { at, .. } => format!("committed at {at}"),
			SubjobState::Revealed { challenge_at, .. } => {
				format!("revealed, spot checks at {challenge_at}")
			},
		};
		open.push(format!(
			"subjob {sid} (job {}, nonces {}..{}, deadline {}): {state}",
			subjob.job, subjob.range.start, subjob.range.end, subjob.deadline
		));
	}
	println!("open subjobs  {}", open.len());
	for line in open {
		println!("  {line}");
	}
	let journal = Journal::open(&global.base_path(), &chain.genesis_hash())?;
	let (mut earned, mut bonus, mut slashed) = (0u128, 0u128, 0u128);
	for entry in journal.ledger()? {
		let amount: u128 = entry.amount.parse().unwrap_or_default();
		match entry.kind.as_str() {
			"reward" => earned = earned.saturating_add(amount),
			"bonus" => bonus = bonus.saturating_add(amount),
			_ => slashed = slashed.saturating_add(amount),
		}
	}
	println!(
		"earnings      {} in rewards, {} in finder's bonuses, {} slashed (seen by `run`)",
		format_amount(earned),
		format_amount(bonus),
		format_amount(slashed)
	);
	Ok(())
}
