#!/usr/bin/env node
// Enacts a forkless runtime upgrade on a running network, the way production does, and
// prints its timeline. Run `node tests/e2e/tools/upgrade.mjs --help`.
//
// 1. Authorize the code's hash as root: `sudo.sudo(system.authorizeUpgrade(hash))` signed by
//    the sudo key (dev and local networks), or with `--committee` a technical-committee motion
//    `rootMotions.enact(system.authorizeUpgrade(hash))` (propose with threshold 2, two
//    members vote aye, a third closes), the governance origin of a staging/production genesis.
// 2. Anyone submits `system.applyAuthorizedUpgrade(code)`; its block emits `system.CodeUpdated`
//    and the next block is executed by the new runtime.
// 3. Follow the chain until `--after` blocks after that block are finalized, then print one
//    row per block (`--before` blocks before it to `--after` after it) and a summary.
//
// Exits non-zero if finality stalls (no new finalized block for `--stall` seconds), if the
// runtime's spec version did not change, or if any step fails.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { blake2AsHex, cryptoWaitReady } from '@polkadot/util-crypto';

const USAGE = `Usage: node tests/e2e/tools/upgrade.mjs --wasm FILE [options]

Enacts a runtime upgrade in two steps (authorize the code's hash as root, then
system.applyAuthorizedUpgrade(code)), follows the chain through it and prints its timeline:
each block's time since the previous one, the spec version at it, the finalized block when
it was seen and the finality lag; then missed slots, forks, the largest finality lag before
and after, and how long the upgrade took to take effect.

Options:
  --wasm FILE        the runtime: *.compact.compressed.wasm (scripts/upgrade-runtime.sh build)
  --url URL          node RPC (default ws://127.0.0.1:9944)
  --suri SURI        signer of applyAuthorizedUpgrade and, without --committee, the sudo key
                     (default //Alice)
  --committee        authorize through a technical-committee motion instead of sudo:
                     rootMotions.enact(system.authorizeUpgrade(hash)); the only way on a
                     network without a sudo key (--chain staging, production)
  --members LIST     committee members who propose, vote and close, comma-separated secret
                     URIs (default //Alice,//Bob,//Charlie): the first proposes, the first
                     THRESHOLD vote aye, the next one (or the first) closes
  --threshold N      motion threshold (default 2: two thirds of a three-member committee)
  --before N         blocks shown before the CodeUpdated block (default 5)
  --after N          blocks followed after it, until finalized (default 10)
  --stall S          fail when no new block is finalized for S seconds (default 60)
  --json FILE        also write the timeline and summary as JSON
  --inspect          only print the WASM's runtime version, size and blake2-256 hash
  -h, --help         this help

Exit status: 0 when the upgrade was enacted, the spec changed and finality kept going;
1 otherwise (the reason is printed).`;

/** SCALE-encoded runtime version, compressed-blob prefix of sp-maybe-compressed-blob. */
const ZSTD_PREFIX = Buffer.from([82, 188, 83, 118, 70, 219, 142, 5]);

class Fatal extends Error {}

const log = (...args) => console.error('[upgrade]', ...args);
const secs = (ms) => (ms == null ? '—' : `${(ms / 1000).toFixed(1)} s`);

