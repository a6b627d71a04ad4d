//! The hash-job planner: a pure function from what the chain and the journal say to what the
//! worker should do at this block. No I/O; every rule is a unit test below.
//!
//! Rules, in the order they are applied:
//!
//! 1. **Stale hashing.** Hashing a subjob stops when it is no longer ours and `Claimed`, or a
//!    commitment sent now could not land with a block to spare for the reveal.
//! 2. **Our subjobs first** (they are what can be slashed), by state:
//!    - `Claimed`, while a commitment still fits ([`commit_lands_in_time`]): a journaled result
//!      of this very subjob is committed; a journaled result of another range is forgotten;
//!      otherwise the subjob is hashed (started, its progress reported, or finished and
//!      committed). A subjob in this state keeps the worker *busy*: no new claim.
//!    - `Committed`, while the reveal lands by the deadline and after the commitment's block:
//!      the journaled result is revealed if it is the one committed; otherwise nothing can be
//!      revealed and the plan says so.
//!    - `Revealed`, from the challenge block until the answer window closes, once the
//!      challenge seed exists: the spot checks are answered from the journaled digests.
//! 3. **Reclaims.** Any subjob (ours included) whose deadline or answer window has passed by
//!    the next block is reclaimed: the penalty is the same whoever asks, and the range goes
//!    back to its job.
//! 4. **A claim**, on the lowest job id with nonces left, when the node is serving, not busy,
//!    not hashing, and its free collateral (what the registry has not reserved for its open
//!    claims and agreements) covers the penalty of another claim, which claiming reserves.
//!
//! A transaction whose tag is in flight is never planned again. Busyness is decided when
//! planning: an action of ours that then fails (a rejected commitment, a job gone while
//! starting to hash) still holds back the claim for that block, so a worker in trouble with
//! its own subjobs does not take on more.

use std::collections::{BTreeMap, HashSet};

use appchain_primitives::{
	hashjob::{self, Awaiting},
	pow::{self, Sha2},
};

use crate::chain::Tag;

/// Tags of the hash-job transactions.
pub mod tags {
	use crate::chain::Tag;

	/// `claim`: one at a time.
	pub const CLAIM: Tag = Tag::only("claim");
	/// `commit` of a subjob.
	pub fn commit(subjob: u64) -> Tag {
		Tag::about("commit", subjob)
	}
	/// `reveal` of a subjob.
	pub fn reveal(subjob: u64) -> Tag {
		Tag::about("reveal", subjob)
	}
	/// `answer_challenge` of a subjob.
	pub fn answer(subjob: u64) -> Tag {
		Tag::about("answer", subjob)
	}
	/// `reclaim` of a subjob.
	pub fn reclaim(subjob: u64) -> Tag {
		Tag::about("reclaim", subjob)
	}
}

/// The chain constants the planner uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
	/// Nonces per chunk.
	pub chunk_size: u64,
	/// Chunks spot-checked per subjob.
	pub challenge_count: u32,
	/// Blocks to answer the spot checks in.
	pub answer_window: u64,
	/// Blocks without a heartbeat after which the node is not serving.
	pub heartbeat_timeout: u64,
	/// Open plus returned subjobs a job may have.
	pub max_open_subjobs: u32,
	/// Collateral below which the node is not serving.
	pub min_collateral: u128,
	/// What a failed subjob costs: each claim needs this much collateral.
	pub slash_penalty: u128,
}

/// A subjob's state on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjobState {
	/// Claimed, no commitment yet.
	Claimed,
	/// Committed at block `at`.
	Committed {
		/// The commitment.
		commitment: [u8; 32],
		/// Its block.
		at: u64,
	},
	/// Revealed; spot checks drawn at `challenge_at`.
	Revealed {
		/// The block whose seed draws the spot checks.
		challenge_at: u64,
		/// The revealed Merkle root.
		root: [u8; 32],
	},
}

/// A subjob on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjobView {
	/// Its job.
	pub job: u64,
	/// The node holding it.
	pub node: u64,
	/// First nonce.
	pub start: u64,
	/// One past the last nonce.
	pub end: u64,
	/// Last block for the reveal.
	pub deadline: u64,
	/// Its state.
	pub state: SubjobState,
}

