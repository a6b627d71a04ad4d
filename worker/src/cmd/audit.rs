//! `audit`: the client's own check on the nodes that served it.
//!
//! A node commits its receipts by choice, so a node that cheats would simply not commit. The
//! client holds every receipt the nodes signed (`infer --receipts FILE`) and audits them
//! itself: it commits each node's receipts of a session on chain (`InferenceProofs::audit`,
//! holding a small bond per batch), and the chain samples them with the same seed and
//! probability as the nodes' own commitments. This command then follows every audit to its
//! verdict: it draws the challenge once the seed is stamped, reveals the challenged receipt
//! with its Merkle proof and the node owner's signature (only then is the node's collateral
//! reserved, and the verifiers fetch the step's inputs from the node and re-run it), settles
//! phases whose deadline passed, and prints each verdict. A challenged audit left unanswered
//! costs the bond, so the command keeps following until every audit is settled (a refused
//! audit or a failed read does not stop it; stopping it does). Sessions are
//! auditable for the chain's audit window after they opened (2 hours; their ids carry the
//! block, `receipt::session_block`): audit soon after generating.

use std::{collections::BTreeMap, path::PathBuf};

use clap::Args;

use super::Global;
use crate::{
	chain::{self, calls, ChallengePhase, Tag},
	error::WorkerError,
	pipeline::HopReceipt,
	proofs::receipts::SignedReceipt,
};
use appchain_primitives::{
	pow::Sha2,
	receipt::{receipt_proof, receipts_root, session_block, Receipt, SessionId},
	token::format_amount,
};

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
	/// The receipts to audit, as `infer --receipts FILE` wrote them (one JSON object per line).
	#[arg(long)]
	pub receipts: PathBuf,
	/// Audit only this node's receipts (repeat for several) [default: every node in the file].
	#[arg(long = "node")]
	pub nodes: Vec<u64>,
}

/// One audit on chain: its id and the receipts it covers, in batch order.
struct Audit {
	id: u64,
	node: u64,
	session: SessionId,
	batch: Vec<SignedReceipt>,
	/// The finalized block at which the audit was first seen gone from the best block.
	gone_at: Option<u32>,
}

/// Reads the receipts file.
fn read_receipts(path: &std::path::Path) -> Result<Vec<HopReceipt>, WorkerError> {
	let text = std::fs::read_to_string(path)
		.map_err(|e| WorkerError::Usage(format!("cannot read {}: {e}", path.display())))?;
	text.lines()
		.filter(|l| !l.trim().is_empty())
		.enumerate()
		.map(|(i, line)| {
			serde_json::from_str(line).map_err(|e| {
				WorkerError::Usage(format!("{} line {}: not a receipt: {e}", path.display(), i + 1))
			})
		})
		.collect()
}

/// Each node's receipts per session, in step order (one receipt per step), keeping only those
/// its owner signed for this chain: an audit of anything else would lose its bond.
pub fn batches(
	receipts: Vec<HopReceipt>,
	genesis: &[u8; 32],
	only: &[u64],
) -> Result<BTreeMap<(u64, SessionId), Vec<SignedReceipt>>, WorkerError> {
	let mut out: BTreeMap<(u64, SessionId), BTreeMap<u32, SignedReceipt>> = BTreeMap::new();
	for hop in receipts {
		let r = &hop.signed.receipt;
		if !only.is_empty() && !only.contains(&r.node) {
			continue;
		}
		let owner = crate::payments::parse_hex::<32>(&hop.owner).ok_or_else(|| {
			WorkerError::Usage(format!("receipt owner {} is not 32 bytes of hex", hop.owner))
		})?;
		if !hop.signed.is_signed_by(&owner, genesis) {
			tracing::warn!(
				event = "audit_skipped",
				node = r.node,
				step = r.step,
				"step {} of node {} is not signed by its owner on this chain: left out",
				r.step,
				r.node
			);
			continue;
		}
		out.entry((r.node, r.session)).or_default().insert(r.step, hop.signed);
	}
	Ok(out.into_iter().map(|(k, steps)| (k, steps.into_values().collect())).collect())
}

/// Waits (a few seconds per block) until the best block is at least `block`; the best block.
async fn wait_for_block(chain: &chain::Chain, block: u32) -> Result<u32, WorkerError> {
	loop {
		let now = chain.best().await?.block_number() as u32;
		if now >= block {
			return Ok(now);
		}
		tokio::time::sleep(std::time::Duration::from_secs(2)).await;
	}
}

