#!/usr/bin/env node
// The payment channels' storage migration (storage version 0 -> 1: the payee index
// `PayeeChannels`) on a live chain, in two phases around a forkless upgrade. Driven by
// scripts/migration-demo.sh; run `node tests/e2e/tools/migration.mjs --help`.
//
// prepare (the chain runs the old runtime, without the index): registers a model and inference
//   nodes for Bob and Dave, opens channels Charlie->Bob, Eve->Bob, Charlie->Dave, Ferdie->Dave,
//   Bob claims a voucher on one, Ferdie requests closing his; checks storage version 0, no
//   `PayeeChannels` in the metadata and `channels_ofPayee` refused (1010); records the
//   channels, each payer's `channels_ofPayer` and every account's holds in --state.
// verify (after the upgrade): storage version 0 at the upgrade's block and 1 from the next one
//   (the first block the new runtime executes, whose initialization ran the migration), every
//   channel indexed under its payee, `channels_ofPayee` (also page by page) listing exactly
//   each payee's channels, the payer lists and the holds as recorded; then Bob closes Eve's
//   channel and it leaves his list.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { Keyring } from '@polkadot/keyring';
import { hexToU8a, u8aConcat, u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, decodeAddress, encodeAddress, xxhashAsHex } from '@polkadot/util-crypto';

import { connectApi, disconnectAll, rpcRaw, sendAndFinalize } from '../lib/node.mjs';

const USAGE = `Usage: node tests/e2e/tools/migration.mjs <prepare|verify> --url WS --state FILE [options]

The payment channels' migration to storage version 1 (the payee index) on a live chain:

  prepare   on the old runtime (storage version 0): register a model and inference nodes of
            Bob and Dave, open channels Charlie->Bob, Eve->Bob, Charlie->Dave, Ferdie->Dave,
            Bob claims a voucher on Charlie's, Ferdie requests closing his. Checks the storage
            version is 0, the metadata has no PayeeChannels and channels_ofPayee answers
            1010; prints the channels and writes them, each payer's channels_ofPayer and every
            account's holds to --state.
  verify    after the upgrade: storage version 0 at the upgrade's block and 1 from the next,
            PayeeChannels lists every channel under its payee and nothing else,
            channels_ofPayee (whole and page by page) lists exactly each payee's channels with
            the recorded fields, channels_ofPayer and the holds are as recorded; then Bob
            closes Eve's channel, which leaves his list, and Eve's holds are released.

Options:
  --url WS             node RPC, ws:// (the same port answers HTTP JSON-RPC)
  --state FILE         JSON written by prepare, read by verify
  --expect-spec N      prepare/verify: fail unless the chain runs spec N
  --upgrade-block N    verify: the block of CodeUpdated (default: the first block after the
                       prepared one whose runtime version differs)
  --summary FILE       verify: also write the figures as JSON
  -h, --help           this help

Exit status 0 when every check passed; 1 otherwise, with the failed check on stderr.`;

const UNITS = 10n ** 12n;
const NAMES = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'];
const SS58 = 4242;
// Whose holds must not change: the payers and the payees (Alice, the validator, is left out:
// her staking bond is no business of the channels).
const HOLDERS = ['Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'];

class Fatal extends Error {}

const say = (...a) => console.log(...a);
const fail = (msg) => {
  throw new Fatal(msg);
};

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string', default: 'ws://127.0.0.1:9944' },
      state: { type: 'string' },
      'expect-spec': { type: 'string' },
      'upgrade-block': { type: 'string' },
      summary: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const phase = positionals[0];
  if (!['prepare', 'verify'].includes(phase) || positionals.length !== 1) fail('expected one phase: prepare or verify (see --help)');
  if (!values.state) fail('--state FILE is required');
  for (const k of ['expect-spec', 'upgrade-block']) {
    if (values[k] != null && !/^\d+$/.test(values[k])) fail(`--${k} expects a whole number, got '${values[k]}'`);
  }
  return { phase, ...values, http: values.url.replace(/^ws(s?):/, 'http$1:') };
}

// ------------------------------------------------------------------ helpers

