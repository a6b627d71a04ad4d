//! One signer per account, shared by every duty.
//!
//! A [`Signer`] is a cheap clonable handle. It owns the key, the account's local nonce and
//! the set of transactions in flight, so that any number of duties can submit concurrently
//! without reusing a nonce or sending the same step twice:
//!
//! - transactions are mortal ([`MORTALITY`] blocks) and signed with a locally counted nonce:
//!   the first comes from `system_accountNextIndex` (which counts transactions still in the
//!   pool); a rejection at submission resets it and retries once with the node's view;
//! - each transaction of a daemon has a [`Tag`] (`commit 7`, `heartbeat`); while a tag is in
//!   flight, submitting it again does nothing. A tag leaves the set when its transaction is in
//!   a best block, is lost, or has expired; a lost one resets the nonce;
//! - after the daemon (re)connects, [`Signer::resync`] forgets the old connection's state and
//!   waits until the transactions this account left in the node's pool are included or have
//!   expired, instead of submitting the same steps twice.
//!
//! Log events: `tx_submitted`, `tx_included` (debug), `tx_failed`, `tx_lost`,
//! `tx_rejected`, `waiting_for_pool`.

use std::{
	collections::{HashMap, HashSet},
	sync::{Arc, Mutex, MutexGuard},
	time::Duration,
};

use subxt::{
	config::polkadot::PolkadotExtrinsicParamsBuilder,
	tx::{Payload, TransactionStatus},
	utils::AccountId32,
};
use subxt_signer::sr25519::Keypair;

use super::{nonce_at, AppchainConfig, AtBlock, Chain, TxEvents, MORTALITY};
use crate::{error::WorkerError, shutdown::Shutdown};

/// How many times [`Signer::submit_and_wait`] signs a transaction the pool drops.
pub const SUBMIT_ATTEMPTS: u32 = 3;

/// Names a daemon transaction, so that the same step is never in flight twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag {
	/// What the transaction does (`commit`, `heartbeat`, …).
	pub kind: &'static str,
	/// What it is about (a subjob, a job), if anything.
	pub id: Option<u64>,
}

impl Tag {
	/// A tag about `id`.
	pub const fn about(kind: &'static str, id: u64) -> Self {
		Self { kind, id: Some(id) }
	}

	/// A tag about nothing in particular (there is one of it at a time).
	pub const fn only(kind: &'static str) -> Self {
		Self { kind, id: None }
	}
}

impl std::fmt::Display for Tag {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self.id {
			Some(id) => write!(f, "{} {id}", self.kind),
			None => write!(f, "{}", self.kind),
		}
	}
}

/// What [`Signer::submit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
	/// Signed and accepted by the node's pool.
	Sent,
	/// The same tag is already in flight; nothing was sent.
	AlreadyInFlight,
}

/// How [`Signer::resync`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resync {
	/// Nothing of ours was in the pool: carry on at once.
	Ready,
	/// It waited for transactions of ours in the pool: act on a fresh block.
	Waited,
	/// The worker is stopping.
	Stopped,
}

/// How a submitted transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
	/// In a block and dispatched successfully.
	Success,
	/// In a block, but the call failed (e.g. `HashJobs.WrongState`).
	Failed(String),
	/// Never made it into a block (invalid, dropped, or stream lost).
	Lost(String),
}

/// A transaction in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InFlight {
	/// The block it was signed at: it expires [`MORTALITY`] blocks later.
	signed_at: u64,
	/// The connection it was sent on.
	connection: u64,
}

#[derive(Debug, Default)]
struct State {
	next_nonce: Option<u64>,
	/// Counts nonce resets, so that a submission racing with a reset does not undo it.
	resets: u64,
	in_flight: HashMap<Tag, InFlight>,
	connection: u64,
}

struct Inner {
	keypair: Keypair,
	id: AccountId32,
	state: Mutex<State>,
	/// Held while signing and submitting, so nonces go out in order.
	submitting: tokio::sync::Mutex<()>,
}

