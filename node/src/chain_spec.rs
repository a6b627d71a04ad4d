//! Built-in chain specifications.
//!
//! The node's chain specs only *name* a genesis preset: the genesis state itself (balances,
//! validators, session keys, sudo, ...) is defined by the runtime's `GenesisBuilder` presets,
//! so there is a single source of truth for genesis.

use appchain_runtime::{SS58_PREFIX, TOKEN_DECIMALS, TOKEN_SYMBOL, WASM_BINARY};
use sc_service::{ChainType, Properties};

/// The libp2p protocol id of the appchain's networks (keeps them apart from other chains).
const PROTOCOL_ID: &str = "appchain";

/// The chain specification type of the appchain (no chain-spec extensions).
pub type ChainSpec = sc_service::GenericChainSpec;

/// Returns the runtime WASM blob embedded in the node, or an error if the node was built
/// without it (e.g. with `SKIP_WASM_BUILD`).
fn wasm_binary() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| {
		"The runtime WASM binary is not available: the node was built without it \
		 (SKIP_WASM_BUILD?). Rebuild without SKIP_WASM_BUILD or use --chain <path to spec>."
			.to_string()
	})
}

/// Chain properties exposed to wallets and UIs (`system_properties`).
pub fn chain_properties() -> Properties {
	let mut properties = Properties::new();
	properties.insert("tokenSymbol".into(), TOKEN_SYMBOL.into());
	properties.insert("tokenDecimals".into(), TOKEN_DECIMALS.into());
	properties.insert("ss58Format".into(), SS58_PREFIX.into());
	properties
}

/// The development chain (`--dev`, `--chain dev`): runtime preset
/// [`sp_genesis_builder::DEV_RUNTIME_PRESET`].
pub fn development_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, Default::default())
		.with_name("Development")
		.with_id("dev")
		.with_chain_type(ChainType::Development)
		.with_protocol_id(PROTOCOL_ID)
		.with_genesis_config_preset_name(sp_genesis_builder::DEV_RUNTIME_PRESET)
		.with_properties(chain_properties())
		.build())
}

/// The local testnet (`--chain local`): runtime preset
/// [`sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET`].
pub fn local_testnet_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, Default::default())
		.with_name("Local Testnet")
		.with_id("local_testnet")
		.with_chain_type(ChainType::Local)
		.with_protocol_id(PROTOCOL_ID)
		.with_genesis_config_preset_name(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)
		.with_properties(chain_properties())
		.build())
}

/// The staging network (`--chain staging`): runtime preset
/// [`appchain_runtime::genesis_config_presets::STAGING_PRESET`], the local validators with no
/// sudo key, governed by the technical committee. The template for a production chain spec.
pub fn staging_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, Default::default())
		.with_name("Staging")
		.with_id("staging")
		.with_chain_type(ChainType::Live)
		.with_protocol_id(PROTOCOL_ID)
		.with_genesis_config_preset_name(appchain_runtime::genesis_config_presets::STAGING_PRESET)
		.with_properties(chain_properties())
		.build())
}

/// Resolves a `--chain` identifier to a chain spec.
///
/// * `"dev"` (also what `--dev` yields) and `""` (no `--chain`): the development chain,
/// * `"local"`: the local testnet,
/// * `"staging"`: the local validators without a sudo key (technical-committee governance),
/// * anything else: a path to a JSON chain-spec file (an error if it cannot be read/parsed).
pub fn load_spec(id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
	Ok(match id {
		"dev" | "" => Box::new(development_chain_spec()?),
		"local" => Box::new(local_testnet_chain_spec()?),
		"staging" => Box::new(staging_chain_spec()?),
		path => Box::new(ChainSpec::from_json_file(std::path::PathBuf::from(path))?),
	})
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn properties_use_runtime_constants() {
		let properties = chain_properties();
		assert_eq!(properties.get("tokenSymbol"), Some(&serde_json::Value::from(TOKEN_SYMBOL)));
		assert_eq!(properties.get("tokenDecimals"), Some(&serde_json::Value::from(TOKEN_DECIMALS)));
		assert_eq!(properties.get("ss58Format"), Some(&serde_json::Value::from(SS58_PREFIX)));
	}

	#[test]
	fn unknown_chain_spec_path_is_an_error() {
		assert!(load_spec("/nonexistent/appchain-spec.json").is_err());
	}

	#[test]
	fn builtin_specs_have_expected_ids() {
		// The built-in specs need the embedded runtime; skip when built without it.
		if WASM_BINARY.is_none() {
			return;
		}
		let dev = load_spec("dev").expect("dev spec builds");
		assert_eq!((dev.id(), dev.name()), ("dev", "Development"));
		assert_eq!(dev.chain_type(), ChainType::Development);
		let local = load_spec("local").expect("local spec builds");
		assert_eq!((local.id(), local.name()), ("local_testnet", "Local Testnet"));
		assert_eq!(local.chain_type(), ChainType::Local);
	}
}
