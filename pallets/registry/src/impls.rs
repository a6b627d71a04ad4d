//! The registry's logic: calls check everything, then write, then emit.

use crate::{
	collateral, AccountIdOf, BalanceOf, ComputeNodeOf, ComputeNodes, Config, Error, Event,
	HoldReason, Model, ModelName, Models, NextModelId, NextNodeId, NodeCount, NodeKind, NodeKindOf,
	NodeStatus, NodeView, NodeViewOf, Nodes, NodesByOwner, Pallet, QueryError, ReservedCollateral,
	ShardNodes, SlashOutcome, SlashReason, TotalCollateral, WorkOutcome, WorkStats,
};
use alloc::{collections::BTreeSet, vec::Vec};
use appchain_primitives::{
	layers::shard_count,
	routing::{self, Route, RouteCandidate, RouteError},
	Layer, LayerRange, ModelId, NodeId, ShardIndex,
};
use core::ops::RangeInclusive;
use frame_support::{ensure, pallet_prelude::*};
use sp_arithmetic::Perbill;
use sp_runtime::{
	traits::{CheckedAdd, CheckedSub, Saturating, UniqueSaturatedInto, Zero},
	DispatchError,
};

type ShardRange = RangeInclusive<ShardIndex>;

impl<T: Config> Pallet<T> {
	fn now() -> frame_system::pallet_prelude::BlockNumberFor<T> {
		frame_system::Pallet::<T>::block_number()
	}

	/// The node, if `who` owns it.
	fn owned_node(who: &AccountIdOf<T>, node: NodeId) -> Result<ComputeNodeOf<T>, DispatchError> {
		let record = Nodes::<T>::get(node).ok_or(Error::<T>::UnknownNode)?;
		ensure!(record.owner == *who, Error::<T>::NotOwner);
		Ok(record)
	}

	/// The node, if `who` owns it and it is not unbonding.
	fn owned_registered_node(
		who: &AccountIdOf<T>,
		node: NodeId,
	) -> Result<ComputeNodeOf<T>, DispatchError> {
		let record = Self::owned_node(who, node)?;
		ensure!(record.status == NodeStatus::Registered, Error::<T>::NodeUnbonding);
		Ok(record)
	}

	/// Shards of `model` that `layers` overlaps, after checking the range is valid for it.
	fn checked_shards(
		model: &Model<AccountIdOf<T>, BalanceOf<T>, T::MaxModelNameLen>,
		layers: &LayerRange,
	) -> Result<ShardRange, DispatchError> {
		ensure!(!layers.is_empty(), Error::<T>::EmptyLayerRange);
		ensure!(layers.end <= model.layers, Error::<T>::LayerRangeOutsideModel);
		ensure!(
			layers.shard_count(model.shard_size) <= T::MaxShardsPerNode::get(),
			Error::<T>::RangeSpansTooManyShards
		);
		layers.shards(model.shard_size).ok_or_else(|| Error::<T>::EmptyLayerRange.into())
	}

	/// Fails with `ShardFull` unless every shard in `shards` (skipping those in `except`) has room.
	fn ensure_room(
		model: ModelId,
		shards: ShardRange,
		except: Option<&ShardRange>,
	) -> DispatchResult {
		for shard in shards.filter(|s| !except.is_some_and(|e| e.contains(s))) {
			let members = ShardNodes::<T>::decode_len(model, shard).unwrap_or(0);
			ensure!(
				u32::try_from(members).unwrap_or(u32::MAX) < T::MaxNodesPerShard::get(),
				Error::<T>::ShardFull
			);
		}
		Ok(())
	}

	/// Lists `node` in `shards` (skipping those in `except`). Callers checked [`Self::ensure_room`].
	fn join_shards(
		model: ModelId,
		shards: ShardRange,
		except: Option<&ShardRange>,
		node: NodeId,
	) -> DispatchResult {
		for shard in shards.filter(|s| !except.is_some_and(|e| e.contains(s))) {
			ShardNodes::<T>::try_mutate(model, shard, |members| -> DispatchResult {
				if let Err(pos) = members.binary_search(&node) {
					members.try_insert(pos, node).map_err(|_| Error::<T>::ShardFull)?;
				}
				Ok(())
			})?;
		}
		Ok(())
	}

