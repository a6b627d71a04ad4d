//! Types stored by the registry and returned by its runtime API.

use crate::Config;
use appchain_primitives::{Layer, LayerRange, ModelId, NodeId};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use core::fmt::Debug;
use frame_support::{
	pallet_prelude::{BoundedVec, Get},
	traits::fungible::Inspect,
};
use scale_info::TypeInfo;
use sp_runtime::traits::Saturating;

pub type AccountIdOf<T> = <T as frame_system::Config>::AccountId;
pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<AccountIdOf<T>>>::Balance;
pub type BlockNumberOf<T> = frame_system::pallet_prelude::BlockNumberFor<T>;
pub type ModelName<T> = BoundedVec<u8, <T as Config>::MaxModelNameLen>;
pub type Endpoint<T> = BoundedVec<u8, <T as Config>::MaxEndpointLen>;
pub type ModelOf<T> = Model<AccountIdOf<T>, BalanceOf<T>, <T as Config>::MaxModelNameLen>;
pub type ComputeNodeOf<T> =
	ComputeNode<AccountIdOf<T>, BalanceOf<T>, BlockNumberOf<T>, <T as Config>::MaxEndpointLen>;
pub type NodeViewOf<T> = NodeView<AccountIdOf<T>, BalanceOf<T>, BlockNumberOf<T>>;
pub type NodeKindOf<T> = NodeKind<BalanceOf<T>, <T as Config>::MaxEndpointLen>;
pub type ShardMembers<T> = BoundedVec<NodeId, <T as Config>::MaxNodesPerShard>;
pub type OwnedNodes<T> = BoundedVec<NodeId, <T as Config>::MaxNodesPerAccount>;

/// A registered model: every node serving it runs the weights with this digest.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxName))]
pub struct Model<AccountId, Balance, MaxName: Get<u32>> {
	/// Who registered the model and has its deposit held.
	pub owner: AccountId,
	/// Human-readable name, e.g. `llama-3-8b-instruct`.
	pub name: BoundedVec<u8, MaxName>,
	/// Number of transformer layers `m`; routes cover `[0, m)`.
	pub layers: Layer,
	/// Layers per shard of the registry.
	pub shard_size: Layer,
	/// Digest (e.g. SHA-256 over the safetensors files in a documented order) of the weights.
	pub weights_digest: [u8; 32],
	/// Storage deposit held from `owner`.
	pub deposit: Balance,
}

/// What a node offers.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxEndpoint))]
pub enum NodeKind<Balance, MaxEndpoint: Get<u32>> {
	/// Runs the forward pass of `layers` of `model`.
	Inference {
		/// The model served.
		model: ModelId,
		/// The layers served, `[start, end)`.
		layers: LayerRange,
		/// Measured milliseconds per forward pass over `layers`.
		cost_ms: u32,
		/// Price per forward pass over `layers`.
		price: Balance,
		/// Where clients reach the node: a URL or a multiaddr.
		endpoint: BoundedVec<u8, MaxEndpoint>,
	},
	/// Runs SHA-256 nonce-range subjobs.
	Hashing {
		/// Measured hashes per second.
		hash_rate: u64,
	},
}

impl<Balance, MaxEndpoint: Get<u32>> NodeKind<Balance, MaxEndpoint> {
	/// Model and layers of an inference node.
	pub fn inference_layers(&self) -> Option<(ModelId, LayerRange)> {
		match self {
			Self::Inference { model, layers, .. } => Some((*model, *layers)),
			Self::Hashing { .. } => None,
		}
	}
}

/// Where a node is in its life cycle.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum NodeStatus<BlockNumber> {
	/// Registered and listed. Whether it is *serving* also depends on its heartbeats and
	/// collateral, see [`ComputeNode::is_serving`].
	Registered,
	/// Unregistered: out of every shard, collateral still held (and slashable) until the block.
	Unbonding {
		/// First block at which `withdraw` releases the collateral.
		unlocks_at: BlockNumber,
	},
}

