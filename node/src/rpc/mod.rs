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
//! * `channels_get`, `channels_ofPayer`, `channels_ofPayee`, `channels_genesisHash`
//!   ([`channels`]),
//! * `hashJobs_claimable`, `hashJobs_subjobs` ([`hashjobs`]),
//! * `market_listings`, `market_quote`, `market_agreements` ([`market`]),
//! * `proofs_commitment`, `proofs_ofNode`, `proofs_dutiesOf`, `proofs_probability`
//!   ([`proofs`]).
//!
//! Conventions shared by all of them: an optional last parameter names the block (the best
//! block without it); balances are decimal strings (they do not fit a JSON number); accounts
//! are returned in SS58 with the chain's prefix and accepted in any SS58 format; filtered reads
//! of a storage map return one bounded [`PageJson`] at a time. Error codes: `1010` the runtime
//! call failed, `1020` not an address, `1021` not an amount; each module documents its own.

pub mod channels;
pub mod hashjobs;
pub mod market;
pub mod proofs;
pub mod registry;

use std::sync::Arc;

use appchain_runtime::{opaque::Block, AccountId, Balance, BlockNumber, Nonce};
use appchain_primitives::page::Page;
use jsonrpsee::{types::ErrorObjectOwned, RpcModule};
use serde::Serialize;
use sp_core::crypto::{Ss58AddressFormat, Ss58Codec};
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

/// One page of a filtered read (see `appchain_primitives::page`): pass `next` back as the
/// `after` parameter until it is `null`.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct PageJson<Item, Cursor> {
	/// The entries of this page.
	pub items: Vec<Item>,
	/// Where the next page starts, or `null` after the last page.
	pub next: Option<Cursor>,
}

impl<Item, Cursor> PageJson<Item, Cursor> {
	/// The runtime's `page`, each entry converted by `item`.
	pub fn from_page<T>(page: Page<T, Cursor>, item: impl FnMut(T) -> Item) -> Self {
		Self { items: page.items.into_iter().map(item).collect(), next: page.next }
	}
}

/// `account` in SS58 with the chain's prefix.
pub fn ss58(account: &AccountId) -> String {
	account.to_ss58check_with_version(Ss58AddressFormat::custom(appchain_runtime::SS58_PREFIX))
}

/// `text` as an account: SS58 in any format (the chain's 4242, the generic 42, ...).
pub fn parse_account(text: &str) -> Result<AccountId, ErrorObjectOwned> {
	// Any format, whatever the process default is: the address is the account's public key.
	AccountId::from_ss58check_with_version(text.trim()).map(|(account, _)| account).map_err(|e| {
		ErrorObjectOwned::owned(1020, format!("not an SS58 address: {text:?} ({e:?})"), None::<()>)
	})
}

/// `text` as an amount in the smallest unit: a decimal integer string.
pub fn parse_balance(text: &str) -> Result<Balance, ErrorObjectOwned> {
	text.trim().parse::<Balance>().map_err(|e| {
		ErrorObjectOwned::owned(
			1021,
			format!("not an amount in the smallest unit (a decimal integer): {text:?} ({e})"),
			None::<()>,
		)
	})
}

/// A runtime API call that failed (the runtime trapped, or the block is unknown).
pub fn runtime_error(e: impl std::fmt::Display) -> ErrorObjectOwned {
	ErrorObjectOwned::owned(1010, format!("runtime call failed: {e}"), None::<()>)
}

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
		> + pallet_hash_jobs::runtime_api::HashJobsApi<
			Block,
			pallet_hash_jobs::JobOf<appchain_runtime::Runtime>,
			pallet_hash_jobs::SubjobOf<appchain_runtime::Runtime>,
		> + pallet_compute_market::runtime_api::ComputeMarketApi<
			Block,
			AccountId,
			Balance,
			BlockNumber,
			pallet_compute_market::AgreementOf<appchain_runtime::Runtime>,
		> + pallet_inference_proofs::runtime_api::InferenceProofsApi<
			Block,
			pallet_inference_proofs::CommitmentViewOf<appchain_runtime::Runtime>,
		> + BlockBuilder<Block>,
	P: TransactionPool + 'static,
	SC: SelectChain<Block> + Clone + 'static,
	B: sc_client_api::Backend<Block> + Send + Sync + 'static,
{
	use channels::ChannelsApiServer;
	use hashjobs::HashJobsRpcServer;
	use market::MarketRpcServer;
	use proofs::ProofsRpcServer;
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
	module.merge(hashjobs::HashJobs::new(client.clone()).into_rpc())?;
	module.merge(market::Market::new(client.clone()).into_rpc())?;
	module.merge(proofs::Proofs::new(client.clone()).into_rpc())?;
	let _ = &backend;

	Ok(module)
}
