// NPoS on the dev chain: a fresh account bonds, sets session keys and validates, gets
// elected, becomes a BABE and GRANDPA authority, and finality keeps going.
//
// The new validator's session keys live on a second node (`--chain dev --validator`,
// bootnoded to the first): one GRANDPA voter only ever votes with ONE key, so if both
// authorities' keys sat on the `--dev` node, the 2-authority set (threshold 2 of 2)
// could never finalize.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, mnemonicGenerate } from '@polkadot/util-crypto';

import {
  connectApi,
  disconnectAll,
  finalizedNumber,
  randomNodeKey,
  rpc,
  sendAndFinalize,
  startNode,
  stopAllNodes,
  waitFor,
  waitForFinalized,
  withLogs,
} from './lib/node.mjs';

const ELECTION_TIMEOUT = Number(process.env.E2E_ELECTION_TIMEOUT_MS || 330_000);

const bigMax = (a, b) => (a > b ? a : b);

/** The current GRANDPA authority set as hex public keys. */
async function grandpaAuthorities(api) {
  if (api.query.grandpa?.authorities) {
    const list = await api.query.grandpa.authorities();
    return list.map(([id]) => id.toHex());
  }
  const list = await api.call.grandpaApi.grandpaAuthorities();
  return list.map(([id]) => id.toHex());
}

/** Splits author_rotateKeys output into {babe, grandpa} using the runtime's SessionKeys type. */
function decodeSessionKeys(api, keysHex) {
  const typeName = api.tx.session.setKeys.meta.args[0].type.toString();
  const keys = api.createType(typeName, keysHex);
  const babe = keys.babe ?? keys.get?.('babe');
  const grandpa = keys.grandpa ?? keys.get?.('grandpa');
  assert.ok(babe && grandpa, `session keys type ${typeName} has no babe/grandpa fields: ${keys.toRawType()}`);
  return { babe: babe.toHex(), grandpa: grandpa.toHex() };
}

