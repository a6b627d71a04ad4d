// The economic guarantees of issue 12 performed as attacks on a `--dev` node.
//
// - Collateral backs every obligation: Dave's inference node accepts Eve's agreement, and its
//   penalty is reserved from his collateral. Ferdie, Dave's "second account", then tries the
//   drain the review found: an agreement with an unbounded penalty on a dust escrow (refused),
//   then one whose penalty exceeds Dave's free collateral (Dave cannot accept it). When Dave
//   defaults on Eve, her penalty is paid from the reservation, less the burnt fifth.
// - Challenge seeds no author foresees: Charlie's hashing node claims a subjob (reserving its
//   penalty), commits, and reveals blocks later; the challenge block is fixed by the commitment,
//   and its seed hashes four VRF outputs all produced after the commitment.
// - Escrow is not paid on the provider's word: Dave reports work done, Eve disputes with a bond,
//   Dave cannot collect while the dispute waits, and the verifier council (Alice, Bob, Charlie;
//   not sudo) finds the work wrong: Eve is refunded with the penalty and gets her bond back.
// - Governance without a sudo key: two thirds of the technical committee authorize a runtime
//   upgrade through `rootMotions.enact`, one member cannot; a `--chain staging` node starts with
//   no sudo key at all.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';

import { bestNumber, connectApi, disconnectAll, sendAndFinalize, startNode, stopAllNodes, waitFor, withLogs } from './lib/node.mjs';

const UNITS = 10n ** 12n;
const MIN_COLLATERAL = 100n * UNITS;
const PENALTY = 30n * UNITS;

