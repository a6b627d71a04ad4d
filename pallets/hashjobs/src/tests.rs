//! Unit tests on the mock runtime, with the real registry. The workers here compute their
//! results with the pure-Rust SHA-256 of `appchain_primitives::pow`; the pallet verifies with the
//! runtime's host function. Every test ends with the invariants of both pallets and an
//! unchanged total issuance ([`mock::test`]).

// Test arithmetic on small known values; an overflow would fail the test, which is what we want.
#![allow(clippy::arithmetic_side_effects)]

use crate::{
	mock::{HashJobs, *},
	*,
};
use appchain_primitives::{
	pow::{
		commitment, merkle_proof, merkle_root, Difficulty, Hash256, HashFunction, PowSpec, Sha2,
		BITCOIN_HEADER_PREFIX_LEN,
	},
	NodeId,
};
use frame_support::{
	assert_noop, assert_ok,
	traits::{fungible::InspectHold, ConstU32},
	BoundedVec,
};
use frame_system::RawOrigin;
use pallet_compute_registry::SlashReason;

fn signed(who: AccountId) -> RuntimeOrigin {
	RawOrigin::Signed(who).into()
}

/// A generic SHA-256 job where about one nonce in four wins (two leading zero bits).
const EASY: PowSpec =
	PowSpec::Generic { hash: HashFunction::Sha256, difficulty: Difficulty::LeadingZeroBits(2) };
/// A job no nonce of a small range wins.
const HARD: PowSpec = PowSpec::Generic {
	hash: HashFunction::DoubleSha256,
	difficulty: Difficulty::LeadingZeroBits(64),
};
/// A rate giving subjobs of `TARGET_SECS * 8 = 16` nonces, 4 chunks.
const RATE: u64 = 8;
const SALT: Hash256 = [5; 32];

fn payload(bytes: &[u8]) -> BoundedVec<u8, ConstU32<80>> {
	bytes.to_vec().try_into().unwrap()
}

fn post(spec: PowSpec, start: u64, end: u64, budget: Balance) -> JobId {
	let job = NextJobId::<Test>::get();
	assert_ok!(HashJobs::post_job(signed(CLIENT), payload(b"block"), spec, start, end, budget));
	job
}

fn claim(worker: AccountId, job: JobId, node: NodeId) -> (SubjobId, NonceRange) {
	let subjob = NextSubjobId::<Test>::get();
	assert_ok!(HashJobs::claim(signed(worker), job, node));
	(subjob, Subjobs::<Test>::get(subjob).unwrap().range)
}

/// A worker's result: chunk digests, their root and the winning nonces.
#[derive(Clone)]
struct Work {
	digests: Vec<Hash256>,
	root: Hash256,
	winners: Vec<u64>,
}

/// Hashes every chunk of `range` as an honest worker does.
fn compute(job: JobId, range: NonceRange) -> Work {
	let info = Jobs::<Test>::get(job).unwrap();
	let check = info.spec.check(&info.payload, info.range.start, info.range.end).unwrap();
	let mut digests = Vec::new();
	let mut winners = Vec::new();
	for i in 0..range.chunks(CHUNK) {
		let chunk = range.chunk(i, CHUNK);
		let (digest, found) = check.chunk::<Sha2>(&info.payload, chunk.start, chunk.end);
		digests.push(digest);
		winners.extend(found);
	}
	Work { root: merkle_root::<Sha2>(&digests), digests, winners }
}

fn nonces(list: &[u64]) -> BoundedVec<u64, ConstU32<MAX_NONCES>> {
	list.to_vec().try_into().unwrap()
}

/// Commits and, a block later, reveals `work` for `subjob`.
fn commit_and_reveal(worker: AccountId, subjob: SubjobId, work: &Work) {
	let c = commitment::<Sha2>(subjob, &work.root, &SALT, &work.winners);
	assert_ok!(HashJobs::commit(signed(worker), subjob, c));
	run_to_block(System::block_number() + 1);
	assert_ok!(HashJobs::reveal(signed(worker), subjob, work.root, SALT, nonces(&work.winners)));
}

fn challenge_block(subjob: SubjobId) -> u64 {
	match Subjobs::<Test>::get(subjob).unwrap().state {
		SubjobState::Revealed { challenge_at, .. } => challenge_at,
		_ => panic!("subjob {subjob} not revealed"),
	}
}

/// The answers `work` gives to the challenges of `subjob`.
fn answers(subjob: SubjobId, work: &Work) -> AnswersOf<Test> {
	HashJobs::challenged_chunks(subjob)
		.unwrap()
		.into_iter()
		.map(|i| ChunkAnswer {
			digest: work.digests[i as usize],
			proof: merkle_proof::<Sha2>(&work.digests, i as usize).try_into().unwrap(),
		})
		.collect::<Vec<_>>()
		.try_into()
		.unwrap()
}

/// Claims, computes honestly, commits, reveals and answers; returns the subjob.
fn honest(worker: AccountId, job: JobId, node: NodeId) -> SubjobId {
	let (subjob, range) = claim(worker, job, node);
	let work = compute(job, range);
	commit_and_reveal(worker, subjob, &work);
	run_to_block(challenge_block(subjob));
	assert_ok!(HashJobs::answer_challenge(signed(worker), subjob, answers(subjob, &work)));
	subjob
}

fn budget_held(who: AccountId) -> Balance {
	Balances::balance_on_hold(&RuntimeHoldReason::HashJobs(HoldReason::JobBudget), &who)
}

fn collateral(node: NodeId) -> Balance {
	pallet_compute_registry::Nodes::<Test>::get(node).unwrap().collateral
}

fn failed(subjob: SubjobId) -> Option<FailReason> {
	events().into_iter().find_map(|e| match e {
		Event::SubjobFailed { subjob: s, reason, .. } if s == subjob => Some(reason),
		_ => None,
	})
}

// ---- posting

#[test]
fn posting_holds_the_budget() {
	test(|| {
		let before = free(CLIENT);
		let job = post(EASY, 100, 164, 1_000);
		assert_eq!(free(CLIENT), before - 1_000);
		assert_eq!(budget_held(CLIENT), 1_000);
		System::assert_last_event(
			Event::JobPosted {
				job,
				client: CLIENT,
				spec: EASY,
				start: 100,
				end: 164,
				budget: 1_000,
			}
			.into(),
		);
		let info = Jobs::<Test>::get(job).unwrap();
		assert_eq!((info.next, info.open_subjobs, info.paid), (100, 0, 0));
	});
}