/// Whether node `node` still serves the model and layers of `receipt`: an audit of receipts of
/// other layers could not be revealed (the chain takes the node's current layers).
async fn still_serves(
	chain: &chain::Chain,
	node: u64,
	receipt: &Receipt,
) -> Result<bool, WorkerError> {
	let at = chain.best().await?;
	Ok(match chain::node(&at, node).await?.map(|n| n.kind) {
		Some(chain::NodeKind::Inference { model, layers, .. }) => {
			model == receipt.model
				&& u32::from(layers.start) == receipt.start
				&& u32::from(layers.end) == receipt.end
		},
		_ => false,
	})
}

/// Runs `audit`.
pub async fn run(global: &Global, args: AuditArgs) -> Result<(), WorkerError> {
	let receipts = read_receipts(&args.receipts)?;
	let chain = global.connect().await?;
	let signer = global.signer()?;
	let genesis = chain.genesis_hash();
	let sessions = batches(receipts, &genesis, &args.nodes)?;
	if sessions.is_empty() {
		return Err(WorkerError::Usage(format!(
			"{} holds no signed receipts to audit",
			args.receipts.display()
		)));
	}
	let constants = chain::proof_constants(&chain.best().await?)?;
	let max_steps = constants.max_steps.max(1) as usize;
	// The chain audits a session from its stamp on (a node a block or two ahead of this
	// client), for the audit window after it (a node keeps the inputs for longer).
	let latest = sessions.keys().map(|(_, session)| session_block(session)).max().unwrap_or(0);
	let now = wait_for_block(&chain, latest).await?;

	let mut open: BTreeMap<u64, Audit> = BTreeMap::new();
	let mut failed = 0usize;
	for ((node, session), receipts) in sessions {
		let stamp = session_block(&session);
		if now.saturating_sub(stamp) > constants.audit_window {
			tracing::warn!(event = "audit_too_late", node, session = %hex::encode(session), stamp, now, "session {} of node {node} (block {stamp}) is outside the audit window of {} blocks: not audited", hex::encode(session), constants.audit_window);
			println!("session {} of node {node}: opened at block {stamp}, outside the audit window (now {now}); not audited", hex::encode(session));
			continue;
		}
		if !still_serves(&chain, node, &receipts[0].receipt).await? {
			println!(
				"node {node} no longer serves the layers of session {}: not audited",
				hex::encode(session)
			);
			continue;
		}
		for batch in receipts.chunks(max_steps) {
			let leaves: Vec<Receipt> = batch.iter().map(|r| r.receipt).collect();
			let root = receipts_root::<Sha2>(&genesis, &leaves);
			let call = calls::audit_receipts(node, session, leaves.len() as u32, root);
			// One refused audit (its bond, the client's limit of open audits) does not stop the
			// others, which this command must follow to their verdicts.
			let id = match signer
				.submit_and_wait(&chain, &call)
				.await
				.and_then(|e| chain::audited(&e))
			{
				Ok(id) => id,
				Err(e) => {
					failed += 1;
					tracing::warn!(event = "audit_failed", node, session = %hex::encode(session), error = %e, "auditing node {node}: {e}");
					println!("node {node}, session {}: audit refused: {e}", hex::encode(session));
					continue;
				},
			};
			let (first, last) = (leaves[0].step, leaves[leaves.len() - 1].step);
			tracing::info!(event = "audit_committed", audit = id, node, session = %hex::encode(session), first, last, "audit {id}: steps {first}..={last} of node {node}, session {}", hex::encode(session));
			println!(
				"audit {id}: node {node}, session {}, steps {first}..={last}",
				hex::encode(session)
			);
			open.insert(id, Audit { id, node, session, batch: batch.to_vec(), gone_at: None });
		}
	}

	let mut blocks = chain.finalized_blocks().await?;
	while !open.is_empty() {
		let Some(at) = blocks.next().await else {
			return Err(WorkerError::Missing("the block subscription ended".into()));
		};
		// A failed read is tried again at the next block: the audits still need answers.
		if let Err(e) = follow(&chain, &signer, &genesis, &mut open, at).await {
			tracing::warn!(event = "audit_follow_failed", error = %e, "following the audits: {e}");
		}
	}
	if failed > 0 {
		return Err(WorkerError::Missing(format!("{failed} audit(s) were refused (see above)")));
	}
	Ok(())
}