/// Our node on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeView {
	/// Registered, not unbonding.
	pub registered: bool,
	/// Its collateral.
	pub collateral: u128,
	/// Block of its last heartbeat.
	pub last_heartbeat: u64,
	/// Subjobs it holds.
	pub claims: u32,
	/// Collateral the registry reserved for its open obligations (claims, agreements).
	pub reserved: u128,
}

/// A job on chain, as far as claiming goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobView {
	/// Next fresh nonce.
	pub next: u64,
	/// One past its last nonce.
	pub end: u64,
	/// Subjobs open.
	pub open_subjobs: u32,
	/// Ranges returned by failed subjobs, to be handed out again.
	pub returned: u32,
}

/// What the chain says at the block being planned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainView {
	/// The block.
	pub now: u64,
	/// Our node's id.
	pub node_id: u64,
	/// Our node, if still registered at all.
	pub node: Option<NodeView>,
	/// Every open subjob, by id.
	pub subjobs: BTreeMap<u64, SubjobView>,
	/// Every open job, by id.
	pub jobs: BTreeMap<u64, JobView>,
	/// Challenge seeds that exist, by challenge block.
	pub seeds: BTreeMap<u64, [u8; 32]>,
}

/// A journaled result: what it is the result of, and its commitment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView {
	/// The subjob it names.
	pub subjob: u64,
	/// Its job.
	pub job: u64,
	/// First nonce.
	pub start: u64,
	/// One past the last nonce.
	pub end: u64,
	/// The commitment made from it.
	pub commitment: [u8; 32],
}

/// The subjob being hashed in the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingView {
	/// The subjob.
	pub subjob: u64,
	/// The hashing task has finished.
	pub finished: bool,
}

/// What the worker itself knows: its journal, its hashing, its transactions in flight.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalView {
	/// Journaled results, by subjob.
	pub journal: BTreeMap<u64, RecordView>,
	/// The subjob being hashed.
	pub hashing: Option<HashingView>,
	/// Tags of the transactions in flight.
	pub in_flight: HashSet<Tag>,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
	/// Stop hashing `subjob`: it can no longer be committed.
	StopHashing {
		/// The subjob.
		subjob: u64,
	},
	/// Start hashing `subjob` of `job` over nonces `start..end`.
	StartHashing {
		/// The subjob.
		subjob: u64,
		/// Its job.
		job: u64,
		/// First nonce.
		start: u64,
		/// One past the last nonce.
		end: u64,
	},
	/// Report how far the hashing of `subjob` is.
	ReportProgress {
		/// The subjob.
		subjob: u64,
	},
	/// The hashing of `subjob` finished: journal its result and commit it.
	FinishHashing {
		/// The subjob.
		subjob: u64,
	},
	/// Commit the journaled result of `subjob`.
	Commit {
		/// The subjob.
		subjob: u64,
		/// The journaled commitment.
		commitment: [u8; 32],
	},
	/// The journal holds a result for another range under this id: forget it.
	ForgetRecord {
		/// The subjob.
		subjob: u64,
	},
	/// Reveal the journaled result of `subjob`.
	Reveal {
		/// The subjob.
		subjob: u64,
	},
	/// `subjob` is committed but the journal does not hold what was committed.
	CannotReveal {
		/// The subjob.
		subjob: u64,
		/// Whether a record exists (but is another).
		record_differs: bool,
	},
	/// Answer the spot checks of `subjob`: these chunk indices, against this root.
	Answer {
		/// The subjob.
		subjob: u64,
		/// The challenged chunks.
		indices: Vec<u64>,
		/// The revealed root the answers must prove against.
		root: [u8; 32],
	},
	/// Reclaim an expired subjob.
	Reclaim {
		/// The subjob.
		subjob: u64,
	},
	/// Claim a subjob of `job`.
	Claim {
		/// The job.
		job: u64,
	},
}