const sha256 = (...parts) => createHash('sha256').update(Buffer.concat(parts.map((p) => Buffer.from(p)))).digest();
const le64 = (n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

describe('economic security on a dev node', { timeout: 900_000 }, () => {
  let node;
  let api;
  let k;
  let model;
  let daveNode;
  let charlieNode;

  before(async () => {
    await cryptoWaitReady();
    node = await startNode({ name: 'e2e-security', extraArgs: ['--dev', '--tmp'] });
    api = await connectApi(node.wsUrl);
    const keyring = new Keyring({ type: 'sr25519' });
    k = Object.fromEntries(
      ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'].map((n) => [n.toLowerCase(), keyring.addFromUri(`//${n}`)]),
    );
  });

  after(async () => {
    await disconnectAll();
    await stopAllNodes();
  });

  const eventOf = (events, section, method) =>
    events.find(({ event }) => event.section === section && event.method === method)?.event;
  const reserved = async (id) => (await api.query.registry.reservedCollateral(id)).toBigInt();
  const free = async (who) => (await api.query.system.account(who.address)).data.free.toBigInt();
  const held = async (who, pallet, reason) =>
    (await api.query.balances.holds(who.address)).find((h) => h.id.toHuman()[pallet] === reason)?.amount.toBigInt() ?? 0n;

  /**
   * A motion of `collective` (`verifierCouncil` or `technicalCommittee`): Alice proposes `call`
   * with threshold 2, Alice and Bob vote aye (the proposer's aye is not implied), Charlie closes.
   * Returns the events of the close.
   */
  async function motion(collective, call) {
    const length = call.method.encodedLength;
    const proposed = await sendAndFinalize(api, api.tx[collective].propose(2, call, length), k.alice);
    const { proposalIndex, proposalHash } = eventOf(proposed.events, collective, 'Proposed').data;
    for (const who of [k.alice, k.bob]) {
      await sendAndFinalize(api, api.tx[collective].vote(proposalHash, proposalIndex, true), who);
    }
    const closed = await sendAndFinalize(
      api,
      api.tx[collective].close(proposalHash, proposalIndex, { refTime: 10_000_000_000n, proofSize: 1_000_000n }, length),
      k.charlie,
    );
    return closed.events;
  }

  async function waitForBlock(n, what) {
    await waitFor(async () => (await bestNumber(node.httpUrl)) >= n, {
      timeout: (n - (await bestNumber(node.httpUrl)) + 10) * 3_000 + 60_000,
      interval: 1_000,
      what,
    });
  }

  /** Opens an agreement of `client` with Dave's node; returns its id. */
  async function openWithDave(client, { units, price, duration, penalty }) {
    const terms = { units, maxLatencyMs: 500, duration, penalty };
    const work = { LayerInference: { model, layers: { start: 0, end: 2 } } };
    const { events } = await sendAndFinalize(api, api.tx.market.openAgreement(daveNode, work, price, terms), client);
    return eventOf(events, 'market', 'AgreementOpened').data.agreement.toNumber();
  }

  test(
    'setup: a model, an inference node of Dave and a hashing node of Charlie',
    withLogs(async () => {
      model = (await api.query.registry.nextModelId()).toNumber();
      await sendAndFinalize(api, api.tx.registry.registerModel('tiny-4', 4, 2, `0x${'ab'.repeat(32)}`), k.alice);
      const registered = await sendAndFinalize(
        api,
        api.tx.registry.registerInferenceNode(model, { start: 0, end: 2 }, 10, 1, 'http://127.0.0.1:7300', MIN_COLLATERAL),
        k.dave,
      );
      daveNode = eventOf(registered.events, 'registry', 'InferenceNodeRegistered').data.node.toNumber();
      const hashing = await sendAndFinalize(api, api.tx.registry.registerHashingNode(1_000, MIN_COLLATERAL), k.charlie);
      charlieNode = eventOf(hashing.events, 'registry', 'HashingNodeRegistered').data.node.toNumber();
      assert.equal((await api.query.verifierCouncil.members()).length, 3, 'the dev verifier council');
    }),
  );

  test(
    "self-dealing cannot drain the collateral that backs an honest client's penalty",
    withLogs(async () => {
      const honest = await openWithDave(k.eve, { units: 3, price: 5n * UNITS, duration: 12, penalty: PENALTY });
      const accepted = await sendAndFinalize(api, api.tx.market.accept(honest), k.dave);
      const reservation = eventOf(accepted.events, 'registry', 'CollateralReserved');
      assert.equal(reservation.data.amount.toBigInt(), PENALTY);
      assert.equal(await reserved(daveNode), PENALTY, 'accepting reserves the penalty');

      // The drain of the review: u128::MAX penalty, duration 1, a dust escrow.
      const max = (1n << 128n) - 1n;
      await assert.rejects(openWithDave(k.ferdie, { units: 1, price: UNITS, duration: 1, penalty: max }), /market\.PenaltyTooHigh/);
      // At the cap (twice the escrow) but above Dave's free collateral: Dave cannot take it.
      const tooBig = await openWithDave(k.ferdie, { units: 8, price: 5n * UNITS, duration: 5, penalty: 80n * UNITS });
      await assert.rejects(sendAndFinalize(api, api.tx.market.accept(tooBig), k.dave), /market\.InsufficientCollateral/);
      await sendAndFinalize(api, api.tx.market.cancel(tooBig), k.ferdie);

      // Dave defaults on Eve: her penalty comes out of the reservation, a fifth burnt.
      const deadline = (await api.query.market.agreements(honest)).unwrap().deadline.toNumber();
      await waitForBlock(deadline + 1, "the honest agreement's deadline");
      const eveBefore = await free(k.eve);
      const issuanceBefore = (await api.query.balances.totalIssuance()).toBigInt();
      const refunded = await sendAndFinalize(api, api.tx.market.claimRefund(honest), k.alice);
      const expired = eventOf(refunded.events, 'market', 'AgreementExpired');
      assert.equal(expired.data.penalty.toBigInt(), PENALTY);
      assert.equal(expired.data.compensation.toBigInt(), PENALTY - PENALTY / 5n);
      assert.equal(await free(k.eve), eveBefore + 15n * UNITS + PENALTY - PENALTY / 5n, 'escrow back and the compensation');
      const burnt = eventOf(refunded.events, 'registry', 'Slashed').data.burnt.toBigInt();
      assert.equal(burnt, PENALTY / 5n);
      const fee = eventOf(refunded.events, 'transactionPayment', 'TransactionFeePaid').data.actualFee.toBigInt();
      assert.equal((await api.query.balances.totalIssuance()).toBigInt(), issuanceBefore - burnt - fee, 'the burnt share left the supply');
      assert.equal(await reserved(daveNode), 0n);
      assert.equal((await api.query.registry.nodes(daveNode)).unwrap().collateral.toBigInt(), MIN_COLLATERAL - PENALTY);
      // Back to the minimum, so that the node serves in the dispute test.
      await sendAndFinalize(api, api.tx.registry.addCollateral(daveNode, PENALTY), k.dave);
    }),
  );

  test(
    'the challenge block is fixed at the commitment and its seed comes from blocks after it',
    withLogs(async () => {
      const spec = { Generic: { hash: 'Sha256', difficulty: { LeadingZeroBits: 64 } } };
      const posted = await sendAndFinalize(api, api.tx.hashJobs.postJob('0x6532652d73656375726974', spec, 0, 4096, 10n * UNITS), k.alice);
      const job = eventOf(posted.events, 'hashJobs', 'JobPosted').data.job.toNumber();
      await sendAndFinalize(api, api.tx.registry.heartbeat(charlieNode), k.charlie).catch(() => {});
      const claimed = await sendAndFinalize(api, api.tx.hashJobs.claim(job, charlieNode), k.charlie);
      const subjob = eventOf(claimed.events, 'hashJobs', 'SubjobClaimed').data.subjob.toNumber();
      assert.equal(await reserved(charlieNode), api.consts.hashJobs.slashPenalty.toBigInt(), 'claiming reserves the penalty');

      // Commit to a result (a made-up root; no winners in this range), reveal two blocks later.
      const root = sha256('made-up root');
      const salt = sha256('salt');
      const commitment = sha256(le64(subjob), root, salt);
      const committed = await sendAndFinalize(api, api.tx.hashJobs.commit(subjob, u8aToHex(commitment)), k.charlie);
      const commitBlock = (await api.rpc.chain.getHeader(committed.blockHash)).number.toNumber();
      const atCommit = (await api.query.hashJobs.recentRandomness.at(committed.blockHash)).map((r) => r.toHex());
      await waitForBlock(commitBlock + 2, 'two blocks after the commitment');
      const revealed = await sendAndFinalize(api, api.tx.hashJobs.reveal(subjob, u8aToHex(root), u8aToHex(salt), []), k.charlie);
      const revealBlock = (await api.rpc.chain.getHeader(revealed.blockHash)).number.toNumber();
      const challengeAt = eventOf(revealed.events, 'hashJobs', 'ResultRevealed').data.challengeAt.toNumber();
      const delay = api.consts.hashJobs.challengeDelay.toNumber();
      assert.ok(revealBlock > commitBlock + 1);
      assert.equal(challengeAt, commitBlock + delay, 'fixed by the commitment, not the reveal');

      await waitForBlock(challengeAt + 1, 'the challenge block');
      const hash = await api.rpc.chain.getBlockHash(challengeAt);
      const recent = (await api.query.hashJobs.recentRandomness.at(hash)).map((r) => r.toHex());
      const seedBlocks = api.consts.hashJobs.seedBlocks.toNumber();
      assert.equal(recent.length, seedBlocks);
      assert.equal(new Set(recent).size, seedBlocks, 'four distinct VRF outputs');
      for (const r of recent) assert.ok(!atCommit.includes(r), 'no seed output existed when the worker committed');
      const seed = (await api.query.hashJobs.challengeSeeds(challengeAt)).unwrap().toHex();
      const expected = sha256(Buffer.from('hash-jobs/seed/v2'), ...recent.map((r) => Buffer.from(r.slice(2), 'hex')));
      assert.equal(seed, u8aToHex(expected), 'the seed hashes the outputs of the seed blocks, oldest first');
    }),
  );

  test(
    'a disputed completion waits for the verifier council, which refunds the client with the penalty',
    withLogs(async () => {
      await sendAndFinalize(api, api.tx.registry.heartbeat(daveNode), k.dave).catch(() => {});
      const id = await openWithDave(k.eve, { units: 3, price: 5n * UNITS, duration: 40, penalty: PENALTY });
      await sendAndFinalize(api, api.tx.market.accept(id), k.dave);
      await sendAndFinalize(api, api.tx.market.complete(id), k.dave);
      const eveBefore = await free(k.eve);
      const disputed = await sendAndFinalize(api, api.tx.market.dispute(id), k.eve);
      const bond = eventOf(disputed.events, 'market', 'WorkDisputed').data.bond.toBigInt();
      assert.equal(bond, api.consts.market.disputeBond.toBigInt());
      assert.equal(await held(k.eve, 'Market', 'DisputeBond'), bond);

      // Past the challenge window, Dave still cannot collect.
      const window = api.consts.market.challengeWindow.toNumber();
      await waitForBlock((await bestNumber(node.httpUrl)) + window, 'the end of the challenge window');
      await assert.rejects(sendAndFinalize(api, api.tx.market.claimPayment(id), k.dave), /market\.DisputeOpen/);
      // Sudo is not the verifier: the inner call fails with BadOrigin.
      const sudid = await sendAndFinalize(api, api.tx.sudo.sudo(api.tx.market.resolveDispute(id, true)), k.alice);
      assert.ok(eventOf(sudid.events, 'sudo', 'Sudid').data.sudoResult.isErr, 'sudo cannot decide a dispute');
      assert.ok((await api.query.market.agreements(id)).isSome, 'the agreement is untouched');

      // Two of three council members decide.
      const closed = { events: await motion('verifierCouncil', api.tx.market.resolveDispute(id, true)) };
      const executed = eventOf(closed.events, 'verifierCouncil', 'Executed');
      assert.ok(executed.data.result.isOk, `the verdict dispatched: ${executed.data.result.toString()}`);
      const resolved = eventOf(closed.events, 'market', 'DisputeResolved');
      assert.ok(resolved.data.workWasWrong.isTrue);
      const rejected = eventOf(closed.events, 'market', 'WorkRejected');
      assert.equal(rejected.data.refunded.toBigInt(), 15n * UNITS);
      assert.equal(rejected.data.compensation.toBigInt(), PENALTY - PENALTY / 5n);
      // Eve: escrow back, compensation, bond back; she paid only the dispute's fee.
      const eveAfter = await free(k.eve);
      const gain = 15n * UNITS + PENALTY - PENALTY / 5n;
      assert.ok(eveAfter - eveBefore > gain - UNITS && eveAfter - eveBefore < gain, `Eve gained ${eveAfter - eveBefore}`);
      assert.equal(await held(k.eve, 'Market', 'DisputeBond'), 0n);
      assert.ok((await api.query.market.agreements(id)).isNone);
      assert.equal(resolved.data.agreement.toNumber(), id);
    }),
  );

  test(
    'two thirds of the technical committee authorize a runtime upgrade; one member cannot; staging has no sudo key',
    withLogs(async () => {
      const committee = (await api.query.technicalCommittee.members()).map((m) => m.toHex()).sort();
      assert.deepEqual(committee, [k.alice, k.bob, k.charlie].map((p) => u8aToHex(p.publicKey)).sort());
      const codeHash = `0x${'5a'.repeat(32)}`;
      const enact = api.tx.rootMotions.enact(api.tx.system.authorizeUpgrade(codeHash));

      // One member alone (threshold 1 executes at once): the enact origin refuses.
      const alone = await sendAndFinalize(api, api.tx.technicalCommittee.propose(1, enact, enact.method.encodedLength), k.alice);
      const executedAlone = eventOf(alone.events, 'technicalCommittee', 'Executed');
      assert.ok(executedAlone.data.result.isErr, 'one of three members is not two thirds');
      assert.equal(eventOf(alone.events, 'system', 'UpgradeAuthorized'), undefined);

      // Two of three: the upgrade's hash is authorized as root (anyone may then apply the code).
      const events = await motion('technicalCommittee', enact);
      const enacted = eventOf(events, 'rootMotions', 'Enacted');
      assert.ok(enacted?.data.result.isOk, `enacted: ${enacted?.data.result.toString()}`);
      const authorized = eventOf(events, 'system', 'UpgradeAuthorized');
      assert.equal(authorized.data.codeHash.toHex(), codeHash);

      // A staging network has no sudo key at genesis, and the same committee.
      const staging = await startNode({ name: 'e2e-staging', extraArgs: ['--chain', 'staging', '--tmp'] });
      const stagingApi = await connectApi(staging.wsUrl);
      assert.ok((await stagingApi.query.sudo.key()).isNone, 'no sudo key on staging');
      const stagingCommittee = (await stagingApi.query.technicalCommittee.members()).map((m) => m.toHex()).sort();
      assert.deepEqual(stagingCommittee, committee);
      assert.equal((await stagingApi.query.session.validators()).length, 4);
    }),
  );
});