/// The signing service of one account. Clones share it.
#[derive(Clone)]
pub struct Signer {
	inner: Arc<Inner>,
}

impl Signer {
	/// The signer of `keypair`.
	pub fn new(keypair: Keypair) -> Self {
		let id: AccountId32 = keypair.public_key().into();
		Self {
			inner: Arc::new(Inner {
				keypair,
				id,
				state: Mutex::new(State::default()),
				submitting: tokio::sync::Mutex::new(()),
			}),
		}
	}

	/// The account.
	pub fn account(&self) -> &AccountId32 {
		&self.inner.id
	}

	/// The account's key (a serving node signs its inference receipts with it).
	pub fn keypair(&self) -> &Keypair {
		&self.inner.keypair
	}

	fn state(&self) -> MutexGuard<'_, State> {
		// No code panics while holding the lock; a poisoned lock still has consistent state.
		self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
	}

	/// Forgets the local nonce: the next submission asks the node.
	fn reset_nonce(&self) {
		let mut state = self.state();
		state.next_nonce = None;
		state.resets = state.resets.wrapping_add(1);
	}

	/// The tags in flight at block `now` (expired ones are dropped first).
	pub fn in_flight(&self, now: u64) -> HashSet<Tag> {
		let mut state = self.state();
		expire(&mut state, now);
		state.in_flight.keys().copied().collect()
	}

	/// Signs `call` as a mortal transaction from block `at` and submits it under `tag`,
	/// unless that tag is already in flight. The outcome is followed in the background.
	pub async fn submit<Call: Payload + Send + Sync>(
		&self,
		chain: &Chain,
		at: &AtBlock,
		tag: Tag,
		call: &Call,
	) -> Result<Submitted, WorkerError> {
		let signed_at = at.block_number();
		let _serial = self.inner.submitting.lock().await;
		let connection = {
			let mut state = self.state();
			expire(&mut state, signed_at);
			if state.in_flight.contains_key(&tag) {
				return Ok(Submitted::AlreadyInFlight);
			}
			state.connection
		};
		let progress = self.sign_and_submit(chain, at, call).await?;
		let entry = InFlight { signed_at, connection };
		self.state().in_flight.insert(tag, entry);
		if tag.kind == "heartbeat" {
			tracing::debug!(
				event = "tx_submitted",
				tx = tag.kind,
				block = signed_at,
				"{tag} submitted"
			);
		} else {
			tracing::info!(
				event = "tx_submitted",
				tx = tag.kind,
				id = tag.id,
				block = signed_at,
				"{tag} submitted"
			);
		}
		let signer = self.clone();
		tokio::spawn(async move {
			let outcome = follow(progress).await;
			signer.settle(tag, entry, outcome);
		});
		Ok(Submitted::Sent)
	}

	/// Records how the transaction `tag` sent as `entry` ended.
	fn settle(&self, tag: Tag, entry: InFlight, outcome: Outcome) {
		let mut state = self.state();
		if entry.connection != state.connection {
			// Sent on a connection since replaced: `resync` already accounted for it.
			return;
		}
		if state.in_flight.get(&tag) == Some(&entry) {
			state.in_flight.remove(&tag);
		}
		match outcome {
			Outcome::Success => {
				tracing::debug!(event = "tx_included", tx = tag.kind, id = tag.id, "{tag} included")
			},
			Outcome::Failed(error) => {
				tracing::warn!(event = "tx_failed", tx = tag.kind, id = tag.id, %error, "{tag} failed: {error}")
			},
			Outcome::Lost(reason) => {
				state.next_nonce = None;
				state.resets = state.resets.wrapping_add(1);
				tracing::warn!(
					event = "tx_lost",
					tx = tag.kind,
					id = tag.id,
					%reason,
					"{tag} was not included ({reason}); will retry"
				);
			},
		}
	}

	/// Signs and submits with the next local nonce; a rejection resets the nonce and retries
	/// once with the node's view.
	async fn sign_and_submit<Call: Payload>(
		&self,
		chain: &Chain,
		at: &AtBlock,
		call: &Call,
	) -> Result<Progress, WorkerError> {
		// Never sign with call shapes the runtime no longer has.
		super::compat::ensure_compatible(at)?;
		let mut retried = false;
		loop {
			let (known, resets) = {
				let state = self.state();
				(state.next_nonce, state.resets)
			};
			let nonce = match known {
				Some(n) => n,
				None => chain.next_nonce(&self.inner.id).await?,
			};
			let params = PolkadotExtrinsicParamsBuilder::<AppchainConfig>::new()
				.mortal(MORTALITY)
				.nonce(nonce)
				.build();
			let mut txs = at.transactions();
			let submitted = match txs.create_signed(call, &self.inner.keypair, params).await {
				Ok(tx) => tx.submit_and_watch().await,
				Err(e) => Err(e),
			};
			match submitted {
				Ok(progress) => {
					let mut state = self.state();
					// A reset meanwhile (a lost transaction) wins: the next submission asks the
					// node again.
					if state.resets == resets {
						state.next_nonce = Some(nonce.saturating_add(1));
					}
					return Ok(progress);
				},
				Err(e) if !retried => {
					tracing::info!(
						event = "tx_rejected",
						error = %e,
						"transaction rejected ({e}); asking the node for the nonce"
					);
					self.reset_nonce();
					retried = true;
				},
				Err(e) => {
					self.reset_nonce();
					return Err(WorkerError::rejected(e));
				},
			}
		}
	}

	/// Submits `call` (signed at the finalized block) and waits until it is finalized; a failed
	/// dispatch is an error. Returns the transaction's events. For one-shot commands.
	///
	/// A transaction the pool drops before inclusion (outdated, usurped or dropped: another
	/// process of the same account took its nonce) is signed again with the node's nonce, at
	/// most [`SUBMIT_ATTEMPTS`] times in all; it was never included, so it runs at most once.
	pub async fn submit_and_wait<Call: Payload>(
		&self,
		chain: &Chain,
		call: &Call,
	) -> Result<TxEvents, WorkerError> {
		let mut attempt = 1;
		loop {
			let at = chain.finalized().await?;
			let progress = {
				let _serial = self.inner.submitting.lock().await;
				self.sign_and_submit(chain, &at, call).await?
			};
			match progress.wait_for_finalized().await {
				Ok(in_block) => {
					return in_block.wait_for_success().await.map_err(WorkerError::dispatch)
				},
				Err(e) if attempt < SUBMIT_ATTEMPTS => {
					tracing::info!(
						event = "tx_dropped",
						error = %e,
						attempt,
						"transaction dropped before inclusion ({e}); signing it again"
					);
					self.reset_nonce();
					attempt += 1;
				},
				Err(e) => {
					self.reset_nonce();
					return Err(WorkerError::rejected(e));
				},
			}
		}
	}

	/// After a (re)connection: forgets the nonce and what was in flight on the old connection,
	/// then waits (at most [`MORTALITY`] blocks) until the transactions this account left in
	/// the node's pool are included or expired.
	pub async fn resync(&self, chain: &Chain, shutdown: &Shutdown) -> Result<Resync, WorkerError> {
		{
			let mut state = self.state();
			state.next_nonce = None;
			state.resets = state.resets.wrapping_add(1);
			state.in_flight.clear();
			state.connection = state.connection.saturating_add(1);
		}
		let mut waited = false;
		let mut first_block = None;
		loop {
			let best = chain.best().await?;
			let first = *first_block.get_or_insert(best.block_number());
			let pool = chain.next_nonce(&self.inner.id).await?;
			let done = nonce_at(&best, &self.inner.id).await?;
			if pool <= done || best.block_number() > first.saturating_add(MORTALITY) {
				return Ok(if waited { Resync::Waited } else { Resync::Ready });
			}
			waited = true;
			let waiting = pool.saturating_sub(done);
			tracing::info!(
				event = "waiting_for_pool",
				transactions = waiting,
				"{waiting} transaction(s) submitted before are still in the node's pool; waiting for them"
			);
			if shutdown.run_until(tokio::time::sleep(Duration::from_secs(3))).await.is_none() {
				return Ok(Resync::Stopped);
			}
		}
	}
}

