//! Full-node service of the appchain.
//!
//! Wires together the client (ParityDB-backed, WASM-only executor), the transaction pool,
//! BABE block production, GRANDPA finality, networking (libp2p or litep2p), the RPC server
//! and offchain workers.
//!
//! Block import pipeline: `BabeBlockImport` → `GrandpaBlockImport` → client. The BABE import
//! queue verifies headers and feeds the pipeline; GRANDPA justifications are imported
//! through the GRANDPA block import directly.

use std::{sync::Arc, time::Duration};

use appchain_runtime::{opaque::Block, RuntimeApi};
use futures::FutureExt;
use sc_client_api::{Backend as _, BlockBackend as _};
use sc_consensus_babe::SlotProportion;
use sc_consensus_grandpa::SharedVoterState;
use sc_network::NetworkBackend;
use sc_service::{error::Error as ServiceError, Configuration, TaskManager, WarpSyncConfig};
use sc_telemetry::{Telemetry, TelemetryWorker};
use sc_transaction_pool_api::OffchainTransactionPoolFactory;
use sp_consensus_babe::SlotDuration;
use sp_inherents::CreateInherentDataProviders;
use sp_runtime::traits::Block as BlockT;

use crate::rpc;

/// Host functions made available to the runtime by the node.
#[cfg(not(feature = "runtime-benchmarks"))]
pub type HostFunctions = sp_io::SubstrateHostFunctions;

/// Host functions made available to the runtime by the node (including the benchmarking
/// host functions needed by a runtime built with `runtime-benchmarks`).
#[cfg(feature = "runtime-benchmarks")]
pub type HostFunctions =
	(sp_io::SubstrateHostFunctions, frame_benchmarking::benchmarking::HostFunctions);

/// The WASM-only runtime executor used by the node (there is no native runtime).
pub type RuntimeExecutor = sc_executor::WasmExecutor<HostFunctions>;

/// The full client type.
pub type FullClient = sc_service::TFullClient<Block, RuntimeApi, RuntimeExecutor>;

/// The full (database) backend type.
pub type FullBackend = sc_service::TFullBackend<Block>;

/// The chain selection rule: longest chain.
pub type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;

/// The transaction pool type.
pub type TransactionPool = sc_transaction_pool::TransactionPoolHandle<Block, FullClient>;

/// GRANDPA block import, wrapping the client.
pub type FullGrandpaBlockImport =
	sc_consensus_grandpa::GrandpaBlockImport<FullBackend, Block, FullClient, FullSelectChain>;

/// Inherent data providers used by BABE: the slot first (required by BABE), then the timestamp.
pub type BabeInherentDataProviders =
	(sp_consensus_babe::inherents::InherentDataProvider, sp_timestamp::InherentDataProvider);

/// Type-erased creator of [`BabeInherentDataProviders`], used by the BABE block import to
/// check the inherents of imported blocks.
pub type BabeCreateInherentDataProviders = Arc<
	dyn CreateInherentDataProviders<Block, (), InherentDataProviders = BabeInherentDataProviders>,
>;

/// BABE block import, wrapping the GRANDPA block import.
pub type FullBabeBlockImport = sc_consensus_babe::BabeBlockImport<
	Block,
	FullClient,
	FullGrandpaBlockImport,
	BabeCreateInherentDataProviders,
	FullSelectChain,
>;

/// Consensus and telemetry parts created by [`new_partial`] and consumed by [`new_full`].
pub struct ServiceParts {
	/// The block import pipeline (BABE → GRANDPA → client) used by block authoring.
	pub block_import: FullBabeBlockImport,
	/// Link between the GRANDPA block import and the GRANDPA voter.
	pub grandpa_link: sc_consensus_grandpa::LinkHalf<Block, FullClient, FullSelectChain>,
	/// Link between the BABE block import and the BABE authoring worker.
	pub babe_link: sc_consensus_babe::BabeLink<Block>,
	/// Handle to the BABE worker (used by the `babe_*` RPC).
	pub babe_worker_handle: sc_consensus_babe::BabeWorkerHandle<Block>,
	/// Telemetry, if any endpoint is configured.
	pub telemetry: Option<Telemetry>,
}