#[test]
fn bad_jobs_are_refused() {
	test(|| {
		let header = payload(&[0; BITCOIN_HEADER_PREFIX_LEN]);
		let too_hard = PowSpec::Generic {
			hash: HashFunction::Sha256,
			difficulty: Difficulty::LeadingZeroBits(257),
		};
		type Case = (BoundedVec<u8, ConstU32<80>>, PowSpec, u64, u64, Balance, Error<Test>);
		let cases: Vec<Case> = vec![
			(payload(b"x"), EASY, 10, 10, 1_000, Error::EmptyRange),
			(payload(b"x"), EASY, 10, 5, 1_000, Error::EmptyRange),
			(payload(b"x"), too_hard, 0, 10, 1_000, Error::DifficultyTooHigh),
			(payload(b"x"), PowSpec::BitcoinHeader, 0, 10, 1_000, Error::BadHeaderLength),
			// All-zero bits: a zero mantissa is not a target.
			(header.clone(), PowSpec::BitcoinHeader, 0, 10, 1_000, Error::BadCompactTarget),
			(payload(b"x"), EASY, 0, 10, MIN_BUDGET - 1, Error::BudgetTooLow),
		];
		for (data, spec, start, end, budget, error) in cases {
			assert_noop!(HashJobs::post_job(signed(CLIENT), data, spec, start, end, budget), error);
		}
		let mut valid_header = [0u8; BITCOIN_HEADER_PREFIX_LEN];
		valid_header[72..76].copy_from_slice(&0x1d00_ffffu32.to_le_bytes());
		assert_noop!(
			HashJobs::post_job(
				signed(CLIENT),
				payload(&valid_header),
				PowSpec::BitcoinHeader,
				0,
				(1 << 32) + 1,
				1_000
			),
			Error::<Test>::EmptyRange
		);
		assert_noop!(
			HashJobs::post_job(signed(PAUPER), payload(b"x"), EASY, 0, 10, 1_000),
			Error::<Test>::InsufficientBalance
		);
		NextJobId::<Test>::put(u64::MAX);
		assert_noop!(
			HashJobs::post_job(signed(CLIENT), payload(b"x"), EASY, 0, 10, 1_000),
			Error::<Test>::Overflow
		);
	});
}

#[test]
fn only_the_client_cancels_a_job_without_open_subjobs() {
	test(|| {
		let node = hashing_node(WORKER_A, RATE);
		let job = post(EASY, 0, 64, 1_000);
		let (subjob, _) = claim(WORKER_A, job, node);
		assert_noop!(HashJobs::cancel_job(signed(WORKER_A), job), Error::<Test>::NotClient);
		assert_noop!(HashJobs::cancel_job(signed(CLIENT), job), Error::<Test>::JobBusy);
		assert_noop!(HashJobs::cancel_job(signed(CLIENT), 7), Error::<Test>::UnknownJob);
		run_to_block(2 + CLAIM_TIMEOUT);
		assert_ok!(HashJobs::reclaim(signed(CLIENT), subjob));
		let before = free(CLIENT);
		assert_ok!(HashJobs::cancel_job(signed(CLIENT), job));
		System::assert_last_event(Event::JobCancelled { job, refunded: 1_000 }.into());
		assert_eq!(free(CLIENT), before + 1_000);
		assert!(Jobs::<Test>::get(job).is_none());
	});
}

// ---- claiming

#[test]
fn claims_are_sized_by_hash_rate_in_whole_chunks() {
	test(|| {
		let slow = hashing_node(WORKER_A, 1);
		let fast = hashing_node(WORKER_B, 1_000);
		let job = post(EASY, 10, 100, 1_000);
		// 1 H/s * 2 s = 2 nonces: rounded up to one chunk of 4.
		assert_eq!(claim(WORKER_A, job, slow).1, NonceRange { start: 10, end: 14 });
		// 2000 nonces: capped at 16 chunks of 4.
		assert_eq!(claim(WORKER_B, job, fast).1, NonceRange { start: 14, end: 78 });
		// The rest, shorter than a full subjob.
		let (subjob, range) = claim(WORKER_B, job, fast);
		assert_eq!(range, NonceRange { start: 78, end: 100 });
		System::assert_last_event(
			Event::SubjobClaimed {
				job,
				subjob,
				node: fast,
				start: 78,
				end: 100,
				deadline: 1 + CLAIM_TIMEOUT,
			}
			.into(),
		);
		assert_noop!(HashJobs::claim(signed(WORKER_A), job, slow), Error::<Test>::NothingToClaim);
	});
}

#[test]
fn claim_checks_the_node_and_the_job() {
	test(|| {
		let node = hashing_node(WORKER_A, RATE);
		let job = post(EASY, 0, 1_000, 1_000);
		assert_noop!(HashJobs::claim(signed(WORKER_A), 9, node), Error::<Test>::UnknownJob);
		assert_noop!(HashJobs::claim(signed(WORKER_B), job, node), Error::<Test>::NotNodeOwner);
		assert_ok!(Registry::register_model(
			signed(WORKER_B),
			b"m".to_vec().try_into().unwrap(),
			4,
			2,
			[0; 32]
		));
		let inference = pallet_compute_registry::NextNodeId::<Test>::get();
		assert_ok!(Registry::register_inference_node(
			signed(WORKER_B),
			0,
			appchain_primitives::LayerRange::new(0, 2),
			1,
			1,
			b"e".to_vec().try_into().unwrap(),
			MIN_COLLATERAL
		));
		assert_noop!(
			HashJobs::claim(signed(WORKER_B), job, inference),
			Error::<Test>::NotHashingNode
		);
		// 100 of collateral covers three penalties of 30: three claims at a time.
		for _ in 0..3 {
			claim(WORKER_A, job, node);
		}
		assert_eq!(ClaimsOf::<Test>::get(node), 3);
		assert_noop!(HashJobs::claim(signed(WORKER_A), job, node), Error::<Test>::TooManyClaims);
		let other = hashing_node(WORKER_B, RATE);
		claim(WORKER_B, job, other);
		assert_noop!(
			HashJobs::claim(signed(WORKER_B), job, other),
			Error::<Test>::TooManyOpenSubjobs
		);
		run_to_block(2 + HEARTBEAT_TIMEOUT);
		assert_noop!(HashJobs::claim(signed(WORKER_A), job, node), Error::<Test>::NodeNotServing);
	});
}

// ---- a whole job