/// Reputation counters of a node, updated by the pallets that hand out and check work.
#[derive(
	Clone,
	Copy,
	Default,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct WorkStats {
	/// Units of work delivered and accepted.
	pub completed: u32,
	/// Units of work not delivered or proven wrong.
	pub failed: u32,
	/// Times the node's collateral was slashed.
	pub slashed: u32,
}

/// A registered compute node.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxEndpoint))]
pub struct ComputeNode<AccountId, Balance, BlockNumber, MaxEndpoint: Get<u32>> {
	/// The account that registered the node, pays for and is paid for its work.
	pub owner: AccountId,
	/// What the node serves.
	pub kind: NodeKind<Balance, MaxEndpoint>,
	/// Collateral held from `owner` for this node.
	pub collateral: Balance,
	/// Registered or unbonding.
	pub status: NodeStatus<BlockNumber>,
	/// Block of registration.
	pub registered_at: BlockNumber,
	/// Block of the last heartbeat (registration counts as one).
	pub last_heartbeat: BlockNumber,
	/// Reputation.
	pub stats: WorkStats,
}

impl<AccountId, Balance, BlockNumber, MaxEndpoint>
	ComputeNode<AccountId, Balance, BlockNumber, MaxEndpoint>
where
	Balance: PartialOrd,
	BlockNumber: Copy + PartialOrd + Saturating,
	MaxEndpoint: Get<u32>,
{
	/// Whether the node's heartbeat is recent enough at `now`.
	pub fn is_live(&self, now: BlockNumber, heartbeat_timeout: BlockNumber) -> bool {
		now <= self.last_heartbeat.saturating_add(heartbeat_timeout)
	}

	/// Whether the node may be given work at `now`: registered (not unbonding), heartbeat within
	/// the timeout and at least the minimum collateral held.
	pub fn is_serving(
		&self,
		now: BlockNumber,
		heartbeat_timeout: BlockNumber,
		min_collateral: &Balance,
	) -> bool {
		self.status == NodeStatus::Registered
			&& self.is_live(now, heartbeat_timeout)
			&& self.collateral >= *min_collateral
	}
}

/// Why a node's collateral is slashed.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum SlashReason {
	/// Work under an agreement was not delivered by its deadline.
	MissedDeadline,
	/// Delivered work was proven wrong.
	InvalidWork,
	/// A verification challenge was not answered in time.
	MissedChallenge,
	/// Governance (root) decision.
	Governance,
}

/// What a slash took from a node's collateral.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct SlashOutcome<Balance> {
	/// Taken from the collateral in all.
	pub taken: Balance,
	/// Burnt: the slash's burn share of `taken`, or all of it without a beneficiary.
	pub burnt: Balance,
}

impl<Balance: Saturating + Copy> SlashOutcome<Balance> {
	/// What the beneficiary received: `taken - burnt`.
	pub fn paid(&self) -> Balance {
		self.taken.saturating_sub(self.burnt)
	}
}

/// Outcome of one unit of work, for the reputation counters.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum WorkOutcome {
	/// Delivered and accepted.
	Completed,
	/// Not delivered, or rejected.
	Failed,
}

/// A node as returned by the runtime API: its registration plus whether it is serving now.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct NodeView<AccountId, Balance, BlockNumber> {
	/// Node id.
	pub id: NodeId,
	/// Owner account.
	pub owner: AccountId,
	/// Model served.
	pub model: ModelId,
	/// Layers served.
	pub layers: LayerRange,
	/// Milliseconds per forward pass.
	pub cost_ms: u32,
	/// Price per forward pass.
	pub price: Balance,
	/// Endpoint bytes (UTF-8 URL or multiaddr).
	pub endpoint: alloc::vec::Vec<u8>,
	/// Collateral held.
	pub collateral: Balance,
	/// Last heartbeat block.
	pub last_heartbeat: BlockNumber,
	/// Registered, heartbeat fresh and collateralised: included in routing.
	pub serving: bool,
}

/// Why a registry query could not be answered.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub enum QueryError {
	/// No model with this id.
	UnknownModel,
	/// The model has no shard with this index.
	UnknownShard,
	/// The serving nodes do not cover every layer of the model.
	NoRoute,
	/// Too many Pareto-optimal routes to return them all.
	FrontierTooLarge,
}