describe('staking: a new validator joins the dev chain', { timeout: 900_000 }, () => {
  let devNode;
  let valNode;
  let api;

  before(async () => {
    await cryptoWaitReady();
    devNode = await startNode({ name: 'e2e-staking-alice', extraArgs: ['--dev', '--tmp'] });
    const peerId = await rpc(devNode.httpUrl, 'system_localPeerId');
    valNode = await startNode({
      name: 'e2e-staking-v2',
      extraArgs: [
        '--chain',
        'dev',
        '--tmp',
        '--validator',
        '--node-key',
        randomNodeKey(),
        '--allow-private-ip',
        '--bootnodes',
        `/ip4/127.0.0.1/tcp/${devNode.p2pPort}/p2p/${peerId}`,
      ],
    });
    api = await connectApi(devNode.wsUrl);
  });

  after(async () => {
    await disconnectAll();
    await stopAllNodes();
  });

  test(
    'bond + setKeys + validate, then elected into session, BABE and GRANDPA sets',
    { timeout: ELECTION_TIMEOUT + 300_000 },
    withLogs(async () => {
      // The second node must be connected and syncing.
      await waitFor(async () => (await rpc(valNode.httpUrl, 'system_health')).peers >= 1, {
        timeout: 60_000,
        what: 'the second node to connect to the dev node',
      });
      await waitForFinalized(devNode.httpUrl, 2, 60_000);

      const keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
      const alice = keyring.addFromUri('//Alice');
      const stash = keyring.addFromUri(mnemonicGenerate());

      // Numbers from the chain, never hard-coded.
      const ed = api.consts.balances.existentialDeposit.toBigInt();
      const minBond = (await api.query.staking.minValidatorBond()).toBigInt();
      const minCommission = await api.query.staking.minCommission();
      const unit = 10n ** BigInt(api.registry.chainDecimals[0]);
      const bond = bigMax(minBond, ed) * 2n;
      const funding = bond + bigMax(ed, unit) * 100n; // room for fees, stays above ED

      // The election must have room for a second validator.
      const validatorCount = (await api.query.staking.validatorCount()).toNumber();
      if (validatorCount < 2) {
        await sendAndFinalize(api, api.tx.sudo.sudo(api.tx.staking.setValidatorCount(2)), alice);
        assert.equal((await api.query.staking.validatorCount()).toNumber(), 2);
      }

      await sendAndFinalize(api, api.tx.balances.transferKeepAlive(stash.address, funding), alice);
      assert.equal((await api.query.system.account(stash.address)).data.free.toBigInt(), funding);

      // Keys are generated in the keystore of the second node, together with a proof that
      // whoever holds them agrees to be bound to the stash (session.setKeys checks it).
      const generated = await rpc(valNode.httpUrl, 'author_rotateKeysWithOwner', [u8aToHex(stash.publicKey)]);
      const keysHex = generated.keys;
      const proofHex = generated.proof;
      assert.match(keysHex, /^0x[0-9a-f]{128}$/, 'babe (32 bytes) ++ grandpa (32 bytes)');
      assert.match(proofHex, /^0x[0-9a-f]+$/, 'ownership proof');
      const { babe, grandpa } = decodeSessionKeys(api, keysHex);
      assert.equal(babe, keysHex.slice(0, 66));
      assert.equal(grandpa, `0x${keysHex.slice(66)}`);
      const hasKeys = await rpc(valNode.httpUrl, 'author_hasSessionKeys', [keysHex]);
      assert.equal(hasKeys, true, 'the second node holds the rotated keys');

      const bondArgs =
        api.tx.staking.bond.meta.args.length === 3
          ? [stash.address, bond, 'Staked'] // old stash/controller form
          : [bond, 'Staked'];
      const calls = [
        api.tx.staking.bond(...bondArgs),
        api.tx.session.setKeys(keysHex, proofHex),
        api.tx.staking.validate({ commission: minCommission, blocked: false }),
      ];
      const { events } = await sendAndFinalize(api, api.tx.utility.batchAll(calls), stash);
      assert.ok(events.some(({ event }) => api.events.utility.BatchCompleted.is(event)), 'BatchCompleted');
      assert.ok(events.some(({ event }) => api.events.staking.Bonded.is(event)), 'staking.Bonded');

      const ledger = await api.query.staking.ledger(stash.address);
      assert.ok(ledger.isSome, 'stash is bonded (stash is its own controller)');
      assert.equal(ledger.unwrap().active.toBigInt(), bond);
      const prefs = await api.query.staking.validators(stash.address);
      assert.equal(prefs.blocked.isTrue, false);
      const nextKeys = await api.query.session.nextKeys(stash.address);
      assert.ok(nextKeys.isSome, 'session.nextKeys set');
      assert.equal(nextKeys.unwrap().toHex(), keysHex);

      const started = Date.now();
      const deadline = started + ELECTION_TIMEOUT;
      const remaining = () => Math.max(1_000, deadline - Date.now());

      await waitFor(
        async () => (await api.query.session.validators()).some((v) => v.toString() === stash.address),
        { timeout: remaining(), interval: 3_000, what: 'the new stash in session.validators()' },
      );
      const validators = (await api.query.session.validators()).map((v) => v.toString());
      assert.ok(validators.length >= 2, `validators: ${validators}`);

      await waitFor(
        async () => (await api.query.babe.authorities()).some(([id]) => id.toHex() === babe),
        { timeout: remaining(), interval: 3_000, what: 'the new BABE key in babe.authorities()' },
      );
      await waitFor(async () => (await grandpaAuthorities(api)).includes(grandpa), {
        timeout: remaining(),
        interval: 3_000,
        what: 'the new GRANDPA key in the GRANDPA authority set',
      });
      const setId = (await api.query.grandpa.currentSetId()).toNumber();
      assert.ok(setId >= 1, `GRANDPA set changed (set id ${setId})`);
      console.log(`# new validator fully active after ${Math.round((Date.now() - started) / 1000)} s`);

      // Finality keeps advancing with the two-authority GRANDPA set (needs both voters).
      const fin0 = await finalizedNumber(devNode.httpUrl);
      await waitForFinalized(devNode.httpUrl, fin0 + 3, 120_000);

      // And the new validator authors blocks (its node holds the BABE key).
      const seen = await waitFor(
        async () => {
          const hash = await api.rpc.chain.getBlockHash();
          const header = await api.derive.chain.getHeader(hash);
          return header?.author?.toString() === stash.address;
        },
        { timeout: 120_000, interval: 2_000, what: 'a block authored by the new validator' },
      );
      assert.ok(seen);
    }),
  );
});