function parseOptions() {
  const { values } = parseArgs({
    options: {
      wasm: { type: 'string' },
      url: { type: 'string', default: 'ws://127.0.0.1:9944' },
      suri: { type: 'string', default: '//Alice' },
      committee: { type: 'boolean', default: false },
      members: { type: 'string', default: '//Alice,//Bob,//Charlie' },
      threshold: { type: 'string', default: '2' },
      before: { type: 'string', default: '5' },
      after: { type: 'string', default: '10' },
      stall: { type: 'string', default: '60' },
      json: { type: 'string' },
      inspect: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.wasm) throw new Fatal('--wasm FILE is required (see --help)');
  const uint = (name, min = 0) => {
    const v = values[name];
    if (!/^\d+$/.test(v) || Number(v) < min) throw new Fatal(`--${name} expects a whole number >= ${min}, got '${v}'`);
    return Number(v);
  };
  return {
    ...values,
    threshold: uint('threshold', 1),
    before: uint('before'),
    after: uint('after', 1),
    stall: uint('stall', 5),
  };
}

// ------------------------------------------------------------------ the WASM's version

function readLeb128(buf, pos) {
  let value = 0;
  let factor = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated WASM');
    const byte = buf[pos++];
    value += (byte & 0x7f) * factor;
    if ((byte & 0x80) === 0) return [value, pos];
    factor *= 128;
  }
}

function customSection(wasm, wanted) {
  if (wasm.length < 8 || wasm.readUInt32LE(0) !== 0x6d736100) throw new Error('not a WASM module');
  let pos = 8;
  while (pos < wasm.length) {
    const id = wasm[pos++];
    let size;
    [size, pos] = readLeb128(wasm, pos);
    const end = pos + size;
    if (id === 0) {
      const [len, at] = readLeb128(wasm, pos);
      if (wasm.subarray(at, at + len).toString('utf8') === wanted) return wasm.subarray(at + len, end);
    }
    pos = end;
  }
  return null;
}

function scaleCompact(buf, pos) {
  const mode = buf[pos] & 3;
  if (mode === 0) return [buf[pos] >> 2, pos + 1];
  if (mode === 1) return [buf.readUInt16LE(pos) >> 2, pos + 2];
  if (mode === 2) return [buf.readUInt32LE(pos) >>> 2, pos + 4];
  throw new Error('compact integer too large');
}

function scaleString(buf, pos) {
  const [len, at] = scaleCompact(buf, pos);
  return [buf.subarray(at, at + len).toString('utf8'), at + len];
}

/**
 * The runtime version a runtime blob declares (its `runtime_version` custom section):
 * `{ specName, implName, authoringVersion, specVersion, implVersion }`. A compressed blob is
 * decompressed with the `zstd` command.
 */
export function wasmRuntimeVersion(code) {
  let wasm = code;
  if (code.subarray(0, 8).equals(ZSTD_PREFIX)) {
    const out = spawnSync('zstd', ['-dcq'], { input: code.subarray(8), maxBuffer: 512 << 20 });
    if (out.error || out.status !== 0) {
      throw new Error(`cannot decompress the runtime with 'zstd': ${out.error?.message ?? out.stderr.toString().trim()}`);
    }
    wasm = out.stdout;
  }
  const section = customSection(wasm, 'runtime_version');
  if (!section) throw new Error('the WASM has no runtime_version section');
  let pos = 0;
  let specName;
  let implName;
  [specName, pos] = scaleString(section, pos);
  [implName, pos] = scaleString(section, pos);
  const authoringVersion = section.readUInt32LE(pos);
  const specVersion = section.readUInt32LE(pos + 4);
  const implVersion = section.readUInt32LE(pos + 8);
  return { specName, implName, authoringVersion, specVersion, implVersion, uncompressedSize: wasm.length };
}

// ------------------------------------------------------------------ chain helpers

/** Signs and sends; resolves at inclusion (or finality) with the extrinsic's events. */
function submit(api, tx, signer, { finalized = true, what, timeout = 240_000 } = {}) {
  const label = what ?? `${tx.method.section}.${tx.method.method}`;
  return new Promise((resolve, reject) => {
    let unsub;
    let done = false;
    let included;
    const submittedAt = Date.now();
    const timer = setTimeout(() => finish(() => reject(new Fatal(`${label}: not ${finalized ? 'finalized' : 'included'} within ${timeout / 1000} s`))), timeout);
    function finish(f) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (unsub) unsub();
      f();
    }
    const failure = (dispatchError) => {
      let msg = dispatchError.toString();
      if (dispatchError.isModule) {
        const d = api.registry.findMetaError(dispatchError.asModule);
        msg = `${d.section}.${d.name}: ${d.docs.join(' ')}`;
      }
      return new Fatal(`${label} failed: ${msg}`);
    };
    tx.signAndSend(signer, (result) => {
      const { status, dispatchError, events } = result;
      if (status.isInvalid || status.isDropped || status.isUsurped || status.isFinalityTimeout) {
        finish(() => reject(new Fatal(`${label}: transaction ${status.type}`)));
        return;
      }
      if (status.isInBlock && !included) {
        included = { blockHash: status.asInBlock.toHex(), events, submittedAt, includedAt: Date.now() };
        if (dispatchError) return finish(() => reject(failure(dispatchError)));
        if (!finalized) return finish(() => resolve(included));
      }
      if (status.isFinalized) {
        if (dispatchError) return finish(() => reject(failure(dispatchError)));
        const blockHash = status.asFinalized.toHex();
        finish(() =>
          resolve({ blockHash, events, submittedAt, includedAt: included?.includedAt ?? Date.now(), finalizedAt: Date.now() }),
        );
      }
    })
      .then((u) => {
        unsub = u;
        if (done) u();
      })
      .catch((e) => finish(() => reject(new Fatal(`${label}: ${e.message}`))));
  });
}

