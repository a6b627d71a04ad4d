// The real worker binary on a `--dev` node: `register`, `job post`, `job watch`, and
// `run` processes that hash with the Rust engine and talk to the chain through subxt.
//
// Eve posts a double-SHA-256 job with `job post`. Dave's worker claims the first subjob and is
// killed for good; Bob's and Charlie's workers serve the rest. Bob's worker is killed with
// SIGKILL right after submitting a commitment and restarted: it reveals the salt and result
// from its journal and is paid, not slashed. After Dave's deadline a running worker reclaims
// his subjob, its range is hashed again, and the job completes with exactly the winning nonces
// an independent JavaScript implementation finds. Bad input (empty range, difficulty above 256
// bits, malformed secret URI, unreachable node) gets one error line, a non-zero exit and no
// change on chain. A running worker whose node restarts reconnects and keeps heartbeating.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { connectApi, disconnectAll, eventsBetween, freePort, startNode, stopAllNodes, TestNode, waitFor, withLogs } from './lib/node.mjs';
import { dumpWorkerLogs, killAllWorkers, worker, WorkerProcess } from './lib/worker.mjs';

const PAYLOAD = 'worker e2e: block template 42';
const ZERO_BITS = 12;
// 1000 H/s * 30 s = 30000 nonces, rounded up to whole 64-nonce chunks: subjobs of 30016.
const HASH_RATE = 1000;
const RANGE = 150_000;

