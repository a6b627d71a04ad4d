//! The compute marketplace: node registration, collateral and the sharded layer registry.

use frame_support::{parameter_types, traits::ConstU32};

use super::super::{
	currency::UNITS, time::MINUTES, Balance, Balances, BlockNumber, Runtime, RuntimeHoldReason,
};

parameter_types! {
	/// Registering a model holds 10 CPU until it is removed.
	pub const ModelDeposit: Balance = 10 * UNITS;
	/// A node stakes at least 100 CPU: enough that losing it outweighs skipping work.
	pub const MinCollateral: Balance = 100 * UNITS;
	/// Up to 256 transformer layers per model.
	pub const MaxLayers: u16 = 256;
	/// Free heartbeats at most every 15 s ...
	pub const HeartbeatInterval: BlockNumber = 5;
	/// ... and a node missing them for a minute stops serving.
	pub const HeartbeatTimeout: BlockNumber = MINUTES;
	/// Collateral stays slashable for 5 minutes after unregistering; long enough for an SLA
	/// challenge window on the local networks.
	pub const UnbondingPeriod: BlockNumber = 5 * MINUTES;
}

impl pallet_compute_registry::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ModelDeposit = ModelDeposit;
	type MinCollateral = MinCollateral;
	type MaxLayers = MaxLayers;
	type MaxModelNameLen = ConstU32<64>;
	type MaxEndpointLen = ConstU32<128>;
	type MaxNodesPerShard = ConstU32<64>;
	type MaxShardsPerNode = ConstU32<16>;
	type MaxNodesPerAccount = ConstU32<16>;
	type HeartbeatInterval = HeartbeatInterval;
	type HeartbeatTimeout = HeartbeatTimeout;
	type UnbondingPeriod = UnbondingPeriod;
	type MaxFrontierRoutes = ConstU32<64>;
	type WeightInfo = pallet_compute_registry::weights::SubstrateWeight<Runtime>;
}