const cpu = (v) => {
  const b = BigInt(v);
  const whole = b / UNITS;
  const frac = (b % UNITS).toString().padStart(12, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
};

/** Account names by public key, for printing. */
function namer(k) {
  const byKey = new Map(Object.entries(k).map(([n, p]) => [u8aToHex(p.publicKey), n]));
  return (addr) => byKey.get(u8aToHex(decodeAddress(addr))) ?? addr.slice(0, 8);
}

async function call(http, method, params) {
  const body = await rpcRaw(http, method, params);
  if (body.error) fail(`${method} ${JSON.stringify(params)} failed: ${JSON.stringify(body.error)}`);
  return body.result;
}

/** The pallet's storage version at `at` (a missing key is version 0), read from its raw key. */
async function storageVersion(api, http, at) {
  const pallet = api.query.paymentChannels.nextChannelId.key().slice(0, 34); // 0x ++ twox128("PaymentChannels")
  const key = pallet + xxhashAsHex(':__STORAGE_VERSION__:', 128).slice(2);
  const raw = await call(http, 'state_getStorage', at ? [key, at] : [key]);
  const version = raw ? Buffer.from(raw.slice(2), 'hex').readUInt16LE(0) : 0;
  // @polkadot/api decorates the same key as `palletVersion`: the two must agree.
  let decorated = null;
  if (api.query.paymentChannels.palletVersion) {
    decorated = (at ? await (await api.at(at)).query.paymentChannels.palletVersion() : await api.query.paymentChannels.palletVersion()).toNumber();
    if (decorated !== version) fail(`paymentChannels.palletVersion() says ${decorated}, the raw key ${raw}`);
  }
  return { version, raw, key, decorated };
}

const specAt = async (http, at) => (await call(http, 'state_getRuntimeVersion', at ? [at] : [])).specVersion;

/** Every page of channels_ofPayee for `payee` with `limit` per page: { ids, pages }. */
async function payeePages(http, payee, limit, at) {
  const items = [];
  let after = null;
  let pages = 0;
  for (;;) {
    const page = await call(http, 'channels_ofPayee', at ? [payee, after, limit, at] : [payee, after, limit]);
    pages += 1;
    items.push(...page.items);
    if (page.next == null) break;
    if (pages > 100) fail('channels_ofPayee: more than 100 pages');
    after = page.next;
  }
  return { items, pages };
}

async function holdsOf(api, address) {
  return (await api.query.balances.holds(address)).map((h) => ({ id: JSON.stringify(h.id.toJSON()), amount: h.amount.toString() })).sort((a, b) => a.id.localeCompare(b.id));
}

function printChannels(channels, name, title) {
  say(title);
  const header = ['id', 'payer', 'payee (node)', 'deposit', 'claimed', 'remaining', 'state'];
  const rows = channels.map((c) => [
    String(c.id),
    name(c.payer),
    `${name(c.payee)} (#${c.node})`,
    cpu(c.deposit),
    cpu(c.claimed),
    cpu(c.remaining),
    c.closesAt == null ? 'open' : `closing at #${c.closesAt}`,
  ]);
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `  ${cells.map((c, i) => (i >= 3 && i <= 5 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ')}`.trimEnd();
  say(line(header));
  for (const r of rows) say(line(r));
}

function eventData(events, section, method) {
  const e = events.map((r) => r.event ?? r).find((ev) => ev.section === section && ev.method === method);
  if (!e) fail(`no ${section}.${method} event`);
  return e.data;
}

async function send(api, tx, signer, what) {
  try {
    return await sendAndFinalize(api, tx, signer, { timeout: 180_000 });
  } catch (e) {
    fail(`${what}: ${e.message}`);
  }
}

// ------------------------------------------------------------------ prepare

async function prepare(opts, api, k, name) {
  const t0 = Date.now();
  const version = await call(opts.http, 'state_getRuntimeVersion', []);
  if (opts['expect-spec'] && version.specVersion !== Number(opts['expect-spec'])) {
    fail(`the chain runs spec ${version.specVersion}, expected ${opts['expect-spec']} (the old runtime)`);
  }
  const sv = await storageVersion(api, opts.http);
  say(`chain runs ${version.specName} spec ${version.specVersion}; PaymentChannels storage version ${sv.version} (raw ${sv.raw ?? 'key absent'}${sv.decorated == null ? '' : `, palletVersion() ${sv.decorated}`})`);
  if (sv.version !== 0) fail(`PaymentChannels storage version is ${sv.version}, expected 0: the genesis was not built by the old runtime`);
  if (api.query.paymentChannels.payeeChannels) fail('the metadata already has PaymentChannels.PayeeChannels: not the old runtime');
  say('metadata: no PaymentChannels.PayeeChannels (the index does not exist yet)');

  // A model; inference nodes of Bob and Dave (registering is a heartbeat: they serve at once).
  const reg = await send(api, api.tx.registry.registerModel('tiny-4', 4, 2, `0x${'ef'.repeat(32)}`), k.Alice, 'registerModel');
  const model = eventData(reg.events, 'registry', 'ModelRegistered').model.toNumber();
  const collateral = api.consts.registry?.minCollateral?.toBigInt?.() ?? 100n * UNITS;
  const nodes = {};
  await Promise.all(
    ['Bob', 'Dave'].map(async (who, i) => {
      const r = await send(
        api,
        api.tx.registry.registerInferenceNode(model, { start: 0, end: 2 }, 10, UNITS / 1000n, `http://127.0.0.1:${7990 + i}`, collateral),
        k[who],
        `registerInferenceNode (${who})`,
      );
      nodes[who] = eventData(r.events, 'registry', 'InferenceNodeRegistered').node.toNumber();
    }),
  );
  say(`model #${model}; inference nodes: Bob #${nodes.Bob}, Dave #${nodes.Dave}`);

  // The channels. Charlie's two one after the other (one nonce), the others alongside.
  const open = async (payer, payee, deposit) => {
    const r = await send(api, api.tx.paymentChannels.open(nodes[payee], deposit), k[payer], `open ${payer}->${payee}`);
    return eventData(r.events, 'paymentChannels', 'ChannelOpened').channel.toNumber();
  };
  const ids = {};
  await Promise.all([
    (async () => {
      ids.charlieBob = await open('Charlie', 'Bob', 3n * UNITS);
      ids.charlieDave = await open('Charlie', 'Dave', (3n * UNITS) / 2n);
    })(),
    (async () => {
      ids.eveBob = await open('Eve', 'Bob', 2n * UNITS);
    })(),
    (async () => {
      ids.ferdieDave = await open('Ferdie', 'Dave', 4n * UNITS);
    })(),
  ]);

  // Bob claims a voucher of Charlie's (so a channel with claimed > 0 is migrated), Ferdie asks
  // to close (so is a closing one).
  const genesis = api.genesisHash.toHex();
  const le = (value, bytes) => {
    const out = new Uint8Array(bytes);
    let v = BigInt(value);
    for (let i = 0; i < bytes; i++, v >>= 8n) out[i] = Number(v & 0xffn);
    return out;
  };
  const cumulative = UNITS / 2n;
  const payload = u8aConcat(new TextEncoder().encode('appchain/channel/voucher'), hexToU8a(genesis), le(ids.charlieBob, 8), le(cumulative, 16));
  await Promise.all([
    send(api, api.tx.paymentChannels.claim(ids.charlieBob, { cumulative, signature: { Sr25519: u8aToHex(k.Charlie.sign(payload)) } }), k.Bob, 'claim (Bob)'),
    send(api, api.tx.paymentChannels.requestClose(ids.ferdieDave), k.Ferdie, 'requestClose (Ferdie)'),
  ]);

  // What the old runtime serves.
  const head = await call(opts.http, 'chain_getFinalizedHead', []);
  const number = parseInt((await call(opts.http, 'chain_getHeader', [head])).number, 16);
  const refused = await rpcRaw(opts.http, 'channels_ofPayee', [encodeAddress(k.Bob.address, SS58), null, null, head]);
  if (refused.error?.code === -32601) fail('the node has no channels_ofPayee RPC: rebuild appchain-node from this checkout');
  if (refused.error?.code !== 1010) fail(`channels_ofPayee on spec ${version.specVersion}: expected error 1010, got ${JSON.stringify(refused.error ?? refused.result)}`);
  say(`channels_ofPayee on spec ${version.specVersion}: error ${refused.error.code}, ${String(refused.error.message).slice(0, 160)}`);

  const apiHead = await api.at(head);
  const channels = [];
  const next = (await apiHead.query.paymentChannels.nextChannelId()).toNumber();
  for (let id = 0; id < next; id++) {
    const c = await call(opts.http, 'channels_get', [id, head]);
    if (c) channels.push(c);
  }
  if (channels.length !== 4) fail(`expected 4 open channels, found ${channels.length}`);
  const ofPayer = {};
  const holds = {};
  for (const who of HOLDERS) {
    ofPayer[who] = await call(opts.http, 'channels_ofPayer', [encodeAddress(k[who].address, SS58), head]);
    holds[who] = await holdsOf(apiHead, k[who].address);
  }
  printChannels(channels, name, `channels at #${number} (finalized), spec ${version.specVersion}:`);

  const state = {
    spec: version.specVersion,
    block: number,
    blockHash: head,
    model,
    nodes,
    ids,
    channels,
    ofPayer,
    holds,
    storageVersion: sv.version,
    preparedInMs: Date.now() - t0,
  };
  writeFileSync(opts.state, `${JSON.stringify(state, null, 2)}\n`);
  say(`prepared in ${((Date.now() - t0) / 1000).toFixed(0)} s; state in ${opts.state}`);
}

// ------------------------------------------------------------------ verify

async function verify(opts, api, k, name) {
  const t0 = Date.now();
  let state;
  try {
    state = JSON.parse(readFileSync(opts.state, 'utf8'));
  } catch (e) {
    fail(`cannot read --state ${opts.state}: ${e.message} (run prepare first)`);
  }
  const spec = await specAt(opts.http);
  if (spec === state.spec) fail(`the chain still runs spec ${spec}: enact the upgrade first`);
  if (opts['expect-spec'] && spec !== Number(opts['expect-spec'])) fail(`the chain runs spec ${spec}, expected ${opts['expect-spec']}`);
  if (!api.query.paymentChannels.payeeChannels) fail(`spec ${spec}'s metadata has no PaymentChannels.PayeeChannels`);

  // The upgrade's block U (state holds the new code) and U + 1 (the first block the new
  // runtime executes: its initialization runs the migrations).
  let upgrade = opts['upgrade-block'] ? Number(opts['upgrade-block']) : null;
  const best = parseInt((await call(opts.http, 'chain_getHeader', [])).number, 16);
  if (upgrade == null) {
    for (let n = state.block + 1; n <= best && upgrade == null; n++) {
      if ((await specAt(opts.http, await call(opts.http, 'chain_getBlockHash', [n]))) !== state.spec) upgrade = n;
    }
    if (upgrade == null) fail(`no block after #${state.block} runs another spec than ${state.spec}`);
  }
  const hashU = await call(opts.http, 'chain_getBlockHash', [upgrade]);
  const hashPrev = await call(opts.http, 'chain_getBlockHash', [upgrade - 1]);
  const hashNext = await call(opts.http, 'chain_getBlockHash', [upgrade + 1]);
  if (!hashNext) fail(`block #${upgrade + 1} does not exist yet`);
  const [specPrev, specU] = [await specAt(opts.http, hashPrev), await specAt(opts.http, hashU)];
  if (specPrev !== state.spec || specU !== spec) fail(`#${upgrade - 1} runs spec ${specPrev} and #${upgrade} spec ${specU}: #${upgrade} is not the upgrade to ${spec}`);
  const [svU, svNext, svNow] = [await storageVersion(api, opts.http, hashU), await storageVersion(api, opts.http, hashNext), await storageVersion(api, opts.http)];
  say(`spec ${state.spec} -> ${spec}: CodeUpdated in #${upgrade}; PaymentChannels storage version ${svU.version} at #${upgrade}, ${svNext.version} at #${upgrade + 1} (the first block of spec ${spec}), ${svNow.version} now`);
  if (svU.version !== 0) fail(`storage version ${svU.version} at #${upgrade}, expected 0 (the migration runs in the next block)`);
  if (svNext.version !== 1 || svNow.version !== 1) fail(`storage version ${svNext.version} at #${upgrade + 1} and ${svNow.version} now, expected 1`);

  // Block U is executed by the old runtime (@polkadot/api's api.at(U) decodes it with the old
  // metadata, which has no PayeeChannels): its index entries are counted by raw key prefix.
  const apiNext = await api.at(hashNext);
  const indexPrefix = api.query.paymentChannels.payeeChannels.keyPrefix();
  const indexedBefore = (await call(opts.http, 'state_getKeysPaged', [indexPrefix, 1000, null, hashU])).length;
  const indexEntries = (await apiNext.query.paymentChannels.payeeChannels.keys()).map((key) => ({
    payee: key.args[0].toString(),
    id: key.args[1].toNumber(),
  }));
  const channelsNext = (await apiNext.query.paymentChannels.channels.entries()).map(([key, c]) => ({ id: key.args[0].toNumber(), payee: c.unwrap().payee.toString() }));
  say(`PayeeChannels: ${indexedBefore} entries at #${upgrade}, ${indexEntries.length} at #${upgrade + 1} for ${channelsNext.length} open channels`);
  if (indexedBefore !== 0) fail(`PayeeChannels has ${indexedBefore} entries before the migration`);
  const sortIds = (xs) => [...xs].sort((a, b) => a - b);
  assert.deepEqual(
    indexEntries.map((e) => `${e.id}:${e.payee}`).sort(),
    channelsNext.map((c) => `${c.id}:${c.payee}`).sort(),
    `PayeeChannels at #${upgrade + 1} is not exactly every channel under its payee`,
  );
  // At U the node already calls the new code, on state the migration has not touched yet: the
  // runtime sees storage version 0 and scans the channels, so the answer is already complete.
  const bobAddr = encodeAddress(k.Bob.address, SS58);
  const atU = await rpcRaw(opts.http, 'channels_ofPayee', [bobAddr, null, null, hashU]);
  if (atU.error) fail(`channels_ofPayee at #${upgrade} (new code, unmigrated state) failed: ${JSON.stringify(atU.error)}`);
  const bobExpected = sortIds(state.channels.filter((c) => c.payee === bobAddr).map((c) => c.id));
  const bobAtU = sortIds(atU.result.items.map((c) => c.id));
  assert.deepEqual(bobAtU, bobExpected, `channels_ofPayee(Bob) at #${upgrade}, before the migration, is not Bob's channels`);
  const atUText = `[${bobAtU.join(', ')}] (scanned: storage version 0)`;

  // channels_ofPayee: exactly each payee's recorded channels, with the recorded fields.
  const head = await call(opts.http, 'chain_getFinalizedHead', []);
  const headNumber = parseInt((await call(opts.http, 'chain_getHeader', [head])).number, 16);
  if (headNumber <= upgrade) fail(`finalized head #${headNumber} is not past the upgrade #${upgrade}`);
  const payees = { Bob: state.nodes.Bob, Dave: state.nodes.Dave };
  const lines = [];
  for (const who of Object.keys(payees)) {
    const addr = encodeAddress(k[who].address, SS58);
    const expected = state.channels.filter((c) => c.payee === addr);
    const whole = await call(opts.http, 'channels_ofPayee', [addr, null, null, head]);
    if (whole.next !== null) fail(`channels_ofPayee(${who}) has a next page with the default limit`);
    const paged = await payeePages(opts.http, addr, 1, head);
    for (const c of whole.items) if (c.payee !== addr) fail(`channels_ofPayee(${who}) lists channel ${c.id} paying ${name(c.payee)}`);
    const byId = (xs) => [...xs].sort((a, b) => a.id - b.id);
    assert.deepEqual(byId(whole.items), byId(expected), `channels_ofPayee(${who}) differs from the channels recorded before the upgrade`);
    assert.deepEqual(byId(paged.items), byId(expected), `channels_ofPayee(${who}) read one channel a page differs`);
    lines.push(`${who}: [${sortIds(whole.items.map((c) => c.id)).join(', ')}] (${paged.pages} pages of 1)`);
  }
  say(`channels_ofPayee at #${headNumber}: ${lines.join('; ')}; at #${upgrade} (new code, state not yet migrated): ${atUText} for Bob`);
  const eveNone = await call(opts.http, 'channels_ofPayee', [encodeAddress(k.Eve.address, SS58), null, null, head]);
  assert.deepEqual(eveNone, { items: [], next: null }, 'channels_ofPayee(Eve), a payee of nothing, is not empty');

  // Payer lists and holds as recorded.
  const apiHead = await api.at(head);
  for (const who of HOLDERS) {
    const now = await call(opts.http, 'channels_ofPayer', [encodeAddress(k[who].address, SS58), head]);
    assert.deepEqual(now, state.ofPayer[who], `channels_ofPayer(${who}) changed across the upgrade`);
    assert.deepEqual(await holdsOf(apiHead, k[who].address), state.holds[who], `${who}'s holds changed across the upgrade`);
  }
  say(`channels_ofPayer and balances.holds of ${HOLDERS.join(', ')}: as recorded at #${state.block}`);

  // Bob closes Eve's channel on the new runtime: it leaves his list.
  const closed = state.ids.eveBob;
  const r = await send(api, api.tx.paymentChannels.close(closed, null), k.Bob, `close ${closed} (Bob)`);
  const ev = eventData(r.events, 'paymentChannels', 'ChannelClosed');
  if (ev.channel.toNumber() !== closed) fail(`ChannelClosed for ${ev.channel.toNumber()}, expected ${closed}`);
  const after = r.blockHash.toHex();
  const afterNumber = (await api.rpc.chain.getHeader(after)).number.toNumber();
  const bob = encodeAddress(k.Bob.address, SS58);
  const bobNow = (await call(opts.http, 'channels_ofPayee', [bob, null, null, after])).items.map((c) => c.id);
  const bobBefore = state.channels.filter((c) => c.payee === bob).map((c) => c.id);
  assert.deepEqual(sortIds(bobNow), sortIds(bobBefore.filter((id) => id !== closed)), `channels_ofPayee(Bob) after closing ${closed}`);
  const apiAfter = await api.at(after);
  const bobIndexed = (await apiAfter.query.paymentChannels.payeeChannels.keys(k.Bob.address)).map((key) => key.args[1].toNumber());
  assert.deepEqual(sortIds(bobIndexed), sortIds(bobNow), `PayeeChannels under Bob after closing ${closed}`);
  assert.deepEqual(await call(opts.http, 'channels_ofPayer', [encodeAddress(k.Eve.address, SS58), after]), [], "channels_ofPayer(Eve) after the close");
  const eveHolds = (await holdsOf(apiAfter, k.Eve.address)).filter((h) => h.id.includes('aymentChannels') && BigInt(h.amount) > 0n);
  if (eveHolds.length) fail(`Eve still has channel holds after the close: ${JSON.stringify(eveHolds)}`);
  const entries = (await apiAfter.query.paymentChannels.payeeChannels.keys()).length;
  const open = (await apiAfter.query.paymentChannels.channels.keys()).length;
  if (entries !== open) fail(`PayeeChannels has ${entries} entries for ${open} open channels after the close`);
  say(`Bob closed channel ${closed} (Eve's) in #${afterNumber} (${ev.how.toString()}, claimed ${cpu(ev.claimed)}, refunded ${cpu(ev.refunded)}): Bob's list is now [${sortIds(bobNow).join(', ')}], Eve's channel holds released, ${entries} index entries for ${open} channels`);

  const summary = {
    specBefore: state.spec,
    specAfter: spec,
    upgradeBlock: upgrade,
    migratedIn: upgrade + 1,
    indexed: indexEntries.length,
    channels: channelsNext.length,
    storageVersion: { atUpgrade: svU.version, after: svNext.version },
    closedAfter: { channel: closed, block: afterNumber },
    channelsOfPayeeAtUpgradeBlock: atU.error ? { error: atU.error.code } : { items: atU.result.items.length },
    verifiedInMs: Date.now() - t0,
  };
  if (opts.summary) writeFileSync(opts.summary, `${JSON.stringify(summary, null, 2)}\n`);
  const index = await payeePages(opts.http, bob, null);
  printChannels(
    [...index.items, ...(await payeePages(opts.http, encodeAddress(k.Dave.address, SS58), null)).items],
    name,
    `channels_ofPayee(Bob) + channels_ofPayee(Dave) at the best block, spec ${spec} (storage order):`,
  );
}

// ------------------------------------------------------------------ main

async function main() {
  const opts = options();
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: SS58 });
  const k = Object.fromEntries(NAMES.map((n) => [n, keyring.addFromUri(`//${n}`)]));
  const name = namer(k);
  let api;
  try {
    api = await connectApi(opts.url);
  } catch (e) {
    fail(`cannot connect to ${opts.url}: ${e.message}`);
  }
  try {
    if (opts.phase === 'prepare') await prepare(opts, api, k, name);
    else await verify(opts, api, k, name);
  } finally {
    await disconnectAll();
  }
}

main()
  .then(() => process.exit(0))
  .catch((e) => {
    const msg = e instanceof Fatal ? e.message : e instanceof assert.AssertionError ? `${e.message}\n${e.generatedMessage ? '' : `  actual:   ${JSON.stringify(e.actual)}\n  expected: ${JSON.stringify(e.expected)}`}` : e.stack ?? String(e);
    console.error(`[migration] error: ${msg}`);
    process.exit(1);
  });