/// One finalized block's worth of following: reports the audits settled in it, then draws,
/// reveals and settles the open ones at the best block.
async fn follow(
	chain: &chain::Chain,
	signer: &chain::Signer,
	genesis: &[u8; 32],
	open: &mut BTreeMap<u64, Audit>,
	finalized: Result<chain::AtBlock, WorkerError>,
) -> Result<(), WorkerError> {
	let finalized = finalized?;
	let final_number = finalized.block_number() as u32;
	for settled in chain::proofs_settled(&finalized).await? {
		if let Some(audit) = open.remove(&settled.id) {
			tracing::info!(event = "audit_settled", audit = audit.id, node = audit.node, verdict = %settled.verdict, refunded = settled.refunded, penalty = settled.penalty, "audit {}: {}", audit.id, settled.verdict);
			println!(
				"audit {} of node {} (session {}): {}; refunded {}, node penalised {}",
				audit.id,
				audit.node,
				hex::encode(audit.session),
				settled.verdict,
				format_amount(settled.refunded),
				format_amount(settled.penalty)
			);
		}
	}
	// Act on the best block, as a serving node's duty does: what is already in it (a draw,
	// a reveal) is not sent twice.
	let at = chain.best().await?;
	let now = at.block_number() as u32;
	let mut gone = Vec::new();
	for audit in open.values_mut() {
		let id = audit.id;
		let Some(view) = chain::proof_commitment(&at, id).await? else {
			// Settled in a block not final yet: its event comes with finality. Should it never
			// come (a reorganisation past this client), stop waiting after a while.
			let since = *audit.gone_at.get_or_insert(final_number);
			if final_number.saturating_sub(since) > 20 {
				gone.push(id);
			}
			continue;
		};
		audit.gone_at = None;
		let tag = |kind| Tag::about(kind, id);
		match &view.challenge {
			None if view.commitment.seed.is_some() => {
				signer.submit(chain, &at, tag("audit-draw"), &calls::draw_commitment(id)).await?;
			},
			None => {},
			Some(ch) => match ch.phase {
				ChallengePhase::AwaitingReceipt { until } if now <= until => {
					let index = ch.index as usize;
					let leaves: Vec<Receipt> = audit.batch.iter().map(|r| r.receipt).collect();
					let (Some(signed), Some(proof)) =
						(audit.batch.get(index), receipt_proof::<Sha2>(genesis, &leaves, index))
					else {
						continue;
					};
					let call =
						calls::reveal_signed_receipt(id, signed.receipt, signed.signature, proof);
					if matches!(
						signer.submit(chain, &at, tag("audit-reveal"), &call).await?,
						chain::Submitted::Sent
					) {
						tracing::info!(
							event = "audit_challenged",
							audit = id,
							node = audit.node,
							step = signed.receipt.step,
							"audit {id}: step {} challenged; revealed the node's signed receipt",
							signed.receipt.step
						);
					}
				},
				ChallengePhase::AwaitingReceipt { until }
				| ChallengePhase::Voting { until }
				| ChallengePhase::Revealing { until } => {
					if now > until {
						signer
							.submit(chain, &at, tag("audit-settle"), &calls::settle_challenge(id))
							.await?;
					}
				},
			},
		}
	}
	for id in gone {
		if let Some(audit) = open.remove(&id) {
			println!("audit {id} of node {}: settled (its verdict was not seen)", audit.node);
		}
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;
	use subxt_signer::sr25519::dev;

	fn hop(node: u64, step: u32, genesis: &[u8; 32]) -> HopReceipt {
		let keypair = dev::bob();
		let receipt = Receipt {
			node,
			model: 0,
			start: 0,
			end: 2,
			session: [node as u8; 16],
			step,
			position: step,
			tokens: 1,
			input_hash: [1; 32],
			output_hash: [2; 32],
			layer_root: [3; 32],
		};
		HopReceipt {
			endpoint: "http://n".into(),
			owner: format!("0x{}", hex::encode(keypair.public_key().0)),
			signed: SignedReceipt::sign(&keypair, genesis, receipt, vec![[2; 32]]),
		}
	}

	#[test]
	fn receipts_are_grouped_per_node_and_session_in_step_order_and_checked() {
		let genesis = [7; 32];
		let mut forged = hop(1, 5, &genesis);
		forged.signed.receipt.output_hash = [9; 32];
		let hops = vec![hop(1, 2, &genesis), hop(2, 0, &genesis), hop(1, 0, &genesis), forged];
		let groups = batches(hops.clone(), &genesis, &[]).unwrap();
		let steps: Vec<(u64, Vec<u32>)> = groups
			.iter()
			.map(|((node, _), b)| (*node, b.iter().map(|r| r.receipt.step).collect()))
			.collect();
		// The forged receipt (its signature no longer matches) is left out.
		assert_eq!(steps, vec![(1, vec![0, 2]), (2, vec![0])]);
		let only = batches(hops.clone(), &genesis, &[2]).unwrap();
		assert_eq!(only.keys().map(|(n, _)| *n).collect::<Vec<_>>(), vec![2]);
		// Signed for another chain: nothing to audit here.
		assert!(batches(hops, &[8; 32], &[]).unwrap().is_empty());
	}
}