#[test]
fn honest_workers_complete_a_job_and_are_paid_by_nonces_hashed() {
	test(|| {
		let (a, b) = (hashing_node(WORKER_A, RATE), hashing_node(WORKER_B, RATE));
		let job = post(EASY, 0, 64, 10_000);
		let expected = compute(job, NonceRange { start: 0, end: 64 }).winners;
		assert!(!expected.is_empty(), "the test job has winning nonces");
		let (client0, a0, b0) = (free(CLIENT), free(WORKER_A), free(WORKER_B));

		// Four subjobs of 16 nonces, alternating between the two workers.
		let subjobs: Vec<SubjobId> = (0..4)
			.map(|i| if i % 2 == 0 { honest(WORKER_A, job, a) } else { honest(WORKER_B, job, b) })
			.collect();

		// 10% bonus (1_000) to the first finder; 9_000 shared by nonces: 2_250 per subjob.
		let rewards: Vec<Balance> = events()
			.iter()
			.filter_map(|e| match e {
				Event::SubjobVerified { reward, hashed, .. } => {
					assert_eq!(*hashed, 16);
					Some(*reward)
				},
				_ => None,
			})
			.collect();
		assert_eq!(rewards, vec![2_250; 4]);
		let finder = events().into_iter().find_map(|e| match e {
			Event::FinderRewarded { subjob, nonce, to, bonus, .. } => {
				Some((subjob, nonce, to, bonus))
			},
			_ => None,
		});
		let (finder_subjob, nonce, to, bonus) = finder.unwrap();
		assert_eq!((nonce, bonus), (expected[0], 1_000));
		assert_eq!(finder_subjob, subjobs[0]);
		assert_eq!(to, WORKER_A);
		System::assert_last_event(
			Event::JobCompleted { job, hashed: 64, found: expected.len() as u32, refunded: 0 }
				.into(),
		);
		// Revealed nonces are exactly the winners.
		let revealed: Vec<u64> = events()
			.into_iter()
			.flat_map(|e| match e {
				Event::ResultRevealed { nonces, .. } => nonces.into_inner(),
				_ => vec![],
			})
			.collect();
		assert_eq!(revealed, expected);

		assert_eq!(free(WORKER_A), a0 + 2 * 2_250 + 1_000);
		assert_eq!(free(WORKER_B), b0 + 2 * 2_250);
		assert_eq!(free(CLIENT), client0);
		assert_eq!(budget_held(CLIENT), 0);
		assert!(Jobs::<Test>::get(job).is_none());
		assert_eq!(pallet_compute_registry::Nodes::<Test>::get(a).unwrap().stats.completed, 2);
	});
}

#[test]
fn a_job_without_winners_returns_the_bonus_and_rounding_to_the_client() {
	test(|| {
		let a = hashing_node(WORKER_A, RATE);
		let job = post(HARD, 0, 30, 1_001);
		let before = free(CLIENT);
		for _ in 0..2 {
			honest(WORKER_A, job, a);
		}
		// No winner, so no bonus: 901 (= 1_001 - the 100 bonus reserve) is shared by nonces,
		// 16/30 and 14/30 of it rounded down, and the rest returns to the client.
		let paid = 901 * 16 / 30 + 901 * 14 / 30;
		System::assert_last_event(
			Event::JobCompleted { job, hashed: 30, found: 0, refunded: 1_001 - paid }.into(),
		);
		assert_eq!(free(CLIENT), before + 1_001 - paid);
	});
}

// ---- commit, reveal, answer

#[test]
fn commit_and_reveal_are_checked() {
	test(|| {
		let a = hashing_node(WORKER_A, RATE);
		let job = post(EASY, 0, 64, 1_000);
		let (subjob, range) = claim(WORKER_A, job, a);
		let work = compute(job, range);
		let c = commitment::<Sha2>(subjob, &work.root, &SALT, &work.winners);
		let reveal =
			|who| HashJobs::reveal(signed(who), subjob, work.root, SALT, nonces(&work.winners));

		assert_noop!(HashJobs::commit(signed(WORKER_A), 9, c), Error::<Test>::UnknownSubjob);
		assert_noop!(HashJobs::commit(signed(WORKER_B), subjob, c), Error::<Test>::NotWorker);
		assert_noop!(reveal(WORKER_A), Error::<Test>::WrongState);
		assert_ok!(HashJobs::commit(signed(WORKER_A), subjob, c));
		System::assert_last_event(Event::ResultCommitted { subjob, commitment: c }.into());
		assert_noop!(HashJobs::commit(signed(WORKER_A), subjob, c), Error::<Test>::WrongState);
		assert_noop!(reveal(WORKER_A), Error::<Test>::RevealTooEarly);
		run_to_block(2);
		assert_noop!(
			HashJobs::reveal(signed(WORKER_A), subjob, work.root, [6; 32], nonces(&work.winners)),
			Error::<Test>::CommitmentMismatch
		);
		assert_noop!(
			HashJobs::reveal(signed(WORKER_A), subjob, [0; 32], SALT, nonces(&work.winners)),
			Error::<Test>::CommitmentMismatch
		);
		assert_noop!(
			HashJobs::answer_challenge(signed(WORKER_A), subjob, answers_placeholder()),
			Error::<Test>::WrongState
		);
		assert_ok!(reveal(WORKER_A));
		System::assert_last_event(
			Event::ResultRevealed {
				subjob,
				root: work.root,
				nonces: nonces(&work.winners),
				// Fixed by the commitment at block 1, not by the reveal at block 2.
				challenge_at: 1 + CHALLENGE_DELAY,
			}
			.into(),
		);
		assert_noop!(reveal(WORKER_A), Error::<Test>::WrongState);

		// Too early, wrong count, too late.
		assert_noop!(
			HashJobs::answer_challenge(signed(WORKER_A), subjob, answers_placeholder()),
			Error::<Test>::ChallengeNotReady
		);
		run_to_block(2 + CHALLENGE_DELAY);
		let mut short = answers(subjob, &work).into_inner();
		short.pop();
		assert_noop!(
			HashJobs::answer_challenge(signed(WORKER_A), subjob, short.try_into().unwrap()),
			Error::<Test>::WrongAnswerCount
		);
		assert_noop!(
			HashJobs::answer_challenge(signed(WORKER_B), subjob, answers(subjob, &work)),
			Error::<Test>::NotWorker
		);
		run_to_block(3 + CHALLENGE_DELAY + ANSWER_WINDOW);
		assert_noop!(
			HashJobs::answer_challenge(signed(WORKER_A), subjob, answers(subjob, &work)),
			Error::<Test>::AnswerWindowClosed
		);
	});
}

fn answers_placeholder() -> AnswersOf<Test> {
	BoundedVec::new()
}

#[test]
fn commitments_are_due_by_the_deadline() {
	test(|| {
		let a = hashing_node(WORKER_A, RATE);
		let job = post(EASY, 0, 64, 1_000);
		let (subjob, range) = claim(WORKER_A, job, a);
		let work = compute(job, range);
		// Committing in the deadline block would leave no block to reveal in.
		run_to_block(1 + CLAIM_TIMEOUT);
		let c = commitment::<Sha2>(subjob, &work.root, &SALT, &work.winners);
		assert_noop!(HashJobs::commit(signed(WORKER_A), subjob, c), Error::<Test>::DeadlinePassed);
	});
}

