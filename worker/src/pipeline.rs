//! Generating text through a route of inference nodes, with failover.
//!
//! The client runs the model's two ends ([`ClientHead`]) and the [`Decoder`]; each step's
//! activations go through the route's hops in layer order. The client keeps, for every layer
//! boundary it has seen, the activations that crossed it at every step. When a hop fails,
//! [`Pipeline`] asks its [`Planner`] for a new route without that node; hops the new route
//! keeps (same node, same layers) keep their sessions, and every new hop is brought up to
//! date by replaying the recorded inputs at its first layer, step by step as the first nodes
//! saw them. The replacement therefore computes what the failed node computed (bit for bit
//! on the same build and CPU class) and the text does not change.
//!
//! Every step's signed receipt is checked against the hop's node and owner
//! ([`ReceiptPolicy`]; a hop that sends none, or a wrong one, fails like an unreachable one:
//! it is excluded and routed around) and kept ([`Pipeline::receipts`]), so that the client
//! can later prove what each node claimed to compute.

use std::{collections::BTreeMap, time::Instant};

use appchain_llm_engine::{ClientHead, Decoder};
use appchain_primitives::{
	routing::{best_route, RouteCandidate},
	LayerRange,
};

use crate::{
	error::WorkerError,
	node_api::{
		client::{Hop, HopError, ReceiptCheck},
		ApiErrorCode,
	},
	payments::Wallet,
	proofs::SignedReceipt,
};

/// One node of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedHop {
	/// Node id on chain.
	pub node: u64,
	/// Its owner's public key: the signer of its receipts.
	pub owner: [u8; 32],
	/// Its endpoint.
	pub endpoint: String,
	/// Layers `[start, end)`.
	pub layers: (u32, u32),
	/// Price per forward pass.
	pub price: u128,
	/// Declared ms per forward pass.
	pub cost_ms: u32,
}

/// Where routes come from: the chain (`infer`) or a fixed list (tests).
pub trait Planner {
	/// A route covering every layer, avoiding the nodes in `exclude`.
	fn plan(
		&mut self,
		exclude: &[u64],
	) -> impl std::future::Future<Output = Result<Vec<PlannedHop>, WorkerError>> + Send;

	/// The chain's best block when the last route was planned, if routes come from a chain:
	/// a session a node stamps more than [`SESSION_STAMP_SLACK`] blocks before it or
	/// [`SESSION_STAMP_AHEAD`] after it is refused, since its receipts could not be audited
	/// at once and for the chain's whole audit window.
	fn chain_head(&self) -> Option<u32> {
		None
	}
}

/// How many blocks a session's stamp ([`appchain_primitives::receipt::session_id`]) may be
/// behind the chain's head as the client saw it (a node a little behind the chain) ...
pub const SESSION_STAMP_SLACK: u32 = 20;

/// ... and ahead of it: the route was planned a few blocks before the session opened (a
/// channel may have been opened in between). The chain audits a session only from its stamp
/// on, so `audit` waits for a session stamped ahead; stamping ahead only delays an audit.
pub const SESSION_STAMP_AHEAD: u32 = 20;

/// Routes over a fixed list of nodes with the chain's own algorithm (`best_route`, weight
/// `alpha · price + (1 − alpha) · cost`): for tests, benchmarks and private deployments
/// without a registry.
pub struct FixedPlanner {
	/// The nodes to choose from.
	pub nodes: Vec<PlannedHop>,
	/// Layers of the model.
	pub layers: u16,
	/// Route weight.
	pub alpha: sp_arithmetic::Perbill,
}

impl Planner for FixedPlanner {
	async fn plan(&mut self, exclude: &[u64]) -> Result<Vec<PlannedHop>, WorkerError> {
		let candidates: Vec<RouteCandidate<u64>> = self
			.nodes
			.iter()
			.filter(|n| !exclude.contains(&n.node))
			.map(|n| RouteCandidate {
				id: n.node,
				layers: LayerRange {
					start: u16::try_from(n.layers.0).unwrap_or(u16::MAX),
					end: u16::try_from(n.layers.1).unwrap_or(u16::MAX),
				},
				cost: n.cost_ms,
				price: n.price,
			})
			.collect();
		let route = best_route(self.layers, &candidates, self.alpha)
			.map_err(|e| WorkerError::Hop(format!("no route without nodes {exclude:?}: {e:?}")))?;
		Ok(route
			.nodes
			.iter()
			.filter_map(|id| self.nodes.iter().find(|n| n.node == *id).cloned())
			.collect())
	}
}

