//! `channel list | open | top-up | voucher | claim | close | finalize`: payment channels from
//! the command line, for a client paying nodes and for a node's owner being paid.
//!
//! Vouchers a client signs go to its book of paid vouchers before they are printed; vouchers a
//! node's owner claims are checked (signer, chain, channel) and recorded in its book of received
//! vouchers before the claim is sent (see [`crate::payments`]).

use clap::{Args, Subcommand};

use super::{parse_amount, Global};
use crate::{
	chain::{self, calls, Chain},
	error::WorkerError,
	keys,
	payments::{SignedVoucher, VoucherBook},
};
use appchain_primitives::token::format_amount;

/// Payment channels.
#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
	/// List this account's open channels: those it pays from and those that pay it.
	List,
	/// Open a channel to a serving node, holding the deposit (and a small storage deposit)
	/// until the channel closes. Prints the channel id.
	Open(OpenArgs),
	/// Add to a channel's deposit (the payer, before it asked to close).
	TopUp(TopUpArgs),
	/// Sign a voucher (the payer): prints it as JSON, for the node's owner to claim.
	Voucher(VoucherArgs),
	/// Claim a voucher (the node's owner): pays what it promises beyond what was claimed.
	Claim(ClaimArgs),
	/// Close a channel: the payer asks to close (the payee may still claim during the
	/// challenge period, then anyone may finalize); the payee closes at once, claiming the
	/// latest voucher it holds.
	Close(ChannelArg),
	/// Finalize a channel whose challenge period is over: the rest goes back to the payer.
	Finalize(ChannelArg),
}

/// Arguments of `channel open`.
#[derive(Debug, Args)]
pub struct OpenArgs {
	/// The node to pay (its owner is the payee).
	#[arg(long)]
	pub node: u64,
	/// Deposit, in CPU (e.g. 2.5).
	#[arg(long)]
	pub deposit: String,
}

/// Arguments of `channel top-up`.
#[derive(Debug, Args)]
pub struct TopUpArgs {
	/// The channel.
	pub channel: u64,
	/// Amount to add, in CPU.
	#[arg(long)]
	pub amount: String,
}

/// Arguments of `channel voucher`.
#[derive(Debug, Args)]
pub struct VoucherArgs {
	/// The channel.
	pub channel: u64,
	/// Promise this much in total, in CPU.
	#[arg(long, conflicts_with = "add", required_unless_present = "add")]
	pub total: Option<String>,
	/// Promise this much more than the last voucher signed for the channel, in CPU.
	#[arg(long)]
	pub add: Option<String>,
}

/// Arguments of `channel claim`.
#[derive(Debug, Args)]
pub struct ClaimArgs {
	/// The channel.
	pub channel: u64,
	/// The voucher, as `channel voucher` prints it (JSON); without it, the latest one held.
	#[arg(long)]
	pub voucher: Option<String>,
}

/// A channel id.
#[derive(Debug, Args)]
pub struct ChannelArg {
	/// The channel.
	pub channel: u64,
}

