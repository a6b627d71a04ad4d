//! Node-specific RPC methods.
//!
//! The standard Substrate RPC (`chain_*`, `state_*`, `author_*`, `system_*`, `rpc_methods`
//! and the new JSON-RPC spec `chainHead_*`/`transaction_*`/...) is installed by
//! `sc_service::spawn_tasks`. This module adds the RPC that needs knowledge of the runtime
//! and of the consensus engines:
//!
//! * `system_accountNextIndex`, `system_dryRun` (`substrate-frame-rpc-system`),
//! * `payment_queryInfo`, `payment_queryFeeDetails` (`pallet-transaction-payment-rpc`),
//! * `babe_epochAuthorship` (`sc-consensus-babe-rpc`),
//! * `grandpa_roundState`, `grandpa_proveFinality`, `grandpa_subscribeJustifications`
//!   (`sc-consensus-grandpa-rpc`),
//!
//! plus the appchain's own modules, merged at the spot marked in [`create_full`]:
//!
//! * `registry_shardNodes`, `registry_route`, `registry_paretoRoutes` ([`registry`]),
//! * `channels_get`, `channels_ofPayer`, `channels_genesisHash` ([`channels`]).

pub mod channels;
pub mod registry;

use std::sync::Arc;

use appchain_runtime::{opaque::Block, AccountId, Balance, BlockNumber, Nonce};
use jsonrpsee::RpcModule;
use sc_consensus_babe::BabeWorkerHandle;
use sc_consensus_grandpa::{
	FinalityProofProvider, GrandpaJustificationStream, SharedAuthoritySet, SharedVoterState,
};
pub use sc_rpc::SubscriptionTaskExecutor;
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};
use sp_consensus::SelectChain;
use sp_keystore::KeystorePtr;
use sp_runtime::traits::{Block as BlockT, NumberFor};

/// Dependencies of the BABE RPC.
pub struct BabeDeps {
	/// Keystore holding the node's BABE keys (used by `babe_epochAuthorship`).
	pub keystore: KeystorePtr,
	/// Handle to the BABE worker, used to query epoch data.
	pub babe_worker_handle: BabeWorkerHandle<Block>,
}

/// Dependencies of the GRANDPA RPC.
pub struct GrandpaDeps<B> {
	/// State of the local GRANDPA voter (current round, votes).
	pub shared_voter_state: SharedVoterState,
	/// The current GRANDPA authority set.
	pub shared_authority_set: SharedAuthoritySet<<Block as BlockT>::Hash, NumberFor<Block>>,
	/// Stream of justifications produced or imported by GRANDPA.
	pub justification_stream: GrandpaJustificationStream<Block>,
	/// Executor driving the justification subscriptions.
	pub subscription_executor: SubscriptionTaskExecutor,
	/// Provider of finality proofs (`grandpa_proveFinality`).
	pub finality_provider: Arc<FinalityProofProvider<B, Block>>,
}

/// Everything the node-specific RPC needs.
pub struct FullDeps<C, P, SC, B> {
	/// The client.
	pub client: Arc<C>,
	/// The transaction pool.
	pub pool: Arc<P>,
	/// The chain selection rule.
	pub select_chain: SC,
	/// BABE-specific dependencies.
	pub babe: BabeDeps,
	/// GRANDPA-specific dependencies.
	pub grandpa: GrandpaDeps<B>,
	/// The database backend (e.g. for RPC that reads the offchain storage).
	pub backend: Arc<B>,
}

/// Builds the node-specific RPC module.
///
/// # Adding appchain RPC modules
///
/// Our own `jsonrpsee` modules are merged in the block marked `APPCHAIN RPC` below, one
/// `module.merge(MyRpc::new(client.clone()).into_rpc())?;` line per module. If a module
/// needs a runtime API, add the corresponding `C::Api: MyRuntimeApi<Block, ..>` bound to
/// the `where` clause of this function.
pub fn create_full<C, P, SC, B>(
	deps: FullDeps<C, P, SC, B>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
	C: ProvideRuntimeApi<Block>
		+ HeaderBackend<Block>
		+ HeaderMetadata<Block, Error = BlockChainError>
		+ Send
		+ Sync
		+ 'static,
	C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>
		+ pallet_transaction_payment_rpc::TransactionPaymentRuntimeApi<Block, Balance>
		+ sp_consensus_babe::BabeApi<Block>
		+ pallet_compute_registry::runtime_api::ComputeRegistryApi<
			Block,
			AccountId,
			Balance,
			BlockNumber,
		> + pallet_payment_channels::runtime_api::PaymentChannelsApi<
			Block,
			AccountId,
			Balance,
			BlockNumber,
		> + BlockBuilder<Block>,
	P: TransactionPool + 'static,
	SC: SelectChain<Block> + Clone + 'static,
	B: sc_client_api::Backend<Block> + Send + Sync + 'static,
{
	use channels::ChannelsApiServer;
	use pallet_transaction_payment_rpc::{TransactionPayment, TransactionPaymentApiServer};
	use registry::RegistryApiServer;
	use sc_consensus_babe_rpc::{Babe, BabeApiServer};
	use sc_consensus_grandpa_rpc::{Grandpa, GrandpaApiServer};
	use substrate_frame_rpc_system::{System, SystemApiServer};

	let FullDeps { client, pool, select_chain, babe, grandpa, backend } = deps;
	let BabeDeps { keystore, babe_worker_handle } = babe;
	let GrandpaDeps {
		shared_voter_state,
		shared_authority_set,
		justification_stream,
		subscription_executor,
		finality_provider,
	} = grandpa;

	let mut module = RpcModule::new(());

	module.merge(System::new(client.clone(), pool).into_rpc())?;
	module.merge(TransactionPayment::new(client.clone()).into_rpc())?;
	module
		.merge(Babe::new(client.clone(), babe_worker_handle, keystore, select_chain).into_rpc())?;
	module.merge(
		Grandpa::new(
			subscription_executor,
			shared_authority_set,
			shared_voter_state,
			justification_stream,
			finality_provider,
		)
		.into_rpc(),
	)?;

	// ===================================================================================
	// APPCHAIN RPC: merge the appchain's own jsonrpsee modules here, one line each, e.g.
	//
	//     module.merge(Marketplace::new(client.clone()).into_rpc())?;
	//
	// `client` and `backend` are available.
	// ===================================================================================
	module.merge(registry::Registry::new(client.clone()).into_rpc())?;
	module.merge(channels::Channels::new(client.clone()).into_rpc())?;
	let _ = &backend;

	Ok(module)
}