/// What happened at one generated token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEvent {
	/// The token.
	pub token: u32,
	/// Milliseconds from the step's start to its token.
	pub latency_ms: f64,
	/// Tokens pushed through the layers in the step (the prompt's length for the first).
	pub step_tokens: usize,
}

/// A failover, reported to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
	/// The node that failed.
	pub failed: u64,
	/// Why.
	pub reason: String,
	/// The new route's nodes.
	pub route: Vec<u64>,
	/// Forward passes replayed to bring new hops up to date.
	pub replayed: usize,
}

/// How the pipeline treats receipts: the chain they are signed for, and whether a step
/// without one is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptPolicy {
	/// The genesis hash of the chain receipts are signed for.
	pub genesis: [u8; 32],
	/// Refuse (and route around) a node that sends no receipt. On by default; off only for
	/// nodes that predate receipts (`infer --allow-unsigned`). A receipt that is sent is
	/// always checked.
	pub require: bool,
	/// The client's account, sent when a session opens ([`CLIENT_HEADER`]): the nodes name
	/// it when they commit the session's receipts on chain, and it is refunded if a step is
	/// proven wrong.
	///
	/// [`CLIENT_HEADER`]: crate::node_api::CLIENT_HEADER
	pub client: Option<[u8; 32]>,
}

impl ReceiptPolicy {
	/// Receipts required, signed for the chain with genesis `genesis`.
	pub fn required(genesis: [u8; 32]) -> Self {
		Self { genesis, require: true, client: None }
	}

	/// Names `client` as the account the receipts are for.
	pub fn for_client(mut self, client: [u8; 32]) -> Self {
		self.client = Some(client);
		self
	}
}

/// A checked receipt the pipeline kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HopReceipt {
	/// The node's endpoint, where its kept inputs can be read.
	pub endpoint: String,
	/// The node's owner, `0x` hex: the receipt's signer.
	pub owner: String,
	/// The receipt (its fields are flattened into the JSON object).
	#[serde(flatten)]
	pub signed: SignedReceipt,
}

struct LiveHop {
	plan: PlannedHop,
	hop: Hop,
	/// Steps this hop has computed.
	done: usize,
}

/// A route being driven.
pub struct Pipeline<P: Planner> {
	planner: P,
	http: reqwest::Client,
	model: u32,
	hidden: u32,
	layers: u32,
	hops: Vec<LiveHop>,
	excluded: Vec<u64>,
	/// `boundary layer → step → activations that crossed it`.
	crossed: BTreeMap<u32, Vec<Vec<f32>>>,
	positions: Vec<usize>,
	/// Most re-routes in one generation.
	pub max_failovers: usize,
	failovers: Vec<Failover>,
	/// Per node: forward passes made and their total at the route's prices.
	pub passes: BTreeMap<u64, (u64, u128)>,
	/// Pays each forward pass with a voucher of the channel to its node (none: unpaid).
	wallet: Option<std::sync::Arc<Wallet>>,
	/// How receipts are checked.
	receipt_policy: ReceiptPolicy,
	/// Every checked receipt, in the order the steps were computed.
	receipts: Vec<HopReceipt>,
}

/// How long a hop whose node does not see our channel yet is retried (a channel opened in the
/// last finalized block may reach the node a block later).
const UNKNOWN_CHANNEL_RETRIES: usize = 20;

/// Why a forward step failed: the hop (route around it) or here (stop).
enum ForwardError {
	Hop(HopError),
	Local(WorkerError),
}

fn hop_error(e: HopError) -> WorkerError {
	WorkerError::Hop(e.to_string())
}