/// Whether a commitment submitted after block `now` lands before `deadline` with a block to
/// spare for the reveal (commit at most `deadline - 1`, reveal at most `deadline`).
pub fn commit_lands_in_time(now: u64, deadline: u64) -> bool {
	now.saturating_add(2) <= deadline
}

/// Whether anyone may `reclaim` the subjob in the next block: its deadline passed without a
/// reveal, or its answer window closed without an answer (the runtime's rule,
/// [`hashjob::reclaimable_in`]).
pub fn expired(subjob: &SubjobView, now: u64, answer_window: u64) -> bool {
	let awaiting = match subjob.state {
		SubjobState::Claimed | SubjobState::Committed { .. } => {
			Awaiting::Reveal { deadline: subjob.deadline }
		},
		SubjobState::Revealed { challenge_at, .. } => Awaiting::Answer { challenge_at },
	};
	hashjob::reclaimable_in(awaiting, now.saturating_add(1), answer_window)
}

/// Whether the node counts as serving at `now`.
pub fn serving(node: &NodeView, now: u64, rules: &Rules) -> bool {
	node.registered
		&& node.collateral >= rules.min_collateral
		&& now.saturating_sub(node.last_heartbeat) <= rules.heartbeat_timeout
}

/// Whether the node's free collateral backs the penalty of another claim.
pub fn covers_another_claim(node: &NodeView, rules: &Rules) -> bool {
	node.collateral.saturating_sub(node.reserved) >= rules.slash_penalty
}

/// Whether a claim on `job` can succeed: a returned range to hand out, or fresh nonces and
/// room for another open subjob (the runtime's rule, [`hashjob::has_work_for_a_claim`]).
pub fn claimable(job: &JobView, rules: &Rules) -> bool {
	hashjob::has_work_for_a_claim(
		job.returned,
		job.open_subjobs,
		job.next,
		job.end,
		rules.max_open_subjobs,
	)
}

/// The plan for this block.
pub fn plan(chain: &ChainView, local: &LocalView, rules: &Rules) -> Vec<Action> {
	let now = chain.now;
	let next = now.saturating_add(1);
	let ours = |s: &&SubjobView| s.node == chain.node_id;
	let free = |tag: Tag| !local.in_flight.contains(&tag);
	let mut actions = Vec::new();

	// 1. Stale hashing.
	let mut hashing = local.hashing;
	if let Some(h) = hashing {
		let useful = chain.subjobs.get(&h.subjob).filter(ours).is_some_and(|s| {
			matches!(s.state, SubjobState::Claimed) && commit_lands_in_time(now, s.deadline)
		});
		if !useful {
			actions.push(Action::StopHashing { subjob: h.subjob });
			hashing = None;
		}
	}

	// 2. Our subjobs.
	let mut busy = false;
	for (&id, subjob) in chain.subjobs.iter().filter(|(_, s)| s.node == chain.node_id) {
		match subjob.state {
			SubjobState::Claimed => {
				if !commit_lands_in_time(now, subjob.deadline) {
					continue;
				}
				busy = true;
				match local.journal.get(&id) {
					Some(record)
						if record.subjob == id
							&& record.job == subjob.job
							&& record.start == subjob.start
							&& record.end == subjob.end =>
					{
						if free(tags::commit(id)) {
							actions
								.push(Action::Commit { subjob: id, commitment: record.commitment });
						}
					},
					Some(_) => actions.push(Action::ForgetRecord { subjob: id }),
					None => match hashing {
						Some(h) if h.subjob != id => {},
						Some(h) if h.finished => actions.push(Action::FinishHashing { subjob: id }),
						Some(_) => actions.push(Action::ReportProgress { subjob: id }),
						None => {
							actions.push(Action::StartHashing {
								subjob: id,
								job: subjob.job,
								start: subjob.start,
								end: subjob.end,
							});
							hashing = Some(HashingView { subjob: id, finished: false });
						},
					},
				}
			},
			SubjobState::Committed { commitment, at } => {
				if next > subjob.deadline || next <= at || !free(tags::reveal(id)) {
					continue;
				}
				match local.journal.get(&id) {
					Some(record) if record.commitment == commitment => {
						actions.push(Action::Reveal { subjob: id })
					},
					Some(_) => {
						actions.push(Action::CannotReveal { subjob: id, record_differs: true })
					},
					None => {
						actions.push(Action::CannotReveal { subjob: id, record_differs: false })
					},
				}
			},
			SubjobState::Revealed { challenge_at, root } => {
				let closes = challenge_at.saturating_add(rules.answer_window);
				if now < challenge_at || next > closes || !free(tags::answer(id)) {
					continue;
				}
				let Some(seed) = chain.seeds.get(&challenge_at) else { continue };
				let chunks =
					subjob.end.saturating_sub(subjob.start).div_ceil(rules.chunk_size.max(1));
				let indices =
					pow::challenge_indices::<Sha2>(seed, id, chunks, rules.challenge_count);
				actions.push(Action::Answer { subjob: id, indices, root });
			},
		}
	}

	// 3. Reclaims.
	for (&id, subjob) in &chain.subjobs {
		if expired(subjob, now, rules.answer_window) && free(tags::reclaim(id)) {
			actions.push(Action::Reclaim { subjob: id });
		}
	}

	// 4. A claim.
	if let Some(node) = &chain.node {
		let may_claim = serving(node, now, rules)
			&& !busy && hashing.is_none()
			&& covers_another_claim(node, rules)
			&& free(tags::CLAIM);
		if may_claim {
			if let Some((&job, _)) = chain.jobs.iter().find(|(_, job)| claimable(job, rules)) {
				actions.push(Action::Claim { job });
			}
		}
	}
	actions
}