/**
 * Signs `tx` and submits it with a raw `author_submitAndWatchExtrinsic`; resolves when it is in
 * a block: `{ blockHash, submittedAt, includedAt }`. Nothing is decoded with the API's
 * registry, which switches to the new runtime's types exactly while the upgrade's block
 * arrives (the old runtime's events of that block then fail to decode).
 */
async function submitRaw(provider, tx, signer, { what, timeout = 240_000 } = {}) {
  await tx.signAsync(signer);
  return new Promise((resolve, reject) => {
    let done = false;
    let id;
    const submittedAt = Date.now();
    const finish = (f) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (id !== undefined) provider.unsubscribe('author_extrinsicUpdate', 'author_unwatchExtrinsic', id).catch(() => {});
      f();
    };
    const timer = setTimeout(() => finish(() => reject(new Fatal(`${what}: not included within ${timeout / 1000} s`))), timeout);
    provider
      .subscribe('author_extrinsicUpdate', 'author_submitAndWatchExtrinsic', [tx.toHex()], (error, status) => {
        if (error) return finish(() => reject(new Fatal(`${what}: ${error.message}`)));
        if (status && typeof status === 'object' && status.inBlock) {
          finish(() => resolve({ blockHash: status.inBlock, submittedAt, includedAt: Date.now() }));
        } else if (['invalid', 'dropped'].includes(status) || (status && (status.usurped || status.finalityTimeout))) {
          finish(() => reject(new Fatal(`${what}: transaction ${JSON.stringify(status)}`)));
        }
      })
      .then((subscription) => {
        id = subscription;
        if (done) provider.unsubscribe('author_extrinsicUpdate', 'author_unwatchExtrinsic', id).catch(() => {});
      })
      .catch((e) => finish(() => reject(new Fatal(`${what}: ${e.message}`))));
  });
}

const eventOf = (events, section, method) =>
  events.map((r) => r.event ?? r).find((e) => e.section === section && e.method === method);

// ------------------------------------------------------------------ main