/// The partial components of the node, shared by `new_full` and the CLI subcommands
/// (`check-block`, `export-blocks`, `revert`, `benchmark`, ...).
pub type Service = sc_service::PartialComponents<
	FullClient,
	FullBackend,
	FullSelectChain,
	sc_consensus::DefaultImportQueue<Block>,
	TransactionPool,
	ServiceParts,
>;

/// Minimum period (in blocks) at which GRANDPA justifications are imported and generated.
const GRANDPA_JUSTIFICATION_PERIOD: u32 = 512;

/// How long GRANDPA waits for a message to be gossiped across the network.
const GRANDPA_GOSSIP_DURATION: Duration = Duration::from_millis(333);

/// Builds the BABE inherent data providers (slot derived from the wall-clock timestamp).
fn babe_inherent_data_providers(slot_duration: SlotDuration) -> BabeInherentDataProviders {
	let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
	let slot = sp_consensus_babe::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
		*timestamp,
		slot_duration,
	);
	(slot, timestamp)
}

/// Creates the type-erased inherent data providers creator used by the BABE block import.
fn babe_create_inherent_data_providers(
	slot_duration: SlotDuration,
) -> BabeCreateInherentDataProviders {
	Arc::new(move |_parent: <Block as BlockT>::Hash, _extra: ()| async move {
		Ok::<_, Box<dyn std::error::Error + Send + Sync>>(babe_inherent_data_providers(
			slot_duration,
		))
	})
}

/// Creates the partial components of the node: client, backend, keystore, task manager,
/// transaction pool, import queue and the consensus block imports/links.
pub fn new_partial(config: &Configuration) -> Result<Service, ServiceError> {
	let telemetry = config
		.telemetry_endpoints
		.clone()
		.filter(|endpoints| !endpoints.is_empty())
		.map(|endpoints| -> Result<_, sc_telemetry::Error> {
			let worker = TelemetryWorker::new(16)?;
			let telemetry = worker.handle().new_telemetry(endpoints);
			Ok((worker, telemetry))
		})
		.transpose()?;

	let executor = sc_service::new_wasm_executor::<HostFunctions>(&config.executor);

	// Never prune blocks carrying GRANDPA justifications: warp sync proofs need them.
	let pruning_filters =
		vec![Arc::new(sc_consensus_grandpa::GrandpaPruningFilter)
			as Arc<dyn sc_service::PruningFilter>];

	let (client, backend, keystore_container, task_manager) =
		sc_service::new_full_parts::<Block, RuntimeApi, _>(
			config,
			telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
			executor,
			pruning_filters,
		)?;
	let client = Arc::new(client);

	let telemetry = telemetry.map(|(worker, telemetry)| {
		task_manager.spawn_handle().spawn("telemetry", None, worker.run());
		telemetry
	});

	let select_chain = sc_consensus::LongestChain::new(backend.clone());

	let transaction_pool = Arc::new(
		sc_transaction_pool::Builder::new(
			task_manager.spawn_essential_handle(),
			client.clone(),
			config.role.is_authority().into(),
		)
		.with_options(config.transaction_pool.clone())
		.with_prometheus(config.prometheus_registry())
		.build(),
	);

	let (grandpa_block_import, grandpa_link) = sc_consensus_grandpa::block_import(
		client.clone(),
		GRANDPA_JUSTIFICATION_PERIOD,
		&client,
		select_chain.clone(),
		telemetry.as_ref().map(|telemetry| telemetry.handle()),
	)?;
	let justification_import = grandpa_block_import.clone();

	let babe_config = sc_consensus_babe::configuration(&*client)?;
	let slot_duration = babe_config.slot_duration();
	let (block_import, babe_link) = sc_consensus_babe::block_import(
		babe_config,
		grandpa_block_import,
		client.clone(),
		babe_create_inherent_data_providers(slot_duration),
		select_chain.clone(),
		OffchainTransactionPoolFactory::new(transaction_pool.clone()),
	)?;

	let (import_queue, babe_worker_handle) =
		sc_consensus_babe::import_queue(sc_consensus_babe::ImportQueueParams {
			link: babe_link.clone(),
			block_import: block_import.clone(),
			justification_import: Some(Box::new(justification_import)),
			client: client.clone(),
			slot_duration,
			spawner: &task_manager.spawn_essential_handle(),
			registry: config.prometheus_registry(),
			telemetry: telemetry.as_ref().map(|telemetry| telemetry.handle()),
		})?;

	Ok(sc_service::PartialComponents {
		client,
		backend,
		task_manager,
		keystore_container,
		select_chain,
		import_queue,
		transaction_pool,
		other: ServiceParts {
			block_import,
			grandpa_link,
			babe_link,
			babe_worker_handle,
			telemetry,
		},
	})
}