const sha256 = (data) => createHash('sha256').update(data).digest();
const le64 = (n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
/** The winners of [0, RANGE): double SHA-256 of payload ‖ nonce (u64 LE) with ZERO_BITS leading zeros. */
function knownWinners() {
  const payload = Buffer.from(PAYLOAD);
  const winners = [];
  for (let n = 0; n < RANGE; n++) {
    const h = sha256(sha256(Buffer.concat([payload, le64(n)])));
    let ok = true;
    for (let bit = 0; bit < ZERO_BITS; bit++) if (h[bit >> 3] & (0x80 >> (bit & 7))) ok = false;
    if (ok) winners.push(n);
  }
  return winners;
}

/** Standard error of a failed command: exactly one line, starting with `error: `. */
function oneErrorLine(result, pattern) {
  assert.notEqual(result.code, 0, `expected a failure, got ${JSON.stringify(result)}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one error line, got:\n${result.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
}

describe('the appchain-worker binary', { timeout: 900_000 }, () => {
  let node;
  let api;
  let base;
  const args = (...rest) => ['--url', node.wsUrl, ...rest];

  before(async () => {
    node = await startNode({ name: 'worker' });
    api = await connectApi(node.wsUrl);
    base = mkdtempSync(path.join(os.tmpdir(), 'appchain-worker-e2e-'));
  });

  after(async () => {
    await killAllWorkers();
    await disconnectAll();
    await stopAllNodes();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  test(
    'key generate writes a 0600 keystore that key inspect reads; the secret is never printed',
    withLogs(async () => {
      const keystore = path.join(base, 'keys', 'key');
      const generated = await worker(['--keystore', keystore, 'key', 'generate'], { env: { APPCHAIN_SURI: '' } });
      assert.equal(generated.code, 0, generated.stderr);
      assert.equal(statSync(keystore).mode & 0o777, 0o600);
      const address = /address\s+(\S+)/.exec(generated.stdout)[1];
      const inspected = await worker(['--keystore', keystore, 'key', 'inspect'], { env: { APPCHAIN_SURI: '' } });
      assert.equal(inspected.code, 0, inspected.stderr);
      assert.equal(/address\s+(\S+)/.exec(inspected.stdout)[1], address);
      assert.equal(api.createType('AccountId', address).toString(), address, 'an address in the chain format');
      const again = await worker(['--keystore', keystore, 'key', 'generate'], { env: { APPCHAIN_SURI: '' } });
      oneErrorLine(again, /never overwritten/);
      const alice = await worker(['key', 'inspect'], { suri: '//Alice' });
      assert.match(alice.stdout, /mHpNjVNAj3mWbGmzwFqAt3Et9CLcYrpuYZbJ7um8uJY2uJ7E4/);
      assert.doesNotMatch(alice.stdout + alice.stderr, /Alice/);
    }),
  );

  test(
    'bad input: one clear error line, a non-zero exit, nothing changed on chain',
    withLogs(async () => {
      const eve = api.createType('AccountId', '0xe659a7a1628cdd93febc04a4e0646ea20e9f5f0ce097d9a05290d4a9e054df4e').toString();
      const before = { jobs: (await api.query.hashJobs.nextJobId()).toNumber(), nonce: (await api.query.system.account(eve)).nonce.toNumber() };
      const post = (...extra) => worker(args('job', 'post', '--text', 'x', '--budget', '10', ...extra), { suri: '//Eve' });

      oneErrorLine(await post('--zeros', '8', '--start', '500', '--end', '500'), /nonce range 500\.\.500 is empty/);
      oneErrorLine(await post('--zeros', '300', '--end', '1000'), /300 leading zero bits is above the 256 bits/);
      // The dev phrase with its last word misspelt: not a BIP-39 phrase.
      const secret = 'bottom drive obey lake curtain smoke basket hold race lonely fit wolk';
      const malformed = await worker(args('job', 'post', '--text', 'x', '--budget', '10', '--zeros', '8', '--end', '1000'), {
        suri: secret,
      });
      oneErrorLine(malformed, /malformed secret URI in \$APPCHAIN_SURI/);
      assert.doesNotMatch(malformed.stderr, /curtain/, 'the secret is not echoed');
      const closed = await freePort();
      const unreachable = await worker(
        ['--url', `ws://127.0.0.1:${closed}`, 'job', 'post', '--text', 'x', '--budget', '10', '--zeros', '8', '--end', '1000'],
        { suri: '//Eve' },
      );
      oneErrorLine(unreachable, new RegExp(`cannot connect to the node at ws://127\\.0\\.0\\.1:${closed}`));
      const unreachableRun = await worker(['--url', `ws://127.0.0.1:${closed}`, 'status'], { suri: '//Eve' });
      oneErrorLine(unreachableRun, /cannot connect to the node/);

      assert.equal((await api.query.hashJobs.nextJobId()).toNumber(), before.jobs, 'no job was posted');
      assert.equal((await api.query.system.account(eve)).nonce.toNumber(), before.nonce, 'Eve sent nothing');
    }),
  );

  test(
    'two workers complete a job: a worker killed after committing reveals from its journal, a vanished one is reassigned',
    withLogs(async () => {
      const winners = knownWinners();
      assert.ok(winners.length > 0);

      // Register three hashing nodes through the CLI.
      const nodeOf = {};
      await Promise.all(
        ['Bob', 'Charlie', 'Dave'].map(async (who) => {
          const r = await worker(args('--base-path', path.join(base, who), 'register', '--collateral', '100', '--hash-rate', String(HASH_RATE)), {
            suri: `//${who}`,
          });
          assert.equal(r.code, 0, r.stderr);
          nodeOf[who] = Number(/registered hashing node (\d+)/.exec(r.stdout)[1]);
        }),
      );
      // Registering again is a no-op that names the node.
      const again = await worker(args('--base-path', path.join(base, 'Bob'), 'register', '--collateral', '100'), { suri: '//Bob' });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, new RegExp(`already has hashing node ${nodeOf.Bob}`));

      // Eve posts the job and watches it.
      const startHash = await api.rpc.chain.getFinalizedHead();
      const posted = await worker(
        args('job', 'post', '--text', PAYLOAD, '--zeros', String(ZERO_BITS), '--end', String(RANGE), '--budget', '100'),
        { suri: '//Eve' },
      );
      assert.equal(posted.code, 0, posted.stderr);
      const job = Number(/posted job (\d+)/.exec(posted.stdout)[1]);
      const watch = new WorkerProcess('job watch', args('job', 'watch', String(job)));

      // Dave claims the first subjob and is killed for good before committing.
      const dave = new WorkerProcess('dave', args('--base-path', path.join(base, 'Dave'), '--log-format', 'json', 'run'), { suri: '//Dave' });
      const daveSubjob = (await dave.waitForEvent({ event: 'hashing_started', job })).subjob;
      await dave.kill('SIGKILL');

      // Bob and Charlie serve the job.
      const bobArgs = args('--base-path', path.join(base, 'Bob'), '--log-format', 'json', 'run');
      let bob = new WorkerProcess('bob', bobArgs, { suri: '//Bob' });
      // Charlie logs the worker's debug events: the planner's decisions are visible.
      const charlie = new WorkerProcess('charlie', args('--base-path', path.join(base, 'Charlie'), '--log-format', 'json', 'run'), {
        suri: '//Charlie',
        env: { RUST_LOG: 'info,appchain_worker=debug' },
      });

      // Bob is killed right after his first commitment went to the node, before revealing.
      const bobSubjob = (await bob.waitForEvent({ event: 'tx_submitted', tx: 'commit' })).id;
      await bob.kill('SIGKILL');
      const genesis = (await api.rpc.chain.getBlockHash(0)).toHex().slice(2);
      assert.ok(existsSync(path.join(base, 'Bob', 'chains', genesis, `subjob-${bobSubjob}.json`)), 'the result was journaled before the commitment');
      await waitFor(async () => (await api.query.hashJobs.subjobs(bobSubjob)).unwrap().state.isCommitted, {
        timeout: 60_000,
        what: `subjob ${bobSubjob} committed on chain`,
      });
      assert.ok((await api.query.hashJobs.subjobs(bobSubjob)).unwrap().state.isCommitted, 'killed between commit and reveal');
      bob = new WorkerProcess('bob (restarted)', bobArgs, { suri: '//Bob' });
      await bob.waitForEvent({ event: 'tx_submitted', tx: 'reveal', id: bobSubjob }, { timeout: 90_000 });

      // The watcher sees the job through to the end.
      await watch.waitForLine(/winning nonces: \[.*\]/, { timeout: 420_000 });
      assert.equal((await watch.exitPromise).code, 0);
      const found = JSON.parse(/winning nonces: (\[.*\])/.exec(watch.stdout)[1]);
      assert.deepEqual(found, winners, 'the verified winning nonces are exactly the known ones');
      assert.ok(!bob.events().some((e) => e.event === 'hashing_started' && e.subjob === bobSubjob), 'no re-hashing after the restart');
      const plans = charlie.events().filter((e) => e.event === 'plan');
      assert.ok(plans.length > 0 && plans.every((e) => typeof e.block === 'number'), 'RUST_LOG=debug shows the planner at every block');
      assert.ok(plans.some((e) => /StartHashing/.test(e.actions)) && plans.some((e) => /Claim/.test(e.actions)), 'the plans name their actions');

      // Chain events from the post to now.
      const endHash = await api.rpc.chain.getFinalizedHead();
      const events = (await eventsBetween(api, startHash, endHash)).map(({ event }) => event).filter((e) => e.section === 'hashJobs');
      const of = (method) => events.filter((e) => e.method === method).map((e) => e.data);
      const verified = of('SubjobVerified');
      const failed = of('SubjobFailed');
      const paidNodes = new Set(verified.map((d) => d.node.toNumber()));
      assert.ok(paidNodes.has(nodeOf.Bob) && paidNodes.has(nodeOf.Charlie), 'both workers are paid');
      assert.ok(verified.some((d) => d.subjob.toNumber() === bobSubjob && d.node.toNumber() === nodeOf.Bob), "Bob's restarted subjob is paid");
      assert.deepEqual(
        failed.map((d) => [d.subjob.toNumber(), d.node.toNumber(), d.reason.type]),
        [[daveSubjob, nodeOf.Dave, 'MissedDeadline']],
        'only the vanished worker is slashed',
      );
      const completed = of('JobCompleted').find((d) => d.job.toNumber() === job);
      assert.ok(completed, 'the job completes');
      assert.equal(completed.hashed.toNumber(), RANGE);
      assert.equal(completed.found.toNumber(), winners.length);
      const rewards = verified.filter((d) => d.node.toNumber() === nodeOf.Bob).reduce((s, d) => s + d.reward.toBigInt(), 0n);
      assert.ok(rewards > 0n);

      // `status` reports what Bob's worker saw; memory stayed small while hashing.
      const status = await worker(args('--base-path', path.join(base, 'Bob'), 'status'), { suri: '//Bob' });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`node\\s+${nodeOf.Bob} \\(hashing, ${HASH_RATE} H/s\\)`));
      assert.match(status.stdout, /registered, serving/);
      for (const w of [bob, charlie]) assert.ok(w.peakRss() < 100 * 2 ** 20, `${w.name} peak RSS ${w.peakRss()} bytes`);

      // A clean stop on SIGINT and SIGTERM.
      const [bobExit, charlieExit] = await Promise.all([bob.kill('SIGINT'), charlie.kill('SIGTERM')]);
      assert.deepEqual(bobExit, { code: 0, signal: null }, bob.stderr.slice(-2000));
      assert.deepEqual(charlieExit, { code: 0, signal: null }, charlie.stderr.slice(-2000));
      for (const w of [bob, charlie]) {
        const stops = w.events().filter((e) => e.event === 'hash_jobs_stopped' || e.event === 'stopped').map((e) => e.event);
        assert.deepEqual(stops, ['hash_jobs_stopped', 'stopped'], `${w.name}: every committed result is in the journal`);
      }
      assert.match(bob.stderr, /stopped; every committed result is in the journal/);
    }, dumpWorkerLogs),
  );

  test(
    'a running worker reconnects with backoff when its node restarts, and keeps serving',
    withLogs(async () => {
      const data = path.join(base, 'restarting-node');
      const first = await startNode({ name: 'restarting', extraArgs: ['--dev', '--base-path', data] });
      let second;
      try {
        const url = ['--url', first.wsUrl];
        const r = await worker([...url, '--base-path', path.join(base, 'Ferdie'), 'register', '--collateral', '100', '--hash-rate', '1000'], {
          suri: '//Ferdie',
        });
        assert.equal(r.code, 0, r.stderr);
        const nodeId = Number(/registered hashing node (\d+)/.exec(r.stdout)[1]);
        const ferdie = new WorkerProcess('ferdie', [...url, '--base-path', path.join(base, 'Ferdie'), '--log-format', 'json', 'run'], {
          suri: '//Ferdie',
        });
        assert.equal((await ferdie.waitForEvent({ event: 'serving' })).node, nodeId);

        await first.stop();
        await ferdie.waitForEvent({ event: 'reconnecting' }, { timeout: 60_000 });
        const retry = await ferdie.waitForEvent({ event: 'connect_retry' }, { timeout: 60_000 });
        assert.equal(retry.url, first.wsUrl);
        assert.ok(retry.retry_in_s > 0);
        second = new TestNode({ name: 'restarted', args: first.args, rpcPort: first.rpcPort, p2pPort: first.p2pPort });
        await second.waitForRpc(90_000);
        await ferdie.waitForEvent({ event: 'reconnected', url: first.wsUrl }, { timeout: 90_000 });

        const api2 = await connectApi(second.wsUrl);
        const restartedAt = (await api2.rpc.chain.getHeader()).number.toNumber();
        await waitFor(async () => (await api2.query.registry.nodes(nodeId)).unwrap().lastHeartbeat.toNumber() > restartedAt, {
          timeout: 90_000,
          what: 'a heartbeat after the node restarted',
        });
        assert.equal(ferdie.exited, null, 'the worker kept running');
        assert.deepEqual(await ferdie.kill('SIGTERM'), { code: 0, signal: null });
      } finally {
        if (second) await second.stop();
      }
    }, dumpWorkerLogs),
  );
});