#[cfg(test)]
mod tests {
	use super::*;

	const NODE: u64 = 5;
	const OTHER: u64 = 6;
	const RULES: Rules = Rules {
		chunk_size: 64,
		challenge_count: 3,
		answer_window: 20,
		heartbeat_timeout: 20,
		max_open_subjobs: 64,
		min_collateral: 100,
		slash_penalty: 10,
	};

	fn node() -> NodeView {
		NodeView { registered: true, collateral: 100, last_heartbeat: 95, claims: 0, reserved: 0 }
	}

	fn subjob(node: u64, deadline: u64, state: SubjobState) -> SubjobView {
		SubjobView { job: 1, node, start: 0, end: 640, deadline, state }
	}

	fn record(commitment: u8) -> RecordView {
		RecordView { subjob: 7, job: 1, start: 0, end: 640, commitment: [commitment; 32] }
	}

	fn fresh_job() -> JobView {
		JobView { next: 0, end: 1 << 20, open_subjobs: 0, returned: 0 }
	}

	/// A chain at block 100 with our node serving, one open job and the given subjobs.
	fn chain(subjobs: &[(u64, SubjobView)]) -> ChainView {
		ChainView {
			now: 100,
			node_id: NODE,
			node: Some(node()),
			subjobs: subjobs.iter().copied().collect(),
			jobs: [(1, fresh_job())].into_iter().collect(),
			seeds: BTreeMap::new(),
		}
	}

	fn journal(entries: &[(u64, RecordView)]) -> LocalView {
		LocalView { journal: entries.iter().copied().collect(), ..LocalView::default() }
	}

	fn hashing(subjob: u64, finished: bool) -> LocalView {
		LocalView { hashing: Some(HashingView { subjob, finished }), ..LocalView::default() }
	}

	fn start(subjob: u64) -> Action {
		Action::StartHashing { subjob, job: 1, start: 0, end: 640 }
	}