/// Drops the in-flight entries too old to still be valid at block `now`.
fn expire(state: &mut State, now: u64) {
	state.in_flight.retain(|_, entry| now <= entry.signed_at.saturating_add(MORTALITY));
}

type Progress = subxt::tx::TransactionProgress<
	AppchainConfig,
	subxt::client::OnlineClientAtBlockImpl<AppchainConfig>,
>;

/// Follows a submitted transaction until it is in a block or lost. Inclusion in a best block
/// is enough: duties decide their next step from chain state, so a transaction retracted by a
/// reorganisation is simply submitted again.
async fn follow(mut progress: Progress) -> Outcome {
	while let Some(status) = progress.next().await {
		match status {
			Ok(TransactionStatus::InBestBlock(in_block))
			| Ok(TransactionStatus::InFinalizedBlock(in_block)) => {
				return match in_block.wait_for_success().await {
					Ok(_) => Outcome::Success,
					Err(e) => Outcome::Failed(e.to_string()),
				}
			},
			Ok(TransactionStatus::Error { message })
			| Ok(TransactionStatus::Invalid { message })
			| Ok(TransactionStatus::Dropped { message }) => return Outcome::Lost(message),
			Ok(_) => {},
			Err(e) => return Outcome::Lost(e.to_string()),
		}
	}
	Outcome::Lost("transaction status stream ended".into())
}

