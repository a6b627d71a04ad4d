//! Shared by the runtime's integration tests: genesis state built from a preset.
#![allow(dead_code)]

use appchain_runtime::{genesis_config_presets::get_preset, BuildStorage, RuntimeGenesisConfig};
use serde_json::Value;
use sp_genesis_builder::PresetId;

/// Applies a JSON patch (RFC 7386 merge semantics, as the genesis builder does).
fn json_merge(a: &mut Value, b: Value) {
	match (a, b) {
		(Value::Object(a), Value::Object(b)) =>
			for (k, v) in b {
				json_merge(a.entry(k).or_insert(Value::Null), v);
			},
		(a, b) => *a = b,
	}
}

pub fn build(preset: &str) -> sp_io::TestExternalities {
	let patch = get_preset(&PresetId::from(preset)).expect("preset exists");
	let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).expect("serializable");
	let patch: Value = serde_json::from_slice(&patch).expect("valid json");
	json_merge(&mut config, patch);
	let config: RuntimeGenesisConfig = serde_json::from_value(config).expect("valid config");
	config.build_storage().expect("genesis builds").into()
}

