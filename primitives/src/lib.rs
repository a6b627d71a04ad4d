//! Types and pure algorithms shared by the runtime, the node and the worker.
//!
//! Everything here is `no_std`, allocation-aware and panic-free, so that the runtime can run
//! exactly the same code as the off-chain worker:
//!
//! - [`layers`]: model layers, half-open layer ranges and how they map onto layer shards;
//! - [`routing`]: the cheapest route through the layer DAG of a model (P2P-LLM §3.1) and the
//!   Pareto frontier of (total price, total cost) routes (P2P-LLM §3.2);
//! - [`pricing`] (`std` only: floating point): P2P-LLM's adaptive pricing and layer
//!   reallocation (§3.3–3.4), the rules the simulator and the serving agent share;
//! - [`voucher`]: payment-channel vouchers, their signing payload and the claim and acceptance
//!   rules;
//! - [`hashjob`]: when a subjob may be reclaimed and when a job has work for a claim, the
//!   rules the hash-job pallet enforces and the worker plans by;
//! - [`receipt`]: inference receipts, the hashes of activations and the per-layer commitment
//!   a serving node signs for every forward step;
//! - [`page`]: bounded, resumable reads of storage maps for runtime APIs and RPC;
//! - [`token`]: the token's symbol, decimals and SS58 prefix, and parsing/printing amounts;
//! - [`pow`]: SHA-256 nonce search (generic and Bitcoin-header), chunk digests, their Merkle
//!   tree, spot-check challenges and result commitments.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod hashjob;
pub mod layers;
pub mod page;
pub mod pow;
pub mod receipt;
#[cfg(feature = "std")]
pub mod pricing;
pub mod routing;
pub mod token;
pub mod voucher;

pub use layers::{Layer, LayerRange, ShardIndex};

/// Identifies a registered model.
pub type ModelId = u32;

/// Identifies a registered compute node (inference or hashing).
pub type NodeId = u64;

/// `parts` one after another in a fixed-length array (signing payloads): bytes past `N` are
/// dropped and missing ones are zero, so callers size `N` to the parts (their tests check it).
pub(crate) fn concat_fixed<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
	let mut out = [0u8; N];
	for (slot, byte) in out.iter_mut().zip(parts.iter().flat_map(|part| part.iter())) {
		*slot = *byte;
	}
	out
}