async function main() {
  const opts = parseOptions();
  let code;
  try {
    code = readFileSync(opts.wasm);
  } catch (e) {
    throw new Fatal(`cannot read --wasm ${opts.wasm}: ${e.message}`);
  }
  const codeHash = blake2AsHex(code, 256);
  let wasmVersion = null;
  try {
    wasmVersion = wasmRuntimeVersion(code);
  } catch (e) {
    if (opts.inspect) throw new Fatal(`${opts.wasm}: ${e.message}`);
    log(`warning: cannot read the WASM's runtime version (${e.message}); the chain will check it`);
  }
  if (opts.inspect) {
    console.log(
      `${path.basename(opts.wasm)}: ${wasmVersion.specName} spec ${wasmVersion.specVersion} ` +
        `(impl ${wasmVersion.implName} ${wasmVersion.implVersion}), ${code.length} bytes ` +
        `(${wasmVersion.uncompressedSize} uncompressed), blake2-256 ${codeHash}`,
    );
    return 0;
  }

  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519' });
  const provider = new WsProvider(opts.url, 1_000, {}, 60_000);
  let api;
  try {
    api = await Promise.race([
      ApiPromise.create({ provider, throwOnConnect: true, noInitWarn: true }),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 60 s')), 60_000)),
    ]);
  } catch (e) {
    await provider.disconnect().catch(() => {});
    throw new Fatal(`cannot connect to ${opts.url}: ${e.message}`);
  }
  const rpc = (method, params = []) => provider.send(method, params);

  // A fatal condition (finality stall) rejects every wait from then on.
  let fatalReject;
  const fatal = new Promise((_, reject) => {
    fatalReject = reject;
  });
  fatal.catch(() => {});
  const guard = (p) => Promise.race([p, fatal]);

  // The follower: when each block was first seen, and the finalized head at that moment. Raw
  // subscriptions on a connection of their own: the API delays its decorated header
  // subscriptions while it loads a new runtime's metadata, which would skew the times
  // measured exactly around the upgrade.
  const seen = new Map(); // hash -> { number, seenAt, finalizedAtSeen }
  const finalizedHash0 = await rpc('chain_getFinalizedHead');
  let finalized = { number: parseInt((await rpc('chain_getHeader', [finalizedHash0])).number, 16), at: Date.now() };
  let best = finalized.number;
  let longestFinalityGap = 0;
  const startedAt = Date.now();
  const follower = new WsProvider(opts.url, 1_000, {}, 60_000);
  await follower.isReady;
  const onHead = (error, header) => {
    if (error || !header) return;
    const now = Date.now();
    const number = parseInt(header.number, 16);
    const hash = api.registry.createType('Header', header).hash.toHex();
    if (!seen.has(hash)) seen.set(hash, { number, seenAt: now, finalizedAtSeen: finalized.number });
    best = Math.max(best, number);
  };
  const onFinalized = (error, header) => {
    if (error || !header) return;
    const number = parseInt(header.number, 16);
    if (number > finalized.number) {
      const now = Date.now();
      longestFinalityGap = Math.max(longestFinalityGap, now - finalized.at);
      finalized = { number, at: now };
    }
  };
  const allId = await follower.subscribe('chain_allHead', 'chain_subscribeAllHeads', [], onHead);
  const finalizedId = await follower.subscribe('chain_finalizedHead', 'chain_subscribeFinalizedHeads', [], onFinalized);
  const unsubAll = () => follower.unsubscribe('chain_allHead', 'chain_unsubscribeAllHeads', allId).catch(() => {});
  const unsubFinalized = () =>
    follower.unsubscribe('chain_finalizedHead', 'chain_unsubscribeFinalizedHeads', finalizedId).catch(() => {});
  const watchdog = setInterval(() => {
    if (Date.now() - finalized.at > opts.stall * 1000) {
      fatalReject(
        new Fatal(`finality stalled: no new finalized block for ${opts.stall} s (finalized #${finalized.number}, best #${best})`),
      );
    }
  }, 1_000);

  const cleanup = async () => {
    clearInterval(watchdog);
    await unsubAll();
    await unsubFinalized();
    await follower.disconnect().catch(() => {});
    await api.disconnect().catch(() => {});
  };

  const state = { opts, api, provider, rpc, guard, seen, codeHash, code, wasmVersion, keyring, following: false };
  try {
    return await run(state, {
      finalizedNow: () => finalized,
      bestNow: () => best,
      longestFinalityGap: () => longestFinalityGap,
      startedAt,
    });
  } catch (e) {
    if (state.following) printSeen(seen, startedAt, finalized);
    throw e;
  } finally {
    await cleanup();
  }
}