#[cfg(test)]
mod tests {
	use super::*;

	fn signer() -> Signer {
		Signer::new(crate::keys::keypair_from_suri("//Alice").unwrap())
	}

	#[test]
	fn in_flight_tags_expire_after_the_mortality_period() {
		let signer = signer();
		let entry = InFlight { signed_at: 10, connection: 0 };
		signer.state().in_flight.insert(Tag::about("commit", 7), entry);
		assert!(signer.in_flight(10 + MORTALITY).contains(&Tag::about("commit", 7)));
		assert!(signer.in_flight(11 + MORTALITY).is_empty());
	}

	#[test]
	fn an_outcome_clears_only_its_own_entry_and_a_lost_one_resets_the_nonce() {
		let signer = signer();
		let tag = Tag::about("reveal", 3);
		let old = InFlight { signed_at: 5, connection: 0 };
		let new = InFlight { signed_at: 9, connection: 0 };
		signer.state().in_flight.insert(tag, new);
		signer.state().next_nonce = Some(4);
		// The outcome of an older submission of the same tag leaves the newer one alone.
		signer.settle(tag, old, Outcome::Success);
		assert!(signer.in_flight(9).contains(&tag));
		signer.settle(tag, new, Outcome::Lost("dropped".into()));
		assert!(signer.in_flight(9).is_empty());
		assert_eq!(signer.state().next_nonce, None);
	}

	#[test]
	fn outcomes_from_a_replaced_connection_are_ignored() {
		let signer = signer();
		let tag = Tag::only("heartbeat");
		let stale = InFlight { signed_at: 1, connection: 0 };
		{
			let mut state = signer.state();
			state.connection = 1;
			state.next_nonce = Some(8);
			state.in_flight.insert(tag, InFlight { signed_at: 2, connection: 1 });
		}
		signer.settle(tag, stale, Outcome::Lost("connection closed".into()));
		assert_eq!(signer.state().next_nonce, Some(8));
		assert!(signer.in_flight(2).contains(&tag));
	}

	#[test]
	fn tags_print_what_they_are_about() {
		assert_eq!(Tag::about("commit", 7).to_string(), "commit 7");
		assert_eq!(Tag::only("heartbeat").to_string(), "heartbeat");
	}
}