	/// Removes `node` from `shards` (skipping those in `except`).
	fn leave_shards(model: ModelId, shards: ShardRange, except: Option<&ShardRange>, node: NodeId) {
		for shard in shards.filter(|s| !except.is_some_and(|e| e.contains(s))) {
			ShardNodes::<T>::mutate_exists(model, shard, |members| {
				if let Some(list) = members {
					if let Ok(pos) = list.binary_search(&node) {
						list.remove(pos);
					}
					if list.is_empty() {
						*members = None;
					}
				}
			});
		}
	}

	pub(crate) fn do_register_model(
		owner: AccountIdOf<T>,
		name: ModelName<T>,
		layers: Layer,
		shard_size: Layer,
		weights_digest: [u8; 32],
	) -> Result<ModelId, DispatchError> {
		ensure!(!name.is_empty(), Error::<T>::EmptyModelName);
		ensure!(layers >= 1 && layers <= T::MaxLayers::get(), Error::<T>::InvalidLayerCount);
		ensure!(shard_size >= 1 && shard_size <= layers, Error::<T>::InvalidShardSize);
		let id = NextModelId::<T>::get();
		let next = id.checked_add(1).ok_or(Error::<T>::IdsExhausted)?;
		let deposit = T::ModelDeposit::get();
		collateral::ensure_can_hold::<T>(&owner, HoldReason::ModelDeposit, deposit)?;

		collateral::hold::<T>(&owner, HoldReason::ModelDeposit, deposit)?;
		Models::<T>::insert(
			id,
			Model { owner: owner.clone(), name, layers, shard_size, weights_digest, deposit },
		);
		NextModelId::<T>::put(next);

		Self::deposit_event(Event::ModelRegistered {
			model: id,
			owner,
			layers,
			shard_size,
			deposit,
		});
		Ok(id)
	}

	pub(crate) fn do_retire_model(who: &AccountIdOf<T>, model: ModelId) -> DispatchResult {
		let info = Models::<T>::get(model).ok_or(Error::<T>::UnknownModel)?;
		ensure!(info.owner == *who, Error::<T>::NotModelOwner);
		let shards = shard_count(info.layers, info.shard_size).unwrap_or(0);
		for shard in 0..shards {
			let Ok(shard) = ShardIndex::try_from(shard) else { break };
			ensure!(!ShardNodes::<T>::contains_key(model, shard), Error::<T>::ModelInUse);
		}

		collateral::release::<T>(who, HoldReason::ModelDeposit, info.deposit)?;
		Models::<T>::remove(model);
		Self::deposit_event(Event::ModelRetired { model, deposit: info.deposit });
		Ok(())
	}

	pub(crate) fn do_register_node(
		owner: AccountIdOf<T>,
		kind: NodeKindOf<T>,
		collateral: BalanceOf<T>,
	) -> Result<NodeId, DispatchError> {
		let shards = match &kind {
			NodeKind::Inference { model, layers, cost_ms, endpoint, .. } => {
				let info = Models::<T>::get(model).ok_or(Error::<T>::UnknownModel)?;
				let shards = Self::checked_shards(&info, layers)?;
				ensure!(*cost_ms >= 1, Error::<T>::ZeroCost);
				ensure!(!endpoint.is_empty(), Error::<T>::EmptyEndpoint);
				Some((*model, shards))
			},
			NodeKind::Hashing { hash_rate } => {
				ensure!(*hash_rate >= 1, Error::<T>::ZeroHashRate);
				None
			},
		};
		ensure!(collateral >= T::MinCollateral::get(), Error::<T>::CollateralBelowMinimum);
		let mut owned = NodesByOwner::<T>::get(&owner);
		ensure!(
			u32::try_from(owned.len()).unwrap_or(u32::MAX) < T::MaxNodesPerAccount::get(),
			Error::<T>::TooManyNodes
		);
		if let Some((model, range)) = &shards {
			Self::ensure_room(*model, range.clone(), None)?;
		}
		let id = NextNodeId::<T>::get();
		let next = id.checked_add(1).ok_or(Error::<T>::IdsExhausted)?;
		let count = NodeCount::<T>::get().checked_add(1).ok_or(Error::<T>::Overflow)?;
		let total =
			TotalCollateral::<T>::get().checked_add(&collateral).ok_or(Error::<T>::Overflow)?;
		collateral::ensure_can_hold::<T>(&owner, HoldReason::NodeCollateral, collateral)?;
		// Ids only grow, so pushing keeps the list ascending.
		owned.try_push(id).map_err(|_| Error::<T>::TooManyNodes)?;

		collateral::hold::<T>(&owner, HoldReason::NodeCollateral, collateral)?;
		if let Some((model, range)) = shards {
			Self::join_shards(model, range, None, id)?;
		}
		let now = Self::now();
		let event = match &kind {
			NodeKind::Inference { model, layers, cost_ms, price, .. } => {
				Event::InferenceNodeRegistered {
					node: id,
					owner: owner.clone(),
					model: *model,
					layers: *layers,
					cost_ms: *cost_ms,
					price: *price,
					collateral,
				}
			},
			NodeKind::Hashing { hash_rate } => Event::HashingNodeRegistered {
				node: id,
				owner: owner.clone(),
				hash_rate: *hash_rate,
				collateral,
			},
		};
		Nodes::<T>::insert(
			id,
			ComputeNodeOf::<T> {
				owner: owner.clone(),
				kind,
				collateral,
				status: NodeStatus::Registered,
				registered_at: now,
				last_heartbeat: now,
				stats: WorkStats::default(),
			},
		);
		NodesByOwner::<T>::insert(&owner, owned);
		NextNodeId::<T>::put(next);
		NodeCount::<T>::put(count);
		TotalCollateral::<T>::put(total);

		Self::deposit_event(event);
		Ok(id)
	}

