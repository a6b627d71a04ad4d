// Hash jobs on a `--dev` node, driven by a test client that hashes with node:crypto, an
// implementation independent of the Rust one.
//
// Eve posts a SHA-256 job over 8192 nonces whose winning nonces the test knows in advance. Dave's
// hashing node claims the first subjob and vanishes; Bob's and Charlie's claim the others and
// submit honest results: commitment, reveal a block later, then the digests and Merkle proofs of
// the chunks the chain's randomness picks. After Dave's deadline anyone reclaims his subjob (he
// is slashed to Eve), Charlie gets its range and the job completes. The revealed nonces are
// exactly the known winners, and every account's free-balance change equals the events.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';

import {
  bestNumber,
  connectApi,
  disconnectAll,
  eventsBetween,
  rpc,
  rpcRaw,
  sendAndFinalize,
  startNode,
  stopAllNodes,
  waitFor,
  withLogs,
} from './lib/node.mjs';

const UNITS = 10n ** 12n;
const MIN_COLLATERAL = 100n * UNITS;
const BUDGET = 100n * UNITS;
const RANGE = 8192;
const ZERO_BITS = 12;
// 68 H/s * 30 s = 2040 nonces, rounded up to whole chunks of 64: subjobs of 2048.
const HASH_RATE = 68;

