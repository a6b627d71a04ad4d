//! `appchain-node`: validator / full node of the compute-marketplace appchain.
//!
//! BABE block production, GRANDPA finality, ParityDB storage, WASM-only runtime execution.

#![warn(missing_docs)]

mod benchmarking;
mod chain_spec;
mod cli;
mod command;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