/// Runs a `channel` command.
pub async fn run(global: &Global, command: ChannelCommand) -> Result<(), WorkerError> {
	let chain = global.connect().await?;
	let keypair = global.key_source().load()?;
	let signer = chain::Signer::new(keypair.clone());
	let me = *signer.account();
	let genesis = chain.genesis_hash();
	let base = global.base_path();
	match command {
		ChannelCommand::List => list(&chain, &me, &base, &genesis).await,
		ChannelCommand::Open(args) => {
			let deposit = parse_amount(&args.deposit)?;
			let at = chain.finalized().await?;
			let consts = chain::channel_constants(&at)?;
			if deposit < consts.min_deposit {
				return Err(WorkerError::Usage(format!(
					"a channel opens with at least {}",
					format_amount(consts.min_deposit)
				)));
			}
			let events =
				signer.submit_and_wait(&chain, &calls::open_channel(args.node, deposit)).await?;
			let id = chain::opened_channel(&events)?;
			tracing::info!(event = "channel_opened", channel = id, node = args.node, deposit = %deposit, "channel {id} opened to node {}", args.node);
			println!("{id}");
			Ok(())
		},
		ChannelCommand::TopUp(args) => {
			let amount = parse_amount(&args.amount)?;
			signer.submit_and_wait(&chain, &calls::top_up_channel(args.channel, amount)).await?;
			println!("channel {} topped up by {}", args.channel, format_amount(amount));
			Ok(())
		},
		ChannelCommand::Voucher(args) => {
			let at = chain.finalized().await?;
			let channel = chain::channel(&at, args.channel).await?.ok_or_else(|| {
				WorkerError::Usage(format!("channel {} is not open", args.channel))
			})?;
			if channel.payer != me {
				return Err(WorkerError::Usage(format!(
					"channel {} is paid by {}, not by this account",
					args.channel,
					keys::ss58(&channel.payer)
				)));
			}
			let mut book = VoucherBook::paid(&base, &genesis, &me.0)?;
			let last = book.cumulative(args.channel);
			let total = match (&args.total, &args.add) {
				(Some(total), _) => parse_amount(total)?,
				(None, Some(add)) => last.saturating_add(parse_amount(add)?),
				(None, None) => return Err(WorkerError::Usage("give --total or --add".into())),
			};
			if total <= last {
				return Err(WorkerError::Usage(format!(
					"this account already promised {} in channel {}; a voucher must promise more",
					format_amount(last),
					args.channel
				)));
			}
			if total > channel.deposit {
				return Err(WorkerError::Usage(format!(
					"{} is more than the channel's deposit of {}: top it up first",
					format_amount(total),
					format_amount(channel.deposit)
				)));
			}
			let voucher = SignedVoucher::sign(&keypair, &genesis, args.channel, total);
			book.record(voucher.clone())?;
			println!("{}", serde_json::to_string(&voucher).unwrap_or_default());
			Ok(())
		},
		ChannelCommand::Claim(args) => {
			let at = chain.finalized().await?;
			let channel = payee_channel(&at, args.channel, &me).await?;
			let mut book = VoucherBook::received(&base, &genesis, channel.node)?;
			if let Some(text) = &args.voucher {
				let voucher: SignedVoucher = serde_json::from_str(text)
					.map_err(|e| WorkerError::Usage(format!("not a voucher: {e}")))?;
				if voucher.channel != args.channel
					|| !voucher.is_signed_by(channel.payer.as_ref(), &genesis)
				{
					return Err(WorkerError::Usage(format!(
						"the voucher is not signed by channel {}'s payer for this chain and channel",
						args.channel
					)));
				}
				book.record(voucher)?;
			}
			let voucher = book.latest(args.channel).cloned().ok_or_else(|| {
				WorkerError::Usage(format!("no voucher of channel {} is held", args.channel))
			})?;
			if voucher.cumulative <= channel.claimed {
				return Err(WorkerError::Usage(format!(
					"the latest voucher promises {}, and {} was claimed already",
					format_amount(voucher.cumulative),
					format_amount(channel.claimed)
				)));
			}
			let call = calls::claim_channel(args.channel, voucher.cumulative, voucher.signature);
			let events = signer.submit_and_wait(&chain, &call).await?;
			let (paid, claimed) = chain::claimed(&events)?;
			println!(
				"channel {}: {} paid, {} claimed in all",
				args.channel,
				format_amount(paid),
				format_amount(claimed)
			);
			Ok(())
		},
		ChannelCommand::Close(args) => {
			let at = chain.finalized().await?;
			let channel = chain::channel(&at, args.channel).await?.ok_or_else(|| {
				WorkerError::Usage(format!("channel {} is not open", args.channel))
			})?;
			if channel.payer == me {
				let events =
					signer.submit_and_wait(&chain, &calls::request_close(args.channel)).await?;
				let closes_at = chain::close_requested(&events)?;
				println!(
					"channel {}: closing requested; the payee may claim until block {}, then anyone may finalize",
					args.channel,
					closes_at.saturating_sub(1)
				);
				return Ok(());
			}
			if channel.payee != me {
				return Err(WorkerError::Usage(format!(
					"channel {} is neither paid by nor paying this account",
					args.channel
				)));
			}
			let mut book = VoucherBook::received(&base, &genesis, channel.node)?;
			let now = chain.best().await?.block_number();
			let period_over =
				channel.closes_at.is_some_and(|at| u64::from(at) <= now.saturating_add(1));
			let last = book
				.latest(args.channel)
				.filter(|v| v.cumulative > channel.claimed && channel.claimed < channel.deposit)
				.filter(|_| !period_over)
				.map(|v| (v.cumulative, v.signature));
			let events =
				signer.submit_and_wait(&chain, &calls::close_channel(args.channel, last)).await?;
			book.forget(args.channel)?;
			report_closed(args.channel, &events)
		},
		ChannelCommand::Finalize(args) => {
			let events =
				signer.submit_and_wait(&chain, &calls::finalize_channel(args.channel)).await?;
			VoucherBook::paid(&base, &genesis, &me.0)?.forget(args.channel)?;
			report_closed(args.channel, &events)
		},
	}
}

/// Channel `id` at `at`, which must pay `me`.
async fn payee_channel(
	at: &chain::AtBlock,
	id: u64,
	me: &subxt::utils::AccountId32,
) -> Result<chain::ChannelOf, WorkerError> {
	let channel = chain::channel(at, id)
		.await?
		.ok_or_else(|| WorkerError::Usage(format!("channel {id} is not open")))?;
	if &channel.payee != me {
		return Err(WorkerError::Usage(format!(
			"channel {id} pays {}, not this account",
			keys::ss58(&channel.payee)
		)));
	}
	Ok(channel)
}

fn report_closed(id: u64, events: &chain::TxEvents) -> Result<(), WorkerError> {
	let (claimed, refunded) = chain::closed_channel(events)?
		.ok_or_else(|| WorkerError::Missing("no ChannelClosed event".into()))?;
	println!(
		"channel {id} closed: {} paid to the payee in all, {} refunded to the payer",
		format_amount(claimed),
		format_amount(refunded)
	);
	Ok(())
}

async fn list(
	chain: &Chain,
	me: &subxt::utils::AccountId32,
	base: &std::path::Path,
	genesis: &[u8; 32],
) -> Result<(), WorkerError> {
	let at = chain.finalized().await?;
	let paid = VoucherBook::paid(base, genesis, &me.0)?;
	println!(
		"{:>8}  {:<6} {:>6} {:>14} {:>14} {:>14}  closes at",
		"channel", "role", "node", "deposit", "claimed", "voucher"
	);
	let mut rows = Vec::new();
	for id in chain.channels_of(&keys::ss58(me)).await? {
		if let Some(c) = chain::channel(&at, id).await? {
			rows.push((id, "payer", c, paid.cumulative(id)));
		}
	}
	for (id, c) in chain::channels_paying(&at, me).await? {
		let held = VoucherBook::received(base, genesis, c.node)?.cumulative(id);
		rows.push((id, "payee", c, held));
	}
	for (id, role, c, voucher) in rows {
		println!(
			"{id:>8}  {role:<6} {:>6} {:>14} {:>14} {:>14}  {}",
			c.node,
			format_amount(c.deposit),
			format_amount(c.claimed),
			format_amount(voucher),
			c.closes_at.map_or("-".to_string(), |b| b.to_string())
		);
	}
	Ok(())
}