impl<P: Planner> Pipeline<P> {
	/// Plans the first route and opens a session on each hop, whose receipts are checked by
	/// `receipts`.
	pub async fn start(
		planner: P,
		http: reqwest::Client,
		model: u32,
		head: &ClientHead,
		receipts: ReceiptPolicy,
	) -> Result<Self, WorkerError> {
		let mut pipeline = Self {
			planner,
			http,
			model,
			hidden: head.config().hidden as u32,
			layers: head.config().layers,
			hops: Vec::new(),
			excluded: Vec::new(),
			crossed: BTreeMap::new(),
			positions: Vec::new(),
			max_failovers: 3,
			failovers: Vec::new(),
			passes: BTreeMap::new(),
			wallet: None,
			receipt_policy: receipts,
			receipts: Vec::new(),
		};
		// A listed node can be gone (its heartbeats not yet timed out): route around it.
		'plan: loop {
			let route = pipeline.planner.plan(&pipeline.excluded).await?;
			pipeline.check_route(&route)?;
			for plan in route {
				match pipeline.open(&plan).await {
					Ok(hop) => pipeline.hops.push(LiveHop { plan, hop, done: 0 }),
					Err(e) => {
						let reason = e.to_string();
						tracing::warn!(event = "hop_failed", node = plan.node, error = %reason, "node {} failed: {reason}", plan.node);
						if pipeline.excluded.len() >= pipeline.max_failovers {
							return Err(WorkerError::Hop(format!("no reachable route: {reason}")));
						}
						pipeline.excluded.push(plan.node);
						for open in std::mem::take(&mut pipeline.hops) {
							open.hop.close().await;
						}
						continue 'plan;
					},
				}
			}
			return Ok(pipeline);
		}
	}

	fn check_route(&self, route: &[PlannedHop]) -> Result<(), WorkerError> {
		let mut at = 0;
		for hop in route {
			if hop.layers.0 != at || hop.layers.1 <= hop.layers.0 {
				return Err(WorkerError::Hop(format!(
					"the route does not tile the model's layers: node {} serves {:?} after layer {at}",
					hop.node, hop.layers
				)));
			}
			at = hop.layers.1;
		}
		if at != self.layers {
			return Err(WorkerError::Hop(format!(
				"the route covers layers [0, {at}) of {}",
				self.layers
			)));
		}
		Ok(())
	}

	async fn open(&self, plan: &PlannedHop) -> Result<Hop, HopError> {
		let hop = Hop::open_for(
			self.http.clone(),
			&plan.endpoint,
			self.model,
			plan.layers,
			self.hidden,
			self.receipt_policy.client,
		)
		.await?;
		if let Some(head) = self.planner.chain_head() {
			let stamp = appchain_primitives::receipt::session_block(&hop.session());
			if stamp > head.saturating_add(SESSION_STAMP_AHEAD)
				|| head.saturating_sub(stamp) > SESSION_STAMP_SLACK
			{
				hop.close().await;
				return Err(HopError::Garbage {
					endpoint: plan.endpoint.clone(),
					reason: format!(
						"session stamped with block {stamp}, the chain is at {head}: its receipts could not be audited"
					),
				});
			}
		}
		Ok(hop.with_receipts(ReceiptCheck {
			node: plan.node,
			owner: plan.owner,
			genesis: self.receipt_policy.genesis,
			require: self.receipt_policy.require,
		}))
	}

	/// Every checked receipt so far, in the order the steps were computed (a replacement's
	/// replayed steps included; a failed node's earlier receipts kept).
	pub fn receipts(&self) -> &[HopReceipt] {
		&self.receipts
	}

	/// Pays every forward pass from now on with `wallet`'s vouchers.
	pub fn pay_with(&mut self, wallet: std::sync::Arc<Wallet>) {
		self.wallet = Some(wallet);
	}

	/// Sends one step to hop `j`, paying for it: a node that does not see the channel yet is
	/// asked again a little later.
	async fn forward_paid(
		&self,
		j: usize,
		position: usize,
		input: &[f32],
	) -> Result<(Vec<f32>, Option<SignedReceipt>), ForwardError> {
		let plan = &self.hops[j].plan;
		// One voucher per pass: a retry offers the same one again.
		let voucher = match &self.wallet {
			Some(wallet) => wallet.pay(plan.node, plan.price).map_err(ForwardError::Local)?,
			None => None,
		};
		let mut tries = 0;
		loop {
			match self.hops[j].hop.forward(position, input, voucher.as_ref()).await {
				Err(HopError::Refused { code: Some(ApiErrorCode::UnknownChannel), .. })
					if tries < UNKNOWN_CHANNEL_RETRIES =>
				{
					tries += 1;
					tracing::debug!(
						event = "channel_not_seen",
						node = plan.node,
						tries,
						"node {} does not see the channel yet",
						plan.node
					);
					tokio::time::sleep(std::time::Duration::from_millis(500)).await;
				},
				other => return other.map_err(ForwardError::Hop),
			}
		}
	}

	/// The current route.
	pub fn route(&self) -> Vec<PlannedHop> {
		self.hops.iter().map(|h| h.plan.clone()).collect()
	}

	/// The failovers so far.
	pub fn failovers(&self) -> &[Failover] {
		&self.failovers
	}

	/// Runs one decoder step through the route: returns the last layer's output.
	async fn step(&mut self, position: usize, input: Vec<f32>) -> Result<Vec<f32>, WorkerError> {
		let s = self.positions.len();
		self.positions.push(position);
		self.crossed.entry(0).or_default().push(input);
		'route: loop {
			for j in 0..self.hops.len() {
				while self.hops[j].done <= s {
					let k = self.hops[j].done;
					let (start, end) = self.hops[j].plan.layers;
					let input = self
						.crossed
						.get(&start)
						.and_then(|steps| steps.get(k))
						.cloned()
						.ok_or_else(|| {
							WorkerError::Hop(format!("no activations recorded at layer {start}"))
						})?;
					match self.forward_paid(j, self.positions[k], &input).await {
						Ok((out, receipt)) => {
							if let Some(signed) = receipt {
								let plan = &self.hops[j].plan;
								self.receipts.push(HopReceipt {
									endpoint: plan.endpoint.clone(),
									owner: format!("0x{}", hex::encode(plan.owner)),
									signed,
								});
							}
							let steps = self.crossed.entry(end).or_default();
							if steps.len() == k {
								steps.push(out);
							} else if let Some(old) = steps.get_mut(k) {
								*old = out;
							}
							self.hops[j].done += 1;
							let made = self.passes.entry(self.hops[j].plan.node).or_default();
							made.0 += 1;
							made.1 = made.1.saturating_add(self.hops[j].plan.price);
						},
						Err(ForwardError::Hop(e)) => {
							self.fail_over(j, e).await?;
							continue 'route;
						},
						Err(ForwardError::Local(e)) => return Err(e),
					}
				}
			}
			break;
		}
		self.crossed
			.get(&self.layers)
			.and_then(|steps| steps.get(s))
			.cloned()
			.ok_or_else(|| WorkerError::Hop("the route produced no output".into()))
	}

	async fn fail_over(&mut self, j: usize, error: HopError) -> Result<(), WorkerError> {
		let failed = self.hops[j].plan.node;
		let reason = error.to_string();
		tracing::warn!(event = "hop_failed", node = failed, error = %reason, "node {failed} failed: {reason}");
		if self.failovers.len() >= self.max_failovers {
			return Err(WorkerError::Hop(format!(
				"giving up after {} failovers: {reason}",
				self.failovers.len()
			)));
		}
		self.excluded.push(failed);
		let route = self.planner.plan(&self.excluded).await?;
		self.check_route(&route)?;
		let mut old: Vec<LiveHop> = std::mem::take(&mut self.hops);
		let mut replayed = 0;
		for plan in route {
			if let Some(i) = old.iter().position(|h| h.plan == plan) {
				self.hops.push(old.swap_remove(i));
			} else {
				let hop = match self.open(&plan).await {
					Ok(hop) => hop,
					Err(e) => {
						// Put the route back as it was minus the failure and let the caller retry.
						self.hops = old;
						return Err(hop_error(e));
					},
				};
				replayed += self.positions.len().saturating_sub(1);
				self.hops.push(LiveHop { plan, hop, done: 0 });
			}
		}
		for dropped in old {
			dropped.hop.close().await;
		}
		let event = Failover {
			failed,
			reason,
			route: self.hops.iter().map(|h| h.plan.node).collect(),
			replayed,
		};
		tracing::info!(
			event = "rerouted",
			failed,
			route = ?event.route,
			replayed,
			"re-routed without node {failed}: {:?}, replaying {replayed} steps",
			event.route
		);
		self.failovers.push(event);
		Ok(())
	}

	/// Generates with `decoder`, calling `on_token` for every token.
	pub async fn generate(
		&mut self,
		decoder: &mut Decoder<'_>,
		mut on_token: impl FnMut(&TokenEvent),
	) -> Result<Vec<u32>, WorkerError> {
		while let Some(step) = decoder.next_step()? {
			let started = Instant::now();
			let out = self.step(step.position, step.hidden).await?;
			let token = decoder.accept(&out)?;
			on_token(&TokenEvent {
				token,
				latency_ms: started.elapsed().as_secs_f64() * 1e3,
				step_tokens: step.tokens.len(),
			});
		}
		Ok(decoder.generated().to_vec())
	}

	/// Closes every session.
	pub async fn close(self) {
		for hop in self.hops {
			hop.hop.close().await;
		}
	}
}