	#[test]
	fn commits_are_planned_only_while_they_and_the_reveal_still_fit() {
		// (deadline, journaled result?, expected plan) at block 100.
		let cases: Vec<(u64, bool, Vec<Action>)> = vec![
			(102, true, vec![Action::Commit { subjob: 7, commitment: [1; 32] }]),
			(102, false, vec![start(7)]),
			// A commitment at 101 leaves no block for the reveal: neither commit nor hash.
			(101, true, vec![]),
			(101, false, vec![]),
			// Past the deadline by the next block: our own subjob is reclaimed like anyone's.
			(100, false, vec![Action::Reclaim { subjob: 7 }]),
		];
		for (deadline, journaled, expected) in cases {
			let chain = chain(&[(7, subjob(NODE, deadline, SubjobState::Claimed))]);
			let local = if journaled { journal(&[(7, record(1))]) } else { LocalView::default() };
			let plan = plan(&chain, &local, &RULES);
			let ours: Vec<Action> =
				plan.into_iter().filter(|a| !matches!(a, Action::Claim { .. })).collect();
			assert_eq!(ours, expected, "deadline {deadline}, journaled {journaled}");
		}
		assert!(commit_lands_in_time(18, 20));
		assert!(!commit_lands_in_time(19, 20));
		assert!(!commit_lands_in_time(u64::MAX, 20));
	}

	#[test]
	fn hashing_starts_reports_and_finishes_one_subjob_at_a_time() {
		let claimed = |id| (id, subjob(NODE, 130, SubjobState::Claimed));
		let two = chain(&[claimed(7), claimed(8)]);
		// Nothing hashing: the lowest id starts; the other waits for it.
		assert_eq!(plan(&two, &LocalView::default(), &RULES), vec![start(7)]);
		// Hashing 7, not finished: its progress is reported.
		assert_eq!(
			plan(&two, &hashing(7, false), &RULES),
			vec![Action::ReportProgress { subjob: 7 }]
		);
		// Finished: journal and commit.
		assert_eq!(
			plan(&two, &hashing(7, true), &RULES),
			vec![Action::FinishHashing { subjob: 7 }]
		);
	}

	#[test]
	fn stale_hashing_is_dropped() {
		// (chain subjob 7, expected) while hashing 7 at block 100.
		let cases: Vec<(Option<SubjobView>, Vec<Action>)> = vec![
			// Settled or reclaimed: gone from chain. The worker may claim again.
			(None, vec![Action::StopHashing { subjob: 7 }, Action::Claim { job: 1 }]),
			// Too close to the deadline for a commitment to land in time.
			(
				Some(subjob(NODE, 101, SubjobState::Claimed)),
				vec![Action::StopHashing { subjob: 7 }, Action::Claim { job: 1 }],
			),
			// Already committed (by an earlier run).
			(
				Some(subjob(NODE, 130, SubjobState::Committed { commitment: [1; 32], at: 99 })),
				vec![
					Action::StopHashing { subjob: 7 },
					Action::CannotReveal { subjob: 7, record_differs: false },
					Action::Claim { job: 1 },
				],
			),
			// Someone else's now (reclaimed and claimed again).
			(
				Some(subjob(OTHER, 130, SubjobState::Claimed)),
				vec![Action::StopHashing { subjob: 7 }, Action::Claim { job: 1 }],
			),
			// Still ours and committable: carry on.
			(
				Some(subjob(NODE, 130, SubjobState::Claimed)),
				vec![Action::ReportProgress { subjob: 7 }],
			),
		];
		for (on_chain, expected) in cases {
			let chain = chain(&on_chain.map(|s| (7, s)).into_iter().collect::<Vec<_>>());
			assert_eq!(plan(&chain, &hashing(7, false), &RULES), expected, "{on_chain:?}");
		}
	}

	#[test]
	fn a_journaled_result_of_another_range_is_forgotten_not_committed() {
		let chain = chain(&[(7, subjob(NODE, 130, SubjobState::Claimed))]);
		let other_range = RecordView { start: 640, end: 1280, ..record(1) };
		assert_eq!(
			plan(&chain, &journal(&[(7, other_range)]), &RULES),
			vec![Action::ForgetRecord { subjob: 7 }]
		);
		let other_job = RecordView { job: 2, ..record(1) };
		assert_eq!(
			plan(&chain, &journal(&[(7, other_job)]), &RULES),
			vec![Action::ForgetRecord { subjob: 7 }]
		);
		let other_subjob = RecordView { subjob: 8, ..record(1) };
		assert_eq!(
			plan(&chain, &journal(&[(7, other_subjob)]), &RULES),
			vec![Action::ForgetRecord { subjob: 7 }]
		);
	}