	pub(crate) fn do_set_price(
		who: &AccountIdOf<T>,
		node: NodeId,
		new_price: BalanceOf<T>,
	) -> DispatchResult {
		let mut record = Self::owned_registered_node(who, node)?;
		match &mut record.kind {
			NodeKind::Inference { price, .. } => *price = new_price,
			NodeKind::Hashing { .. } => return Err(Error::<T>::NotInferenceNode.into()),
		}
		Nodes::<T>::insert(node, record);
		Self::deposit_event(Event::PriceSet { node, price: new_price });
		Ok(())
	}

	pub(crate) fn do_declare_cost(who: &AccountIdOf<T>, node: NodeId, cost: u32) -> DispatchResult {
		let mut record = Self::owned_registered_node(who, node)?;
		ensure!(cost >= 1, Error::<T>::ZeroCost);
		match &mut record.kind {
			NodeKind::Inference { cost_ms, .. } => *cost_ms = cost,
			NodeKind::Hashing { .. } => return Err(Error::<T>::NotInferenceNode.into()),
		}
		Nodes::<T>::insert(node, record);
		Self::deposit_event(Event::CostDeclared { node, cost_ms: cost });
		Ok(())
	}

	pub(crate) fn do_declare_hash_rate(
		who: &AccountIdOf<T>,
		node: NodeId,
		rate: u64,
	) -> DispatchResult {
		let mut record = Self::owned_registered_node(who, node)?;
		ensure!(rate >= 1, Error::<T>::ZeroHashRate);
		match &mut record.kind {
			NodeKind::Hashing { hash_rate } => *hash_rate = rate,
			NodeKind::Inference { .. } => return Err(Error::<T>::NotHashingNode.into()),
		}
		Nodes::<T>::insert(node, record);
		Self::deposit_event(Event::HashRateDeclared { node, hash_rate: rate });
		Ok(())
	}

	pub(crate) fn do_move_layers(
		who: &AccountIdOf<T>,
		node: NodeId,
		to: LayerRange,
	) -> DispatchResult {
		let mut record = Self::owned_registered_node(who, node)?;
		let (model, from) = record.kind.inference_layers().ok_or(Error::<T>::NotInferenceNode)?;
		ensure!(from != to, Error::<T>::LayerRangeUnchanged);
		let info = Models::<T>::get(model).ok_or(Error::<T>::UnknownModel)?;
		let new_shards = Self::checked_shards(&info, &to)?;
		let old_shards = from.shards(info.shard_size).ok_or(Error::<T>::EmptyLayerRange)?;
		Self::ensure_room(model, new_shards.clone(), Some(&old_shards))?;

		Self::leave_shards(model, old_shards.clone(), Some(&new_shards), node);
		Self::join_shards(model, new_shards, Some(&old_shards), node)?;
		if let NodeKind::Inference { layers, .. } = &mut record.kind {
			*layers = to;
		}
		Nodes::<T>::insert(node, record);
		Self::deposit_event(Event::LayersMoved { node, from, to });
		Ok(())
	}