#[test]
fn an_invalid_revealed_nonce_slashes_and_the_range_is_handed_out_again() {
	test(|| {
		let (a, b) = (hashing_node(WORKER_A, RATE), hashing_node(WORKER_B, RATE));
		let job = post(EASY, 0, 16, 1_000);
		let (subjob, range) = claim(WORKER_A, job, a);
		let mut work = compute(job, range);
		// Claim a nonce that does not win.
		let loser = (range.start..range.end).find(|n| !work.winners.contains(n)).unwrap();
		work.winners = vec![loser];
		let client0 = free(CLIENT);
		commit_and_reveal(WORKER_A, subjob, &work);
		assert_eq!(failed(subjob), Some(FailReason::InvalidNonce));
		System::assert_has_event(
			pallet_compute_registry::Event::Slashed {
				node: a,
				amount: PENALTY,
				burnt: PENALTY / 5,
				beneficiary: Some(CLIENT),
				reason: SlashReason::InvalidWork,
			}
			.into(),
		);
		assert_eq!(
			free(CLIENT),
			client0 + PENALTY - PENALTY / 5,
			"the penalty less the burnt fifth"
		);
		assert_eq!(collateral(a), MIN_COLLATERAL - PENALTY);
		assert!(Subjobs::<Test>::get(subjob).is_none());
		assert_eq!(Jobs::<Test>::get(job).unwrap().returned.into_inner(), vec![range]);

		// Another worker gets exactly that range and finishes the job.
		let (again, reassigned) = claim(WORKER_B, job, b);
		assert_eq!(reassigned, range);
		let work = compute(job, reassigned);
		commit_and_reveal(WORKER_B, again, &work);
		run_to_block(challenge_block(again));
		assert_ok!(HashJobs::answer_challenge(signed(WORKER_B), again, answers(again, &work)));
		assert!(Jobs::<Test>::get(job).is_none(), "completed");
	});
}

#[test]
fn nonces_out_of_order_or_outside_the_subjob_are_invalid() {
	for bad in [vec![17u64], vec![3, 3], vec![9, 2]] {
		test(|| {
			let a = hashing_node(WORKER_A, RATE);
			let job = post(
				PowSpec::Generic {
					hash: HashFunction::Sha256,
					difficulty: Difficulty::LeadingZeroBits(0),
				},
				0,
				32,
				1_000,
			);
			let (subjob, range) = claim(WORKER_A, job, a);
			let mut work = compute(job, range);
			work.winners = bad.clone();
			commit_and_reveal(WORKER_A, subjob, &work);
			assert_eq!(failed(subjob), Some(FailReason::InvalidNonce), "{bad:?}");
		});
	}
}

/// Runs a subjob whose answers are produced by `tamper` from an honest result.
fn tampered(tamper: impl Fn(&mut Work, SubjobId)) -> (SubjobId, NodeId) {
	let a = hashing_node(WORKER_A, RATE);
	let job = post(EASY, 0, 64, 1_000);
	let (subjob, range) = claim(WORKER_A, job, a);
	let mut work = compute(job, range);
	tamper(&mut work, subjob);
	commit_and_reveal(WORKER_A, subjob, &work);
	run_to_block(challenge_block(subjob));
	assert_ok!(HashJobs::answer_challenge(signed(WORKER_A), subjob, answers(subjob, &work)));
	(subjob, a)
}

#[test]
fn wrong_digests_bad_proofs_and_omitted_nonces_slash() {
	test(|| {
		// Every leaf wrong, the tree built over the wrong leaves: digests differ.
		let (subjob, node) = tampered(|w, _| {
			for d in w.digests.iter_mut() {
				d[0] ^= 1;
			}
			w.root = merkle_root::<Sha2>(&w.digests);
		});
		assert_eq!(failed(subjob), Some(FailReason::WrongDigest));
		assert_eq!(collateral(node), MIN_COLLATERAL - PENALTY);
	});
	test(|| {
		// Honest digests, a root over something else: proofs fail.
		let (subjob, _) = tampered(|w, _| w.root = [9; 32]);
		assert_eq!(failed(subjob), Some(FailReason::BadProof));
	});
	test(|| {
		// Winning nonces kept back.
		let (subjob, _) = tampered(|w, _| w.winners.clear());
		assert_eq!(failed(subjob), Some(FailReason::OmittedNonce));
	});
}

#[test]
fn silence_and_missed_deadlines_are_reclaimed_by_anyone() {
	test(|| {
		let (a, b) = (hashing_node(WORKER_A, RATE), hashing_node(WORKER_B, RATE));
		let job = post(EASY, 0, 32, 1_000);
		// A claims and vanishes; B reveals and never answers.
		let (vanished, first) = claim(WORKER_A, job, a);
		let (silent, second) = claim(WORKER_B, job, b);
		commit_and_reveal(WORKER_B, silent, &compute(job, second));
		assert_noop!(HashJobs::reclaim(signed(CLIENT), vanished), Error::<Test>::NotExpired);
		assert_noop!(HashJobs::reclaim(signed(CLIENT), silent), Error::<Test>::NotExpired);
		assert_noop!(HashJobs::reclaim(signed(CLIENT), 99), Error::<Test>::UnknownSubjob);

		run_to_block(2 + CLAIM_TIMEOUT);
		assert_ok!(HashJobs::reclaim(signed(WORKER_B), vanished));
		assert_eq!(failed(vanished), Some(FailReason::MissedDeadline));
		System::assert_has_event(
			pallet_compute_registry::Event::Slashed {
				node: a,
				amount: PENALTY,
				burnt: PENALTY / 5,
				beneficiary: Some(CLIENT),
				reason: SlashReason::MissedDeadline,
			}
			.into(),
		);
		assert_ok!(HashJobs::reclaim(signed(CLIENT), silent));
		assert_eq!(failed(silent), Some(FailReason::Silence));
		System::assert_has_event(
			pallet_compute_registry::Event::Slashed {
				node: b,
				amount: PENALTY,
				burnt: PENALTY / 5,
				beneficiary: Some(CLIENT),
				reason: SlashReason::MissedChallenge,
			}
			.into(),
		);
		// The two adjacent ranges come back merged into one.
		let returned = Jobs::<Test>::get(job).unwrap().returned.into_inner();
		assert_eq!(returned, vec![NonceRange { start: first.start, end: second.end }]);
		// It is handed out again, cut to the claimer's size, and the job completes.
		let c = hashing_node(CLIENT, RATE);
		let (again, range) = claim(CLIENT, job, c);
		assert_eq!(range, first);
		let work = compute(job, range);
		commit_and_reveal(CLIENT, again, &work);
		run_to_block(challenge_block(again));
		assert_ok!(HashJobs::answer_challenge(signed(CLIENT), again, answers(again, &work)));
		honest(CLIENT, job, c);
		assert!(Jobs::<Test>::get(job).is_none(), "completed");
	});
}

// ---- spot checks catch lazy workers

/// One trial: a worker hashes only the even chunks of a 16-chunk subjob, makes up digests for the
/// odd ones, builds its tree over all of them and answers with its own leaves. Returns whether it
/// was caught.
fn lazy_trial(seed: u64) -> bool {
	let mut caught = false;
	new_test_ext().execute_with(|| {
		set_randomness(seed);
		let a = hashing_node(WORKER_A, 32);
		let job = post(HARD, 0, 64, 1_000);
		let (subjob, range) = claim(WORKER_A, job, a);
		assert_eq!(range.chunks(CHUNK), 16);
		let mut work = compute(job, range);
		for (i, d) in work.digests.iter_mut().enumerate() {
			if i % 2 == 1 {
				*d = [i as u8; 32];
			}
		}
		work.root = merkle_root::<Sha2>(&work.digests);
		commit_and_reveal(WORKER_A, subjob, &work);
		run_to_block(challenge_block(subjob));
		assert_ok!(HashJobs::answer_challenge(signed(WORKER_A), subjob, answers(subjob, &work)));
		caught = failed(subjob).is_some();
		HashJobs::do_try_state().unwrap();
	});
	caught
}

