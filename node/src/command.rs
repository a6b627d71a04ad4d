//! Dispatch of the parsed command line to the node service and the subcommands.
//!
//! Database: the workspace builds `sc-cli`/`sc-service` without their `rocksdb` feature, so
//! `sc-cli` falls back to ParityDB when `--database` is not given (and RocksDB is not even a
//! selectable value). Data lives under `<base-path>/chains/<chain-id>/paritydb/full`.

use std::sync::Arc;

use appchain_runtime::opaque::Block;
use frame_benchmarking_cli::{BenchmarkCmd, SUBSTRATE_REFERENCE_HARDWARE};
use sc_cli::SubstrateCli;
use sc_service::PartialComponents;
use sp_runtime::traits::{Block as BlockT, HashingFor, NumberFor};

use crate::{
	benchmarking, chain_spec,
	cli::{Cli, Subcommand},
	service::{self, FullBackend, FullClient},
};

impl SubstrateCli for Cli {
	fn impl_name() -> String {
		"Appchain Node".into()
	}

	fn impl_version() -> String {
		env!("SUBSTRATE_CLI_IMPL_VERSION").into()
	}

	fn description() -> String {
		env!("CARGO_PKG_DESCRIPTION").into()
	}

	fn author() -> String {
		env!("CARGO_PKG_AUTHORS").into()
	}

	fn support_url() -> String {
		format!("{}/issues", env!("CARGO_PKG_REPOSITORY"))
	}

	fn copyright_start_year() -> i32 {
		2025
	}

	fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
		chain_spec::load_spec(id)
	}
}

/// Parses the command line and runs the node or the requested subcommand.
/// Makes the chain's own SS58 format (4242) the process default, so that every RPC and
/// subcommand that parses an address (`system_accountNextIndex`, `key inspect`, …) accepts it.
/// Addresses in the registered formats, the generic 42 among them, are accepted as before:
/// `sp_core` refuses only custom formats other than the default.
pub fn set_chain_address_format() {
	sp_core::crypto::set_default_ss58_version(sp_core::crypto::Ss58AddressFormat::custom(
		appchain_runtime::SS58_PREFIX,
	));
}

pub fn run() -> sc_cli::Result<()> {
	set_chain_address_format();
	let cli = Cli::from_args();

	match &cli.subcommand {
		None => {
			let runner = cli.create_runner(&cli.run)?;
			runner.run_node_until_exit(|config| async move {
				let task_manager = match config.network.network_backend {
					sc_network::config::NetworkBackendType::Libp2p => service::new_full::<
						sc_network::NetworkWorker<Block, <Block as BlockT>::Hash>,
					>(config),
					sc_network::config::NetworkBackendType::Litep2p => {
						service::new_full::<sc_network::Litep2pNetworkBackend>(config)
					}
				};
				task_manager.map_err(sc_cli::Error::Service)
			})
		}
		Some(Subcommand::Key(cmd)) => cmd.run(&cli),
		Some(Subcommand::BuildSpec(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
		}
		Some(Subcommand::ExportChainSpec(cmd)) => {
			let chain_spec = cli.load_spec(&cmd.chain)?;
			cmd.run(chain_spec)
		}
		Some(Subcommand::CheckBlock(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		}
		Some(Subcommand::ExportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.database), task_manager))
			})
		}
		Some(Subcommand::ExportState(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.chain_spec), task_manager))
			})
		}
		Some(Subcommand::ImportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		}
		Some(Subcommand::PurgeChain(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.database))
		}
		Some(Subcommand::Revert(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, backend, .. } =
					service::new_partial(&config)?;
				// Revert the BABE epoch tree and the GRANDPA authority set alongside the chain.
				let aux_revert = Box::new(
					|client: Arc<FullClient>,
					 backend: Arc<FullBackend>,
					 blocks: NumberFor<Block>|
					 -> sc_cli::Result<()> {
						sc_consensus_babe::revert(client.clone(), backend, blocks)?;
						sc_consensus_grandpa::revert(client, blocks)?;
						Ok(())
					},
				);
				Ok((cmd.run(client, backend, Some(aux_revert)), task_manager))
			})
		}
		Some(Subcommand::Benchmark(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| run_benchmark(cmd, config))
		}
		Some(Subcommand::ChainInfo(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run::<Block>(&config))
		}
	}
}

/// Runs a `benchmark` subcommand.
fn run_benchmark(cmd: &BenchmarkCmd, config: sc_service::Configuration) -> sc_cli::Result<()> {
	match cmd {
		BenchmarkCmd::Pallet(cmd) => {
			if !cfg!(feature = "runtime-benchmarks") {
				return Err("`benchmark pallet` needs a node built with runtime benchmarks: \
					rebuild with `--features runtime-benchmarks`."
					.into());
			}
			cmd.run_with_spec::<HashingFor<Block>, ()>(Some(config.chain_spec))
		}
		BenchmarkCmd::Block(cmd) => {
			// Keep the partial components (and thus the task manager) alive while running.
			let partial = service::new_partial(&config)?;
			cmd.run(partial.client.clone())
		}
		#[cfg(not(feature = "runtime-benchmarks"))]
		BenchmarkCmd::Storage(_) => Err("`benchmark storage` needs a node built with runtime \
			benchmarks: rebuild with `--features runtime-benchmarks`."
			.into()),
		#[cfg(feature = "runtime-benchmarks")]
		BenchmarkCmd::Storage(cmd) => {
			let partial = service::new_partial(&config)?;
			let db = partial.backend.expose_db();
			let storage = partial.backend.expose_storage();
			let shared_trie_cache = partial.backend.expose_shared_trie_cache();
			cmd.run(config, partial.client.clone(), db, storage, shared_trie_cache)
		}
		BenchmarkCmd::Overhead(cmd) => {
			let partial = service::new_partial(&config)?;
			let remark_builder = benchmarking::remark_builder(partial.client.clone())?;
			cmd.run(
				config.chain_spec.name().into(),
				partial.client.clone(),
				benchmarking::inherent_benchmark_data()?,
				Vec::new(),
				&remark_builder,
				false,
			)
		}
		BenchmarkCmd::Extrinsic(cmd) => {
			let partial = service::new_partial(&config)?;
			let extrinsic_factory = benchmarking::extrinsic_factory(partial.client.clone())?;
			cmd.run(
				partial.client.clone(),
				benchmarking::inherent_benchmark_data()?,
				Vec::new(),
				&extrinsic_factory,
			)
		}
		BenchmarkCmd::Machine(cmd) => cmd.run(&config, SUBSTRATE_REFERENCE_HARDWARE.clone()),
	}
}

#[cfg(test)]
mod tests {
	use sp_core::{
		crypto::{AccountId32, Ss58AddressFormat, Ss58Codec},
		Pair,
	};

	#[test]
	fn the_chain_format_and_the_generic_one_both_parse() {
		let alice = sp_core::sr25519::Pair::from_string("//Alice", None)
			.map(|pair| AccountId32::from(pair.public()))
			.unwrap();
		let ours = alice.to_ss58check_with_version(Ss58AddressFormat::custom(4242));
		let generic = alice.to_ss58check_with_version(Ss58AddressFormat::custom(42));
		super::set_chain_address_format();
		assert_eq!(AccountId32::from_ss58check(&ours).unwrap(), alice);
		assert_eq!(AccountId32::from_ss58check(&generic).unwrap(), alice);
		// Another custom format is still refused.
		let other = alice.to_ss58check_with_version(Ss58AddressFormat::custom(4243));
		assert!(AccountId32::from_ss58check(&other).is_err());
	}
}
