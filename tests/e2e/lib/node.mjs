// Shared helpers of the end-to-end tests: spawning the node binary, JSON-RPC, waiting.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ApiPromise, WsProvider } from '@polkadot/api';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** A release binary of ours: ${<envVar>:-${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}/release/<name>} */
export function releaseBin(envVar, name) {
  return (
    process.env[envVar] ||
    path.join(process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'appchain-target'), 'release', name)
  );
}

/** The node binary, as agreed: ${NODE_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}/release/appchain-node} */
export const NODE_BIN = releaseBin('NODE_BIN', 'appchain-node');

export function assertNodeBin() {
  if (!existsSync(NODE_BIN)) {
    throw new Error(
      `node binary not found: ${NODE_BIN}\n` +
        'build it with `cargo build --release -p appchain-node`, or set NODE_BIN / CARGO_TARGET_DIR',
    );
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` with a message naming `what`. */
export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `fn` until it returns a truthy value (which is returned). Errors thrown by `fn`
 * count as "not yet" and the last one is reported on timeout.
 */
export async function waitFor(fn, { timeout = 60_000, interval = 1_000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr;
  let lastValue;
  for (;;) {
    try {
      lastValue = await fn();
      if (lastValue) return lastValue;
    } catch (e) {
      if (e && e.fatal) throw e;
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      const detail = lastErr ? ` (last error: ${lastErr.message})` : ` (last value: ${String(lastValue)})`;
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${detail}`);
    }
    await sleep(interval);
  }
}

// ------------------------------------------------------------------ ports

function tryListen(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const { port: p } = srv.address();
      srv.close(() => resolve(p));
    });
  });
}

const handedOut = new Set();

/** A TCP port free on 127.0.0.1 right now (never one handed out before by this process). */
export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const p = await tryListen(0);
    if (p && !handedOut.has(p)) {
      handedOut.add(p);
      return p;
    }
  }
  throw new Error('could not find a free TCP port');
}

/** `count` consecutive free ports (for scripts that use BASE_PORT + i); returns the first. */
export async function freePortRange(count) {
  for (let attempt = 0; attempt < 200; attempt++) {
    // Below Linux's ephemeral range (32768–60999): no outgoing connection of another process
    // can take one of these ports between the check and the node's bind.
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) {
      if (handedOut.has(base + i) || (await tryListen(base + i)) === null) ok = false;
    }
    if (ok) {
      for (let i = 0; i < count; i++) handedOut.add(base + i);
      return base;
    }
  }
  throw new Error(`could not find ${count} consecutive free TCP ports`);
}

// ------------------------------------------------------------------ JSON-RPC over HTTP