	#[test]
	fn reveals_need_the_committed_result_and_a_block_after_the_commitment() {
		let committed = SubjobState::Committed { commitment: [1; 32], at: 99 };
		// (deadline, committed at, journal, expected) at block 100.
		type Case = (u64, SubjobState, Vec<(u64, RecordView)>, Vec<Action>);
		let cases: Vec<Case> = vec![
			(101, committed, vec![(7, record(1))], vec![Action::Reveal { subjob: 7 }]),
			// The reveal would land after the deadline.
			(100, committed, vec![(7, record(1))], vec![]),
			// The reveal must land after the commitment's block.
			(
				130,
				SubjobState::Committed { commitment: [1; 32], at: 101 },
				vec![(7, record(1))],
				vec![],
			),
			(
				130,
				committed,
				vec![(7, record(2))],
				vec![Action::CannotReveal { subjob: 7, record_differs: true }],
			),
			(
				130,
				committed,
				vec![],
				vec![Action::CannotReveal { subjob: 7, record_differs: false }],
			),
		];
		for (deadline, state, entries, expected) in cases {
			let chain = chain(&[(7, subjob(NODE, deadline, state))]);
			let plan: Vec<Action> = plan(&chain, &journal(&entries), &RULES)
				.into_iter()
				.filter(|a| !matches!(a, Action::Claim { .. } | Action::Reclaim { .. }))
				.collect();
			assert_eq!(plan, expected, "deadline {deadline}, {state:?}");
		}
	}

	#[test]
	fn spot_checks_are_answered_inside_the_window_once_the_seed_exists() {
		let revealed = SubjobState::Revealed { challenge_at: 100, root: [3; 32] };
		let seed = [9u8; 32];
		let expected_indices = pow::challenge_indices::<Sha2>(&seed, 7, 10, 3);
		// (block, seed known, expected)
		let cases: Vec<(u64, bool, Vec<Action>)> = vec![
			(99, true, vec![]),
			(100, false, vec![]),
			(
				100,
				true,
				vec![Action::Answer {
					subjob: 7,
					indices: expected_indices.clone(),
					root: [3; 32],
				}],
			),
			(
				119,
				true,
				vec![Action::Answer { subjob: 7, indices: expected_indices, root: [3; 32] }],
			),
			// The window closes at 120: an answer sent at 120 lands too late; reclaim it.
			(120, true, vec![Action::Reclaim { subjob: 7 }]),
		];
		for (now, known, expected) in cases {
			let mut chain = chain(&[(7, subjob(NODE, 90, revealed))]);
			chain.now = now;
			chain.node = None;
			if known {
				chain.seeds.insert(100, seed);
			}
			assert_eq!(plan(&chain, &LocalView::default(), &RULES), expected, "block {now}");
		}
	}

	#[test]
	fn expired_subjobs_of_anyone_are_reclaimed() {
		let claimed = |node, deadline| subjob(node, deadline, SubjobState::Claimed);
		let revealed = |challenge_at| SubjobState::Revealed { challenge_at, root: [0; 32] };
		let mut chain = chain(&[
			(1, claimed(OTHER, 100)),             // deadline passed by the next block
			(2, claimed(OTHER, 101)),             // the reveal may still land at 101
			(3, subjob(OTHER, 50, revealed(80))), // answer window closed at 100
			(4, subjob(OTHER, 50, revealed(81))), // still open at 101
			(5, claimed(NODE, 100)),              // ours too
		]);
		chain.node = None;
		let mut local = LocalView::default();
		assert_eq!(
			plan(&chain, &local, &RULES),
			vec![
				Action::Reclaim { subjob: 1 },
				Action::Reclaim { subjob: 3 },
				Action::Reclaim { subjob: 5 }
			]
		);
		// One already in flight is not sent again.
		local.in_flight.insert(tags::reclaim(3));
		assert_eq!(
			plan(&chain, &local, &RULES),
			vec![Action::Reclaim { subjob: 1 }, Action::Reclaim { subjob: 5 }]
		);
	}

