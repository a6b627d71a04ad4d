// Payment channels on a `--dev` node, driven through the worker's `channel` commands and
// @polkadot/api.
//
// Charlie (a client) opens a channel to Bob's inference node and pays with vouchers: some signed
// by the worker, one signed here in JavaScript from the payload layout the docs give (tag ‖
// genesis hash ‖ channel u64 LE ‖ amount u128 LE), which checks the encoding independently.
// Bob claims through the worker; a voucher signed by someone else is refused by the worker and
// by the runtime. Charlie asks to close; Bob, "offline" until then, still claims inside the
// challenge period; finalizing early fails; Eve finalizes after it, and Charlie gets exactly
// the rest of the deposit and the storage deposit back.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Keyring } from '@polkadot/keyring';
import { hexToU8a, u8aConcat, u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, encodeAddress } from '@polkadot/util-crypto';

import { connectApi, disconnectAll, rpc, sendAndFinalize, startNode, stopAllNodes, waitFor } from './lib/node.mjs';
import { worker } from './lib/worker.mjs';

const UNITS = 10n ** 12n;
const MIN_COLLATERAL = 100n * UNITS;

const le = (value, bytes) => {
  const out = new Uint8Array(bytes);
  let v = BigInt(value);
  for (let i = 0; i < bytes; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
};

describe('payment channels on a dev node', { timeout: 600_000 }, () => {
  let node;
  let api;
  let k;
  let bobNode;
  let genesis;
  const bases = {};

  before(async () => {
    await cryptoWaitReady();
    node = await startNode({ name: 'e2e-channels', extraArgs: ['--dev', '--tmp'] });
    api = await connectApi(node.wsUrl);
    const keyring = new Keyring({ type: 'sr25519' });
    k = Object.fromEntries(['Alice', 'Bob', 'Charlie', 'Dave', 'Eve'].map((n) => [n.toLowerCase(), keyring.addFromUri(`//${n}`)]));
    for (const who of ['bob', 'charlie', 'dave', 'eve']) bases[who] = mkdtempSync(path.join(tmpdir(), `channels-${who}-`));
    genesis = api.genesisHash.toHex();
    const model = (await api.query.registry.nextModelId()).toNumber();
    await sendAndFinalize(api, api.tx.registry.registerModel('tiny-4', 4, 2, `0x${'ef'.repeat(32)}`), k.alice);
    bobNode = (await api.query.registry.nextNodeId()).toNumber();
    await sendAndFinalize(
      api,
      api.tx.registry.registerInferenceNode(model, { start: 0, end: 2 }, 10, UNITS / 1000n, 'http://127.0.0.1:7999', MIN_COLLATERAL),
      k.bob,
    );
  });

  after(async () => {
    await disconnectAll();
    await stopAllNodes();
  });

  const cli = (who, args) =>
    worker(['channel', ...args], {
      suri: `//${who[0].toUpperCase()}${who.slice(1)}`,
      env: { APPCHAIN_URL: node.wsUrl, APPCHAIN_WORKER_BASE: bases[who] },
    });
  const ok = async (who, args) => {
    const r = await cli(who, args);
    assert.equal(r.code, 0, `channel ${args.join(' ')} as ${who} failed:\n${r.stderr}`);
    return r.stdout.trim();
  };
  const channelHold = async (who, reason) =>
    (await api.query.balances.holds(k[who].address)).find((h) => h.id.toHuman().PaymentChannels === reason)?.amount.toBigInt() ?? 0n;
  const free = async (who) => (await api.query.system.account(k[who].address)).data.free.toBigInt();

  /** Charlie's voucher signed here, from the documented payload. */
  const jsVoucher = (channel, cumulative, signer = k.charlie) => {
    const payload = u8aConcat(new TextEncoder().encode('appchain/channel/voucher'), hexToU8a(genesis), le(channel, 8), le(cumulative, 16));
    assert.equal(payload.length, 80);
    return JSON.stringify({ channel, cumulative: cumulative.toString(), signature: u8aToHex(signer.sign(payload)) });
  };

  test('open, pay with vouchers, claim, close, claim in the challenge period, finalize', async () => {
    const storageDeposit = api.consts.paymentChannels.channelStorageDeposit.toBigInt();
    const challengePeriod = api.consts.paymentChannels.challengePeriod.toNumber();

    const channel = Number(await ok('charlie', ['open', '--node', String(bobNode), '--deposit', '2']));
    assert.equal(await channelHold('charlie', 'ChannelDeposit'), 2n * UNITS);
    assert.equal(await channelHold('charlie', 'StorageDeposit'), storageDeposit);

    // The RPC reads the channel, with the payer's address in the chain's format or the generic one.
    for (const format of [4242, 42]) {
      const listed = await rpc(node.httpUrl, 'channels_ofPayer', [encodeAddress(k.charlie.address, format)]);
      assert.deepEqual(listed.map((c) => [c.id, c.node, c.deposit, c.claimed]), [[channel, bobNode, (2n * UNITS).toString(), '0']]);
    }
    // ... and under its payee (the payee index, spec 109), in pages; an unknown payee has none.
    for (const format of [4242, 42]) {
      const page = await rpc(node.httpUrl, 'channels_ofPayee', [encodeAddress(k.bob.address, format), null, null]);
      assert.deepEqual(page.items.map((c) => [c.id, c.payer]), [[channel, encodeAddress(k.charlie.address, 4242)]]);
      assert.equal(page.next, null);
    }
    assert.deepEqual(await rpc(node.httpUrl, 'channels_ofPayee', [k.eve.address, null, 1]), { items: [], next: null });
    await assert.rejects(rpc(node.httpUrl, 'channels_ofPayee', ['not-an-address', null, null]), /1020|SS58/);
    const got = await rpc(node.httpUrl, 'channels_get', [channel]);
    assert.equal(got.payee, encodeAddress(k.bob.address, 4242));
    assert.equal(await rpc(node.httpUrl, 'channels_genesisHash', []), genesis);

    // A voucher signed by the worker, claimed by Bob through the worker.
    const first = JSON.parse(await ok('charlie', ['voucher', String(channel), '--total', '0.5']));
    assert.equal(first.cumulative, (UNITS / 2n).toString());
    assert.match(await ok('bob', ['claim', String(channel), '--voucher', JSON.stringify(first)]), /0\.5 CPU paid/);
    assert.equal(await channelHold('charlie', 'ChannelDeposit'), 2n * UNITS - UNITS / 2n);

    // Dave's signature is no voucher of Charlie's: the worker refuses it, and so does the runtime.
    const forged = jsVoucher(channel, UNITS, k.dave);
    const refused = await cli('bob', ['claim', String(channel), '--voucher', forged]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /not signed by channel/);
    const { signature } = JSON.parse(forged);
    await assert.rejects(
      sendAndFinalize(api, api.tx.paymentChannels.claim(channel, { cumulative: UNITS, signature: { Sr25519: signature } }), k.bob),
      /BadSignature/,
    );
    // A replay pays nothing.
    await assert.rejects(
      sendAndFinalize(api, api.tx.paymentChannels.claim(channel, { cumulative: first.cumulative, signature: { Sr25519: first.signature } }), k.bob),
      /StaleVoucher/,
    );

    // A voucher signed in JavaScript from the documented payload is claimed through the worker.
    assert.match(await ok('bob', ['claim', String(channel), '--voucher', jsVoucher(channel, UNITS)]), /1 CPU claimed in all/);

    // Charlie asks to close. Bob was offline; inside the challenge period he claims the latest.
    const later = JSON.parse(await ok('charlie', ['voucher', String(channel), '--total', '1.25']));
    assert.match(await ok('charlie', ['close', String(channel)]), /closing requested/);
    const closesAt = (await api.query.paymentChannels.channels(channel)).unwrap().closesAt.unwrap().toNumber();
    const early = await cli('eve', ['finalize', String(channel)]);
    assert.notEqual(early.code, 0);
    assert.match(early.stderr, /ChallengePeriodOpen/);
    assert.match(await ok('bob', ['claim', String(channel), '--voucher', JSON.stringify(later)]), /1\.25 CPU claimed in all/);
    assert.ok(closesAt > (await api.query.system.number()).toNumber() - 1, 'claimed before the period ended');
    assert.equal(closesAt - challengePeriod > 0, true);

    await waitFor(async () => (await api.query.system.number()).toNumber() >= closesAt, { timeout: 120_000, what: 'the end of the challenge period' });
    const charlieBefore = await free('charlie');
    assert.match(await ok('eve', ['finalize', String(channel)]), /1\.25 CPU paid to the payee in all, 0\.75 CPU refunded/);
    assert.equal(await free('charlie'), charlieBefore + 2n * UNITS - (5n * UNITS) / 4n + storageDeposit);
    assert.equal(await channelHold('charlie', 'ChannelDeposit'), 0n);
    assert.equal(await channelHold('charlie', 'StorageDeposit'), 0n);
    assert.equal((await api.query.paymentChannels.channels(channel)).isNone, true);
  });
});
