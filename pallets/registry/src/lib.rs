//! # Compute registry
//!
//! Who serves which part of which model, at what cost and price, backed by how much collateral.
//!
//! ## Overview
//!
//! - **Models.** Anyone registers a model (name, number of layers `m`, layer shard size, digest
//!   of its weights) with [`Config::ModelDeposit`] held. Every node serving it must run weights
//!   with that digest.
//! - **Nodes.** An account registers compute nodes, each backed by at least
//!   [`Config::MinCollateral`] held under [`HoldReason::NodeCollateral`]:
//!   - an *inference* node serves layers `[x, y)` of a model, declaring its measured cost `c`
//!     (ms per forward pass over its range), its price `p` per call and an endpoint;
//!   - a *hashing* node declares its measured hash rate.
//!
//!   Owners update price and cost, move to other layers, add or withdraw collateral and send
//!   heartbeats. A node whose last heartbeat is older than [`Config::HeartbeatTimeout`] is not
//!   *serving*: it is left out of routing and other pallets give it no work. Heartbeats on
//!   schedule (at least [`Config::HeartbeatInterval`] apart) are free; early ones fail and pay
//!   the full fee, so they cannot be used to spam the chain for free.
//! - **Unbonding.** `unregister` takes a node out of every shard at once and starts
//!   [`Config::UnbondingPeriod`], during which its collateral can still be slashed; `withdraw`
//!   then releases it.
//! - **Sharded layer registry.** [`ShardNodes`] is keyed by `(model, shard)`: shard `s` lists the
//!   inference nodes whose range overlaps layers `[s * shard_size, (s + 1) * shard_size)`.
//!   Registering, moving or unregistering touches only the shards of the ranges involved, and
//!   reading one shard never loads another.
//! - **Collateral backs obligations.** A pallet that gives a node work whose failure costs a
//!   penalty *reserves* that penalty from the node's collateral when the node takes the work
//!   ([`ComputeNodes::reserve`]): reserved collateral cannot be withdrawn, cannot back another
//!   obligation and cannot be slashed for anything else. The obligation then either releases
//!   its reservation ([`ComputeNodes::release_reservation`]) or is slashed from it
//!   ([`ComputeNodes::slash_reserved`]). A node can take no more obligations than its free
//!   collateral (collateral minus reservations) covers, and leaves the registry
//!   (`withdraw`) only once every obligation has settled.
//! - **Slashing and reputation** for the SLA and proof pallets, through [`ComputeNodes`]. Every
//!   slash burns [`Config::SlashBurn`] of what it takes and pays the rest to its beneficiary.
//!   Design choice: the burnt share is what makes slashing oneself (through a second account
//!   as the "client") cost money, so that self-dealing can move collateral out no faster and
//!   no cheaper than unbonding does.
//! - **Routing.** The runtime API ([`runtime_api::ComputeRegistryApi`]) lists a shard's nodes and
//!   computes the best route for a weight `alpha` and the Pareto frontier, with the algorithms of
//!   [`appchain_primitives::routing`] over serving nodes only.
//!
//! ## Invariants
//!
//! Checked by [`Pallet::do_try_state`] (see there for the list) in `try_state` and after every
//! unit test.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
pub use traits::{ComputeNodes, OnVerifiedWork};
pub use types::*;
pub use weights::WeightInfo;

mod collateral;
mod impls;
pub mod runtime_api;
pub mod traits;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

#[cfg(any(feature = "std", feature = "try-runtime"))]
const LOG_TARGET: &str = "runtime::compute-registry";

