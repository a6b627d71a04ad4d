#!/usr/bin/env node
// Load figures (issue 18): floods a running chain with balance transfers while real hashing
// workers commit, reveal and answer spot checks, and prints per block what was included against
// what the weights allow, and what happened past saturation.
//
//   node tests/e2e/tools/load.mjs --url ws://127.0.0.1:9944        (scripts/load.sh starts a node)
//
// Phases:
//   1. derive the load accounts (//Alice//load//0 ..) and fund them from //Alice with
//      `utility.batchAll`;
//   2. register hashing workers (//Bob, //Charlie, ...) with the real `appchain-worker`, run them
//      and post a job as //Ferdie, so that they claim, commit, reveal and answer during the flood;
//   3. sign every transfer ahead of the flood, on worker threads (signing is not measured in the
//      flood window; its own rate is reported);
//   4. flood: submit the signed transfers with `author_submitExtrinsic` as fast as the pool takes
//      them, each account in nonce order; a refused one waits a block and is tried again, and an
//      account whose next transfer the pool evicted (a full pool does so without an error)
//      submits again from its nonce;
//   5. stop submitting, let the pool drain, stop the workers, check the node (RPC, finality);
//   6. read every block back (extrinsics, events, block weight, fee multiplier) and print the
//      table and the summary.
//
// Transfers are signed by hand on a template checked against @polkadot/api (same payload, same
// extrinsic bytes, a signature that verifies), because @polkadot/api's own signing path costs
// more than the signature itself.
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import { compactToU8a, u8aConcat, u8aEq, u8aToHex } from '@polkadot/util';
import {
  blake2AsU8a,
  cryptoWaitReady,
  ed25519PairFromSeed,
  ed25519Sign,
  encodeAddress,
  keyExtractPath,
  keyFromPath,
  mnemonicToMiniSecret,
  signatureVerify,
  sr25519PairFromSeed,
  sr25519Sign,
} from '@polkadot/util-crypto';

const UNITS = 10n ** 12n;
const DEV_PHRASE = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk';
/** Hashing workers (dev accounts) in the order `--workers` takes them; //Ferdie posts the job. */
const WORKER_ACCOUNTS = ['Bob', 'Charlie', 'Dave', 'Eve'];
const CLIENT = '//Ferdie';
/** MultiSignature variant of each key type. */
const SIG_TYPE = { ed25519: 0, sr25519: 1 };
const SIGN = { ed25519: ed25519Sign, sr25519: sr25519Sign };
const PAIR_FROM_SEED = { ed25519: ed25519PairFromSeed, sr25519: sr25519PairFromSeed };

/** Signs `payload` as `Extrinsic::sign` does: payloads above 256 bytes are signed by hash. */
function signPayload(type, payload, pair) {
  return SIGN[type](payload.length > 256 ? blake2AsU8a(payload) : payload, pair);
}

/**
 * The bytes of a signed transfer from `pk` with `nonce`, from the template: the signing
 * payload is `call ‖ era ‖ nonce ‖ payloadTail`, the extrinsic `len ‖ 0x84 ‖ 0x00 pk ‖ type sig ‖
 * era ‖ nonce ‖ extTail ‖ call` (v4, immortal, `MultiAddress::Id`).
 */
function buildTransfer(t, pair, nonce) {
  const n = compactToU8a(nonce);
  const payload = u8aConcat(t.call, t.era, n, t.payloadTail);
  const sig = signPayload(t.keyType, payload, pair);
  const body = u8aConcat([0x84, 0x00], pair.publicKey, [SIG_TYPE[t.keyType]], sig, t.era, n, t.extTail, t.call);
  return { payload, sig, bytes: u8aConcat(compactToU8a(body.length), body) };
}

// ------------------------------------------------------------------ command line

function usage() {
  return `Usage: node tests/e2e/tools/load.mjs [options]      (or scripts/load.sh, which starts a dev node)

Floods a chain (a --dev chain: //Alice funds, //Bob.. hash, //Ferdie posts the job) with balance
transfers and hash-job results from real workers, and prints per block: extrinsics by kind,
normal-class weight and length against their maxima, the fee multiplier, a transfer's fee, the
pool's size, and the submissions refused and why; then a summary.

Options:
  --url URL            node WebSocket RPC (default ws://127.0.0.1:9944)
  --accounts N         funded load accounts //Alice//load//0.. (default 500)
  --duration S         seconds of flood (default 75)
  --txs N              transfers to sign ahead (default: the pool limit plus 1.5 times what the
                       weights allow per block over the flood's blocks)
  --pool-limit N       the node's --pool-limit, only to size --txs (default 8192)
  --concurrency N      submissions in flight at once (default 128)
  --key-type T         sr25519 (default) or ed25519 load accounts
  --sign-threads N     signing threads (default: the number of cores)
  --workers N          hashing workers, 0 to 4 (default 3: //Bob //Charlie //Dave)
  --hash-rate H        hash rate the workers declare (default 2000: subjobs of ~60,000 nonces,
                       hashed in milliseconds, so their CPU stays with the node)
  --warmup B           blocks the workers run before the flood, so that it finds subjobs at every
                       step (default 8)
  --drain S            seconds at most to wait for the pool to empty after the flood (default 45)
  --json FILE          also write every measurement as JSON
  -h, --help           this help

Environment: WORKER_BIN, CARGO_TARGET_DIR (the worker binary, as the end-to-end tests find it).`;
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        url: { type: 'string', default: 'ws://127.0.0.1:9944' },
        accounts: { type: 'string', default: '500' },
        duration: { type: 'string', default: '75' },
        txs: { type: 'string' },
        'pool-limit': { type: 'string', default: '8192' },
        concurrency: { type: 'string', default: '128' },
        'key-type': { type: 'string', default: 'sr25519' },
        'sign-threads': { type: 'string', default: String(os.availableParallelism()) },
        workers: { type: 'string', default: '3' },
        'hash-rate': { type: 'string', default: '2000' },
        drain: { type: 'string', default: '45' },
        warmup: { type: 'string', default: '8' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail(`${e.message}\n\n${usage()}`);
  }
  if (parsed.help) {
    console.log(usage());
    process.exit(0);
  }
  const int = (name, min, max = Number.MAX_SAFE_INTEGER) => {
    const raw = parsed[name];
    if (raw === undefined) return undefined;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) fail(`--${name} must be an integer from ${min} to ${max}, not '${raw}'`);
    return v;
  };
  if (!/^wss?:\/\//.test(parsed.url)) fail(`--url must be a ws:// or wss:// URL, not '${parsed.url}'`);
  if (!(parsed['key-type'] in SIG_TYPE)) fail(`--key-type must be sr25519 or ed25519, not '${parsed['key-type']}'`);
  return {
    url: parsed.url,
    accounts: int('accounts', 1, 10_000),
    duration: int('duration', 3, 3_600),
    txs: int('txs', 1),
    poolLimit: int('pool-limit', 1),
    concurrency: int('concurrency', 1, 4_096),
    keyType: parsed['key-type'],
    signThreads: int('sign-threads', 1, 64),
    workers: int('workers', 0, WORKER_ACCOUNTS.length),
    hashRate: int('hash-rate', 1),
    drain: int('drain', 0, 3_600),
    warmup: int('warmup', 0, 1_000),
    json: parsed.json,
  };
}

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

