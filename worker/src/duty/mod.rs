//! Duties: what a running worker does at each new best block.
//!
//! A duty is a module with a [`Duty`] implementation; the daemon runs a list of them and
//! hands each the new head and the account's signer. Adding a service to the worker (layer
//! inference, payment channels, pricing) is adding a duty, not editing the daemon's loop.
//!
//! - [`heartbeat`]: keeps the node *serving* in the registry;
//! - [`channels`]: a serving node's payment channels: the vouchers it may take, its claims;
//! - [`hashjobs`]: hash-job subjobs: a pure planner (chain view + journal view in, actions
//!   out) and the executor that carries its actions out;
//! - [`ledger`]: records this node's rewards, bonuses and penalties from finalized blocks;
//! - [`pricing`]: an inference node's pricing agent: re-prices and moves layers by P2P-LLM's
//!   rules (a pure decision, then its transactions);
//! - [`proofs`]: an inference node's proofs: commits its receipts, answers its challenges,
//!   verifies the challenges it is drawn for.

pub mod channels;
pub mod hashjobs;
pub mod heartbeat;
pub mod ledger;
pub mod pricing;
pub mod proofs;

use std::{future::Future, pin::Pin, sync::Arc};

use crate::{
	chain::{Head, Signer},
	error::WorkerError,
};

/// A boxed future of a duty's step.
pub type Step<'a> = Pin<Box<dyn Future<Output = Result<(), WorkerError>> + Send + 'a>>;

/// What a duty gets at each new best block.
pub struct BlockContext {
	/// The new head (best and finalized blocks, the connection).
	pub head: Arc<Head>,
	/// The account's signer, shared by every duty.
	pub signer: Signer,
}

/// One thing the worker does block after block.
pub trait Duty: Send {
	/// A short name for logs (`hash-jobs`).
	fn name(&self) -> &'static str;

	/// Acts on a new best block. An error is logged and does not stop the other duties or
	/// the next block.
	fn on_block<'a>(&'a mut self, ctx: &'a BlockContext) -> Step<'a>;

	/// Called once when the worker stops (after its last `on_block`).
	fn shut_down(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
		Box::pin(async {})
	}
}
