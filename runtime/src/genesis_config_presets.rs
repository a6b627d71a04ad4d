//! Genesis presets. Chain specs in the node only name one of these.
//!
//! - `development` ([`sp_genesis_builder::DEV_RUNTIME_PRESET`]): Alice is the only validator
//!   and the sudo key; the well-known dev accounts are endowed.
//! - `local_testnet` ([`sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET`]): Alice, Bob,
//!   Charlie and Dave are bonded validators with their dev session keys (BABE sr25519 and
//!   GRANDPA ed25519 of `//Alice`, ...), all dev accounts endowed, Alice is sudo.
//!
//! - `staging`: the shape of a production genesis on the local testnet's keys: the same four
//!   validators, **no sudo key**, and the technical committee (Alice, Bob, Charlie) as the only
//!   way to root: two thirds of it enact root calls (`RootMotions::enact`), runtime upgrades
//!   included. Only the validators and the committee are endowed. A real network replaces the
//!   keys in its chain spec (`build-spec --chain staging`) and keeps the rest.
//!
//! In all of them, Alice, Bob and Charlie form the verifier council that decides disputed work
//! and the technical committee.
//!
//! Validators are identified by their stash account; for these presets stash and controller
//! are the same dev account.

use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_consensus_babe::AuthorityId as BabeId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{PresetId, DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};
use sp_runtime::Perbill;
use sp_staking::StakerStatus;

use crate::{
	currency::UNITS, AccountId, Balance, BalancesConfig, RuntimeGenesisConfig, SessionConfig,
	SessionKeys, StakingConfig, SudoConfig, TechnicalCommitteeConfig, VerifierCouncilConfig, BABE_GENESIS_EPOCH_CONFIG,
};

/// Free balance of every endowed dev account.
pub const ENDOWMENT: Balance = 1_000_000 * UNITS;
/// What each genesis validator bonds.
pub const VALIDATOR_BOND: Balance = 100_000 * UNITS;
/// The minimum bond of a validator candidate.
pub const MIN_VALIDATOR_BOND: Balance = 1_000 * UNITS;
/// The minimum bond of a nominator.
pub const MIN_NOMINATOR_BOND: Balance = 10 * UNITS;
/// Most validator candidates (`validate` fails beyond it).
pub const MAX_VALIDATOR_CANDIDATES: u32 = 1_000;
/// Most nominators (`nominate` fails beyond it); the election takes at most 5,000 voters, the
/// largest stakes first (bags-list).
pub const MAX_NOMINATORS: u32 = 20_000;
/// How many validators each election picks (at most).
pub const VALIDATOR_COUNT: u32 = 16;

/// A genesis validator: its stash account and its session keys.
struct GenesisValidator {
	stash: AccountId,
	keys: SessionKeys,
}

fn dev_validator(sr: Sr25519Keyring, ed: Ed25519Keyring) -> GenesisValidator {
	let babe: BabeId = sr.public().into();
	let grandpa: GrandpaId = ed.public().into();
	GenesisValidator { stash: sr.to_account_id(), keys: SessionKeys { babe, grandpa } }
}

fn testnet_genesis(
	validators: Vec<GenesisValidator>,
	endowed: Vec<AccountId>,
	root: Option<AccountId>,
) -> Value {
	let stakers = validators
		.iter()
		.map(|v| (v.stash.clone(), v.stash.clone(), VALIDATOR_BOND, StakerStatus::<AccountId>::Validator))
		.collect::<Vec<_>>();
	let session_keys = validators
		.iter()
		.map(|v| (v.stash.clone(), v.stash.clone(), v.keys.clone()))
		.collect::<Vec<_>>();
	let minimum_validator_count = u32::try_from(validators.len()).unwrap_or(1).min(2);

	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed.into_iter().map(|who| (who, ENDOWMENT)).collect::<Vec<_>>(),
		},
		babe: pallet_babe::GenesisConfig { epoch_config: BABE_GENESIS_EPOCH_CONFIG },
		session: SessionConfig { keys: session_keys },
		staking: StakingConfig {
			validator_count: VALIDATOR_COUNT,
			minimum_validator_count,
			stakers,
			min_validator_bond: MIN_VALIDATOR_BOND,
			min_nominator_bond: MIN_NOMINATOR_BOND,
			slash_reward_fraction: Perbill::from_percent(10),
			max_validator_count: Some(MAX_VALIDATOR_CANDIDATES),
			max_nominator_count: Some(MAX_NOMINATORS),
		},
		sudo: SudoConfig { key: root },
		verifier_council: VerifierCouncilConfig { members: committee() },
		technical_committee: TechnicalCommitteeConfig { members: committee() },
	})
}

/// Alice, Bob and Charlie: the verifier council and the technical committee of every preset.
fn committee() -> Vec<AccountId> {
	[Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie]
		.iter()
		.map(|k| k.to_account_id())
		.collect()
}

/// Every well-known dev account (`//Alice`, `//Bob`, ... and their `//stash` accounts).
fn dev_accounts() -> Vec<AccountId> {
	Sr25519Keyring::iter().map(|k| k.to_account_id()).collect()
}

/// The `development` preset: Alice validates alone.
pub fn development_genesis() -> Value {
	testnet_genesis(
		vec![dev_validator(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		dev_accounts(),
		Some(Sr25519Keyring::Alice.to_account_id()),
	)
}

/// The `local_testnet` preset: Alice, Bob, Charlie and Dave validate.
pub fn local_testnet_genesis() -> Value {
	testnet_genesis(
		local_validators(),
		dev_accounts(),
		Some(Sr25519Keyring::Alice.to_account_id()),
	)
}

/// The four local validators.
fn local_validators() -> Vec<GenesisValidator> {
	vec![
		dev_validator(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
		dev_validator(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
		dev_validator(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
		dev_validator(Sr25519Keyring::Dave, Ed25519Keyring::Dave),
	]
}

/// Name of the [`staging_genesis`] preset.
pub const STAGING_PRESET: &str = "staging";

/// The `staging` preset: the local validators, no sudo key, the technical committee governs.
pub fn staging_genesis() -> Value {
	let validators = local_validators();
	let mut endowed: Vec<AccountId> = validators.iter().map(|v| v.stash.clone()).collect();
	for member in committee() {
		if !endowed.contains(&member) {
			endowed.push(member);
		}
	}
	testnet_genesis(validators, endowed, None)
}

/// The JSON patch of the preset called `id`, if there is one.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		DEV_RUNTIME_PRESET => development_genesis(),
		LOCAL_TESTNET_RUNTIME_PRESET => local_testnet_genesis(),
		STAGING_PRESET => staging_genesis(),
		_ => return None,
	};
	serde_json::to_string(&patch).ok().map(|json| json.into_bytes())
}

/// The names of the presets this runtime has.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(DEV_RUNTIME_PRESET),
		PresetId::from(LOCAL_TESTNET_RUNTIME_PRESET),
		PresetId::from(STAGING_PRESET),
	]
}