async function waitUntil(guard, cond, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  await guard(
    (async () => {
      while (!cond()) {
        if (Date.now() > deadline) throw new Fatal(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    })(),
  );
}

async function run(state, chain) {
  const { opts, api, provider, rpc, guard, codeHash, code, wasmVersion, keyring } = state;
  const { seen } = state;
  const before = await rpc('state_getRuntimeVersion', []);
  log(`chain at ${opts.url}: ${before.specName} spec ${before.specVersion}, best #${chain.bestNow()}, finalized #${chain.finalizedNow().number}`);
  log(`code: ${opts.wasm}, ${code.length} bytes, blake2-256 ${codeHash}` + (wasmVersion ? `, ${wasmVersion.specName} spec ${wasmVersion.specVersion}` : ''));
  if (wasmVersion) {
    if (wasmVersion.specName !== before.specName) {
      throw new Fatal(`the WASM is runtime '${wasmVersion.specName}', the chain runs '${before.specName}': not an upgrade of this chain`);
    }
    if (wasmVersion.specVersion <= before.specVersion) {
      throw new Fatal(
        `the WASM's spec version ${wasmVersion.specVersion} is not above the chain's ${before.specVersion}; ` +
          'build one with a higher spec (scripts/upgrade-runtime.sh build --spec N)',
      );
    }
  }

  // Who authorizes: the sudo key, or committee members.
  const signer = keyring.addFromUri(opts.suri);
  let members = [];
  if (!opts.committee) {
    const sudoKey = await api.query.sudo.key();
    if (sudoKey.isNone) {
      throw new Fatal('this chain has no sudo key (a staging or production genesis): authorize with --committee');
    }
    if (sudoKey.unwrap().toHex() !== api.createType('AccountId', signer.publicKey).toHex()) {
      throw new Fatal(`--suri ${opts.suri} is not the sudo key (${sudoKey.unwrap().toString()})`);
    }
  } else {
    members = opts.members.split(',').map((s) => s.trim()).filter(Boolean).map((s) => keyring.addFromUri(s));
    if (members.length < opts.threshold) throw new Fatal(`--members names ${members.length} member(s), fewer than --threshold ${opts.threshold}`);
    const onChain = (await api.query.technicalCommittee.members()).map((m) => m.toHex());
    for (const m of members) {
      const id = api.createType('AccountId', m.publicKey).toHex();
      if (!onChain.includes(id)) throw new Fatal(`${m.address} is not a member of the technical committee`);
    }
  }

  // A baseline: `before` blocks seen before anything is sent, so that every row before the
  // upgrade has its arrival time and finality lag.
  state.following = true;
  const baseline = chain.bestNow() + opts.before;
  await waitUntil(guard, () => chain.bestNow() >= baseline, `${opts.before} blocks of baseline`, (opts.before + 10) * 3_000 + 60_000);

  // ---- 1. authorize the hash as root
  let authorized;
  if (!opts.committee) {
    log('authorizing: sudo.sudo(system.authorizeUpgrade(hash)) ...');
    authorized = await guard(submit(api, api.tx.sudo.sudo(api.tx.system.authorizeUpgrade(codeHash)), signer, { what: 'sudo(authorizeUpgrade)' }));
    const sudid = eventOf(authorized.events, 'sudo', 'Sudid');
    if (!sudid || sudid.data[0].isErr) throw new Fatal(`sudo(authorizeUpgrade) failed: ${sudid?.data[0].toString() ?? 'no Sudid event'}`);
  } else {
    const enact = api.tx.rootMotions.enact(api.tx.system.authorizeUpgrade(codeHash));
    const length = enact.method.encodedLength;
    log(`authorizing: technical-committee motion rootMotions.enact(system.authorizeUpgrade(hash)), threshold ${opts.threshold} ...`);
    const proposed = await guard(submit(api, api.tx.technicalCommittee.propose(opts.threshold, enact, length), members[0], { what: 'technicalCommittee.propose' }));
    const p = eventOf(proposed.events, 'technicalCommittee', 'Proposed');
    if (!p) throw new Fatal('technicalCommittee.propose: no Proposed event (a threshold of 1 executes at once and the enact origin refuses it)');
    const { proposalIndex, proposalHash } = p.data;
    log(`  motion #${proposalIndex} proposed in ${proposed.blockHash}; ${opts.threshold} aye vote(s) ...`);
    await guard(
      Promise.all(
        members.slice(0, opts.threshold).map((m) =>
          submit(api, api.tx.technicalCommittee.vote(proposalHash, proposalIndex, true), m, { what: `vote of ${m.address}` }),
        ),
      ),
    );
    const closer = members[opts.threshold] ?? members[0];
    authorized = await guard(
      submit(
        api,
        api.tx.technicalCommittee.close(proposalHash, proposalIndex, { refTime: 10_000_000_000n, proofSize: 1_000_000n }, length),
        closer,
        { what: 'technicalCommittee.close' },
      ),
    );
    const enacted = eventOf(authorized.events, 'rootMotions', 'Enacted');
    if (!enacted || enacted.data.result?.isErr) {
      const executed = eventOf(authorized.events, 'technicalCommittee', 'Executed');
      throw new Fatal(`the motion did not enact: ${enacted?.data.result?.toString() ?? executed?.data.toString() ?? 'not executed (disapproved?)'}`);
    }
  }
  const authorizedEvent = eventOf(authorized.events, 'system', 'UpgradeAuthorized');
  if (!authorizedEvent) throw new Fatal('no system.UpgradeAuthorized event');
  const authorizedNumber = (await api.rpc.chain.getHeader(authorized.blockHash)).number.toNumber();
  log(`  UpgradeAuthorized in #${authorizedNumber} (finalized)`);

  // ---- 2. apply the code (any signer)
  const applier = signer;
  log(`applying: system.applyAuthorizedUpgrade(code) (${code.length} bytes) ...`);
  const applied = await guard(
    // A hex string is the bytes themselves (a Uint8Array would be read as SCALE-encoded).
    submitRaw(provider, api.tx.system.applyAuthorizedUpgrade(u8aToHex(code)), applier, { what: 'applyAuthorizedUpgrade' }),
  );
  let upgradeHash = applied.blockHash;
  // The block that applied the code holds it in its state (`CodeUpdated`).
  if ((await rpc('state_getRuntimeVersion', [upgradeHash])).specVersion === before.specVersion) {
    let why = 'no CodeUpdated';
    try {
      const events = await (await api.at(upgradeHash)).query.system.events();
      const rejected = eventOf(events, 'system', 'RejectedInvalidAuthorizedUpgrade');
      const failed = eventOf(events, 'system', 'ExtrinsicFailed');
      if (rejected) why = `RejectedInvalidAuthorizedUpgrade ${rejected.data.toString()}`;
      else if (failed) why = `ExtrinsicFailed ${failed.data.toString()}`;
    } catch {
      /* the reason stays generic */
    }
    throw new Fatal(`applyAuthorizedUpgrade was included in ${upgradeHash} but the runtime did not take the code (${why})`);
  }
  let upgradeNumber = (await api.rpc.chain.getHeader(upgradeHash)).number.toNumber();
  log(`  CodeUpdated in #${upgradeNumber} (${upgradeHash})`);

  // ---- 3. follow until `after` blocks after it are finalized
  let last = upgradeNumber + opts.after;
  const followMs = (opts.after + 20) * 3_000 + opts.stall * 1000;
  await waitUntil(guard, () => chain.finalizedNow().number >= last, `block #${last} to be finalized`, followMs);

  // The block of CodeUpdated on the finalized chain: a fork may have retracted the block the
  // transaction was first included in. It is the first block whose state holds the new code
  // (read without decoding anything, so either runtime's metadata will do).
  if ((await rpc('chain_getBlockHash', [upgradeNumber])) !== upgradeHash) {
    log(`  #${upgradeNumber} ${upgradeHash} was retracted; looking for the upgrade on the finalized chain`);
    upgradeHash = null;
    for (let n = authorizedNumber; n <= last && !upgradeHash; n++) {
      const h = await rpc('chain_getBlockHash', [n]);
      if ((await rpc('state_getRuntimeVersion', [h])).specVersion !== before.specVersion) {
        upgradeHash = h;
        upgradeNumber = n;
      }
    }
    if (!upgradeHash) throw new Fatal('no block of the finalized chain holds the new code');
    log(`  the new code is in #${upgradeNumber} (${upgradeHash}) of the finalized chain`);
    last = upgradeNumber + opts.after;
    await waitUntil(guard, () => chain.finalizedNow().number >= last, `block #${last} to be finalized`, followMs);
  }

  // ---- the timeline
  const slotMs = Number(api.consts.babe?.expectedBlockTime?.toString() ?? 3000);
  const tsKey = api.query.timestamp.now.key();
  const first = Math.max(2, upgradeNumber - opts.before);
  const rows = [];
  let prev = null;
  for (let n = first - 1; n <= last; n++) {
    const hash = await rpc('chain_getBlockHash', [n]);
    const raw = await rpc('state_getStorage', [tsKey, hash]);
    if (!raw) throw new Fatal(`block #${n} has no timestamp`);
    const timestamp = Number(Buffer.from(raw.slice(2), 'hex').readBigUInt64LE(0));
    const version = await rpc('state_getRuntimeVersion', [hash]);
    const s = seen.get(hash);
    const row = {
      number: n,
      hash,
      timestamp,
      slot: Math.floor(timestamp / slotMs),
      spec: version.specVersion,
      seenAt: s?.seenAt ?? null,
      finalizedAtSeen: s?.finalizedAtSeen ?? null,
      lag: s ? n - s.finalizedAtSeen : null,
    };
    if (prev) {
      row.sincePrevious = timestamp - prev.timestamp;
      row.missedSlots = row.slot - prev.slot - 1;
      row.sincePreviousSeen = row.seenAt != null && prev.seenAt != null ? row.seenAt - prev.seenAt : null;
      rows.push(row);
    }
    prev = row;
  }
  const at = (n) => rows.find((r) => r.number === n);
  const upgradeRow = at(upgradeNumber);
  const firstNew = at(upgradeNumber + 1);
  for (const r of rows) {
    const notes = [];
    if (r.number === authorizedNumber) notes.push('UpgradeAuthorized');
    if (r.number === upgradeNumber) notes.push(`CodeUpdated (applyAuthorizedUpgrade, ${code.length} bytes)`);
    if (r.number === upgradeNumber + 1) notes.push(`first block executed by spec ${r.spec}`);
    r.note = notes.join('; ');
  }
  const canonical = new Set(rows.map((r) => r.hash));
  const forks = [...seen.entries()].filter(([h, s]) => s.number >= first && s.number <= last && !canonical.has(h)).length;
  const beforeRows = rows.filter((r) => r.number < upgradeNumber);
  const afterRows = rows.filter((r) => r.number >= upgradeNumber);
  const sum = (rs, k) => rs.reduce((a, r) => a + (r[k] ?? 0), 0);
  const maxOf = (rs, k) => rs.reduce((a, r) => (r[k] == null ? a : Math.max(a ?? r[k], r[k])), null);
  const specBefore = before.specVersion;
  const specAfter = (await rpc('state_getRuntimeVersion', [await rpc('chain_getBlockHash', [last])])).specVersion;
  const summary = {
    specBefore,
    specAfter,
    codeHash,
    codeBytes: code.length,
    authorization: opts.committee ? 'technical committee' : 'sudo',
    authorizedIn: authorizedNumber,
    upgradeBlock: upgradeNumber,
    upgradeHash,
    slotMs,
    missedSlotsBefore: sum(beforeRows, 'missedSlots'),
    slotsBefore: beforeRows.reduce((a, r) => a + r.missedSlots + 1, 0),
    missedSlotsAfter: sum(afterRows, 'missedSlots'),
    slotsAfter: afterRows.reduce((a, r) => a + r.missedSlots + 1, 0),
    forks,
    maxLagBefore: maxOf(beforeRows, 'lag'),
    maxLagAfter: maxOf(afterRows, 'lag'),
    // From the raw follower's arrival of the block when there is one (the API reports the
    // status only after it fetched the block's events).
    submittedToIncludedMs: (upgradeRow?.seenAt ?? applied.includedAt) - applied.submittedAt,
    includedToFirstNewBlockMs:
      firstNew?.seenAt != null && upgradeRow?.seenAt != null ? firstNew.seenAt - upgradeRow.seenAt : null,
    includedToFirstNewBlockChainMs: firstNew && upgradeRow ? firstNew.timestamp - upgradeRow.timestamp : null,
    longestFinalityGapMs: chain.longestFinalityGap(),
    finalizedAtEnd: chain.finalizedNow().number,
  };

  printTimeline(rows, summary);
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify({ summary, rows }, null, 2)}\n`);

  if (specAfter === specBefore) throw new Fatal(`the spec version did not change (still ${specBefore})`);
  if (wasmVersion && specAfter !== wasmVersion.specVersion) {
    throw new Fatal(`the chain runs spec ${specAfter}, not the WASM's ${wasmVersion.specVersion}`);
  }
  return 0;
}

