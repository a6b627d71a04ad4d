// A `--dev --tmp` node: block production and finality, chain properties, metadata,
// a signed transfer with exact balance accounting, malformed JSON-RPC requests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { merkleizeMetadata } from '@polkadot-api/merkleize-metadata';
import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, encodeAddress, mnemonicGenerate } from '@polkadot/util-crypto';

import {
  bestNumber,
  connectApi,
  disconnectAll,
  finalizedNumber,
  rpc,
  rpcRaw,
  sendAndFinalize,
  startNode,
  stopAllNodes,
  waitFor,
  waitForFinalized,
  withLogs,
} from './lib/node.mjs';

const PALLETS = [
  'System',
  'Timestamp',
  'Babe',
  'Authorship',
  'Balances',
  'TransactionPayment',
  'Offences',
  'Historical',
  'Session',
  'Staking',
  'Grandpa',
  'Utility',
  'Sudo',
  'Registry',
  'Market',
  'HashJobs',
];

describe('dev node', { timeout: 600_000 }, () => {
  let node;
  let api;

  before(async () => {
    await cryptoWaitReady();
    node = await startNode({ name: 'e2e-dev', extraArgs: ['--dev', '--tmp'] });
  });

  after(async () => {
    await disconnectAll();
    await stopAllNodes();
  });

  test(
    'produces blocks and finalizes height >= 5 within 60 s',
    { timeout: 90_000 },
    withLogs(async () => {
      const fin = await waitForFinalized(node.httpUrl, 5, 60_000);
      assert.ok(fin >= 5);
      const best = await bestNumber(node.httpUrl);
      assert.ok(best >= fin, `best ${best} < finalized ${fin}`);
    }),
  );

  test(
    'chain properties: token CPU, 12 decimals, SS58 prefix 4242',
    { timeout: 90_000 },
    withLogs(async () => {
      const props = await rpc(node.httpUrl, 'system_properties');
      assert.equal(props.tokenSymbol, 'CPU', `system_properties: ${JSON.stringify(props)}`);
      assert.equal(props.tokenDecimals, 12);
      assert.equal(props.ss58Format, 4242);

      api = await connectApi(node.wsUrl);
      assert.equal(api.registry.chainTokens[0], 'CPU');
      assert.equal(api.registry.chainDecimals[0], 12);
      assert.equal(api.registry.chainSS58, 4242);
      const chainType = await api.rpc.system.chainType();
      assert.ok(chainType.isDevelopment, `chain type is ${chainType.type}`);
    }),
  );

  test(
    "RPC takes addresses in the chain's own SS58 format (4242) and in the generic one (42)",
    { timeout: 60_000 },
    withLogs(async () => {
      await cryptoWaitReady();
      const alice = new Keyring({ type: 'sr25519' }).addFromUri('//Alice');
      const ours = encodeAddress(alice.publicKey, 4242);
      const generic = encodeAddress(alice.publicKey, 42);
      assert.notEqual(ours, generic);
      const [byOurs, byGeneric] = await Promise.all([
        rpc(node.httpUrl, 'system_accountNextIndex', [ours]),
        rpc(node.httpUrl, 'system_accountNextIndex', [generic]),
      ]);
      assert.equal(typeof byOurs, 'number');
      assert.equal(byOurs, byGeneric, 'the same account in both formats');
      // Another custom format is refused with a clear error.
      const other = await rpcRaw(node.httpUrl, 'system_accountNextIndex', [encodeAddress(alice.publicKey, 4243)]);
      assert.ok(other.error, `expected an error, got ${JSON.stringify(other)}`);
    }),
  );

  test(
    'metadata decodes and has the expected pallets, calls and storage',
    { timeout: 60_000 },
    withLogs(async () => {
      api ??= await connectApi(node.wsUrl);
      const meta = api.runtimeMetadata.asLatest;
      const names = meta.pallets.map((p) => p.name.toString());
      for (const p of PALLETS) assert.ok(names.includes(p), `pallet ${p} missing; got ${names.join(', ')}`);

      assert.equal(typeof api.tx.staking.validate, 'function');
      assert.equal(typeof api.tx.staking.bond, 'function');
      assert.equal(typeof api.tx.session.setKeys, 'function');
      assert.equal(typeof api.tx.balances.transferKeepAlive, 'function');
      assert.equal(typeof api.tx.utility.batchAll, 'function');
      assert.equal(typeof api.tx.sudo.sudo, 'function');
      assert.equal(typeof api.query.babe.authorities, 'function');
      assert.equal(typeof api.query.session.validators, 'function');
      assert.equal(typeof api.query.staking.minValidatorBond, 'function');

      const babeAuthorities = await api.query.babe.authorities();
      assert.equal(babeAuthorities.length, 1, 'dev chain: Alice is the only BABE authority');
      const validators = await api.query.session.validators();
      assert.equal(validators.length, 1, 'dev chain: Alice is the only validator');

      const ed = api.consts.balances.existentialDeposit.toBigInt();
      assert.ok(ed > 0n, 'existential deposit > 0');
      assert.ok(api.consts.babe.epochDuration.toNumber() > 0);
      assert.ok(api.consts.babe.expectedBlockTime.toNumber() > 0);
      assert.ok(api.consts.staking.sessionsPerEra.toNumber() > 0);

      const version = api.runtimeVersion;
      assert.ok(version.specName.toString().length > 0);
    }),
  );

  test(
    'Alice transfers to a fresh account: event and exact balance deltas',
    { timeout: 180_000 },
    withLogs(async () => {
      api ??= await connectApi(node.wsUrl);
      const keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
      const alice = keyring.addFromUri('//Alice');
      const fresh = keyring.addFromUri(mnemonicGenerate());

      const ed = api.consts.balances.existentialDeposit.toBigInt();
      const unit = 10n ** BigInt(api.registry.chainDecimals[0]);
      // Comfortably above the existential deposit, and not a round number.
      const amount = (ed * 10n > unit ? ed * 10n : unit) + 12_345n;

      const { blockHash, events } = await sendAndFinalize(
        api,
        api.tx.balances.transferKeepAlive(fresh.address, amount),
        alice,
      );

      const ok = events.find(({ event }) => api.events.system.ExtrinsicSuccess.is(event));
      assert.ok(ok, 'ExtrinsicSuccess');

      const transfer = events.find(({ event }) => api.events.balances.Transfer.is(event));
      assert.ok(transfer, `balances.Transfer not found in ${events.map((e) => e.event.method).join(', ')}`);
      const [from, to, transferred] = transfer.event.data;
      assert.equal(from.toString(), alice.address);
      assert.equal(to.toString(), fresh.address);
      assert.equal(transferred.toBigInt(), amount);

      const feeEvent = events.find(({ event }) => api.events.transactionPayment.TransactionFeePaid.is(event));
      assert.ok(feeEvent, 'transactionPayment.TransactionFeePaid not found');
      const [payer, actualFee, tip] = feeEvent.event.data;
      assert.equal(payer.toString(), alice.address);
      assert.ok(actualFee.toBigInt() > 0n, 'a fee was paid');
      assert.equal(tip.toBigInt(), 0n);

      // Balances right before and right after the block holding the transfer.
      const header = await api.rpc.chain.getHeader(blockHash);
      const apiBefore = await api.at(header.parentHash);
      const apiAfter = await api.at(blockHash);
      const [aliceBefore, freshBefore, aliceAfter, freshAfter] = await Promise.all([
        apiBefore.query.system.account(alice.address),
        apiBefore.query.system.account(fresh.address),
        apiAfter.query.system.account(alice.address),
        apiAfter.query.system.account(fresh.address),
      ]);
      assert.equal(freshBefore.data.free.toBigInt(), 0n, 'fresh account starts empty');
      assert.equal(freshAfter.data.free.toBigInt() - freshBefore.data.free.toBigInt(), amount, 'recipient delta');
      // `actualFee` includes the tip (0 here). Alice is also the block author of the dev
      // chain: this assumes the runtime does not credit fees back to the author.
      assert.equal(
        aliceBefore.data.free.toBigInt() - aliceAfter.data.free.toBigInt(),
        amount + actualFee.toBigInt(),
        `Alice delta must be amount (${amount}) + fee (${actualFee.toBigInt()})`,
      );

      // Also visible at the (later) finalized head.
      const now = await api.query.system.account(fresh.address);
      assert.equal(now.data.free.toBigInt(), amount);
    }),
  );

  test(
    'malformed JSON-RPC requests get JSON-RPC errors and the node keeps answering',
    { timeout: 90_000 },
    withLogs(async () => {
      const url = node.httpUrl;

      const badNumber = await rpcRaw(url, 'chain_getBlockHash', ['not a number']);
      assert.ok(badNumber.error, `expected an error, got ${JSON.stringify(badNumber)}`);
      assert.equal(badNumber.error.code, -32602, 'invalid params');
      assert.equal(badNumber.result, undefined);

      const badKey = await rpcRaw(url, 'state_getStorage', [123]);
      assert.ok(badKey.error, `expected an error, got ${JSON.stringify(badKey)}`);
      assert.equal(badKey.error.code, -32602, 'invalid params');

      const unknown = await rpcRaw(url, 'no_suchMethod', []);
      assert.ok(unknown.error);
      assert.equal(unknown.error.code, -32601, 'method not found');

      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"jsonrpc": "2.0", "id": 1, "method": ',
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      let body;
      assert.doesNotThrow(() => {
        body = JSON.parse(text);
      }, `non-JSON answer to a non-JSON body: HTTP ${res.status} ${text.slice(0, 200)}`);
      assert.ok(body.error, `expected a JSON-RPC error, got ${text.slice(0, 200)}`);
      assert.equal(body.error.code, -32700, 'parse error');

      // Still alive and still producing blocks.
      const health = await rpc(url, 'system_health');
      assert.equal(typeof health.peers, 'number');
      const best = await bestNumber(url);
      await waitFor(async () => (await bestNumber(url)) > best, {
        timeout: 30_000,
        what: 'a new best block after the malformed requests',
      });
      const fin = await finalizedNumber(url);
      assert.ok(fin >= 1);
      assert.equal(node.exited, null, 'node process still running');
    }),
  );

  test(
    'CheckMetadataHash mode 1: a transfer signed against the metadata hash a wallet computes',
    { timeout: 180_000 },
    withLogs(async () => {
      api ??= await connectApi(node.wsUrl);
      // What a hardware or generic wallet does (RFC 78): merkleize the runtime's V15 metadata
      // with the chain's token symbol and decimals, and sign the root with mode 1. The
      // runtime adds the hash it was built with (`metadata-hash` feature) to what it checks
      // the signature against, so the transfer is valid only if the two hashes are equal.
      const opaque = await api.call.metadata.metadataAtVersion(15);
      assert.ok(opaque.isSome, 'metadata V15');
      const root = merkleizeMetadata(opaque.unwrap().toU8a(true), {
        decimals: api.registry.chainDecimals[0],
        tokenSymbol: api.registry.chainTokens[0],
      }).digest();
      const metadataHash = u8aToHex(root);

      const keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
      const alice = keyring.addFromUri('//Alice');
      const fresh = keyring.addFromUri(mnemonicGenerate());
      const amount = 3n * 10n ** 12n;
      const { blockHash } = await sendAndFinalize(
        api,
        api.tx.balances.transferKeepAlive(fresh.address, amount),
        alice,
        { signOptions: { mode: 1, metadataHash } },
      );
      const block = await api.rpc.chain.getBlock(blockHash);
      const signed = block.block.extrinsics.find(
        (x) => x.isSigned && x.signer.toString() === alice.address && x.method.section === 'balances',
      );
      assert.ok(signed, 'the transfer is in the block');
      assert.equal(signed.mode.toNumber(), 1, 'signed with CheckMetadataHash mode 1');
      const now = await api.query.system.account(fresh.address);
      assert.equal(now.data.free.toBigInt(), amount);

      // Any other hash makes the signature check fail: the transaction is refused at once.
      const wrong = u8aToHex(root.map((b, i) => (i === 0 ? b ^ 1 : b)));
      await assert.rejects(
        api.tx.balances.transferKeepAlive(fresh.address, amount).signAndSend(alice, { mode: 1, metadataHash: wrong }),
        /bad signature|Invalid Transaction/i,
      );
      // And mode 1 without a hash is not something the runtime can check either.
      await assert.rejects(
        api.tx.balances.transferKeepAlive(fresh.address, amount).signAndSend(alice, { mode: 1 }),
        /bad signature|Invalid Transaction|metadataHash/i,
      );
    }),
  );
});