	pub(crate) fn do_add_collateral(
		who: &AccountIdOf<T>,
		node: NodeId,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let mut record = Self::owned_registered_node(who, node)?;
		let new = record.collateral.checked_add(&amount).ok_or(Error::<T>::Overflow)?;
		let total = TotalCollateral::<T>::get().checked_add(&amount).ok_or(Error::<T>::Overflow)?;
		collateral::ensure_can_hold::<T>(who, HoldReason::NodeCollateral, amount)?;

		collateral::hold::<T>(who, HoldReason::NodeCollateral, amount)?;
		record.collateral = new;
		Nodes::<T>::insert(node, record);
		TotalCollateral::<T>::put(total);
		Self::deposit_event(Event::CollateralAdded { node, amount, collateral: new });
		Ok(())
	}

	pub(crate) fn do_withdraw_collateral(
		who: &AccountIdOf<T>,
		node: NodeId,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let mut record = Self::owned_registered_node(who, node)?;
		let new =
			record.collateral.checked_sub(&amount).ok_or(Error::<T>::InsufficientCollateral)?;
		ensure!(new >= T::MinCollateral::get(), Error::<T>::CollateralBelowMinimum);
		ensure!(new >= ReservedCollateral::<T>::get(node), Error::<T>::ReservedForObligations);

		collateral::release::<T>(who, HoldReason::NodeCollateral, amount)?;
		record.collateral = new;
		Nodes::<T>::insert(node, record);
		TotalCollateral::<T>::mutate(|t| *t = t.saturating_sub(amount));
		Self::deposit_event(Event::CollateralWithdrawn { node, amount, collateral: new });
		Ok(())
	}

	pub(crate) fn do_heartbeat(who: &AccountIdOf<T>, node: NodeId) -> DispatchResult {
		let mut record = Self::owned_registered_node(who, node)?;
		let now = Self::now();
		ensure!(
			now >= record.last_heartbeat.saturating_add(T::HeartbeatInterval::get()),
			Error::<T>::HeartbeatTooEarly
		);
		let revived = !record.is_live(now, T::HeartbeatTimeout::get());

		record.last_heartbeat = now;
		Nodes::<T>::insert(node, record);
		Self::deposit_event(Event::Heartbeat { node, revived });
		Ok(())
	}

	pub(crate) fn do_unregister(who: &AccountIdOf<T>, node: NodeId) -> DispatchResult {
		let record = Self::owned_registered_node(who, node)?;
		Self::start_unbonding(node, record)
	}

	pub(crate) fn do_prune(pruner: AccountIdOf<T>, node: NodeId) -> DispatchResult {
		let record = Nodes::<T>::get(node).ok_or(Error::<T>::UnknownNode)?;
		ensure!(record.status == NodeStatus::Registered, Error::<T>::NodeUnbonding);
		ensure!(!Self::is_serving_now(&record), Error::<T>::StillServing);

		Self::start_unbonding(node, record)?;
		Self::deposit_event(Event::NodePruned { node, pruner });
		Ok(())
	}

	/// Takes a registered node out of every shard and starts its unbonding period.
	fn start_unbonding(node: NodeId, mut record: ComputeNodeOf<T>) -> DispatchResult {
		let shards = match record.kind.inference_layers() {
			Some((model, layers)) => {
				let info = Models::<T>::get(model).ok_or(Error::<T>::UnknownModel)?;
				Some((model, layers.shards(info.shard_size).ok_or(Error::<T>::EmptyLayerRange)?))
			},
			None => None,
		};
		let unlocks_at = Self::now().saturating_add(T::UnbondingPeriod::get());

		if let Some((model, range)) = shards {
			Self::leave_shards(model, range, None, node);
		}
		record.status = NodeStatus::Unbonding { unlocks_at };
		Nodes::<T>::insert(node, record);
		Self::deposit_event(Event::UnbondingStarted { node, unlocks_at });
		Ok(())
	}

