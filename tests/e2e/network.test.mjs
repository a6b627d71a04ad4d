// The four-validator local network of scripts/local-testnet.sh: every validator authors,
// GRANDPA survives one validator down, stalls with two down, recovers with three up.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';

import {
  NODE_BIN,
  REPO_ROOT,
  assertNodeBin,
  bestNumber,
  connectApi,
  disconnectAll,
  finalizedNumber,
  freePortRange,
  runCommand,
  sleep,
  waitFor,
  waitForFinalized,
  withLogs,
  withTimeout,
} from './lib/node.mjs';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'local-testnet.sh');
const NAMES = ['alice', 'bob', 'charlie', 'dave'];
const STALL_WINDOW_MS = Number(process.env.E2E_STALL_WINDOW_MS || 30_000);

describe('local testnet (scripts/local-testnet.sh)', { timeout: 1_500_000 }, () => {
  let dir;
  let env;
  let aliceRpc;
  let api;

  const logTails = () => {
    if (!dir) return;
    for (const n of NAMES) {
      const f = path.join(dir, `${n}.log`);
      if (!existsSync(f)) continue;
      const tail = readFileSync(f, 'utf8').split('\n').slice(-60).join('\n');
      process.stderr.write(`\n======== ${f} (tail) ========\n${tail}\n`);
    }
  };

  /** Runs the script; throws with its output when it fails. */
  async function net(args, timeout = 120_000) {
    const r = await runCommand('bash', [SCRIPT, ...args], { env, timeout, cwd: REPO_ROOT });
    if (r.code !== 0) {
      throw new Error(
        `local-testnet.sh ${args.join(' ')} exited ${r.code} (signal ${r.signal})\n` +
          `--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`,
      );
    }
    return r;
  }

  before(async () => {
    assertNodeBin();
    await cryptoWaitReady();
    dir = await mkdtemp(path.join(os.tmpdir(), 'appchain-testnet-'));
    const p2p = await freePortRange(4);
    const rpcBase = await freePortRange(4);
    env = {
      NODE_BIN,
      APPCHAIN_NET_DIR: dir,
      BASE_P2P_PORT: String(p2p),
      BASE_RPC_PORT: String(rpcBase),
      START_TIMEOUT: '360',
      STOP_TIMEOUT: '30',
      NO_COLOR: '1',
    };
    aliceRpc = `http://127.0.0.1:${rpcBase}`;
    try {
      await net(['start'], 420_000);
      api = await connectApi(`ws://127.0.0.1:${rpcBase}`);
    } catch (e) {
      logTails();
      throw e;
    }
  });

  after(async () => {
    await disconnectAll();
    if (!env) return;
    try {
      await net(['wipe'], 180_000);
    } catch (e) {
      process.stderr.write(`wipe failed: ${e.message}\n`);
      // Last resort: kill what the pid files name, then delete.
      for (const n of NAMES) {
        const pf = path.join(dir, `${n}.pid`);
        if (!existsSync(pf)) continue;
        const pid = Number(readFileSync(pf, 'utf8').trim());
        if (pid > 1) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  test(
    'all four validators author blocks',
    { timeout: 300_000 },
    withLogs(async () => {
      const keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
      // Accept //Name or //Name//stash as the stash of each genesis validator.
      const owner = new Map();
      for (const n of NAMES) {
        const cap = n[0].toUpperCase() + n.slice(1);
        owner.set(keyring.addFromUri(`//${cap}`).address, n);
        owner.set(keyring.addFromUri(`//${cap}//stash`).address, n);
      }

      const validators = (await api.query.session.validators()).map((v) => v.toString());
      assert.equal(validators.length, 4, `session.validators(): ${validators}`);
      const validatorNames = validators.map((v) => owner.get(v));
      assert.deepEqual([...validatorNames].sort(), [...NAMES].sort(), `validators: ${validators}`);
      assert.equal((await api.query.babe.authorities()).length, 4);

      const authors = new Map(); // name -> count
      let blocks = 0;
      let unsub;
      await withTimeout(
        new Promise((resolve, reject) => {
          api.rpc.chain
            .subscribeNewHeads(async (header) => {
              try {
                const h = await api.derive.chain.getHeader(header.hash);
                const who = h?.author?.toString();
                const name = owner.get(who) ?? `unknown:${who}`;
                authors.set(name, (authors.get(name) ?? 0) + 1);
                blocks += 1;
                const allSeen = NAMES.every((n) => authors.has(n));
                if (blocks >= 40 || (allSeen && blocks >= 12)) resolve();
              } catch (e) {
                reject(e);
              }
            })
            .then((u) => {
              unsub = u;
            }, reject);
        }),
        240_000,
        'collecting block authors',
      ).finally(() => unsub?.());

      const summary = JSON.stringify(Object.fromEntries(authors));
      console.log(`# authors of ${blocks} blocks: ${summary}`);
      for (const n of NAMES) assert.ok(authors.get(n) > 0, `${n} authored no block in ${blocks}: ${summary}`);
      assert.ok(![...authors.keys()].some((k) => k.startsWith('unknown')), `unexpected authors: ${summary}`);
    }, logTails),
  );

  test(
    'one validator down (dave): finality still advances',
    { timeout: 240_000 },
    withLogs(async () => {
      await net(['stop', 'dave']);
      const fin0 = await finalizedNumber(aliceRpc);
      await waitForFinalized(aliceRpc, fin0 + 3, 120_000);
      const status = await net(['status']);
      assert.match(status.stdout, /dave\s+stopped/);
      assert.match(status.stdout, /alice\s+running/);
    }, logTails),
  );

  test(
    'two validators down (dave, charlie): blocks continue, finality stalls',
    { timeout: 240_000 },
    withLogs(async () => {
      await net(['stop', 'charlie']);
      // Let rounds in flight (with charlie's votes) complete.
      await sleep(15_000);
      const fin1 = await finalizedNumber(aliceRpc);
      const best1 = await bestNumber(aliceRpc);
      await sleep(STALL_WINDOW_MS);
      const fin2 = await finalizedNumber(aliceRpc);
      const best2 = await bestNumber(aliceRpc);
      console.log(`# best ${best1} -> ${best2}, finalized ${fin1} -> ${fin2}`);
      assert.ok(best2 > best1, `no new blocks with two validators (best ${best1} -> ${best2})`);
      assert.equal(fin2, fin1, 'finality must stall with 2 of 4 GRANDPA voters');
    }, logTails),
  );

  test(
    'charlie restarted: finality advances again',
    { timeout: 480_000 },
    withLogs(async () => {
      const fin2 = await finalizedNumber(aliceRpc);
      await net(['start', 'charlie'], 420_000);
      await waitForFinalized(aliceRpc, fin2 + 2, 180_000);
      const best = await bestNumber(aliceRpc);
      await waitFor(async () => (await bestNumber(aliceRpc)) > best, { timeout: 60_000, what: 'new blocks' });
    }, logTails),
  );
});