/** Raw JSON-RPC call; returns the whole response object ({result} or {error}). */
export async function rpcRaw(url, method, params = [], { timeout = 10_000 } = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(timeout),
  });
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${method}: non-JSON response (HTTP ${res.status}): ${text.slice(0, 200)}`);
  }
}

/** JSON-RPC call returning `result`, throwing on a JSON-RPC error. */
export async function rpc(url, method, params = [], opts) {
  const body = await rpcRaw(url, method, params, opts);
  if (body.error) throw new Error(`${method} failed: ${JSON.stringify(body.error)}`);
  return body.result;
}

export async function bestNumber(url) {
  const header = await rpc(url, 'chain_getHeader', []);
  return parseInt(header.number, 16);
}

export async function finalizedNumber(url) {
  const hash = await rpc(url, 'chain_getFinalizedHead', []);
  const header = await rpc(url, 'chain_getHeader', [hash]);
  return parseInt(header.number, 16);
}

export async function waitForFinalized(url, atLeast, timeout = 60_000) {
  return waitFor(
    async () => {
      const n = await finalizedNumber(url);
      return n >= atLeast ? n : false;
    },
    { timeout, interval: 1_000, what: `finalized block >= ${atLeast} at ${url}` },
  );
}

// ------------------------------------------------------------------ processes

const LOG_LIMIT = 512 * 1024;
const children = new Set();

function killAllSync() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
process.once('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAllSync();
    process.exit(130);
  });
}

/** Runs the node binary to completion (CLI tests). Resolves {code, signal, stdout, stderr}. */
export function runNodeBin(args, { timeout = 60_000, env } = {}) {
  assertNodeBin();
  return new Promise((resolve, reject) => {
    const child = spawn(NODE_BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    children.add(child);
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `'${path.basename(NODE_BIN)} ${args.join(' ')}' did not exit within ${timeout} ms\n` +
            Buffer.concat(err).toString().slice(-4000),
        ),
      );
    }, timeout);
    child.once('error', (e) => {
      clearTimeout(timer);
      children.delete(child);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

/** Runs any command (e.g. the shell scripts). Resolves {code, signal, stdout, stderr}. */
export function runCommand(cmd, args, { timeout = 120_000, env, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
      cwd,
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`'${cmd} ${args.join(' ')}' did not exit within ${timeout} ms\n${Buffer.concat(err)}`));
    }, timeout);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

/** A long-running node process with its own ports; collects its output. */
export class TestNode {
  constructor({ name, args, rpcPort, p2pPort }) {
    this.name = name;
    this.args = args;
    this.rpcPort = rpcPort;
    this.p2pPort = p2pPort;
    this.httpUrl = `http://127.0.0.1:${rpcPort}`;
    this.wsUrl = `ws://127.0.0.1:${rpcPort}`;
    this.output = '';
    this.exited = null;
    this.child = spawn(NODE_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(this.child);
    const collect = (d) => {
      this.output += d.toString();
      if (this.output.length > LOG_LIMIT) this.output = this.output.slice(-LOG_LIMIT / 2);
    };
    this.child.stdout.on('data', collect);
    this.child.stderr.on('data', collect);
    this.exitPromise = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        children.delete(this.child);
        resolve(this.exited);
      });
      this.child.once('error', (e) => {
        this.output += `\n[spawn error] ${e.message}\n`;
        this.exited = { code: null, signal: null, error: e };
        children.delete(this.child);
        resolve(this.exited);
      });
    });
  }

  logTail(lines = 80) {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  /** Waits until the RPC answers system_health; fails early if the process exits. */
  async waitForRpc(timeout = 60_000) {
    await waitFor(
      async () => {
        if (this.exited) {
          throw Object.assign(new Error(`${this.name} exited early: ${JSON.stringify(this.exited)}`), {
            fatal: true,
          });
        }
        const health = await rpc(this.httpUrl, 'system_health', [], { timeout: 3_000 });
        return health && typeof health.peers === 'number';
      },
      { timeout, interval: 500, what: `RPC of ${this.name} at ${this.httpUrl}` },
    ).catch((e) => {
      throw new Error(`${e.message}\n---- ${this.name} output ----\n${this.logTail()}`);
    });
  }

  /** SIGTERM, then SIGKILL after `grace` ms. Idempotent. */
  async stop(grace = 15_000) {
    if (this.exited) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!this.exited) this.child.kill('SIGKILL');
    }, grace);
    try {
      return await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }
}

const nodes = new Set();

/**
 * Spawns a node with fresh ports: `extraArgs` come after the common flags.
 * Returns a started TestNode whose RPC answers.
 */
export async function startNode({ name = 'e2e', extraArgs = ['--dev', '--tmp'], rpcTimeout = 90_000 } = {}) {
  assertNodeBin();
  const rpcPort = await freePort();
  const p2pPort = await freePort();
  const args = [
    ...extraArgs,
    '--name',
    name,
    '--rpc-port',
    String(rpcPort),
    '--listen-addr',
    `/ip4/127.0.0.1/tcp/${p2pPort}`,
    '--rpc-cors',
    'all',
    '--rpc-methods',
    'unsafe',
    '--no-prometheus',
    '--no-telemetry',
    '--no-mdns',
  ];
  const node = new TestNode({ name, args, rpcPort, p2pPort });
  nodes.add(node);
  await node.waitForRpc(rpcTimeout);
  return node;
}