	pub(crate) fn do_withdraw(who: &AccountIdOf<T>, node: NodeId) -> DispatchResult {
		let record = Self::owned_node(who, node)?;
		let NodeStatus::Unbonding { unlocks_at } = record.status else {
			return Err(Error::<T>::NotUnbonding.into());
		};
		ensure!(Self::now() >= unlocks_at, Error::<T>::UnbondingNotOver);
		ensure!(ReservedCollateral::<T>::get(node).is_zero(), Error::<T>::ReservedForObligations);
		let mut owned = NodesByOwner::<T>::get(who);

		if !record.collateral.is_zero() {
			collateral::release::<T>(who, HoldReason::NodeCollateral, record.collateral)?;
		}
		owned.retain(|id| *id != node);
		if owned.is_empty() {
			NodesByOwner::<T>::remove(who);
		} else {
			NodesByOwner::<T>::insert(who, owned);
		}
		Nodes::<T>::remove(node);
		NodeCount::<T>::mutate(|c| *c = c.saturating_sub(1));
		TotalCollateral::<T>::mutate(|t| *t = t.saturating_sub(record.collateral));
		Self::deposit_event(Event::NodeWithdrawn {
			node,
			owner: record.owner,
			released: record.collateral,
		});
		Ok(())
	}

	/// Records the node's reservation, removing the entry when it is zero.
	fn set_reserved(node: NodeId, reserved: BalanceOf<T>) {
		if reserved.is_zero() {
			ReservedCollateral::<T>::remove(node);
		} else {
			ReservedCollateral::<T>::insert(node, reserved);
		}
	}

	/// Takes `amount` (which the caller bounded by what it may take) of the node's collateral,
	/// burning [`Config::SlashBurn`] of it and paying the rest to `beneficiary`; counts the
	/// slash and emits `Slashed`. Fails only for an unknown node.
	fn take_collateral(
		node: NodeId,
		amount: BalanceOf<T>,
		beneficiary: Option<&AccountIdOf<T>>,
		reason: SlashReason,
	) -> Result<SlashOutcome<BalanceOf<T>>, DispatchError> {
		let mut record = Nodes::<T>::get(node).ok_or(Error::<T>::UnknownNode)?;
		let wanted = amount.min(record.collateral);

		let outcome = if wanted.is_zero() {
			SlashOutcome::default()
		} else {
			collateral::slash_collateral::<T>(
				&record.owner,
				wanted,
				T::SlashBurn::get(),
				beneficiary,
			)?
		};
		record.collateral = record.collateral.saturating_sub(outcome.taken);
		record.stats.slashed = record.stats.slashed.saturating_add(1);
		Nodes::<T>::insert(node, record);
		TotalCollateral::<T>::mutate(|t| *t = t.saturating_sub(outcome.taken));
		Self::deposit_event(Event::Slashed {
			node,
			amount: outcome.taken,
			burnt: outcome.burnt,
			beneficiary: beneficiary.cloned(),
			reason,
		});
		Ok(outcome)
	}

	fn is_serving_now(record: &ComputeNodeOf<T>) -> bool {
		record.is_serving(Self::now(), T::HeartbeatTimeout::get(), &T::MinCollateral::get())
	}

	/// The nodes listed in shard `shard` of `model`, with whether each is serving now.
	pub fn shard_nodes(
		model: ModelId,
		shard: ShardIndex,
	) -> Result<Vec<NodeViewOf<T>>, QueryError> {
		let info = Models::<T>::get(model).ok_or(QueryError::UnknownModel)?;
		let shards = shard_count(info.layers, info.shard_size).unwrap_or(0);
		ensure!(u32::from(shard) < shards, QueryError::UnknownShard);
		Ok(ShardNodes::<T>::get(model, shard)
			.into_iter()
			.filter_map(|id| {
				let record = Nodes::<T>::get(id)?;
				let serving = Self::is_serving_now(&record);
				match record.kind {
					NodeKind::Inference { model, layers, cost_ms, price, endpoint } => {
						Some(NodeView {
							id,
							owner: record.owner,
							model,
							layers,
							cost_ms,
							price,
							endpoint: endpoint.into_inner(),
							collateral: record.collateral,
							last_heartbeat: record.last_heartbeat,
							serving,
						})
					},
					NodeKind::Hashing { .. } => None,
				}
			})
			.collect())
	}