/// How a trial's worker cheats on the first chunk that holds a winning nonce.
#[derive(Clone, Copy)]
enum Cheat {
	/// Hashes everything but leaves that chunk's winners out of its result (keeping them).
	HideWinners,
	/// Does not hash that chunk: a made-up digest, and so no winners from it either.
	SkipChunk,
}

/// One trial of a cheating worker on a 16-chunk subjob with a few winners; returns the chunk it
/// cheated on and whether it was caught.
fn cheating_trial(seed: u64, cheat: Cheat) -> (u64, bool) {
	let mut outcome = (0, false);
	new_test_ext().execute_with(|| {
		set_randomness(seed);
		let a = hashing_node(WORKER_A, 32);
		let spec = PowSpec::Generic {
			hash: HashFunction::Sha256,
			difficulty: Difficulty::LeadingZeroBits(4),
		};
		let job = post(spec, 0, 64, 1_000);
		let (subjob, range) = claim(WORKER_A, job, a);
		let mut work = compute(job, range);
		assert!(work.winners.len() < MAX_NONCES as usize, "room for every winner");
		let first = *work.winners.first().expect("a winner in 64 nonces");
		let chunk = (first - range.start) / CHUNK;
		let in_chunk = |n: &u64| (n - range.start) / CHUNK == chunk;
		work.winners.retain(|n| !in_chunk(n));
		if let Cheat::SkipChunk = cheat {
			work.digests[chunk as usize] = [0xee; 32];
			work.root = merkle_root::<Sha2>(&work.digests);
		}
		commit_and_reveal(WORKER_A, subjob, &work);
		run_to_block(challenge_block(subjob));
		assert_ok!(HashJobs::answer_challenge(signed(WORKER_A), subjob, answers(subjob, &work)));
		outcome = (chunk, failed(subjob).is_some());
	});
	outcome
}

/// Issue 12, item 8: hiding a winning nonce is exactly as risky as skipping the chunk that holds
/// it. The spot check of a chunk recomputes its winners, so for every seed the worker that hid
/// the winners of chunk `j` is caught exactly when the one that skipped chunk `j` is (`j`
/// challenged), with the same penalty: probability `1 - (1 - 1/n)^c` for `n` chunks and `c`
/// challenges. The remaining bound: hiding a winner worth `V` outside the chain (a block
/// reward) is unprofitable only while `V < bonus + P (1 - (1 - 1/n)^c)` for penalty `P`; no
/// spot-check scheme can do better without checking every chunk.
#[test]
fn hiding_a_winner_is_caught_exactly_when_skipping_its_chunk_is() {
	let trials = 400u64;
	let mut caught = 0u64;
	for seed in 0..trials {
		let (chunk, hid_caught) = cheating_trial(seed, Cheat::HideWinners);
		let (same_chunk, skip_caught) = cheating_trial(seed, Cheat::SkipChunk);
		assert_eq!(chunk, same_chunk);
		assert_eq!(hid_caught, skip_caught, "seed {seed}: hiding and skipping chunk {chunk}");
		caught += u64::from(hid_caught);
	}
	let rate = caught as f64 / trials as f64;
	let promised = 1.0 - (15.0f64 / 16.0).powi(CHALLENGES as i32);
	let sigma = (promised * (1.0 - promised) / trials as f64).sqrt();
	assert!(
		(rate - promised).abs() <= 4.0 * sigma,
		"caught {rate:.3} of hidden winners, the formula promises {promised:.3} (sigma {sigma:.4})"
	);
}

/// With `c` chunks challenged uniformly with replacement, a worker that skipped a fraction `f`
/// of its chunks escapes with probability `(1 - f)^c`. Here `f = 1/2` and `c = 3`: it is caught
/// with probability `1 - 1/8 = 0.875`. Over 800 trials with different randomness the catch rate
/// must be within four standard deviations (`4 * sqrt(800 * 0.875 * 0.125) / 800 ≈ 0.047`).
#[test]
fn a_lazy_worker_is_caught_as_often_as_the_challenge_count_promises() {
	let trials = 800u64;
	let caught = (0..trials).filter(|&seed| lazy_trial(seed)).count() as f64;
	let rate = caught / trials as f64;
	let promised = 1.0 - 0.5f64.powi(CHALLENGES as i32);
	let sigma = (promised * (1.0 - promised) / trials as f64).sqrt();
	assert!(
		(rate - promised).abs() <= 4.0 * sigma,
		"caught {rate:.3} of lazy workers, the formula promises {promised:.3} (sigma {sigma:.4})"
	);
}

// ---- Bitcoin headers on chain

/// The Bitcoin genesis block header without its nonce.
fn genesis_header() -> Vec<u8> {
	let mut h = Vec::new();
	h.extend_from_slice(&1u32.to_le_bytes());
	h.extend_from_slice(&[0u8; 32]);
	let mut merkle = [0u8; 32];
	let hex = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";
	for (i, byte) in merkle.iter_mut().enumerate() {
		*byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
	}
	merkle.reverse();
	h.extend_from_slice(&merkle);
	h.extend_from_slice(&1_231_006_505u32.to_le_bytes());
	h.extend_from_slice(&0x1d00_ffffu32.to_le_bytes());
	h
}

#[test]
fn the_runtime_verifies_the_bitcoin_genesis_nonce_and_rejects_it_plus_one() {
	const NONCE: u64 = 2_083_236_893;
	test(|| {
		let (a, b) = (hashing_node(WORKER_A, RATE), hashing_node(WORKER_B, RATE));
		let start = NONCE - 1;
		let job = NextJobId::<Test>::get();
		assert_ok!(HashJobs::post_job(
			signed(CLIENT),
			payload(&genesis_header()),
			PowSpec::BitcoinHeader,
			start,
			start + 16,
			1_000
		));
		// Claiming the nonce plus one fails the subjob ...
		let (cheat, range) = claim(WORKER_A, job, a);
		let mut work = compute(job, range);
		assert_eq!(work.winners, vec![NONCE], "the real nonce is the only winner");
		work.winners = vec![NONCE + 1];
		commit_and_reveal(WORKER_A, cheat, &work);
		assert_eq!(failed(cheat), Some(FailReason::InvalidNonce));
		// ... the real one verifies and earns the finder's bonus.
		let honest_subjob = honest(WORKER_B, job, b);
		assert!(events().contains(&Event::FinderRewarded {
			job,
			subjob: honest_subjob,
			nonce: NONCE,
			to: WORKER_B,
			bonus: 100,
		}));
	});
}