const log = (message) => console.error(`[load] ${message}`);

// ------------------------------------------------------------------ main

async function main() {
  const opts = options();
  // Loaded here, not at the top: the signing threads need none of it.
  const node = await import('../lib/node.mjs');
  const workerLib = await import('../lib/worker.mjs');
  const { WsProvider } = await import('@polkadot/api');
  const { Keyring } = await import('@polkadot/keyring');
  await cryptoWaitReady();

  const cleanup = [];
  const workers = [];
  // Whatever happens, no worker outlives the script.
  process.once('exit', () => {
    for (const w of workers) if (!w.exited) w.child.kill('SIGKILL');
  });

  let api;
  try {
    api = await node.connectApi(opts.url, 30_000).catch((e) => {
      throw new Error(`cannot connect to ${opts.url}: ${e.message} (start a node, or use scripts/load.sh)`);
    });
    const chain = await context(api);
    log(
      `${opts.url}: ${chain.chainName}, runtime ${chain.specVersion}; normal class ${ms(chain.normalMax.refTime)} ms of ` +
        `${ms(chain.maxBlock.refTime)} ms per block, ${kib(chain.normalLength)} KiB`,
    );
    if (!api.tx.sudo || chain.chainType !== 'Development') {
      log(`warning: '${chain.chainName}' is not a development chain; the dev accounts may not be funded`);
    }

    // 1. Load accounts: derived keys, funded by //Alice.
    const t0 = Date.now();
    const accounts = deriveAccounts(opts.accounts, opts.keyType, chain.ss58);
    const sink = deriveAccounts(1, 'sr25519', chain.ss58, '//Alice//load//sink')[0];
    const check = new Keyring({ type: opts.keyType, ss58Format: chain.ss58 }).addFromUri('//Alice//load//0');
    if (check.address !== accounts[0].address) throw new Error('key derivation disagrees with @polkadot/keyring');
    log(`derived ${accounts.length} ${opts.keyType} accounts in ${secs(Date.now() - t0)} s`);
    const template = await transferTemplate(api, chain, opts.keyType, sink.address, check, accounts[0].pair);
    const infoFee = await api.call.transactionPaymentApi.queryInfo(template.sample, template.sample.length);
    chain.transferWeight = {
      refTime: infoFee.weight.refTime.toBigInt() + chain.baseExtrinsic.refTime,
      proofSize: infoFee.weight.proofSize.toBigInt() + chain.baseExtrinsic.proofSize,
    };
    chain.transferLen = template.sample.length;
    chain.allowedByWeight = Number(chain.normalMax.refTime / chain.transferWeight.refTime);
    chain.allowedByLength = Math.floor(chain.normalLength / chain.transferLen);
    log(
      `a transfer: ${ms(chain.transferWeight.refTime, 3)} ms of ref_time (with the base extrinsic), ${chain.transferLen} bytes: ` +
        `the normal class allows ${chain.allowedByWeight} per block by weight, ${chain.allowedByLength} by length`,
    );
    await fund(api, node, new Keyring({ type: 'sr25519' }).addFromUri('//Alice'), accounts, sink);
    chain.priorities = await priorities(api, check, new Keyring({ type: 'sr25519' }).addFromUri(`//${WORKER_ACCOUNTS[0]}`), sink.address, chain);
    const nonces = (await api.query.system.account.multi(accounts.map((a) => a.address))).map((i) => i.nonce.toNumber());

    // 3 (started now, on other threads). Sign every transfer ahead of the flood.
    const blocksInFlood = Math.ceil(opts.duration / chain.blockSecs);
    const total = opts.txs ?? opts.poolLimit + Math.ceil(1.5 * Math.min(chain.allowedByWeight, chain.allowedByLength) * blocksInFlood);
    const perAccount = Math.ceil(total / accounts.length);
    const signing = signAhead(accounts, nonces, perAccount, template, opts.signThreads);

    // 2. Hashing workers and a job for them.
    const hash = opts.workers > 0 ? await startHashWork(api, node, workerLib, opts, chain, workers, cleanup) : null;

    const signed = await signing;
    log(
      `signed ${signed.count} transfers (${perAccount} per account) in ${secs(signed.ms)} s on ${signed.threads} thread(s): ` +
        `${Math.round(signed.count / (signed.ms / 1000))} per second`,
    );

    // 4-5. Flood, drain, stop the workers.
    const run = await flood(api, WsProvider, node, opts, chain, accounts, signed.txs, template);
    if (hash) {
      log('stopping the workers');
      await Promise.all(workers.map((w) => Promise.race([w.kill('SIGTERM'), node.sleep(15_000).then(() => w.kill('SIGKILL'))])));
      hash.logs = workers.map((w) => ({ name: w.name, events: w.events(), exited: w.exited }));
    }
    const health = await checkHealth(api, node, opts, run);

    // 6. Read the blocks back and report.
    const report = await analyse(api, chain, run, hash);
    printReport(opts, chain, signed, run, hash, health, report);
    if (opts.json) {
      const data = { opts, chain, signing: { count: signed.count, ms: signed.ms, threads: signed.threads }, run: { ...run, heads: [...run.heads.values()] }, hash, health, report };
      await writeFile(opts.json, JSON.stringify(data, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2));
      log(`measurements written to ${opts.json}`);
    }
  } finally {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    await node.disconnectAll();
    for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

// ------------------------------------------------------------------ chain context

async function context(api) {
  const weights = api.consts.system.blockWeights;
  const normal = weights.perClass.normal;
  const w = (x) => ({ refTime: x.refTime.toBigInt(), proofSize: x.proofSize.toBigInt() });
  const maxBlock = w(weights.maxBlock);
  const [chainName, chainType, props] = await Promise.all([
    api.rpc.system.chain(),
    api.rpc.system.chainType(),
    api.rpc.system.properties(),
  ]);
  return {
    chainName: chainName.toString(),
    chainType: chainType.toString(),
    ss58: props.ss58Format.isSome ? props.ss58Format.unwrap().toNumber() : api.registry.chainSS58 ?? 42,
    specVersion: api.runtimeVersion.specVersion.toNumber(),
    transactionVersion: api.runtimeVersion.transactionVersion.toNumber(),
    genesisHash: api.genesisHash.toHex(),
    blockSecs: api.consts.babe ? api.consts.babe.expectedBlockTime.toNumber() / 1000 : 3,
    maxBlock,
    normalMax: normal.maxTotal.isSome ? w(normal.maxTotal.unwrap()) : maxBlock,
    baseExtrinsic: w(normal.baseExtrinsic),
    normalLength: api.consts.system.blockLength.max.normal.toNumber(),
    operationalMax: weights.perClass.operational.maxTotal.isSome ? w(weights.perClass.operational.maxTotal.unwrap()) : maxBlock,
    ed: api.consts.balances.existentialDeposit.toBigInt(),
    hashJobs: api.consts.hashJobs
      ? {
          claimTimeout: api.consts.hashJobs.claimTimeout.toNumber(),
          answerWindow: api.consts.hashJobs.answerWindow.toNumber(),
          challengeDelay: api.consts.hashJobs.challengeDelay.toNumber(),
        }
      : null,
  };
}

/** `count` keys //Alice//load//i (or the one `uri`), derived as @polkadot/keyring does. */
function deriveAccounts(count, type, ss58, uri) {
  const root = PAIR_FROM_SEED[type](mnemonicToMiniSecret(DEV_PHRASE));
  if (uri) {
    const pair = keyFromPath(root, keyExtractPath(uri).path, type);
    return [{ pair, address: encodeAddress(pair.publicKey, ss58) }];
  }
  // Derive //Alice//load once, then one hard junction per account.
  const base = keyFromPath(root, keyExtractPath('//Alice//load').path, type);
  return Array.from({ length: count }, (_, i) => {
    const pair = keyFromPath(base, keyExtractPath(`//${i}`).path, type);
    return { index: i, pair, address: encodeAddress(pair.publicKey, ss58) };
  });
}

/**
 * The transfer every load account sends (`transferKeepAlive(sink, ED)`, immortal, no tip, no
 * metadata hash) as a template for `buildTransfer`, checked against @polkadot/api: the payload
 * of several nonces byte for byte, and the extrinsic of @polkadot/api's own signing with the same
 * key (its signature verifies against our payload, and our assembly of it is byte for byte its
 * encoding).
 */
async function transferTemplate(api, chain, keyType, sink, keyringPair, rawPair) {
  const call = api.tx.balances.transferKeepAlive(sink, chain.ed).method;
  const options = (nonce) => ({
    blockHash: chain.genesisHash,
    genesisHash: chain.genesisHash,
    era: api.createType('ExtrinsicEra', '0x00'),
    nonce,
    tip: 0,
    mode: 0,
    runtimeVersion: api.runtimeVersion,
    signedExtensions: api.registry.signedExtensions,
  });
  const payloadOf = (nonce) =>
    api.createType('ExtrinsicPayload', { ...options(nonce), method: call.toHex(), specVersion: chain.specVersion, transactionVersion: chain.transactionVersion }, { version: 4 }).toU8a({ method: true });
  const callU8a = call.toU8a();
  const era = new Uint8Array([0]);
  const p0 = payloadOf(0);
  if (!u8aEq(p0.subarray(0, callU8a.length + 2), u8aConcat(callU8a, era, [0]))) throw new Error('unexpected signing payload layout');
  const t = { keyType, call: callU8a, era, payloadTail: p0.slice(callU8a.length + 2), extTail: null };
  for (const nonce of [1, 63, 64, 16_383, 16_384, 1_073_741_823]) {
    if (!u8aEq(payloadOf(nonce), u8aConcat(callU8a, era, compactToU8a(nonce), t.payloadTail))) {
      throw new Error(`signing payload template differs from @polkadot/api at nonce ${nonce}`);
    }
  }
  // @polkadot/api's own extrinsic, nonce 0, signed by the same key.
  const ext = api.createType('Extrinsic', call, { version: 4 });
  ext.sign(keyringPair, options(0));
  const ref = ext.toU8a();
  const sig = ext.signature.toU8a(); // the 64 bytes, without the MultiSignature variant
  if (!signatureVerify(p0, sig, keyringPair.address).isValid) throw new Error('@polkadot/api signed another payload than the template');
  const body = ext.toU8a(true);
  const head = 1 + 33 + 1 + sig.length; // 0x84, MultiAddress::Id, MultiSignature
  if (sig.length !== 64 || body[0] !== 0x84 || body[1] !== 0 || body[34] !== SIG_TYPE[keyType]) throw new Error('unexpected extrinsic layout (signer)');
  if (body[head] !== 0 || body[head + 1] !== 0) throw new Error('unexpected extrinsic layout (era, nonce)');
  t.extTail = body.slice(head + 2, body.length - callU8a.length);
  const rebuilt = u8aConcat(compactToU8a(body.length), [0x84, 0x00], keyringPair.publicKey, [SIG_TYPE[keyType]], sig, era, [0], t.extTail, callU8a);
  if (!u8aEq(rebuilt, ref)) throw new Error('extrinsic template differs from @polkadot/api');
  // And a hand-signed one decodes as intended.
  const built = buildTransfer(t, rawPair, 5);
  const decoded = api.createType('Extrinsic', built.bytes);
  if (decoded.nonce.toNumber() !== 5 || decoded.method.toHex() !== call.toHex() || decoded.signer.toString() !== keyringPair.address) {
    throw new Error('a hand-signed transfer does not decode as intended');
  }
  t.sample = ref;
  return t;
}

/** Funds the load accounts (and the sink) that hold less than half of 10 CPU, from //Alice. */
async function fund(api, node, alice, accounts, sink) {
  const amount = 10n * UNITS;
  const targets = [...accounts, sink];
  const infos = await api.query.system.account.multi(targets.map((a) => a.address));
  const poor = targets.filter((_, i) => infos[i].data.free.toBigInt() < amount / 2n);
  if (poor.length === 0) return log('load accounts already funded');
  const nonce = (await api.rpc.system.accountNextIndex(alice.address)).toNumber();
  const batches = [];
  for (let i = 0; i < poor.length; i += 250) batches.push(poor.slice(i, i + 250));
  const t0 = Date.now();
  await Promise.all(
    batches.map((batch, i) =>
      node.sendAndFinalize(api, api.tx.utility.batchAll(batch.map((a) => api.tx.balances.transferKeepAlive(a.address, amount))), alice, {
        signOptions: { nonce: nonce + i },
      }),
    ),
  );
  log(`funded ${poor.length} accounts with ${amount / UNITS} CPU each (${batches.length} batches) in ${secs(Date.now() - t0)} s`);
}

/**
 * The pool priority (`validate_transaction` at the best block) of a transfer and of each call
 * the workers send, signed now and never submitted: the pool and the block builder take higher
 * priorities first.
 */
async function priorities(api, transferer, worker, sink, chain) {
  const h = '0x' + '00'.repeat(32);
  const calls = {
    transfer: [transferer, api.tx.balances.transferKeepAlive(sink, chain.ed)],
    heartbeat: [worker, api.tx.registry.heartbeat(0)],
    claim: [worker, api.tx.hashJobs.claim(0, 0)],
    commit: [worker, api.tx.hashJobs.commit(0, h)],
    reveal: [worker, api.tx.hashJobs.reveal(0, h, h, [])],
    answer: [worker, api.tx.hashJobs.answerChallenge(0, [])],
  };
  const best = await api.rpc.chain.getBlockHash();
  const out = {};
  for (const [name, [pair, tx]] of Object.entries(calls)) {
    const signed = await tx.signAsync(pair, { nonce: -1 });
    // (Bytes, not hex: a hex string is taken for the extrinsic's inner bytes.)
    const info = await api.call.transactionPaymentApi.queryInfo(signed.toU8a(), signed.encodedLength);
    const v = await api.call.taggedTransactionQueue.validateTransaction('External', signed.toU8a(), best);
    out[name] = {
      class: info.class.toString(),
      priority: v.isOk ? v.asOk.priority.toBigInt() : null,
      error: v.isOk ? null : v.asErr.toString(),
    };
  }
  return out;
}

/** Signs `perAccount` transfers per account on worker threads; resolves { txs, count, ms }. */
function signAhead(accounts, nonces, perAccount, template, threads) {
  const t0 = Date.now();
  const n = Math.min(threads, accounts.length);
  const shares = Array.from({ length: n }, () => []);
  accounts.forEach((a, i) => shares[i % n].push(i));
  const plain = { ...template, sample: undefined };
  return Promise.all(
    shares.map(
      (share) =>
        new Promise((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), {
            workerData: { template: plain, accounts: share.map((i) => ({ pair: accounts[i].pair, nonce: nonces[i], count: perAccount })) },
          });
          w.once('message', (txs) => resolve(share.map((i, k) => [i, txs[k]])));
          w.once('error', reject);
          w.once('exit', (code) => code !== 0 && reject(new Error(`signing thread exited with ${code}`)));
        }),
    ),
  ).then((parts) => {
    const txs = new Array(accounts.length);
    for (const part of parts) for (const [i, list] of part) txs[i] = { nonce: nonces[i], list };
    return { txs, count: perAccount * accounts.length, ms: Date.now() - t0, threads: n };
  });
}