	/// The model's layer count and the serving nodes of all its shards, each once.
	fn route_candidates(
		model: ModelId,
	) -> Result<(Layer, Vec<RouteCandidate<NodeId>>), QueryError> {
		let info = Models::<T>::get(model).ok_or(QueryError::UnknownModel)?;
		let shards = shard_count(info.layers, info.shard_size).unwrap_or(0);
		let mut ids = BTreeSet::new();
		for shard in 0..shards {
			let Ok(shard) = ShardIndex::try_from(shard) else { break };
			ids.extend(ShardNodes::<T>::get(model, shard));
		}
		let candidates = ids
			.into_iter()
			.filter_map(|id| {
				let record = Nodes::<T>::get(id)?;
				if !Self::is_serving_now(&record) {
					return None;
				}
				match record.kind {
					NodeKind::Inference { layers, cost_ms, price, .. } => Some(RouteCandidate {
						id,
						layers,
						cost: cost_ms,
						price: price.unique_saturated_into(),
					}),
					NodeKind::Hashing { .. } => None,
				}
			})
			.collect();
		Ok((info.layers, candidates))
	}

	fn query_error(e: RouteError) -> QueryError {
		match e {
			RouteError::FrontierTooLarge => QueryError::FrontierTooLarge,
			RouteError::NoLayers | RouteError::InvalidRange(_) | RouteError::NoRoute => {
				QueryError::NoRoute
			},
		}
	}

	/// The lightest route through `model` over serving nodes, for node weight
	/// `alpha * price + (1 - alpha) * cost`.
	pub fn best_route(model: ModelId, alpha: Perbill) -> Result<Route<NodeId>, QueryError> {
		let (layers, candidates) = Self::route_candidates(model)?;
		routing::best_route(layers, &candidates, alpha).map_err(Self::query_error)
	}

	/// The Pareto frontier of (total price, total cost) routes through `model` over serving nodes.
	pub fn pareto_routes(model: ModelId) -> Result<Vec<Route<NodeId>>, QueryError> {
		let (layers, candidates) = Self::route_candidates(model)?;
		routing::pareto_frontier(layers, &candidates, T::MaxFrontierRoutes::get())
			.map_err(Self::query_error)
	}