// ---- quorum

#[test]
fn a_quorum_slashes_the_minority() {
	test(|| {
		let nodes: Vec<NodeId> =
			[WORKER_A, WORKER_B, CLIENT].iter().map(|&w| hashing_node(w, RATE)).collect();
		let results = [(nodes[0], [1u8; 32]), (nodes[1], [2u8; 32]), (nodes[2], [1u8; 32])];
		let outcome = HashJobs::settle_quorum(&results, 40, Some(&CLIENT)).unwrap();
		assert_eq!(outcome.result, Some([1u8; 32]));
		assert_eq!(outcome.minority, vec![nodes[1]]);
		assert_eq!(collateral(nodes[1]), MIN_COLLATERAL - 40);
		assert_eq!(collateral(nodes[0]), MIN_COLLATERAL);
		System::assert_last_event(
			Event::QuorumSettled { result: Some([1u8; 32]), majority: 2, slashed: 1 }.into(),
		);
		// A node cannot vote twice.
		assert_noop!(
			HashJobs::settle_quorum(&[results[0], results[0], results[1]], 40, None),
			Error::<Test>::DuplicateResult
		);
		// A tie decides nothing and slashes nobody.
		let outcome = HashJobs::settle_quorum(&results[..2], 40, None).unwrap();
		assert_eq!(outcome.result, None);
		assert_eq!(collateral(nodes[1]), MIN_COLLATERAL - 40);
	});
}

/// Issue 12, item 9: an owner with two nodes used to cast two votes, so one owner could
/// outvote an honest one and have it slashed.
#[test]
fn a_quorum_counts_owners_not_nodes() {
	test(|| {
		let honest = hashing_node(WORKER_B, RATE);
		let sybils = [hashing_node(WORKER_A, RATE), hashing_node(WORKER_A, RATE)];
		let (right, wrong) = ([1u8; 32], [2u8; 32]);
		let attack = [(honest, right), (sybils[0], wrong), (sybils[1], wrong)];
		assert_noop!(
			HashJobs::settle_quorum(&attack, 40, Some(&WORKER_A)),
			Error::<Test>::DuplicateOwner
		);
		assert_eq!(collateral(honest), MIN_COLLATERAL, "the honest node keeps its collateral");
		// A result from a node that is not registered is refused.
		assert_noop!(
			HashJobs::settle_quorum(&[(honest, right), (99, wrong)], 40, None),
			Error::<Test>::UnknownNode
		);
	});
}

// ---- challenge seeds no single author foresees (issue 12, item 3)

/// One trial of the attack on the old seed: the worker is (or bribes) the author whose VRF
/// output the challenge block records, which a BABE author knows an epoch ahead. Before
/// committing it derives the challenges from that output as the old pallet did (one block's
/// randomness was the whole seed), hashes only those chunks and makes up the rest. The blocks
/// after its commitment have randomness it does not know. Returns whether it was caught, after
/// checking that its prediction is exactly the old single-block seed.
fn foreseeing_author_trial(trial: u64) -> bool {
	let mut caught = false;
	new_test_ext().execute_with(|| {
		let a = hashing_node(WORKER_A, 32);
		let job = post(HARD, 0, 64, 1_000);
		let (subjob, range) = claim(WORKER_A, job, a);
		let chunks = range.chunks(CHUNK);
		let commit_at = System::block_number();
		let challenge_at = commit_at + CHALLENGE_DELAY;
		let vrf = |block: u64| trial * 1_000 + block;
		// What the author of the challenge block knows before anyone commits.
		set_randomness(vrf(challenge_at));
		let known = <TestRandomness as frame_support::traits::Randomness<_, _>>::random(
			&b"hash-jobs/challenge"[..],
		)
		.0
		.unwrap();
		let old_seed = sp_io::hashing::sha2_256(&codec::Encode::encode(&known));
		let predicted = appchain_primitives::pow::challenge_indices::<Sha2>(
			&old_seed, subjob, chunks, CHALLENGES,
		);
		let mut work = compute(job, range);
		for (i, d) in work.digests.iter_mut().enumerate() {
			if !predicted.contains(&(i as u64)) {
				*d = [0xee; 32];
			}
		}
		work.root = merkle_root::<Sha2>(&work.digests);
		let c = commitment::<Sha2>(subjob, &work.root, &SALT, &work.winners);
		assert_ok!(HashJobs::commit(signed(WORKER_A), subjob, c));
		for block in commit_at + 1..=challenge_at {
			set_randomness(vrf(block));
			run_to_block(block);
			if block == commit_at + 1 {
				assert_ok!(HashJobs::reveal(
					signed(WORKER_A),
					subjob,
					work.root,
					SALT,
					nonces(&work.winners)
				));
			}
		}
		assert_eq!(challenge_block(subjob), challenge_at);
		// The author's knowledge is exactly what the old pallet used as the seed...
		assert_eq!(RecentRandomness::<Test>::get().last(), Some(&old_seed));
		// ... but the seed now also holds the outputs of the other seed blocks.
		assert_ne!(ChallengeSeeds::<Test>::get(challenge_at), Some(old_seed));
		assert_ok!(HashJobs::answer_challenge(signed(WORKER_A), subjob, answers(subjob, &work)));
		caught = failed(subjob).is_some();
		HashJobs::do_try_state().unwrap();
	});
	caught
}

/// Under the old seed every one of these trials passed (the predicted chunks were the
/// challenged ones). Now the author knows one of the `SEED_BLOCKS` outputs only, and the
/// worker, which hashed 3 of 16 chunks, passes only when all 3 challenges land on them:
/// probability at most `(3/16)^3 ≈ 0.0066` per trial, about 0.3 passes expected in 40.
#[test]
fn an_author_that_knows_its_own_vrf_output_cannot_foresee_the_challenges() {
	let trials = 40u64;
	let caught = (0..trials).filter(|&t| foreseeing_author_trial(t)).count() as u64;
	assert!(caught >= trials - 1, "caught {caught} of {trials} foreseeing workers");
}

#[test]
fn every_seed_block_changes_the_seed() {
	let seed_with = |changed: Option<u64>| {
		let mut seed = None;
		new_test_ext().execute_with(|| {
			for block in 2..=10u64 {
				set_randomness(if changed == Some(block) { 999 } else { block });
				run_to_block(block);
			}
			seed = ChallengeSeeds::<Test>::get(10);
		});
		seed.unwrap()
	};
	let base = seed_with(None);
	// The last SEED_BLOCKS blocks enter the seed of block 10; older ones do not.
	for block in 10 - u64::from(SEED_BLOCKS) + 1..=10 {
		assert_ne!(seed_with(Some(block)), base, "block {block} is part of the seed");
	}
	assert_eq!(seed_with(Some(10 - u64::from(SEED_BLOCKS))), base);
}

// ---- collateral backs every claim (issue 12, item 2)