/// Builds and starts a full node using the network backend `N`
/// (`sc_network::NetworkWorker` for libp2p, `sc_network::Litep2pNetworkBackend` for litep2p).
pub fn new_full<N: NetworkBackend<Block, <Block as BlockT>::Hash>>(
	config: Configuration,
) -> Result<TaskManager, ServiceError> {
	let sc_service::PartialComponents {
		client,
		backend,
		mut task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other:
			ServiceParts { block_import, grandpa_link, babe_link, babe_worker_handle, mut telemetry },
	} = new_partial(&config)?;

	let role = config.role;
	let force_authoring = config.force_authoring;
	let node_name = config.network.node_name.clone();
	let enable_grandpa = !config.disable_grandpa;
	let enable_offchain_worker = config.offchain_worker.enabled;
	let prometheus_registry = config.prometheus_registry().cloned();

	// ---- networking
	let mut net_config = sc_network::config::FullNetworkConfiguration::<
		Block,
		<Block as BlockT>::Hash,
		N,
	>::new(&config.network, prometheus_registry.clone());
	let metrics = N::register_notification_metrics(prometheus_registry.as_ref());
	let peer_store_handle = net_config.peer_store_handle();

	let genesis_hash = client.block_hash(0)?.ok_or_else(|| {
		ServiceError::Other("Genesis block hash not found in the database".into())
	})?;
	let grandpa_protocol_name =
		sc_consensus_grandpa::protocol_standard_name(&genesis_hash, &config.chain_spec);
	let (grandpa_protocol_config, grandpa_notification_service) =
		sc_consensus_grandpa::grandpa_peers_set_config::<_, N>(
			grandpa_protocol_name.clone(),
			metrics.clone(),
			peer_store_handle,
		);
	net_config.add_notification_protocol(grandpa_protocol_config);

	let warp_sync = Arc::new(sc_consensus_grandpa::warp_proof::NetworkProvider::new(
		backend.clone(),
		grandpa_link.shared_authority_set().clone(),
		Vec::new(),
	));

	let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
		sc_service::build_network(sc_service::BuildNetworkParams {
			config: &config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			import_queue,
			block_announce_validator_builder: None,
			warp_sync_config: Some(WarpSyncConfig::WithProvider(warp_sync)),
			block_relay: None,
			metrics,
			gap_sync_body_policy: None,
		})?;

	// ---- offchain workers
	if enable_offchain_worker {
		let offchain_workers =
			sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
				runtime_api_provider: client.clone(),
				keystore: Some(keystore_container.keystore()),
				offchain_db: backend.offchain_storage(),
				transaction_pool: Some(OffchainTransactionPoolFactory::new(
					transaction_pool.clone(),
				)),
				network_provider: Arc::new(network.clone()),
				is_validator: role.is_authority(),
				enable_http_requests: true,
				custom_extensions: |_| vec![],
			})?;
		task_manager.spawn_handle().spawn(
			"offchain-workers-runner",
			"offchain-worker",
			offchain_workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
		);
	}

	// ---- RPC
	let shared_voter_state = SharedVoterState::empty();
	let rpc_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();
		let select_chain = select_chain.clone();
		let keystore = keystore_container.keystore();
		let backend = backend.clone();
		let babe_worker_handle = babe_worker_handle.clone();
		let shared_voter_state = shared_voter_state.clone();
		let shared_authority_set = grandpa_link.shared_authority_set().clone();
		let justification_stream = grandpa_link.justification_stream();
		let finality_provider = sc_consensus_grandpa::FinalityProofProvider::new_for_service(
			backend.clone(),
			Some(shared_authority_set.clone()),
		);

		Box::new(move |subscription_executor: rpc::SubscriptionTaskExecutor| {
			let deps = rpc::FullDeps {
				client: client.clone(),
				pool: pool.clone(),
				select_chain: select_chain.clone(),
				babe: rpc::BabeDeps {
					keystore: keystore.clone(),
					babe_worker_handle: babe_worker_handle.clone(),
				},
				grandpa: rpc::GrandpaDeps {
					shared_voter_state: shared_voter_state.clone(),
					shared_authority_set: shared_authority_set.clone(),
					justification_stream: justification_stream.clone(),
					subscription_executor,
					finality_provider: finality_provider.clone(),
				},
				backend: backend.clone(),
			};
			rpc::create_full(deps).map_err(ServiceError::Application)
		})
	};

	sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		config,
		backend,
		client: client.clone(),
		keystore: keystore_container.keystore(),
		network: network.clone(),
		rpc_builder,
		transaction_pool: transaction_pool.clone(),
		task_manager: &mut task_manager,
		system_rpc_tx,
		tx_handler_controller,
		sync_service: sync_service.clone(),
		telemetry: telemetry.as_mut(),
		tracing_execute_block: None,
	})?;

	// ---- BABE block authoring (authorities only)
	if role.is_authority() {
		let proposer_factory = sc_basic_authorship::ProposerFactory::new(
			task_manager.spawn_handle(),
			client.clone(),
			transaction_pool.clone(),
			prometheus_registry.as_ref(),
			telemetry.as_ref().map(|telemetry| telemetry.handle()),
		);

		let slot_duration = babe_link.config().slot_duration();
		let babe = sc_consensus_babe::start_babe(sc_consensus_babe::BabeParams {
			keystore: keystore_container.keystore(),
			client: client.clone(),
			select_chain,
			env: proposer_factory,
			block_import,
			sync_oracle: sync_service.clone(),
			justification_sync_link: sync_service.clone(),
			create_inherent_data_providers: move |_parent, ()| async move {
				Ok(babe_inherent_data_providers(slot_duration))
			},
			force_authoring,
			backoff_authoring_blocks: Some(
				sc_consensus_slots::BackoffAuthoringOnFinalizedHeadLagging::default(),
			),
			babe_link,
			block_proposal_slot_portion: SlotProportion::new(0.5),
			max_block_proposal_slot_portion: None,
			telemetry: telemetry.as_ref().map(|telemetry| telemetry.handle()),
		})?;

		// Block authoring is essential: if it fails, the node goes down with it.
		task_manager.spawn_essential_handle().spawn_blocking(
			"babe-proposer",
			Some("block-authoring"),
			babe,
		);
	}

	// ---- GRANDPA finality
	if enable_grandpa {
		// Only authorities sign votes; other full nodes run the voter without a keystore so
		// that they follow finality promptly (the GRANDPA observer stays disabled).
		let keystore = role.is_authority().then(|| keystore_container.keystore());

		let grandpa_config = sc_consensus_grandpa::Config {
			gossip_duration: GRANDPA_GOSSIP_DURATION,
			justification_generation_period: GRANDPA_JUSTIFICATION_PERIOD,
			name: Some(node_name),
			observer_enabled: false,
			keystore,
			local_role: role,
			telemetry: telemetry.as_ref().map(|telemetry| telemetry.handle()),
			protocol_name: grandpa_protocol_name,
		};

		let grandpa_params = sc_consensus_grandpa::GrandpaParams {
			config: grandpa_config,
			link: grandpa_link,
			network,
			sync: Arc::new(sync_service),
			notification_service: grandpa_notification_service,
			voting_rule: sc_consensus_grandpa::VotingRulesBuilder::default().build(),
			prometheus_registry,
			shared_voter_state,
			telemetry: telemetry.as_ref().map(|telemetry| telemetry.handle()),
			offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(transaction_pool),
		};

		// The GRANDPA voter is essential: if it fails, the node goes down with it.
		task_manager.spawn_essential_handle().spawn_blocking(
			"grandpa-voter",
			None,
			sc_consensus_grandpa::run_grandpa_voter(grandpa_params)?,
		);
	}

	Ok(task_manager)
}