	/// Checks the registry's invariants:
	///
	/// 1. [`NodeCount`] equals the number of [`Nodes`] and the total length of the
	///    [`NodesByOwner`] lists; every listed id is a node of that owner, listed once, ascending.
	/// 2. Every node and model id is below [`NextNodeId`] / [`NextModelId`].
	/// 3. [`TotalCollateral`] equals the sum of the nodes' collateral.
	/// 4. For every account, the balance held for `NodeCollateral` equals the collateral of its
	///    nodes, and the balance held for `ModelDeposit` equals the deposits of its models.
	/// 5. Every registered inference node serves a valid, non-empty range of an existing model
	///    spanning at most `MaxShardsPerNode` shards.
	/// 6. Every shard list is strictly ascending, and lists exactly the registered (not
	///    unbonding) inference nodes of its model whose range overlaps the shard.
	/// 7. Every reservation belongs to a node, is not zero and is at most the node's
	///    collateral: an obligation's penalty is always covered by held funds.
	#[cfg(any(feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::BTreeMap;
		let fail = |msg: &'static str| -> sp_runtime::TryRuntimeError {
			log::error!(target: crate::LOG_TARGET, "try_state: {msg}");
			msg.into()
		};

		// 1 and 2.
		let next_node = NextNodeId::<T>::get();
		let mut node_count = 0u32;
		let mut collateral_sum = BalanceOf::<T>::zero();
		let mut collateral_by_owner: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		let mut expected_shard_entries = 0u64;
		for (id, node) in Nodes::<T>::iter() {
			node_count = node_count.saturating_add(1);
			ensure!(id < next_node, fail("node id not below NextNodeId"));
			ensure!(
				NodesByOwner::<T>::get(&node.owner).iter().filter(|n| **n == id).count() == 1,
				fail("node not listed exactly once under its owner")
			);
			collateral_sum = collateral_sum.saturating_add(node.collateral);
			let owned = collateral_by_owner.entry(node.owner.clone()).or_default();
			*owned = owned.saturating_add(node.collateral);
			// 5.
			if let (NodeStatus::Registered, Some((model, layers))) =
				(node.status, node.kind.inference_layers())
			{
				let info =
					Models::<T>::get(model).ok_or_else(|| fail("node of an unknown model"))?;
				ensure!(layers.fits(info.layers), fail("node range outside its model"));
				let spans = layers.shard_count(info.shard_size);
				ensure!(spans <= T::MaxShardsPerNode::get(), fail("node spans too many shards"));
				expected_shard_entries = expected_shard_entries.saturating_add(u64::from(spans));
			}
		}
		ensure!(node_count == NodeCount::<T>::get(), fail("NodeCount disagrees with Nodes"));
		let mut listed = 0u32;
		for (owner, ids) in NodesByOwner::<T>::iter() {
			ensure!(!ids.is_empty(), fail("empty NodesByOwner entry"));
			ensure!(ids.windows(2).all(|w| w.first() < w.get(1)), fail("owner list not ascending"));
			for id in ids.iter() {
				let node =
					Nodes::<T>::get(id).ok_or_else(|| fail("owner lists an unknown node"))?;
				ensure!(node.owner == owner, fail("owner lists another account's node"));
			}
			listed = listed.saturating_add(u32::try_from(ids.len()).unwrap_or(u32::MAX));
		}
		ensure!(listed == node_count, fail("NodesByOwner lengths disagree with NodeCount"));

		// 3 and 4.
		ensure!(collateral_sum == TotalCollateral::<T>::get(), fail("TotalCollateral is off"));
		for (owner, sum) in &collateral_by_owner {
			ensure!(
				collateral::held::<T>(owner, HoldReason::NodeCollateral) == *sum,
				fail("held collateral differs from recorded collateral")
			);
		}
		let next_model = NextModelId::<T>::get();
		let mut deposits: BTreeMap<AccountIdOf<T>, BalanceOf<T>> = BTreeMap::new();
		for (id, model) in Models::<T>::iter() {
			ensure!(id < next_model, fail("model id not below NextModelId"));
			let d = deposits.entry(model.owner.clone()).or_default();
			*d = d.saturating_add(model.deposit);
		}
		for (owner, sum) in &deposits {
			ensure!(
				collateral::held::<T>(owner, HoldReason::ModelDeposit) == *sum,
				fail("held model deposits differ from recorded deposits")
			);
		}

		// 6.
		let mut shard_entries = 0u64;
		for (model, shard, members) in ShardNodes::<T>::iter() {
			ensure!(!members.is_empty(), fail("empty shard stored"));
			ensure!(
				members.windows(2).all(|w| w.first() < w.get(1)),
				fail("shard list not strictly ascending")
			);
			let info = Models::<T>::get(model).ok_or_else(|| fail("shard of an unknown model"))?;
			for id in members.iter() {
				let node =
					Nodes::<T>::get(id).ok_or_else(|| fail("shard lists an unknown node"))?;
				ensure!(
					node.status == NodeStatus::Registered,
					fail("shard lists an unbonding node")
				);
				let (m, layers) = node
					.kind
					.inference_layers()
					.ok_or_else(|| fail("shard lists a hashing node"))?;
				ensure!(m == model, fail("shard lists a node of another model"));
				ensure!(
					layers.overlaps_shard(shard, info.shard_size),
					fail("shard lists a node whose range does not overlap it")
				);
			}
			shard_entries =
				shard_entries.saturating_add(u64::try_from(members.len()).unwrap_or(u64::MAX));
		}
		// Every listed entry is a valid (node, overlapped shard) pair, listed once; as many
		// entries as such pairs means none is missing.
		ensure!(
			shard_entries == expected_shard_entries,
			fail("a node is missing from a shard its range overlaps")
		);

		// 7.
		for (id, reserved) in ReservedCollateral::<T>::iter() {
			let node = Nodes::<T>::get(id).ok_or_else(|| fail("reservation of an unknown node"))?;
			ensure!(!reserved.is_zero(), fail("zero reservation stored"));
			ensure!(reserved <= node.collateral, fail("reservation above the node's collateral"));
		}
		Ok(())
	}
}

impl<T: Config> ComputeNodes<AccountIdOf<T>, BalanceOf<T>> for Pallet<T> {
	fn owner(node: NodeId) -> Option<AccountIdOf<T>> {
		Nodes::<T>::get(node).map(|n| n.owner)
	}

	fn is_serving(node: NodeId) -> bool {
		Nodes::<T>::get(node).is_some_and(|n| Self::is_serving_now(&n))
	}

	fn inference_layers(node: NodeId) -> Option<(ModelId, LayerRange)> {
		Nodes::<T>::get(node).and_then(|n| n.kind.inference_layers())
	}

	fn shard_layers(model: ModelId, shard: ShardIndex) -> Option<LayerRange> {
		let info = Models::<T>::get(model)?;
		let start = shard.checked_mul(info.shard_size)?;
		let end = start.checked_add(info.shard_size)?.min(info.layers);
		let layers = LayerRange::new(start, end);
		layers.fits(info.layers).then_some(layers)
	}