/** On failure: every block seen since the start (the newest hash per height). */
function printSeen(seen, startedAt, finalized) {
  const byNumber = new Map();
  for (const s of seen.values()) {
    const b = byNumber.get(s.number);
    byNumber.set(s.number, { ...s, hashes: (b?.hashes ?? 0) + 1 });
  }
  if (byNumber.size === 0) return;
  console.error(`[upgrade] blocks seen since the start (finalized now #${finalized.number}, ${secs(Date.now() - finalized.at)} ago):`);
  for (const [n, s] of [...byNumber.entries()].sort((a, b) => a[0] - b[0])) {
    console.error(
      `  #${n}  seen at +${secs(s.seenAt - startedAt)}  finalized when seen #${s.finalizedAtSeen}  lag ${n - s.finalizedAtSeen}` +
        (s.hashes > 1 ? `  (${s.hashes} blocks at this height)` : ''),
    );
  }
}

function printTimeline(rows, s) {
  const header = ['block', 'missed', 'Δt chain', 'Δt seen', 'spec', 'finalized when seen', 'lag', ''];
  const body = rows.map((r) => [
    `#${r.number}`,
    String(r.missedSlots),
    secs(r.sincePrevious),
    secs(r.sincePreviousSeen),
    String(r.spec),
    r.finalizedAtSeen == null ? '—' : `#${r.finalizedAtSeen}`,
    r.lag == null ? '—' : String(r.lag),
    r.note,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  console.log();
  console.log(line(header));
  for (const b of body) console.log(line(b));
  console.log();
  const slots = (missed, total) => `${missed} of ${total} slots empty`;
  console.log(`spec ${s.specBefore} -> ${s.specAfter} (authorized by ${s.authorization} in #${s.authorizedIn}, code ${s.codeBytes} bytes, blake2-256 ${s.codeHash})`);
  console.log(`blocks missed (${s.slotMs / 1000} s slots without a block): ${slots(s.missedSlotsBefore, s.slotsBefore)} before #${s.upgradeBlock}, ${slots(s.missedSlotsAfter, s.slotsAfter)} from it on`);
  console.log(`forks: ${s.forks} block(s) seen off the finalized chain`);
  console.log(`finality lag when a block was seen: max ${s.maxLagBefore ?? '—'} before, max ${s.maxLagAfter ?? '—'} from #${s.upgradeBlock} on; longest wait between finalized heads ${secs(s.longestFinalityGapMs)}`);
  console.log(
    `applyAuthorizedUpgrade: submitted -> in block #${s.upgradeBlock}: ${secs(s.submittedToIncludedMs)}; ` +
      `#${s.upgradeBlock} -> first block executed by spec ${s.specAfter} (#${s.upgradeBlock + 1}): ${secs(s.includedToFirstNewBlockMs)} seen, ${secs(s.includedToFirstNewBlockChainMs)} by timestamp`,
  );
}

main()
  .then((code) => process.exit(code))
  .catch((e) => {
    console.error(`[upgrade] error: ${e instanceof Fatal ? e.message : e.stack ?? e}`);
    process.exit(1);
  });