// FRAME's macros expand `#[pallet::pallet]`, `#[pallet::storage]` and `#[pallet::error]` into
// `expect`s on values they build themselves. The pallet's logic lives in `impls.rs`, where the
// workspace lints apply in full.
#[allow(clippy::expect_used)]
#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use appchain_primitives::{Layer, LayerRange, ModelId, NodeId};
	use frame_support::{
		pallet_prelude::*,
		traits::fungible::{Mutate, MutateHold},
	};
	use frame_system::pallet_prelude::*;

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The currency collateral and deposits are held in.
		type Currency: Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// Held from whoever registers a model, for as long as the model exists.
		#[pallet::constant]
		type ModelDeposit: Get<BalanceOf<Self>>;

		/// Least collateral a node must hold to register, and to stay serving.
		#[pallet::constant]
		type MinCollateral: Get<BalanceOf<Self>>;

		/// Most layers a model may have.
		#[pallet::constant]
		type MaxLayers: Get<Layer>;

		/// Longest model name, in bytes.
		#[pallet::constant]
		type MaxModelNameLen: Get<u32>;

		/// Longest node endpoint (URL or multiaddr), in bytes.
		#[pallet::constant]
		type MaxEndpointLen: Get<u32>;

		/// Most nodes listed in one layer shard.
		#[pallet::constant]
		type MaxNodesPerShard: Get<u32>;

		/// Most shards one node's layer range may overlap. Bounds the shards a registration, move
		/// or unregistration touches.
		#[pallet::constant]
		type MaxShardsPerNode: Get<u32>;

		/// Most nodes (registered or unbonding) one account may own.
		#[pallet::constant]
		type MaxNodesPerAccount: Get<u32>;

		/// Least number of blocks between two heartbeats of a node; heartbeats on this schedule
		/// are free, earlier ones fail and pay the fee.
		#[pallet::constant]
		type HeartbeatInterval: Get<BlockNumberFor<Self>>;

		/// A node whose last heartbeat is more than this many blocks old is not serving.
		#[pallet::constant]
		type HeartbeatTimeout: Get<BlockNumberFor<Self>>;

		/// Blocks between `unregister` and `withdraw`, during which collateral stays slashable.
		#[pallet::constant]
		type UnbondingPeriod: Get<BlockNumberFor<Self>>;

		/// Most routes the runtime API returns as a Pareto frontier.
		#[pallet::constant]
		type MaxFrontierRoutes: Get<u32>;

		/// Share of every slash that is burnt; the beneficiary gets the rest.
		#[pallet::constant]
		type SlashBurn: Get<sp_runtime::Perbill>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Collateral backing a compute node.
		#[codec(index = 0)]
		NodeCollateral,
		/// Storage deposit of a registered model.
		#[codec(index = 1)]
		ModelDeposit,
	}

	/// Id the next registered model gets.
	#[pallet::storage]
	pub type NextModelId<T> = StorageValue<_, ModelId, ValueQuery>;

	/// Registered models.
	#[pallet::storage]
	pub type Models<T: Config> = StorageMap<_, Twox64Concat, ModelId, ModelOf<T>>;

	/// Id the next registered node gets.
	#[pallet::storage]
	pub type NextNodeId<T> = StorageValue<_, NodeId, ValueQuery>;

	/// Registered and unbonding nodes.
	#[pallet::storage]
	pub type Nodes<T: Config> = StorageMap<_, Twox64Concat, NodeId, ComputeNodeOf<T>>;

	/// Nodes of each account, ascending.
	#[pallet::storage]
	pub type NodesByOwner<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, OwnedNodes<T>, ValueQuery>;

	/// The sharded layer registry: the registered inference nodes of `model` whose layer range
	/// overlaps shard `shard`, ascending by id.
	#[pallet::storage]
	pub type ShardNodes<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		ModelId,
		Twox64Concat,
		appchain_primitives::ShardIndex,
		ShardMembers<T>,
		ValueQuery,
	>;

	/// Number of entries in [`Nodes`].
	#[pallet::storage]
	pub type NodeCount<T> = StorageValue<_, u32, ValueQuery>;

	/// Sum of the collateral of all entries in [`Nodes`].
	#[pallet::storage]
	pub type TotalCollateral<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// The part of each node's collateral reserved for the obligations it has taken (accepted
	/// agreements, claimed subjobs); never more than its collateral. Nodes without obligations
	/// have no entry.
	#[pallet::storage]
	pub type ReservedCollateral<T: Config> =
		StorageMap<_, Twox64Concat, NodeId, BalanceOf<T>, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A model was registered and its deposit held.
		ModelRegistered {
			model: ModelId,
			owner: T::AccountId,
			layers: Layer,
			shard_size: Layer,
			deposit: BalanceOf<T>,
		},
		/// An inference node was registered and listed in the shards its layers overlap.
		InferenceNodeRegistered {
			node: NodeId,
			owner: T::AccountId,
			model: ModelId,
			layers: LayerRange,
			cost_ms: u32,
			price: BalanceOf<T>,
			collateral: BalanceOf<T>,
		},
		/// A hashing node was registered.
		HashingNodeRegistered {
			node: NodeId,
			owner: T::AccountId,
			hash_rate: u64,
			collateral: BalanceOf<T>,
		},
		/// An inference node changed its price.
		PriceSet { node: NodeId, price: BalanceOf<T> },
		/// An inference node declared a new measured cost.
		CostDeclared { node: NodeId, cost_ms: u32 },
		/// A hashing node declared a new measured hash rate.
		HashRateDeclared { node: NodeId, hash_rate: u64 },
		/// An inference node moved to other layers (and shards).
		LayersMoved { node: NodeId, from: LayerRange, to: LayerRange },
		/// Collateral was added to a node.
		CollateralAdded { node: NodeId, amount: BalanceOf<T>, collateral: BalanceOf<T> },
		/// Collateral was released from a node.
		CollateralWithdrawn { node: NodeId, amount: BalanceOf<T>, collateral: BalanceOf<T> },
		/// A node sent a heartbeat; `revived` if it had timed out before.
		Heartbeat { node: NodeId, revived: bool },
		/// A node left the registry; its collateral stays slashable until `unlocks_at`.
		UnbondingStarted { node: NodeId, unlocks_at: BlockNumberFor<T> },
		/// The owner retired a model no node served; its deposit was released.
		ModelRetired { model: ModelId, deposit: BalanceOf<T> },
		/// A node that had stopped serving was taken out of the registry by `pruner`.
		NodePruned { node: NodeId, pruner: T::AccountId },
		/// An unbonded node was removed and its collateral released.
		NodeWithdrawn { node: NodeId, owner: T::AccountId, released: BalanceOf<T> },
		/// `amount` of a node's collateral was slashed: `burnt` of it was burnt and the rest paid
		/// to `beneficiary` (all of it burnt when `None`).
		Slashed {
			node: NodeId,
			amount: BalanceOf<T>,
			burnt: BalanceOf<T>,
			beneficiary: Option<T::AccountId>,
			reason: SlashReason,
		},
		/// `amount` of a node's collateral was reserved for an obligation it took; `reserved` is
		/// its total reservation now.
		CollateralReserved { node: NodeId, amount: BalanceOf<T>, reserved: BalanceOf<T> },
		/// An obligation settled without penalty and released `amount` of the node's
		/// reservation; `reserved` is what is left reserved.
		ReservationReleased { node: NodeId, amount: BalanceOf<T>, reserved: BalanceOf<T> },
		/// A unit of work by a node was recorded for its reputation.
		WorkRecorded { node: NodeId, outcome: WorkOutcome },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The model name is empty.
		EmptyModelName,
		/// A model needs between 1 and `MaxLayers` layers.
		InvalidLayerCount,
		/// The shard size must be between 1 and the model's number of layers.
		InvalidShardSize,
		/// No model with this id.
		UnknownModel,
		/// No node with this id.
		UnknownNode,
		/// The layer range `[start, end)` is empty.
		EmptyLayerRange,
		/// The layer range ends past the model's last layer.
		LayerRangeOutsideModel,
		/// The layer range overlaps more than `MaxShardsPerNode` shards.
		RangeSpansTooManyShards,
		/// The node already serves exactly this range.
		LayerRangeUnchanged,
		/// A shard the range overlaps already lists `MaxNodesPerShard` nodes.
		ShardFull,
		/// The account already owns `MaxNodesPerAccount` nodes.
		TooManyNodes,
		/// The cost of a forward pass must be at least 1 ms.
		ZeroCost,
		/// The hash rate must be at least 1 hash per second.
		ZeroHashRate,
		/// The endpoint is empty.
		EmptyEndpoint,
		/// The amount must not be zero.
		ZeroAmount,
		/// The node would hold less than `MinCollateral`.
		CollateralBelowMinimum,
		/// The node holds less collateral than asked for.
		InsufficientCollateral,
		/// The account cannot afford to hold that much.
		InsufficientBalance,
		/// Only the node's owner may do this.
		NotOwner,
		/// The node is not an inference node.
		NotInferenceNode,
		/// The node is not a hashing node.
		NotHashingNode,
		/// The node is unbonding and can no longer be changed.
		NodeUnbonding,
		/// The node is not unbonding: unregister it first.
		NotUnbonding,
		/// The unbonding period has not ended yet.
		UnbondingNotOver,
		/// The last heartbeat is less than `HeartbeatInterval` blocks old.
		HeartbeatTooEarly,
		/// No more model or node ids.
		IdsExhausted,
		/// An amount overflowed.
		Overflow,
		/// The collateral is reserved for obligations the node has not settled yet (accepted
		/// agreements, claimed subjobs): settle them first.
		ReservedForObligations,
		/// The node's free collateral (collateral minus reservations) does not cover the
		/// penalty of another obligation.
		InsufficientFreeCollateral,
		/// The node is still serving: only its owner may take it out.
		StillServing,
		/// Only the model's owner may do this.
		NotModelOwner,
		/// Registered nodes still serve the model.
		ModelInUse,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxLayers::get() >= 1, "MaxLayers must be at least 1");
			assert!(T::MaxNodesPerShard::get() >= 1, "MaxNodesPerShard must be at least 1");
			assert!(T::MaxShardsPerNode::get() >= 1, "MaxShardsPerNode must be at least 1");
			assert!(T::MaxNodesPerAccount::get() >= 1, "MaxNodesPerAccount must be at least 1");
			assert!(
				T::HeartbeatInterval::get() < T::HeartbeatTimeout::get(),
				"a node must be able to heartbeat before it times out"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Register a model of `layers` layers split into shards of `shard_size` layers, whose
		/// weights have digest `weights_digest`. Holds [`Config::ModelDeposit`].
		#[pallet::call_index(0)]
		pub fn register_model(
			origin: OriginFor<T>,
			name: ModelName<T>,
			layers: Layer,
			shard_size: Layer,
			weights_digest: [u8; 32],
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_register_model(who, name, layers, shard_size, weights_digest).map(|_| ())
		}

		/// Register an inference node serving `layers` of `model`, holding `collateral` (at least
		/// [`Config::MinCollateral`]). Lists it in every shard the range overlaps.
		#[pallet::call_index(1)]
		pub fn register_inference_node(
			origin: OriginFor<T>,
			model: ModelId,
			layers: LayerRange,
			cost_ms: u32,
			price: BalanceOf<T>,
			endpoint: Endpoint<T>,
			collateral: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let kind = NodeKind::Inference { model, layers, cost_ms, price, endpoint };
			Self::do_register_node(who, kind, collateral).map(|_| ())
		}

		/// Register a hashing node with its measured `hash_rate` (hashes per second), holding
		/// `collateral` (at least [`Config::MinCollateral`]).
		#[pallet::call_index(2)]
		pub fn register_hashing_node(
			origin: OriginFor<T>,
			hash_rate: u64,
			collateral: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_register_node(who, NodeKind::Hashing { hash_rate }, collateral).map(|_| ())
		}

		/// Set the price per forward pass of an inference node.
		#[pallet::call_index(3)]
		pub fn set_price(
			origin: OriginFor<T>,
			node: NodeId,
			price: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_set_price(&who, node, price)
		}

		/// Declare a newly measured cost (ms per forward pass) of an inference node.
		#[pallet::call_index(4)]
		pub fn declare_cost(origin: OriginFor<T>, node: NodeId, cost_ms: u32) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_declare_cost(&who, node, cost_ms)
		}

		/// Declare a newly measured hash rate (hashes per second) of a hashing node.
		#[pallet::call_index(5)]
		pub fn declare_hash_rate(
			origin: OriginFor<T>,
			node: NodeId,
			hash_rate: u64,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_declare_hash_rate(&who, node, hash_rate)
		}

		/// Move an inference node to other layers of its model: it leaves the shards only the old
		/// range overlaps and joins those only the new one overlaps.
		#[pallet::call_index(6)]
		pub fn move_layers(
			origin: OriginFor<T>,
			node: NodeId,
			layers: LayerRange,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_move_layers(&who, node, layers)
		}

		/// Hold `amount` more collateral for a node.
		#[pallet::call_index(7)]
		pub fn add_collateral(
			origin: OriginFor<T>,
			node: NodeId,
			amount: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_add_collateral(&who, node, amount)
		}

		/// Release `amount` of a node's collateral, keeping at least [`Config::MinCollateral`]
		/// and everything reserved for its open obligations.
		#[pallet::call_index(8)]
		pub fn withdraw_collateral(
			origin: OriginFor<T>,
			node: NodeId,
			amount: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_withdraw_collateral(&who, node, amount)
		}

		/// Tell the chain the node is up. Free when at least [`Config::HeartbeatInterval`] blocks
		/// after the last one; earlier calls fail with `HeartbeatTooEarly` and pay the fee.
		#[pallet::call_index(9)]
		pub fn heartbeat(origin: OriginFor<T>, node: NodeId) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			Self::do_heartbeat(&who, node)?;
			Ok(Pays::No.into())
		}

		/// Take a node out of the registry and start unbonding its collateral.
		#[pallet::call_index(10)]
		pub fn unregister(origin: OriginFor<T>, node: NodeId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_unregister(&who, node)
		}

		/// Remove a node whose unbonding period is over and whose obligations have all settled,
		/// and release its collateral.
		#[pallet::call_index(11)]
		pub fn withdraw(origin: OriginFor<T>, node: NodeId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_withdraw(&who, node)
		}

		/// Retire a model no registered node serves and release its deposit.
		///
		/// - origin: the model's owner;
		/// - fails with `ModelInUse` while any shard of the model lists a node. Nodes still
		///   unbonding from it keep their collateral and withdraw as usual.
		#[pallet::call_index(13)]
		pub fn retire_model(origin: OriginFor<T>, model: ModelId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_retire_model(&who, model)
		}

		/// Take a registered node that is not serving (no heartbeat within
		/// [`Config::HeartbeatTimeout`], or collateral below the minimum) out of every shard and
		/// start its unbonding, as `unregister` would.
		///
		/// - origin: anyone, so that dead nodes cannot fill a shard for ever;
		/// - the owner keeps its collateral and may `withdraw` it after unbonding.
		#[pallet::call_index(12)]
		pub fn prune(origin: OriginFor<T>, node: NodeId) -> DispatchResult {
			let pruner = ensure_signed(origin)?;
			Self::do_prune(pruner, node)
		}
	}
}