/** Stops every node started with startNode (use in `after`). */
export async function stopAllNodes() {
  await Promise.all([...nodes].map((n) => n.stop()));
  nodes.clear();
}

/** Prints the output of every node started so far (on test failure). */
export function dumpNodeLogs(lines = 120) {
  for (const n of nodes) {
    process.stderr.write(`\n======== output of node '${n.name}' (${n.httpUrl}) ========\n${n.logTail(lines)}\n`);
  }
}

/**
 * Wraps a test body: on failure prints the logs of the spawned nodes (and the extra
 * `dump` callback), then rethrows.
 */
export function withLogs(fn, dump) {
  return async (t) => {
    try {
      return await fn(t);
    } catch (e) {
      dumpNodeLogs();
      if (dump) {
        try {
          await dump();
        } catch {
          /* best effort */
        }
      }
      throw e;
    }
  };
}

/** A random libp2p ed25519 secret (hex, no 0x), for --node-key. */
export const randomNodeKey = () => randomBytes(32).toString('hex');

// ------------------------------------------------------------------ @polkadot/api

const apis = new Set();

export async function connectApi(wsUrl, timeout = 60_000) {
  const provider = new WsProvider(wsUrl, 1_000, {}, 30_000);
  const api = await withTimeout(
    ApiPromise.create({ provider, throwOnConnect: true, noInitWarn: true }),
    timeout,
    `ApiPromise connection to ${wsUrl}`,
  ).catch(async (e) => {
    await provider.disconnect().catch(() => {});
    throw e;
  });
  apis.add(api);
  return api;
}

export async function disconnectAll() {
  await Promise.all([...apis].map((a) => withTimeout(a.disconnect(), 5_000, 'api.disconnect').catch(() => {})));
  apis.clear();
}

/**
 * Signs and sends `tx`, resolves once it is in a finalized block:
 * {blockHash, events (the extrinsic's own events), allEvents, index}.
 * Rejects on a dispatch error (decoded) or when `timeout` passes. `signOptions` go to
 * `signAndSend` (e.g. `{ mode: 1, metadataHash }` for `CheckMetadataHash`).
 */
export function sendAndFinalize(api, tx, signer, { timeout = 120_000, signOptions = {} } = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      let unsub;
      const done = (f) => {
        if (unsub) unsub();
        f();
      };
      tx.signAndSend(signer, signOptions, (result) => {
        const { status, dispatchError, events, txIndex } = result;
        if (status.isInvalid || status.isDropped || status.isUsurped || status.isFinalityTimeout) {
          done(() => reject(new Error(`transaction ${status.type}`)));
          return;
        }
        if (!status.isFinalized) return;
        if (dispatchError) {
          let msg = dispatchError.toString();
          if (dispatchError.isModule) {
            const d = api.registry.findMetaError(dispatchError.asModule);
            msg = `${d.section}.${d.name}: ${d.docs.join(' ')}`;
          }
          done(() => reject(new Error(`dispatch error: ${msg}`)));
          return;
        }
        done(() => resolve({ blockHash: status.asFinalized, events, index: txIndex }));
      })
        .then((u) => {
          unsub = u;
        })
        .catch(reject);
    }),
    timeout,
    `finalization of ${tx.method.section}.${tx.method.method}`,
  );
}

/**
 * Every event of the blocks after `fromHash` up to and including `toHash`, in order, as
 * `{ number, event }`.
 */
export async function eventsBetween(api, fromHash, toHash) {
  const start = (await api.rpc.chain.getHeader(fromHash)).number.toNumber();
  const end = (await api.rpc.chain.getHeader(toHash)).number.toNumber();
  const out = [];
  for (let n = start + 1; n <= end; n++) {
    const hash = await api.rpc.chain.getBlockHash(n);
    for (const { event } of await api.query.system.events.at(hash)) out.push({ number: n, event });
  }
  return out;
}