/// A worker that sees a failed check coming tries to get its collateral out of reach first (a
/// slash to a friendly beneficiary, or a withdrawal). The penalty of each claim was reserved
/// when it claimed: nothing else can take it, and the client is paid in full.
#[test]
fn the_penalty_of_a_claimed_subjob_is_reserved_until_it_settles() {
	test(|| {
		let a = hashing_node(WORKER_A, RATE);
		let job = post(EASY, 0, 64, 1_000);
		let claims: Vec<_> = (0..3).map(|_| claim(WORKER_A, job, a).0).collect();
		assert_eq!(
			<Registry as pallet_compute_registry::ComputeNodes<_, _>>::free_collateral(a),
			MIN_COLLATERAL - 3 * PENALTY
		);
		// 10 free left: a fourth claim is not backed.
		assert_noop!(HashJobs::claim(signed(WORKER_A), job, a), Error::<Test>::TooManyClaims);
		// An unbacked slash (here a quorum the worker's owner arranged) reaches only the free 10.
		let taken = <Registry as pallet_compute_registry::ComputeNodes<_, _>>::slash(
			a,
			MIN_COLLATERAL,
			Some(&WORKER_B),
			SlashReason::InvalidWork,
		)
		.unwrap();
		assert_eq!(taken.taken, MIN_COLLATERAL - 3 * PENALTY);
		// Every claim still pays its client the full penalty (less the burn) when it fails.
		run_to_block(2 + CLAIM_TIMEOUT);
		let before = free(CLIENT);
		for subjob in claims {
			assert_ok!(HashJobs::reclaim(signed(CLIENT), subjob));
		}
		assert_eq!(free(CLIENT), before + 3 * (PENALTY - PENALTY / 5));
		assert_eq!(collateral(a), 0);
	});
}

#[test]
fn a_verified_subjob_releases_its_reservation() {
	test(|| {
		let a = hashing_node(WORKER_A, RATE);
		let job = post(EASY, 0, 16, 1_000);
		honest(WORKER_A, job, a);
		assert_eq!(
			<Registry as pallet_compute_registry::ComputeNodes<_, _>>::free_collateral(a),
			MIN_COLLATERAL
		);
		assert!(!pallet_compute_registry::ReservedCollateral::<Test>::contains_key(a));
	});
}

// ---- challenge seeds and invariants

#[test]
fn challenge_seeds_are_kept_only_as_long_as_an_answer_needs_them() {
	test(|| {
		run_to_block(40);
		let retention = CHALLENGE_DELAY + ANSWER_WINDOW + 1;
		assert_eq!(ChallengeSeeds::<Test>::iter().count() as u64, retention);
		assert!(ChallengeSeeds::<Test>::get(40 - retention).is_none());
		assert!(ChallengeSeeds::<Test>::get(40 - retention + 1).is_some());
		set_randomness(77);
		run_to_block(41);
		assert_ne!(ChallengeSeeds::<Test>::get(41), ChallengeSeeds::<Test>::get(40));
	});
}

#[test]
fn try_state_catches_a_budget_that_does_not_match() {
	new_test_ext().execute_with(|| {
		let job = post(EASY, 0, 64, 1_000);
		assert_ok!(HashJobs::do_try_state());
		Jobs::<Test>::mutate(job, |j| j.as_mut().unwrap().paid = 1);
		assert!(HashJobs::do_try_state().is_err());
	});
}

#[test]
fn a_returned_range_is_cut_to_the_next_claimers_size() {
	test(|| {
		let (a, slow) = (hashing_node(WORKER_A, RATE), hashing_node(WORKER_B, 1));
		let job = post(HARD, 0, 64, 1_000);
		let (vanished, range) = claim(WORKER_A, job, a);
		assert_eq!(range, NonceRange { start: 0, end: 16 });
		run_to_block(2 + CLAIM_TIMEOUT);
		assert_ok!(HashJobs::reclaim(signed(CLIENT), vanished));
		assert_eq!(ClaimsOf::<Test>::get(a), 0);
		// The slow node (one chunk per claim) gets the first chunk; the rest stays returned.
		assert_eq!(claim(WORKER_B, job, slow).1, NonceRange { start: 0, end: 4 });
		assert_eq!(
			Jobs::<Test>::get(job).unwrap().returned.into_inner(),
			vec![NonceRange { start: 4, end: 16 }]
		);
		assert_eq!(claim(WORKER_B, job, slow).1, NonceRange { start: 4, end: 8 });
	});
}

#[test]
fn a_full_list_of_nonces_is_not_blamed_for_winners_it_had_no_room_for() {
	test(|| {
		let a = hashing_node(WORKER_A, RATE);
		let every_nonce_wins = PowSpec::Generic {
			hash: HashFunction::Sha256,
			difficulty: Difficulty::LeadingZeroBits(0),
		};
		let job = post(every_nonce_wins, 0, 16, 1_000);
		let (subjob, range) = claim(WORKER_A, job, a);
		let mut work = compute(job, range);
		assert_eq!(work.winners.len(), 16);
		work.winners.truncate(MAX_NONCES as usize);
		commit_and_reveal(WORKER_A, subjob, &work);
		run_to_block(challenge_block(subjob));
		assert_ok!(HashJobs::answer_challenge(signed(WORKER_A), subjob, answers(subjob, &work)));
		assert_eq!(failed(subjob), None);
		System::assert_last_event(
			Event::JobCompleted { job, hashed: 16, found: 8, refunded: 0 }.into(),
		);
	});
}

// ---- returned ranges: the bound on tracked ranges holds on every path

/// Sends a heartbeat for `node` when one is due, so that it stays serving in long tests.
fn keep_serving(owner: AccountId, node: NodeId) {
	let _ = pallet_compute_registry::Pallet::<Test>::heartbeat(signed(owner), node);
}

#[test]
fn failed_ranges_merge_with_the_returned_ranges_they_touch() {
	test(|| {
		let mut returned: ReturnedOf<Test> = Default::default();
		let r = |start, end| NonceRange { start, end };
		assert_ok!(HashJobs::return_range(&mut returned, r(8, 12)));
		assert_ok!(HashJobs::return_range(&mut returned, r(0, 4)));
		assert_eq!(returned.to_vec(), vec![r(8, 12), r(0, 4)]);
		// Touching both: the three become one.
		assert_ok!(HashJobs::return_range(&mut returned, r(4, 8)));
		assert_eq!(returned.to_vec(), vec![r(0, 12)]);
		// Touching one end only.
		assert_ok!(HashJobs::return_range(&mut returned, r(12, 16)));
		assert_ok!(HashJobs::return_range(&mut returned, r(20, 24)));
		assert_ok!(HashJobs::return_range(&mut returned, r(16, 20)));
		assert_eq!(returned.to_vec(), vec![r(0, 24)]);
	});
}