	#[test]
	fn claims_respect_collateral_serving_and_busyness() {
		let claim = vec![Action::Claim { job: 1 }];
		let with = |f: &dyn Fn(&mut ChainView)| {
			let mut c = chain(&[]);
			f(&mut c);
			c
		};
		// (chain, expected)
		let cases: Vec<(&str, ChainView, Vec<Action>)> = vec![
			("idle and serving", with(&|_| {}), claim.clone()),
			(
				"free collateral covers one more penalty",
				with(&|c| c.node.as_mut().unwrap().reserved = 90),
				claim.clone(),
			),
			("all collateral reserved", with(&|c| c.node.as_mut().unwrap().reserved = 91), vec![]),
			(
				"below minimum collateral",
				with(&|c| c.node.as_mut().unwrap().collateral = 99),
				vec![],
			),
			("heartbeat too old", with(&|c| c.node.as_mut().unwrap().last_heartbeat = 79), vec![]),
			(
				"heartbeat just in time",
				with(&|c| c.node.as_mut().unwrap().last_heartbeat = 80),
				claim.clone(),
			),
			("unbonding", with(&|c| c.node.as_mut().unwrap().registered = false), vec![]),
			("node gone", with(&|c| c.node = None), vec![]),
			(
				"job exhausted",
				with(&|c| {
					c.jobs.insert(1, JobView { next: 10, end: 10, ..fresh_job() });
				}),
				vec![],
			),
			(
				"job exhausted but a range was returned",
				with(&|c| {
					c.jobs.insert(1, JobView { next: 10, end: 10, open_subjobs: 64, returned: 1 });
				}),
				claim.clone(),
			),
			(
				"too many open subjobs",
				with(&|c| {
					c.jobs.insert(1, JobView { open_subjobs: 64, returned: 0, ..fresh_job() });
					c.jobs.insert(4, JobView { open_subjobs: 63, returned: 0, ..fresh_job() });
				}),
				vec![Action::Claim { job: 4 }],
			),
			(
				"the lowest claimable job",
				with(&|c| {
					c.jobs.insert(1, JobView { next: 10, end: 10, ..fresh_job() });
					c.jobs.insert(3, fresh_job());
					c.jobs.insert(2, fresh_job());
				}),
				vec![Action::Claim { job: 2 }],
			),
			("no jobs", with(&|c| c.jobs.clear()), vec![]),
		];
		for (what, chain, expected) in cases {
			assert_eq!(plan(&chain, &LocalView::default(), &RULES), expected, "{what}");
		}
		// Busy: a subjob still to hash or commit, hashing, or a claim in flight.
		let busy = chain(&[(7, subjob(NODE, 130, SubjobState::Claimed))]);
		assert!(!plan(&busy, &LocalView::default(), &RULES).contains(&Action::Claim { job: 1 }));
		let idle = chain(&[]);
		let in_flight =
			LocalView { in_flight: [tags::CLAIM].into_iter().collect(), ..LocalView::default() };
		assert_eq!(plan(&idle, &in_flight, &RULES), vec![]);
		// A subjob too late to commit does not keep the worker busy.
		let late = chain(&[(7, subjob(NODE, 101, SubjobState::Claimed))]);
		assert_eq!(plan(&late, &LocalView::default(), &RULES), claim);
	}

	#[test]
	fn transactions_in_flight_are_not_planned_again() {
		let committed = SubjobState::Committed { commitment: [1; 32], at: 99 };
		let chain = chain(&[
			(7, subjob(NODE, 130, SubjobState::Claimed)),
			(8, subjob(NODE, 130, committed)),
		]);
		let mut local = journal(&[(7, record(1)), (8, record(1))]);
		assert_eq!(
			plan(&chain, &local, &RULES),
			vec![Action::Commit { subjob: 7, commitment: [1; 32] }, Action::Reveal { subjob: 8 }]
		);
		local.in_flight.insert(tags::commit(7));
		local.in_flight.insert(tags::reveal(8));
		assert_eq!(plan(&chain, &local, &RULES), vec![]);
	}
}