const sha256 = (...parts) => createHash('sha256').update(Buffer.concat(parts.map((p) => Buffer.from(p)))).digest();
const le64 = (n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const le32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
/** At least ZERO_BITS leading zero bits (the hash as a big-endian number). */
const wins = (hash) => {
  for (let bit = 0; bit < ZERO_BITS; bit++) if (hash[bit >> 3] & (0x80 >> (bit & 7))) return false;
  return true;
};
const nonceHash = (payload, n) => sha256(payload, le64(n));

/** Chunk digests, winners and Merkle root of the nonces [start, end) in chunks of `k`. */
function work(payload, start, end, k) {
  const digests = [];
  const winners = [];
  for (let c = start; c < end; c += k) {
    const hashes = [];
    for (let n = c; n < Math.min(c + k, end); n++) {
      const h = nonceHash(payload, n);
      if (wins(h)) winners.push(n);
      hashes.push(h);
    }
    digests.push(sha256(Buffer.concat(hashes)));
  }
  return { digests, winners, root: merkleRoot(digests) };
}

function nextLevel(level) {
  const out = [];
  for (let i = 0; i < level.length; i += 2) out.push(i + 1 < level.length ? sha256(level[i], level[i + 1]) : level[i]);
  return out;
}

function merkleRoot(leaves) {
  let level = leaves;
  while (level.length > 1) level = nextLevel(level);
  return level[0];
}

function merkleProof(leaves, index) {
  const proof = [];
  let level = leaves;
  let i = index;
  while (level.length > 1) {
    if ((i ^ 1) < level.length) proof.push(level[i ^ 1]);
    level = nextLevel(level);
    i >>= 1;
  }
  return proof;
}

function challengeIndices(seed, subjob, chunks, count) {
  const out = [];
  for (let j = 0; j < count; j++) {
    const h = sha256(seed, le64(subjob), le32(j));
    out.push(Number(h.readBigUInt64LE(0) % BigInt(chunks)));
  }
  return out;
}

const commitment = (subjob, root, salt, nonces) => sha256(le64(subjob), root, salt, ...nonces.map(le64));

describe('hash jobs on a dev node', { timeout: 900_000 }, () => {
  let node;
  let api;
  let k;
  let payload;
  let expectedWinners;
  let job;
  let startHash;
  let endHash;
  const nodeOf = {};
  const subjobs = {};

  before(async () => {
    await cryptoWaitReady();
    node = await startNode({ name: 'e2e-hashjobs', extraArgs: ['--dev', '--tmp'] });
    api = await connectApi(node.wsUrl);
    const keyring = new Keyring({ type: 'sr25519' });
    k = Object.fromEntries(['Alice', 'Bob', 'Charlie', 'Dave', 'Eve'].map((n) => [n.toLowerCase(), keyring.addFromUri(`//${n}`)]));
    // A payload whose range holds at least one winning nonce.
    for (let i = 0; ; i++) {
      payload = Buffer.from(`e2e hash job ${i}`);
      expectedWinners = [];
      for (let n = 0; n < RANGE; n++) if (wins(nonceHash(payload, n))) expectedWinners.push(n);
      if (expectedWinners.length > 0) break;
    }
  });

  after(async () => {
    await disconnectAll();
    await stopAllNodes();
  });

  const addr = (who) => api.createType('AccountId', who).toString();
  const eventOf = (events, method) => events.find(({ event }) => event.section === 'hashJobs' && event.method === method)?.event;

  async function waitForBlock(n, what) {
    await waitFor(async () => (await bestNumber(node.httpUrl)) >= n, { timeout: 240_000, interval: 1_000, what });
  }

  /** Every page of a `hashJobs_*` read at one block hash: the ids, sorted. */
  async function readAll(method, head, limit = 1) {
    const at = (await api.rpc.chain.getBlockHash()).toHex();
    const ids = [];
    let after = null;
    let pages = 0;
    do {
      const page = await rpc(node.httpUrl, method, [...head, after, limit, at]);
      pages += 1;
      ids.push(...page.items.map((x) => x.id));
      after = page.next;
    } while (after !== null);
    return { ids: ids.sort((a, b) => a - b), pages };
  }
  const claimable = async () => (await readAll('hashJobs_claimable', [])).ids;
  const subjobsWhere = async (filter) => (await readAll('hashJobs_subjobs', [filter])).ids;

  /** Heartbeats `who`'s node if its last heartbeat is old enough, so that it keeps serving. */
  async function keepServing(who) {
    const interval = api.consts.registry.heartbeatInterval.toNumber();
    const last = (await api.query.registry.nodes(nodeOf[who])).unwrap().lastHeartbeat.toNumber();
    if ((await bestNumber(node.httpUrl)) >= last + interval) {
      await sendAndFinalize(api, api.tx.registry.heartbeat(nodeOf[who]), k[who]);
    }
  }

  /** Claims a subjob of `job` for `who` and returns its id and range. */
  async function claim(who) {
    await keepServing(who);
    const { events } = await sendAndFinalize(api, api.tx.hashJobs.claim(job, nodeOf[who]), k[who]);
    const claimed = eventOf(events, 'SubjobClaimed');
    return {
      id: claimed.data.subjob.toNumber(),
      start: claimed.data.start.toNumber(),
      end: claimed.data.end.toNumber(),
      deadline: claimed.data.deadline.toNumber(),
    };
  }

  /** An honest worker: hash, commit, reveal, answer the spot check. */
  async function honest(who, subjob) {
    const chunk = api.consts.hashJobs.chunkSize.toNumber();
    const result = work(payload, subjob.start, subjob.end, chunk);
    const salt = randomBytes(32);
    await sendAndFinalize(api, api.tx.hashJobs.commit(subjob.id, u8aToHex(commitment(subjob.id, result.root, salt, result.winners))), k[who]);
    const revealed = await sendAndFinalize(
      api,
      api.tx.hashJobs.reveal(subjob.id, u8aToHex(result.root), u8aToHex(salt), result.winners),
      k[who],
    );
    const challengeAt = eventOf(revealed.events, 'ResultRevealed').data.challengeAt.toNumber();
    await waitForBlock(challengeAt, `challenge block ${challengeAt}`);
    const seed = (await api.query.hashJobs.challengeSeeds(challengeAt)).unwrap();
    const count = api.consts.hashJobs.challengeCount.toNumber();
    const answers = challengeIndices(Buffer.from(seed), subjob.id, result.digests.length, count).map((i) => ({
      digest: u8aToHex(result.digests[i]),
      proof: merkleProof(result.digests, i).map((p) => u8aToHex(p)),
    }));
    const { events } = await sendAndFinalize(api, api.tx.hashJobs.answerChallenge(subjob.id, answers), k[who]);
    const verified = eventOf(events, 'SubjobVerified');
    assert.ok(verified, `subjob ${subjob.id} verified`);
    return { result, events };
  }

  test(
    'setup: three hashing nodes',
    withLogs(async () => {
      await Promise.all(
        ['bob', 'charlie', 'dave'].map(async (who) => {
          const { events } = await sendAndFinalize(api, api.tx.registry.registerHashingNode(HASH_RATE, MIN_COLLATERAL), k[who]);
          nodeOf[who] = events.find(({ event }) => event.method === 'HashingNodeRegistered').event.data.node.toNumber();
        }),
      );
      startHash = await api.rpc.chain.getFinalizedHead();
    }),
  );

  test(
    'two honest workers and a reassigned subjob complete a job with a known winning nonce',
    withLogs(async () => {
      const spec = { Generic: { hash: 'Sha256', difficulty: { LeadingZeroBits: ZERO_BITS } } };
      const posted = await sendAndFinalize(api, api.tx.hashJobs.postJob(u8aToHex(payload), spec, 0, RANGE, BUDGET), k.eve);
      job = eventOf(posted.events, 'JobPosted').data.job.toNumber();

      // Dave claims the first subjob and vanishes.
      subjobs.dave = await claim('dave');
      assert.deepEqual([subjobs.dave.start, subjobs.dave.end], [0, 2048]);
      // Before his deadline nobody can take it from him.
      await assert.rejects(sendAndFinalize(api, api.tx.hashJobs.reclaim(subjobs.dave.id), k.alice), /hashJobs\.NotExpired/);
      // The RPC a worker polls: the job is claimable, Dave's subjob is his and the job's, and
      // nothing is reclaimable yet.
      assert.deepEqual(await claimable(), [job]);
      assert.deepEqual(await subjobsWhere({ node: nodeOf.dave }), [subjobs.dave.id]);
      assert.deepEqual(await subjobsWhere({ job }), [subjobs.dave.id]);
      assert.deepEqual(await subjobsWhere('reclaimable'), []);
      const one = await rpc(node.httpUrl, 'hashJobs_subjobs', [{ node: nodeOf.dave }, null, null]);
      assert.equal(one.items[0].state, 'claimed');
      assert.deepEqual([one.items[0].start, one.items[0].end, one.items[0].job], [0, 2048, job]);
      assert.equal(one.items[0].worker, addr(k.dave.address));
      const bad = await rpcRaw(node.httpUrl, 'hashJobs_subjobs', [{ owner: 1 }, null, null]);
      assert.ok(bad.error, 'an unknown filter is refused');

      // Bob and Charlie work in parallel, then Bob takes the last fresh range.
      const [bob1, charlie1] = await Promise.all([claim('bob'), claim('charlie')]);
      // Pages of one subjob each, all at one block: every open subjob of the job, once.
      const paged = await readAll('hashJobs_subjobs', [{ job }], 1);
      assert.deepEqual(paged.ids, [subjobs.dave.id, bob1.id, charlie1.id].sort((a, b) => a - b));
      assert.ok(paged.pages >= 3, `${paged.pages} pages of one`);
      await Promise.all([honest('bob', bob1), honest('charlie', charlie1)]);
      const bob2 = await claim('bob');
      assert.equal(bob2.end, RANGE);
      await honest('bob', bob2);
      await keepServing('charlie');
      await assert.rejects(sendAndFinalize(api, api.tx.hashJobs.claim(job, nodeOf.charlie), k.charlie), /hashJobs\.NothingToClaim/);
      assert.deepEqual(await claimable(), [], 'every nonce handed out: not claimable');

      // After Dave's deadline anyone reclaims his subjob; he is slashed to Eve.
      await waitForBlock(subjobs.dave.deadline, "Dave's deadline");
      // At his deadline block, a reclaim in the next block succeeds: the RPC says so.
      await waitFor(async () => (await subjobsWhere('reclaimable')).includes(subjobs.dave.id), {
        timeout: 30_000,
        interval: 1_000,
        what: "Dave's subjob listed as reclaimable",
      });
      await waitForBlock(subjobs.dave.deadline + 1, "Dave's deadline");
      const reclaimed = await sendAndFinalize(api, api.tx.hashJobs.reclaim(subjobs.dave.id), k.alice);
      const failed = eventOf(reclaimed.events, 'SubjobFailed');
      assert.ok(failed.data.reason.isMissedDeadline);
      const penalty = api.consts.hashJobs.slashPenalty.toBigInt();
      assert.equal(failed.data.penalty.toBigInt(), penalty);
      const slashed = reclaimed.events.find(({ event }) => event.section === 'registry' && event.method === 'Slashed').event;
      assert.equal(slashed.data.beneficiary.unwrap().toString(), addr(k.eve.address));
      // The registry burns its share (a fifth); Eve gets the rest.
      assert.equal(slashed.data.burnt.toBigInt(), penalty / 5n);
      assert.equal(failed.data.compensation.toBigInt(), penalty - penalty / 5n);

      // His range is back: the job is claimable again.
      assert.deepEqual(await claimable(), [job]);
      // Charlie gets exactly Dave's range and the job completes.
      const charlie2 = await claim('charlie');
      assert.deepEqual([charlie2.start, charlie2.end], [0, 2048]);
      const { events } = await honest('charlie', charlie2);
      const completed = eventOf(events, 'JobCompleted');
      assert.ok(completed, 'the job completed');
      assert.equal(completed.data.hashed.toNumber(), RANGE);
      assert.equal(completed.data.found.toNumber(), expectedWinners.length);
      assert.ok((await api.query.hashJobs.jobs(job)).isNone);
      endHash = (await api.rpc.chain.getFinalizedHead()).toHex();
    }),
  );

  test(
    "the revealed nonces are the known winners and every account's balance change matches the events",
    withLogs(async () => {
      const tracked = ['bob', 'charlie', 'dave', 'eve'].map((w) => addr(k[w].address));
      const expected = Object.fromEntries(tracked.map((a) => [a, 0n]));
      const add = (who, amount) => {
        const a = addr(who);
        if (a in expected) expected[a] += amount;
      };
      const revealed = [];
      let client;
      let rewards = 0n;
      let bonus = 0n;
      let refunded = 0n;

      for (const { number, event } of await eventsBetween(api, startHash, endHash)) {
        const d = event.data;
        switch (`${event.section}.${event.method}`) {
          case 'transactionPayment.TransactionFeePaid':
            add(d.who, -d.actualFee.toBigInt());
            break;
          case 'hashJobs.JobPosted':
            client = d.client.toString();
            add(d.client, -d.budget.toBigInt());
            break;
          case 'hashJobs.ResultRevealed':
            revealed.push(...d.nonces.map((x) => x.toNumber()));
            break;
          case 'hashJobs.SubjobVerified':
            add(d.to, d.reward.toBigInt());
            rewards += d.reward.toBigInt();
            break;
          case 'hashJobs.FinderRewarded':
            add(d.to, d.bonus.toBigInt());
            bonus += d.bonus.toBigInt();
            assert.ok(expectedWinners.includes(d.nonce.toNumber()), 'the bonus is for a real winner');
            break;
          case 'hashJobs.SubjobFailed':
            add(client, d.compensation.toBigInt());
            break;
          case 'hashJobs.JobCompleted':
            add(client, d.refunded.toBigInt());
            refunded += d.refunded.toBigInt();
            break;
          default:
        }
      }
      assert.deepEqual([...revealed].sort((a, b) => a - b), expectedWinners);
      assert.equal(bonus, BUDGET / 10n, 'a 10% finder bonus');
      assert.equal(rewards + bonus + refunded, BUDGET, 'the budget is paid out or refunded, to the plank');
      assert.equal(rewards, (BUDGET * 9n) / 10n, '90% shared by nonces hashed');
      for (const who of tracked) {
        const before = (await api.query.system.account.at(startHash, who)).data.free.toBigInt();
        const afterwards = (await api.query.system.account.at(endHash, who)).data.free.toBigInt();
        assert.equal(afterwards - before, expected[who], `balance change of ${who}`);
      }
      // Bob verified two subjobs, Charlie two, Dave none.
      const bob = addr(k.bob.address);
      const charlie = addr(k.charlie.address);
      assert.ok(expected[bob] > 0n && expected[charlie] > 0n, 'both workers were paid');
      assert.ok(expected[addr(k.dave.address)] <= 0n, 'the vanished worker earned nothing');
    }),
  );
});