	fn price(node: NodeId) -> Option<BalanceOf<T>> {
		match Nodes::<T>::get(node)?.kind {
			NodeKind::Inference { price, .. } => Some(price),
			NodeKind::Hashing { .. } => None,
		}
	}

	fn nodes_covering(model: ModelId, layers: LayerRange) -> alloc::vec::Vec<NodeId> {
		let Some(info) = Models::<T>::get(model) else { return alloc::vec::Vec::new() };
		let Some(shard) = layers.start.checked_div(info.shard_size) else {
			return alloc::vec::Vec::new();
		};
		ShardNodes::<T>::get(model, shard)
			.into_iter()
			.filter(|id| {
				Nodes::<T>::get(id).is_some_and(|n| {
					Self::is_serving_now(&n)
						&& n.kind.inference_layers().is_some_and(|(m, r)| {
							m == model && r.start <= layers.start && layers.end <= r.end
						})
				})
			})
			.collect()
	}

	fn hash_rate(node: NodeId) -> Option<u64> {
		match Nodes::<T>::get(node)?.kind {
			NodeKind::Hashing { hash_rate } => Some(hash_rate),
			NodeKind::Inference { .. } => None,
		}
	}

	fn collateral(node: NodeId) -> BalanceOf<T> {
		Nodes::<T>::get(node).map(|n| n.collateral).unwrap_or_default()
	}

	fn free_collateral(node: NodeId) -> BalanceOf<T> {
		Nodes::<T>::get(node)
			.map(|n| n.collateral.saturating_sub(ReservedCollateral::<T>::get(node)))
			.unwrap_or_default()
	}

	fn reserve(node: NodeId, amount: BalanceOf<T>) -> DispatchResult {
		let record = Nodes::<T>::get(node).ok_or(Error::<T>::UnknownNode)?;
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let reserved =
			ReservedCollateral::<T>::get(node).checked_add(&amount).ok_or(Error::<T>::Overflow)?;
		ensure!(reserved <= record.collateral, Error::<T>::InsufficientFreeCollateral);

		ReservedCollateral::<T>::insert(node, reserved);
		Self::deposit_event(Event::CollateralReserved { node, amount, reserved });
		Ok(())
	}

	fn release_reservation(node: NodeId, amount: BalanceOf<T>) -> DispatchResult {
		ensure!(Nodes::<T>::contains_key(node), Error::<T>::UnknownNode);
		let before = ReservedCollateral::<T>::get(node);
		let released = amount.min(before);
		let reserved = before.saturating_sub(released);

		Self::set_reserved(node, reserved);
		Self::deposit_event(Event::ReservationReleased { node, amount: released, reserved });
		Ok(())
	}

	fn slash_reserved(
		node: NodeId,
		amount: BalanceOf<T>,
		beneficiary: Option<&AccountIdOf<T>>,
		reason: SlashReason,
	) -> Result<SlashOutcome<BalanceOf<T>>, DispatchError> {
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let reserved = ReservedCollateral::<T>::get(node);
		let outcome = Self::take_collateral(node, amount.min(reserved), beneficiary, reason)?;
		Self::set_reserved(node, reserved.saturating_sub(amount.min(reserved)));
		Ok(outcome)
	}

	fn slash(
		node: NodeId,
		amount: BalanceOf<T>,
		beneficiary: Option<&AccountIdOf<T>>,
		reason: SlashReason,
	) -> Result<SlashOutcome<BalanceOf<T>>, DispatchError> {
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let free = Self::free_collateral(node);
		Self::take_collateral(node, amount.min(free), beneficiary, reason)
	}

	fn record_work(node: NodeId, outcome: WorkOutcome) -> Result<(), DispatchError> {
		Nodes::<T>::try_mutate(node, |maybe| -> DispatchResult {
			let record = maybe.as_mut().ok_or(Error::<T>::UnknownNode)?;
			match outcome {
				WorkOutcome::Completed => {
					record.stats.completed = record.stats.completed.saturating_add(1)
				},
				WorkOutcome::Failed => record.stats.failed = record.stats.failed.saturating_add(1),
			}
			Ok(())
		})?;
		Self::deposit_event(Event::WorkRecorded { node, outcome });
		Ok(())
	}
}