// ------------------------------------------------------------------ hashing workers

async function startHashWork(api, node, workerLib, opts, chain, workers, cleanup) {
  workerLib.assertWorkerBin();
  const base = await mkdtemp(path.join(os.tmpdir(), 'appchain-load-'));
  cleanup.push(base);
  const names = WORKER_ACCOUNTS.slice(0, opts.workers);
  const url = ['--url', opts.url];
  await Promise.all(
    names.map(async (name) => {
      const r = await workerLib.worker(
        [...url, '--base-path', path.join(base, name), 'register', '--collateral', '200', '--hash-rate', String(opts.hashRate)],
        { suri: `//${name}` },
      );
      if (r.code !== 0) throw new Error(`worker ${name}: register failed (${r.code}):\n${r.stderr.slice(-2000)}`);
    }),
  );
  for (const name of names) {
    workers.push(
      new workerLib.WorkerProcess(name, [...url, '--base-path', path.join(base, name), '--log-format', 'json', 'run', '--threads', '1'], {
        suri: `//${name}`,
      }),
    );
  }
  // ~60,000 nonces a subjob at the default rate: 200 M nonces outlast the run.
  const end = 200_000_000;
  const posted = await workerLib.worker([...url, 'job', 'post', '--text', `load ${Date.now()}`, '--zeros', '20', '--end', String(end), '--budget', '500'], {
    suri: CLIENT,
  });
  const m = /posted job (\d+)/.exec(posted.stdout);
  if (posted.code !== 0 || !m) throw new Error(`job post failed (${posted.code}):\n${posted.stderr.slice(-2000)}${posted.stdout}`);
  const job = Number(m[1]);
  const fromBlock = (await api.rpc.chain.getHeader()).number.toNumber();
  log(`${names.length} hashing workers (${names.map((n) => `//${n}`).join(', ')}) run; job ${job} posted at block ~${fromBlock}`);
  // Into their rhythm before the flood: every worker has committed once.
  await Promise.all(workers.map((w) => w.waitForEvent({ event: 'tx_submitted', tx: 'commit' }, { timeout: 120_000 })));
  const until = fromBlock + opts.warmup;
  await node.waitFor(async () => (await api.rpc.chain.getHeader()).number.toNumber() >= until, { timeout: 60_000 + opts.warmup * 10_000, what: `block #${until}` });
  log(`every worker has committed a result; warmed up until block #${until}`);
  return { job, fromBlock, names };
}

// ------------------------------------------------------------------ the flood

/** Short name of a refusal: pool full, priority, ban, invalid (with its reason), or transport. */
function refusal(e) {
  const code = typeof e?.code === 'number' ? e.code : Number(/^(-?\d+):/.exec(e?.message ?? '')?.[1]);
  const data = typeof e?.data === 'string' ? e.data : '';
  switch (code) {
    case 1010:
      return { key: `invalid: ${data || 'unknown'}`, retry: false, stale: /outdated|stale/i.test(data) };
    case 1012:
      return { key: 'temporarily banned (1012)', retry: true, resign: true };
    case 1013:
      return { key: 'already imported (1013)', retry: false, stale: true };
    case 1014:
      return { key: 'priority too low (1014)', retry: true };
    case 1016:
      return { key: 'pool full (1016)', retry: true };
    default:
      return Number.isFinite(code)
        ? { key: `${code}: ${(e.message ?? '').replace(/^-?\d+: /, '').slice(0, 60)}`, retry: true }
        : { key: `transport: ${(e?.message ?? String(e)).slice(0, 60)}`, retry: true };
  }
}

async function flood(api, WsProvider, node, opts, chain, accounts, txs, template) {
  const submitter = new WsProvider(opts.url, 1_000, {}, 120_000);
  const probe = new WsProvider(opts.url, 1_000, {}, 60_000);
  await Promise.all([submitter.isReady, probe.isReady]);

  const heads = new Map();
  const finalized = [];
  let interval = { accepted: 0, refused: {} };
  let current = null;
  let waiters = [];
  const wakeAll = () => {
    for (const w of waiters.splice(0)) w();
  };
  const blocked = [];
  const queue = accounts.map((_, i) => i);
  const state = accounts.map(() => ({ next: 0, resign: false, dead: null, busy: false, idle: false, missing: 0 }));
  const totals = { accepted: 0, refused: {}, resigned: 0, dead: {}, gaps: 0, resubmitted: 0 };
  const addresses = accounts.map((a) => a.address);
  let flooding = true;
  const t0 = Date.now();
  let checking = false;

  /**
   * A full pool drops transactions it had accepted, without an error to the submitter; the
   * account's later transfers then wait behind the gap for ever. After each block: an account
   * whose next transfer (at its nonce in that block's state) is in the chain's future but missing
   * from the pool's ready set twice in a row was dropped, and submits again from that nonce.
   */
  async function checkDropped(hash, ready) {
    if (checking || !flooding) return;
    checking = true;
    try {
      const infos = await (await api.at(hash)).query.system.account.multi(addresses);
      const readySet = new Set(ready);
      infos.forEach((info, i) => {
        const s = state[i];
        const done = info.nonce.toNumber() - txs[i].nonce;
        if (s.dead || s.busy || s.next <= done || readySet.has(txs[i].list[done])) {
          s.missing = 0;
          return;
        }
        if (++s.missing < 2) return;
        s.missing = 0;
        totals.gaps++;
        totals.resubmitted += s.next - done;
        s.next = done;
        s.resign = opts.keyType === 'sr25519';
        if (s.idle) {
          s.idle = false;
          queue.push(i);
        }
      });
    } catch (e) {
      log(`nonce check failed: ${e.message}`);
    } finally {
      checking = false;
    }
  }

  // Per best block: close the interval of the previous one (submissions while it was the best
  // block), sample the pool, give the accounts refused meanwhile another try.
  const unsubHeads = await api.rpc.chain.subscribeNewHeads((header) => {
    const number = header.number.toNumber();
    if (current) {
      Object.assign(current, interval);
      const refused = sum(interval.refused);
      log(`#${current.number}: pool ${current.pool ?? '?'} after it; ${interval.accepted} accepted, ${refused} refused while it was best`);
    }
    interval = { accepted: 0, refused: {} };
    const finalizedNow = finalized.length ? finalized[finalized.length - 1].number : null;
    current = { number, hash: header.hash.toHex(), t: Date.now() - t0, flooding, pool: null, finalized: finalizedNow };
    heads.set(number, current);
    const row = current;
    const hash = header.hash.toHex();
    probe
      .send('author_pendingExtrinsics', [])
      .then((ready) => {
        row.pool = ready.length;
        return checkDropped(hash, ready);
      })
      .catch((e) => (row.poolError = e.message));
    queue.push(...blocked.splice(0));
    wakeAll();
  });
  const unsubFinal = await api.rpc.chain.subscribeFinalizedHeads((h) => finalized.push({ number: h.number.toNumber(), t: Date.now() - t0 }));

  // One runner per submission in flight: takes the next account, submits its next transfer.
  async function runner() {
    while (flooding) {
      const i = queue.shift();
      if (i === undefined) {
        await new Promise((resolve) => waiters.push(resolve));
        continue;
      }
      const s = state[i];
      const list = txs[i].list;
      if (s.next >= list.length) {
        s.idle = true;
        continue;
      }
      s.busy = true;
      if (s.resign) {
        // sr25519 signatures are randomised: the same transfer gets a new hash.
        list[s.next] = u8aToHex(buildTransfer(template, accounts[i].pair, txs[i].nonce + s.next).bytes);
        s.resign = false;
        totals.resigned++;
      }
      try {
        await submitter.send('author_submitExtrinsic', [list[s.next]]);
        interval.accepted++;
        totals.accepted++;
        s.next++;
        if (s.next < list.length) queue.push(i);
        else s.idle = true;
      } catch (e) {
        const r = refusal(e);
        interval.refused[r.key] = (interval.refused[r.key] ?? 0) + 1;
        totals.refused[r.key] = (totals.refused[r.key] ?? 0) + 1;
        if (r.stale) {
          // Already in the pool or the chain: carry on with the next nonce.
          s.next++;
          if (s.next < list.length) queue.push(i);
          else s.idle = true;
        } else if (r.retry) {
          // Pool full, priority too low, banned: again at the next block.
          if (r.resign) s.resign = opts.keyType === 'sr25519';
          blocked.push(i);
        } else {
          s.dead = r.key;
          totals.dead[r.key] = (totals.dead[r.key] ?? 0) + 1;
          if (/signature|BadProof/i.test(r.key)) throw new Error(`the node refused a hand-signed transfer: ${r.key}`);
        }
      } finally {
        s.busy = false;
      }
      if (queue.length) wakeAll();
    }
  }

  const startBlock = (await api.rpc.chain.getHeader()).number.toNumber();
  log(`flood: ${opts.duration} s from block #${startBlock}, ${opts.concurrency} submissions in flight, ${accounts.length} accounts`);
  const runners = Promise.all(Array.from({ length: opts.concurrency }, runner));
  await Promise.race([node.sleep(opts.duration * 1000), runners]);
  flooding = false;
  wakeAll();
  await runners;
  const floodMs = Date.now() - t0;
  const endBlock = (await api.rpc.chain.getHeader()).number.toNumber();
  log(`flood over at block #${endBlock}: ${totals.accepted} accepted in ${secs(floodMs)} s; draining the pool (at most ${opts.drain} s)`);

  // Drain: until the pool is empty (or the limit), then two more blocks.
  const drainStart = Date.now();
  let poolLeft = null;
  while (Date.now() - drainStart < opts.drain * 1000) {
    poolLeft = (await probe.send('author_pendingExtrinsics', [])).length;
    if (poolLeft === 0) break;
    await node.sleep(1_000);
  }
  const drained = (await api.rpc.chain.getHeader()).number.toNumber();
  await node.waitFor(async () => (await api.rpc.chain.getHeader()).number.toNumber() >= drained + 2, {
    timeout: 30_000,
    what: 'two blocks after the drain',
  });
  unsubHeads();
  unsubFinal();
  if (current) Object.assign(current, interval);
  // What the pool accepted and the chain has: the rest was dropped without an error.
  const included = (await api.query.system.account.multi(addresses)).reduce((a, info, i) => a + info.nonce.toNumber() - txs[i].nonce, 0);
  await Promise.all([submitter.disconnect(), probe.disconnect()]);
  return {
    startBlock,
    endBlock,
    lastBlock: Math.max(...heads.keys()),
    floodMs,
    drainMs: Date.now() - drainStart,
    poolLeft,
    totals,
    heads,
    finalized,
    deadAccounts: state.filter((s) => s.dead).length,
    idleAccounts: state.filter((s) => s.idle).length,
    included,
  };
}

async function checkHealth(api, node, opts, run) {
  const health = await api.rpc.system.health();
  const best = (await api.rpc.chain.getHeader()).number.toNumber();
  let finalizedAfter;
  try {
    finalizedAfter = await node.waitFor(
      async () => {
        const f = (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber();
        return f >= run.lastBlock ? f : false;
      },
      { timeout: 60_000, what: `finality of #${run.lastBlock}` },
    );
  } catch {
    finalizedAfter = (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber();
  }
  const lags = [...run.heads.values()].filter((h) => h.finalized !== null).map((h) => h.number - h.finalized);
  return { rpc: true, peers: health.peers.toNumber(), best, finalized: finalizedAfter, finalizedAll: finalizedAfter >= run.lastBlock, maxFinalityLag: Math.max(0, ...lags) };
}

// ------------------------------------------------------------------ reading the blocks back

const KIND = {
  'balances.transferKeepAlive': 'xfer',
  'balances.transferAllowDeath': 'xfer',
  'hashJobs.commit': 'commit',
  'hashJobs.reveal': 'reveal',
  'hashJobs.answerChallenge': 'answer',
  'hashJobs.claim': 'claim',
  'hashJobs.reclaim': 'reclaim',
  'registry.heartbeat': 'hb',
};
const KINDS = ['xfer', 'commit', 'reveal', 'answer', 'claim', 'hb', 'reclaim', 'other'];

async function analyse(api, chain, run, hash) {
  const from = Math.min(run.startBlock - 2, hash ? hash.fromBlock : Infinity);
  const rows = [];
  const subjobs = new Map();
  const sj = (id) => {
    if (!subjobs.has(id)) subjobs.set(id, { id });
    return subjobs.get(id);
  };
  const calls = []; // deadline-bound and worker calls: { kind, subjob, block, ok }
  log(`reading blocks #${from}..#${run.lastBlock} back`);
  for (let n = Math.max(1, from); n <= run.lastBlock; n++) {
    const hashAt = await api.rpc.chain.getBlockHash(n);
    const [signedBlock, events, weight, multiplier] = await Promise.all([
      api.rpc.chain.getBlock(hashAt),
      api.query.system.events.at(hashAt),
      api.query.system.blockWeight.at(hashAt),
      api.query.transactionPayment.nextFeeMultiplier.at(hashAt),
    ]);
    const exts = signedBlock.block.extrinsics;
    const count = Object.fromEntries(KINDS.map((k) => [k, 0]));
    const kindAt = [];
    let len = 0;
    exts.forEach((ex, i) => {
      len += ex.encodedLength;
      const kind = KIND[`${ex.method.section}.${ex.method.method}`] ?? 'other';
      count[kind]++;
      kindAt[i] = { kind, ex };
    });
    let fee = null;
    let fees = 0n;
    let feeCount = 0;
    const failedAt = new Map();
    for (const { phase, event } of events) {
      const i = phase.isApplyExtrinsic ? phase.asApplyExtrinsic.toNumber() : null;
      if (event.section === 'transactionPayment' && event.method === 'TransactionFeePaid' && i !== null && kindAt[i]?.kind === 'xfer') {
        const paid = event.data.actualFee.toBigInt();
        if (fee === null) fee = paid;
        fees += paid;
        feeCount++;
      } else if (event.section === 'system' && event.method === 'ExtrinsicFailed' && i !== null) {
        let why = event.data.dispatchError.toString();
        if (event.data.dispatchError.isModule) {
          const d = api.registry.findMetaError(event.data.dispatchError.asModule);
          why = `${d.section}.${d.name}`;
        }
        failedAt.set(i, why);
      } else if (event.section === 'hashJobs') {
        const d = event.data;
        if (event.method === 'SubjobClaimed') Object.assign(sj(d.subjob.toNumber()), { claimedAt: n, deadline: d.deadline.toNumber(), node: d.node.toNumber() });
        else if (event.method === 'ResultCommitted') sj(d.subjob.toNumber()).committedAt = n;
        else if (event.method === 'ResultRevealed') Object.assign(sj(d.subjob.toNumber()), { revealedAt: n, challengeAt: d.challengeAt.toNumber() });
        else if (event.method === 'SubjobVerified') sj(d.subjob.toNumber()).verifiedAt = n;
        else if (event.method === 'SubjobFailed') Object.assign(sj(d.subjob.toNumber()), { failedAt: n, reason: d.reason.toString() });
      }
    }
    kindAt.forEach(({ kind, ex }, i) => {
      if (['commit', 'reveal', 'answer', 'claim', 'reclaim'].includes(kind)) {
        const subjob = kind === 'claim' ? null : ex.method.args[0].toNumber();
        calls.push({ kind, subjob, block: n, ok: !failedAt.has(i), error: failedAt.get(i) ?? null, signer: ex.signer.toString() });
      } else if (kind === 'hb') {
        calls.push({ kind, subjob: null, block: n, ok: !failedAt.has(i), error: failedAt.get(i) ?? null, signer: ex.signer.toString() });
      }
    });
    const xferFailed = kindAt.filter(({ kind }, i) => kind === 'xfer' && failedAt.has(i)).length;
    const head = run.heads.get(n);
    rows.push({
      number: n,
      phase: n <= run.startBlock ? 'before' : n <= run.endBlock ? 'flood' : 'drain',
      count,
      xferFailed,
      normal: { refTime: weight.normal.refTime.toBigInt(), proofSize: weight.normal.proofSize.toBigInt() },
      operational: { refTime: weight.operational.refTime.toBigInt(), proofSize: weight.operational.proofSize.toBigInt() },
      mandatory: { refTime: weight.mandatory.refTime.toBigInt(), proofSize: weight.mandatory.proofSize.toBigInt() },
      len,
      multiplier: Number(multiplier.toBigInt()) / 1e18,
      fee,
      meanFee: feeCount ? fees / BigInt(feeCount) : null,
      pool: head?.pool ?? null,
      accepted: head?.accepted ?? null,
      refused: head?.refused ?? null,
      finalized: head?.finalized ?? null,
    });
  }
  // A block is saturated when its normal class is full, or when the pool held, after the
  // previous block, more than it took (a session-change block takes none).
  for (let k = 1; k < rows.length; k++) {
    const before = rows[k - 1].pool;
    const full = rows[k].normal.refTime * 100n >= chain.normalMax.refTime * 99n;
    rows[k].saturated = rows[k].phase !== 'before' && (full || (before !== null && before > rows[k].count.xfer));
  }
  const table = rows.filter((r) => r.number >= run.startBlock - 2);
  return { rows: table, subjobs: [...subjobs.values()], calls };
}

// ------------------------------------------------------------------ report

const ms = (refTime, digits = 0) => (Number(refTime) / 1e9).toFixed(digits);
const kib = (bytes) => (bytes / 1024).toFixed(0);
const secs = (msec) => (msec / 1000).toFixed(1);
const mcpu = (planck) => (planck === null ? '-' : (Number(planck) / 1e9).toFixed(4));
const sum = (obj) => Object.values(obj).reduce((a, b) => a + b, 0);
const pad = (v, w) => String(v).padStart(w);

function shortReasons(refused) {
  if (!refused || sum(refused) === 0) return '';
  return Object.entries(refused)
    .map(([k, v]) => `${v} ${k.replace(/ \(\d+\)$/, '')}`)
    .join(', ');
}

function printReport(opts, chain, signed, run, hash, health, report) {
  const { rows, subjobs, calls } = report;
  const out = [];
  const p = (line = '') => out.push(line);
  p();
  p(`Per block (normal-class maximum ${ms(chain.normalMax.refTime)} ms ref_time, ${kib(chain.normalLength)} KiB; a transfer weighs ` +
    `${ms(chain.transferWeight.refTime, 3)} ms with the base extrinsic: ${chain.allowedByWeight} per block by weight).`);
  p('oper/mand = operational and mandatory (inherents, on_initialize) weight; pool = ready transactions (author_pendingExtrinsics) right after the block;');
  p('accepted/refused = submissions while it was the best block.');
  p();
  const header =
    ' block phase  xfer cmt rev ans clm  hb oth | normal ms     % proof KiB | oper ms | mand ms | len KiB |  mult   | xfer fee mCPU |  pool | accepted refused (why)';
  p(header);
  p('-'.repeat(header.length + 10));
  for (const r of rows) {
    const c = r.count;
    const pct = ((Number(r.normal.refTime) / Number(chain.normalMax.refTime)) * 100).toFixed(1);
    p(
      `${pad(r.number, 6)} ${r.phase.padEnd(6)} ${pad(c.xfer, 5)} ${pad(c.commit, 3)} ${pad(c.reveal, 3)} ${pad(c.answer, 3)} ${pad(c.claim, 3)} ${pad(c.hb, 3)} ` +
        `${pad(c.other + c.reclaim, 3)} | ${pad(ms(r.normal.refTime, 1), 9)} ${pad(pct, 5)} ${pad((Number(r.normal.proofSize) / 1024).toFixed(0), 9)} | ` +
        `${pad(ms(r.operational.refTime, 1), 7)} | ${pad(ms(r.mandatory.refTime, 1), 7)} | ` +
        `${pad(kib(r.len), 7)} | ${r.multiplier.toFixed(5)} | ${pad(mcpu(r.fee), 13)} | ${pad(r.pool ?? '-', 5)} | ${pad(r.accepted ?? '-', 8)} ${pad(r.refused ? sum(r.refused) : '-', 7)}` +
        `${r.refused && sum(r.refused) ? ` (${shortReasons(r.refused)})` : ''}`,
    );
  }

  // Transfers.
  const flood = rows.filter((r) => r.phase !== 'before');
  const sat = rows.filter((r) => r.saturated);
  const satInner = sat.length > 2 ? sat.slice(1, -1) : sat;
  const xfers = flood.reduce((a, r) => a + r.count.xfer, 0);
  const peak = flood.reduce((best, r) => (r.count.xfer > best.count.xfer ? r : best), flood[0]);
  const mean = (rs) => (rs.length ? rs.reduce((a, r) => a + r.count.xfer, 0) / rs.length : 0);
  const sustained = mean(satInner);
  // Blocks whose mandatory weight (on_initialize) takes the whole block leave normal calls no
  // room (pallet_session charges `max_block` when it rotates the session).
  const fullMandatory = rows.filter((r) => r.mandatory.refTime + chain.normalMax.refTime > chain.maxBlock.refTime);
  const fullMandatorySet = new Set(fullMandatory.map((r) => r.number));
  const sustainedOthers = mean(satInner.filter((r) => !fullMandatorySet.has(r.number)));
  const fullest = satInner.length ? Math.max(...satInner.map((r) => Number(r.normal.refTime) / Number(chain.normalMax.refTime))) : 0;
  const perXfer = peak && peak.count.xfer ? Number(peak.normal.refTime) / peak.count.xfer : 0;
  p();
  p('Summary');
  p(`  signing      ${signed.count} ${opts.keyType} transfers signed ahead in ${secs(signed.ms)} s on ${signed.threads} thread(s): ${Math.round(signed.count / (signed.ms / 1000))}/s`);
  p(`  submission   ${run.totals.accepted} accepted by the pool in ${secs(run.floodMs)} s (${Math.round(run.totals.accepted / (run.floodMs / 1000))}/s), ` +
    `${opts.concurrency} in flight; refused: ${shortReasons(run.totals.refused) || 'none'}` +
    `${run.totals.resigned ? `; ${run.totals.resigned} re-signed after a ban` : ''}${run.deadAccounts ? `; ${run.deadAccounts} accounts stopped (${shortReasons(run.totals.dead)})` : ''}` +
    `${run.idleAccounts ? `; ${run.idleAccounts} accounts ran out of signed transfers` : ''}`);
  p(`               ${run.included} of them included, ${run.totals.accepted - run.included} accepted and then dropped by the pool without an error` +
    `${run.totals.gaps ? ` (${run.totals.gaps} times an account found its next transfer gone from the pool and submitted again from there: ${run.totals.resubmitted} resubmissions)` : ''}`);
  p(`  transfers    ${xfers} included over ${flood.length} blocks; sustained ${sustained.toFixed(0)} per block over ${satInner.length} saturated blocks ` +
    `(${sustainedOthers.toFixed(0)} without the session-change blocks), peak ${peak?.count.xfer ?? 0} (#${peak?.number}); ` +
    `the normal class allows ${chain.allowedByWeight} by weight and ${chain.allowedByLength} by length`);
  if (fullMandatory.length) {
    const r = fullMandatory.filter((x) => x.phase !== 'before');
    p(`               ${r.length} block(s) with mandatory weight over the block's ${ms(chain.maxBlock.refTime)} ms less the normal class: ` +
      `${r.map((x) => `#${x.number} (${ms(x.mandatory.refTime)} ms, ${x.count.xfer} transfers, ${x.count.commit + x.count.reveal + x.count.answer} operational)`).join(', ')}`);
  }
  p(`               fullest saturated block: ${(fullest * 100).toFixed(1)}% of the normal class; ${(perXfer / 1e9).toFixed(3)} ms of normal weight per transfer at the peak` +
    `${flood.some((r) => r.xferFailed) ? `; ${flood.reduce((a, r) => a + r.xferFailed, 0)} transfers failed in dispatch` : ''}`);
  const prio = Object.entries(chain.priorities)
    .sort(([, a], [, b]) => (a.priority === null ? 1 : b.priority === null ? -1 : a.priority > b.priority ? -1 : 1))
    .map(([name, v]) => `${name} ${v.priority ?? v.error} (${v.class})`);
  p(`  priority     in the pool, highest first: ${prio.join(', ')}`);
  const mults = rows.map((r) => r.multiplier);
  const fees = rows.filter((r) => r.fee !== null).map((r) => r.fee);
  p(`  fees         multiplier ${mults[0].toFixed(5)} -> ${Math.max(...mults).toFixed(5)} (peak) -> ${mults[mults.length - 1].toFixed(5)}; ` +
    `a transfer paid ${fees.length ? mcpu(fees[0]) : '-'} mCPU first, ${fees.length ? mcpu(fees.reduce((a, b) => (b > a ? b : a))) : '-'} at most`);
  const pools = rows.map((r) => r.pool).filter((x) => x !== null);
  p(`  pool         largest ${Math.max(0, ...pools)} transactions; ${run.poolLeft === 0 ? `empty again ${secs(run.drainMs)} s after the flood` : `${run.poolLeft} left after ${secs(run.drainMs)} s`}`);

  // Worker calls.
  if (hash) {
    p(`  hash jobs    job ${hash.job}, workers ${hash.names.map((n) => `//${n}`).join(', ')}`);
    const inRange = (c) => c.block > run.startBlock && c.block <= run.lastBlock;
    const satBlocks = new Set(sat.map((r) => r.number));
    const submitted = new Map(); // `${kind} ${id}` -> signed-at block
    const submittedCount = {}; // kind -> submissions during the run (heartbeats are not logged at info)
    for (const w of hash.logs) {
      for (const e of w.events) {
        if (e.event !== 'tx_submitted' || !e.tx) continue;
        if ((e.id ?? e.subjob) !== undefined) submitted.set(`${e.tx} ${e.id ?? e.subjob}`, e.block);
        if (e.block > run.startBlock) submittedCount[e.tx] = (submittedCount[e.tx] ?? 0) + 1;
      }
    }
    const deadlineOf = (c) => {
      const s = subjobs.find((x) => x.id === c.subjob);
      if (!s) return null;
      if (c.kind === 'commit' || c.kind === 'reveal') return s.deadline ?? null;
      if (c.kind === 'answer') return s.challengeAt !== undefined ? s.challengeAt + chain.hashJobs.answerWindow : null;
      return null;
    };
    for (const kind of ['commit', 'reveal', 'answer', 'claim', 'hb', 'reclaim']) {
      const cs = calls.filter((c) => c.kind === kind && inRange(c));
      if (!cs.length && kind === 'reclaim') continue;
      const ok = cs.filter((c) => c.ok).length;
      const inSat = cs.filter((c) => satBlocks.has(c.block)).length;
      const waits = cs.map((c) => (submitted.has(`${kind} ${c.subjob}`) ? c.block - submitted.get(`${kind} ${c.subjob}`) : null)).filter((x) => x !== null);
      const margins = cs.map((c) => (deadlineOf(c) === null ? null : deadlineOf(c) - c.block)).filter((x) => x !== null);
      const late = margins.filter((m) => m < 0).length;
      const errors = [...new Set(cs.filter((c) => !c.ok).map((c) => c.error))];
      p(
        `    ${kind.padEnd(7)} ${pad(cs.length, 4)} included (${inSat} in saturated blocks), ${ok} succeeded` +
          `${submittedCount[kind] !== undefined ? `, ${submittedCount[kind]} signed by the workers during the run` : ''}` +
          `${errors.length ? ` (failed: ${errors.join(', ')})` : ''}` +
          `${waits.length ? `; blocks from signing to inclusion: max ${Math.max(...waits)}, mean ${(waits.reduce((a, b) => a + b, 0) / waits.length).toFixed(1)}` : ''}` +
          `${margins.length ? `; ${late ? `${late} AFTER their deadline` : 'all by their deadline'}, closest ${Math.min(...margins)} blocks before it` : ''}`,
      );
    }
    const failed = subjobs.filter((s) => s.failedAt !== undefined && s.failedAt > run.startBlock);
    const verified = subjobs.filter((s) => s.verifiedAt !== undefined && s.verifiedAt > run.startBlock);
    p(`    subjobs verified during the run: ${verified.length}; failed: ${failed.length}${failed.length ? ` (${failed.map((s) => `${s.id}: ${s.reason}`).join(', ')})` : ''}`);
    const problems = {};
    for (const w of hash.logs) {
      for (const e of w.events) {
        if (!['tx_rejected', 'tx_lost', 'tx_failed', 'action_failed', 'slashed', 'duty_failed'].includes(e.event)) continue;
        const key = `${e.event}${e.tx ? ` (${e.tx})` : ''}`;
        problems[key] = (problems[key] ?? 0) + 1;
      }
    }
    p(`    worker log: ${Object.keys(problems).length ? Object.entries(problems).map(([k, v]) => `${v} ${k}`).join(', ') : 'no rejected, lost or failed transaction'}`);
  }
  p(`  node         RPC answers (peers ${health.peers}), best #${health.best}; finalized #${health.finalized}` +
    `${health.finalizedAll ? ' (every block of the run)' : ` (NOT every block of the run: last #${run.lastBlock})`}, largest finality lag ${health.maxFinalityLag} blocks`);
  console.log(out.join('\n'));
}

// ------------------------------------------------------------------ signing threads

if (!isMainThread) {
  // A signing thread (this file run by signAhead): signs `count` transfers of each of its accounts, nonces from `nonce`.
  await cryptoWaitReady();
  const { template, accounts } = workerData;
  const out = [];
  for (const a of accounts) {
    const txs = [];
    for (let i = 0; i < a.count; i++) txs.push(u8aToHex(buildTransfer(template, a.pair, a.nonce + i).bytes));
    out.push(txs);
  }
  parentPort.postMessage(out);
} else {
  // Every declaration above is initialised before main() runs.
  await main().catch((e) => fail(process.env.LOAD_DEBUG ? e.stack : e.message));
}