/// The attack of issue 12, item 1: fill a job's returned ranges up to `MaxOpenSubjobs` with
/// ranges that do not touch, then have a small claimer cut one and fail. Before the fix the cut
/// went through, the failure could not return its range, and `reclaim` reverted for ever,
/// locking the client's budget.
#[test]
fn a_small_claimer_cannot_push_a_job_past_its_bound_of_tracked_ranges() {
	test(|| {
		let size = 16; // RATE 8 over TARGET_SECS 2
		let job = post(HARD, 0, 2 * size * u64::from(MAX_OPEN), 1_000);
		let honest_node = hashing_node(WORKER_B, RATE);
		let vanishing = [hashing_node(WORKER_A, RATE), hashing_node(WORKER_A, RATE)];
		// Every other range is claimed by a node that vanishes; the ones between are verified.
		let mut vanished = Vec::new();
		for i in 0..MAX_OPEN as usize {
			honest(WORKER_B, job, honest_node);
			keep_serving(WORKER_B, honest_node);
			vanished.push(claim(WORKER_A, job, vanishing[i / 2]).0);
		}
		run_to_block(System::block_number() + CLAIM_TIMEOUT + 1);
		for subjob in vanished {
			assert_ok!(HashJobs::reclaim(signed(CLIENT), subjob));
		}
		let info = Jobs::<Test>::get(job).unwrap();
		assert_eq!((info.open_subjobs, info.returned.len() as u32), (0, MAX_OPEN), "at the bound");

		// The small claimer would cut a range and track one more: refused, nothing changes.
		let small = hashing_node(CLIENT, 1);
		assert_noop!(
			HashJobs::claim(signed(CLIENT), job, small),
			Error::<Test>::TooManyOpenSubjobs
		);
		// A claimer of the range's size takes it whole; if it fails, the range comes back.
		let whole = hashing_node(WORKER_B, RATE);
		let (lost, range) = claim(WORKER_B, job, whole);
		assert_eq!(range.end - range.start, size);
		run_to_block(System::block_number() + CLAIM_TIMEOUT + 1);
		assert_ok!(HashJobs::reclaim(signed(CLIENT), lost));
		assert_eq!(Jobs::<Test>::get(job).unwrap().returned.len() as u32, MAX_OPEN);

		// Honest claimers finish the job: nothing is locked, the budget is settled.
		while Jobs::<Test>::get(job).is_some() {
			keep_serving(WORKER_B, honest_node);
			honest(WORKER_B, job, honest_node);
		}
		assert_eq!(budget_held(CLIENT), 0);
	});
}

// ---- reads for the runtime API

/// Every page of `read`, concatenated: the ids it returned and how many pages it took.
fn all_pages<V>(
	read: impl Fn(Option<u64>) -> appchain_primitives::page::Page<(u64, V), u64>,
) -> (Vec<u64>, usize) {
	let (items, pages) = appchain_primitives::page::read_all(read);
	let mut ids: Vec<u64> = items.into_iter().map(|(id, _)| id).collect();
	ids.sort();
	(ids, pages)
}

#[test]
fn claimable_jobs_are_those_a_claim_succeeds_on() {
	test(|| {
		let (a, b) = (hashing_node(WORKER_A, RATE), hashing_node(WORKER_B, RATE));
		// Job 0 is handed out whole by two claims; jobs 1..=6 stay claimable.
		let full = post(HARD, 0, 32, 1_000);
		let (first, _) = claim(WORKER_A, full, a);
		claim(WORKER_B, full, b);
		let open: Vec<JobId> = (0..6).map(|_| post(HARD, 0, 16, MIN_BUDGET)).collect();
		let (ids, pages) = all_pages(|after| HashJobs::claimable_jobs(after, 2));
		assert_eq!(ids, open);
		assert!(pages >= 3, "three pages of two at least, got {pages}");
		// The read agrees with `claim` on every job.
		let c = hashing_node(CLIENT, RATE);
		for job in 0..NextJobId::<Test>::get() {
			let listed = ids.contains(&job);
			let claimed = frame_support::storage::with_transaction(|| {
				let ok = HashJobs::claim(signed(CLIENT), job, c).is_ok();
				sp_runtime::TransactionOutcome::Rollback(Ok::<_, sp_runtime::DispatchError>(ok))
			})
			.unwrap();
			assert_eq!(listed, claimed, "job {job}");
		}
		// A failed subjob's returned range makes its job claimable again.
		run_to_block(2 + CLAIM_TIMEOUT);
		assert_ok!(HashJobs::reclaim(signed(CLIENT), first));
		assert!(all_pages(|after| HashJobs::claimable_jobs(after, 100)).0.contains(&full));
	});
}

#[test]
fn subjobs_are_read_by_node_by_job_and_by_whether_a_reclaim_succeeds() {
	test(|| {
		let (a, b) = (hashing_node(WORKER_A, RATE), hashing_node(WORKER_B, RATE));
		let job = post(EASY, 0, 64, 1_000);
		let other = post(EASY, 0, 16, 1_000);
		let (s0, r0) = claim(WORKER_A, job, a);
		let (s1, r1) = claim(WORKER_B, job, b);
		let (s2, _) = claim(WORKER_B, other, b);
		commit_and_reveal(WORKER_A, s0, &compute(job, r0));
		assert_eq!(r1.start, r0.end, "consecutive ranges");
		let read = |filter| all_pages(|after| HashJobs::subjobs_where(filter, after, 1)).0;
		assert_eq!(read(SubjobFilter::All), vec![s0, s1, s2]);
		assert_eq!(read(SubjobFilter::Node(a)), vec![s0]);
		assert_eq!(read(SubjobFilter::Node(b)), vec![s1, s2]);
		assert_eq!(read(SubjobFilter::Job(job)), vec![s0, s1]);
		assert_eq!(read(SubjobFilter::Job(other)), vec![s2]);
		assert_eq!(read(SubjobFilter::Node(99)), Vec::<SubjobId>::new());

		// Block by block, `Reclaimable` lists exactly the subjobs a reclaim in the next block
		// fails: the two claimed ones after their deadline, the revealed one (never answered)
		// after its answer window.
		let deadline = Subjobs::<Test>::get(s1).unwrap().deadline;
		let last = (challenge_block(s0) + ANSWER_WINDOW).max(deadline) + 2;
		let mut seen = Vec::new();
		for n in System::block_number()..last {
			run_to_block(n);
			let predicted = read(SubjobFilter::Reclaimable);
			run_to_block(n + 1);
			let actual: Vec<SubjobId> = read(SubjobFilter::All)
				.into_iter()
				.filter(|&id| {
					frame_support::storage::with_transaction(|| {
						let ok = HashJobs::reclaim(signed(CLIENT), id).is_ok();
						sp_runtime::TransactionOutcome::Rollback(
							Ok::<_, sp_runtime::DispatchError>(ok),
						)
					})
					.unwrap()
				})
				.collect();
			assert_eq!(predicted, actual, "predicted at block {n}, reclaimed at {}", n + 1);
			seen.extend(actual);
		}
		seen.sort();
		seen.dedup();
		assert_eq!(seen, vec![s0, s1, s2], "every subjob became reclaimable");
	});
}
