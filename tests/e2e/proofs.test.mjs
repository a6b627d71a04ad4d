// Inference proofs end to end (issue 17), on the real model (SmolLM2-135M-Instruct Q4_1) and
// a `--dev` node: three serving nodes and two more that verify, every one over all 30 layers.
//
// Sudo sets the model's challenge probability to 100%. Charlie is the cheapest and fastest node,
// so the chain's route is Charlie alone, and Charlie cheats: `serve --inject-fault noise` adds
// noise to every output and signs receipts for what it returns, so the client's checks pass.
// Charlie also never commits its receipts (`--never-commit`), hiding its work from the chain's
// sampling; the client audits the receipts it kept (`audit`): the chain samples the audit, the
// client reveals the challenged step with Charlie's signature, and verifiers drawn among the
// other owners re-run the session's prefix from the inputs Charlie kept, seal and open their
// votes; the majority finds the last layer differs; Charlie is slashed, the client refunded and
// the verifiers paid. The next generation leaves Charlie out (its record has a proven fault)
// and goes through Bob, whose text is what one process generates; Bob commits its session
// itself, its challenged step is upheld and Bob loses nothing.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Keyring } from '@polkadot/keyring';

import { connectApi, disconnectAll, freePort, rpc, sendAndFinalize, startNode, stopAllNodes, waitFor, withLogs } from './lib/node.mjs';
import { dumpWorkerLogs, killAllWorkers, worker, WorkerProcess } from './lib/worker.mjs';

const MODELS = process.env.APPCHAIN_MODELS || path.join(os.homedir(), '.cache', 'appchain-models');
const MODEL_FILE = path.join(MODELS, 'SmolLM2-135M-Instruct.Q4_1.gguf');
const PROMPT = 'What is the capital of France?';
const TOKENS = 6;
const UNITS = 1_000_000_000_000n;

describe('inference proofs: a cheating node is challenged, slashed and routed around', { timeout: 900_000 }, () => {
  let node;
  let api;
  let base;
  let modelId;
  const nodes = {};
  const proofEvents = []; // { block, method, data } of every InferenceProofs event
  const registryEvents = [];
  let unsubscribe;
  const args = (...rest) => ['--url', node.wsUrl, ...rest];
  const keyring = new Keyring({ type: 'sr25519' });
  const CLIENT = { suri: '//Alice//stash' };
  const clientArgs = (...rest) => args('--base-path', path.join(base, 'client'), ...rest);

  before(async () => {
    assert.ok(existsSync(MODEL_FILE), `${MODEL_FILE} is missing: run scripts/fetch-model.sh`);
    node = await startNode({ name: 'proofs' });
    api = await connectApi(node.wsUrl);
    base = mkdtempSync(path.join(os.tmpdir(), 'proofs-e2e-'));
    unsubscribe = await api.query.system.events((records) => {
      for (const { event } of records) {
        if (event.section === 'inferenceProofs') proofEvents.push({ method: event.method, data: event.data });
        if (event.section === 'registry') registryEvents.push({ method: event.method, data: event.data });
      }
    });
  });

  after(async () => {
    if (unsubscribe) unsubscribe();
    await killAllWorkers();
    await disconnectAll();
    await stopAllNodes();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const dump = () => dumpWorkerLogs(6000);

  async function serve(name, { costMs, price, collateral = '100', extra = [] }) {
    const port = await freePort();
    const proc = new WorkerProcess(
      name,
      args('--base-path', path.join(base, name), '--log-format', 'json', 'serve', '--model', String(modelId), '--file', MODEL_FILE,
        '--layers', '0..30', '--listen', `127.0.0.1:${port}`, '--cost-ms', String(costMs), '--price', price,
        '--collateral', collateral, '--commit-after', '2', ...extra),
      { suri: `//${name}` },
    );
    const ready = await proc.waitForEvent({ event: 'serving_inference' }, { timeout: 240_000 });
    nodes[name] = { proc, id: ready.node, endpoint: ready.endpoint };
    return nodes[name];
  }

  const settledFor = (nodeId) => proofEvents.filter((e) => e.method === 'Settled' && e.data.node.toNumber() === nodeId);
  const stats = async (nodeId) => (await api.query.registry.nodes(nodeId)).unwrap().stats;
  const collateral = async (nodeId) => (await api.query.registry.nodes(nodeId)).unwrap().collateral.toBigInt();

  const local = async () => {
    const r = await worker(['infer', '--local', '--json', '--model', '0', '--file', MODEL_FILE, '--max-tokens', String(TOKENS), '--chat', PROMPT]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  test('the cheater is caught and slashed, the client refunded, and the next route avoids it', withLogs(async () => {
    const reg = await worker(args('model', 'register', '--file', MODEL_FILE, '--name', 'smollm2-proofs', '--shard-size', '30'), { suri: '//Alice' });
    assert.equal(reg.code, 0, reg.stderr);
    modelId = Number(/registered model (\d+)/.exec(reg.stdout)[1]);
    const alice = keyring.addFromUri('//Alice');
    await sendAndFinalize(api, api.tx.sudo.sudo(api.tx.inferenceProofs.setChallengeProbability(modelId, 1_000_000_000)), alice);
    assert.equal(await rpc(node.httpUrl, 'proofs_probability', [modelId]), 1_000_000_000);

    // Charlie cheats and is the cheapest; Bob and Dave serve honestly; Eve and Ferdie are
    // dearer still and only verify.
    await Promise.all([
      serve('Charlie', { costMs: 10, price: '0.001', collateral: '200', extra: ['--inject-fault', 'noise', '--never-commit'] }),
      serve('Bob', { costMs: 20, price: '0.002' }),
      serve('Dave', { costMs: 30, price: '0.002' }),
      serve('Eve', { costMs: 40, price: '0.003' }),
      serve('Ferdie', { costMs: 40, price: '0.003' }),
    ]);
    // Every node declared its engine class; all run here, so all share one.
    const classes = await Promise.all(Object.values(nodes).map(async (n) => (await api.query.inferenceProofs.engineClasses(n.id)).unwrap().toHex()));
    assert.equal(new Set(classes).size, 1, `one engine class: ${classes}`);
    assert.ok(nodes.Charlie.proc.events().some((e) => e.event === 'engine_class' && e.description.startsWith('appchain-worker')));
    const route = await rpc(node.httpUrl, 'registry_route', [modelId, 0.5]);
    assert.deepEqual(route.nodes, [nodes.Charlie.id], 'the chain routes through the cheater');
    const charlieCollateral = await collateral(nodes.Charlie.id);

    // The client's checks pass (Charlie signs for its noisy answers); the text is not the model's.
    const reference = await local();
    const receiptsFile = path.join(base, 'receipts.jsonl');
    const first = await worker(clientArgs('infer', '--model', String(modelId), '--file', MODEL_FILE, '--max-tokens', String(TOKENS),
      '--chat', PROMPT, '--json', '--receipts', receiptsFile), { timeout: 180_000, ...CLIENT });
    assert.equal(first.code, 0, first.stderr);
    const cheated = JSON.parse(first.stdout);
    assert.deepEqual(cheated.route, [nodes.Charlie.id]);
    const kept = readFileSync(receiptsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(kept.length >= 2, `${kept.length} receipts kept`);
    assert.ok(kept.every((r) => r.node === nodes.Charlie.id), 'every receipt is Charlie\'s, checked and kept');

    // Charlie commits nothing; the client audits what Charlie signed; the chain challenges;
    // the client shows the signed receipt; the verifiers find the last layer differs.
    const audit = await worker(clientArgs('--log-format', 'json', 'audit', '--receipts', receiptsFile), { timeout: 300_000, ...CLIENT });
    assert.equal(audit.code, 0, audit.stderr);
    assert.match(audit.stdout, new RegExp(`audit \\d+ of node ${nodes.Charlie.id} .*: Mismatch`), audit.stdout);
    assert.ok(!proofEvents.some((e) => e.method === 'Committed' && e.data.node.toNumber() === nodes.Charlie.id), 'Charlie never committed');
    const [settled] = settledFor(nodes.Charlie.id);
    const audited = proofEvents.find((e) => e.method === 'Audited' && e.data.id.eq(settled.data.id));
    assert.ok(audited, 'the settled commitment is the client\'s audit');
    assert.ok(audited.data.client.eq(keyring.addFromUri(CLIENT.suri).publicKey));
    const backed = proofEvents.find((e) => e.method === 'AuditBacked' && e.data.id.eq(settled.data.id));
    assert.ok(backed, 'the signed receipt reserved Charlie\'s collateral');
    assert.equal(settled.data.verdict.type, 'Mismatch', `verdict ${settled.data.verdict.toString()}`);
    assert.equal(settled.data.verdict.asMismatch.layer.unwrap().toNumber(), 29, 'the noise is in the last layer');
    assert.equal(settled.data.verifiersSlashed.toNumber(), 0, 'every verifier voted with the majority');
    const challenged = proofEvents.find((e) => e.method === 'Challenged' && e.data.id.eq(settled.data.id));
    const verifiers = challenged.data.verifiers.map((v) => v.toNumber());
    assert.equal(verifiers.length, 3);
    const others = ['Bob', 'Dave', 'Eve', 'Ferdie'].map((n) => nodes[n].id);
    assert.ok(verifiers.every((v) => others.includes(v)), `verifiers ${verifiers} are other owners' nodes`);
    const opened = proofEvents.filter((e) => e.method === 'VoteOpened' && e.data.id.eq(settled.data.id));
    assert.equal(opened.length, 3, 'three votes opened');
    const payment = audited.data.payment.toBigInt();
    const penalty = settled.data.penalty.toBigInt();
    assert.equal(backed.data.reserved.toBigInt(), payment + penalty, 'the reservation was slashed whole');
    assert.ok(penalty >= 10n * UNITS, `penalty ${penalty}`);
    assert.equal(await collateral(nodes.Charlie.id), charlieCollateral - payment - penalty, 'Charlie lost payment and penalty');
    const slashedToClient = registryEvents.filter((e) => e.method === 'Slashed' && e.data.node.toNumber() === nodes.Charlie.id
      && e.data.beneficiary.isSome && e.data.beneficiary.unwrap().eq(keyring.addFromUri(CLIENT.suri).publicKey));
    assert.equal(slashedToClient.length, 2, 'the refund and the client\'s half of the penalty went to the client');
    const slashedToVerifiers = registryEvents.filter((e) => e.method === 'Slashed' && e.data.node.toNumber() === nodes.Charlie.id
      && !slashedToClient.includes(e));
    assert.equal(slashedToVerifiers.length, 3, 'each verifier got its share of the other half');
    assert.ok(settled.data.refunded.toBigInt() >= payment * 4n / 5n, 'the client got its payment back, less the burnt share');
    const charlieStats = await stats(nodes.Charlie.id);
    assert.equal(charlieStats.failed.toNumber(), 1);

    // The next generation leaves Charlie out and goes through Bob: the model's own text.
    const second = await worker(clientArgs('--log-format', 'json', 'infer', '--model', String(modelId), '--file', MODEL_FILE,
      '--max-tokens', String(TOKENS), '--chat', PROMPT, '--json'), { timeout: 180_000, ...CLIENT });
    assert.equal(second.code, 0, second.stderr);
    const honest = JSON.parse(second.stdout);
    assert.deepEqual(honest.route, [nodes.Bob.id], 'the route avoids the slashed node');
    assert.deepEqual(honest.tokens, reference.tokens, 'Bob generates what one process generates');
    assert.match(second.stderr, /node_distrusted/, 'the client said why it left Charlie out');

    // Bob's session is committed and challenged too, and upheld: an honest node loses nothing.
    const bobCollateral = await collateral(nodes.Bob.id);
    await waitFor(() => settledFor(nodes.Bob.id).length > 0, { timeout: 240_000, interval: 2_000, what: "Bob's commitment to be settled" });
    const [upheld] = settledFor(nodes.Bob.id);
    assert.equal(upheld.data.verdict.type, 'Upheld', `verdict ${upheld.data.verdict.toString()}`);
    assert.equal(upheld.data.verifiersSlashed.toNumber(), 0);
    assert.equal(await collateral(nodes.Bob.id), bobCollateral, 'Bob lost nothing');
    assert.equal((await stats(nodes.Bob.id)).completed.toNumber(), 1);
    assert.deepEqual(await rpc(node.httpUrl, 'proofs_ofNode', [nodes.Bob.id]), [], 'nothing open');

    // Chain load of the proofs in this run: every inferenceProofs transaction, by call, with
    // its signed size, from the blocks themselves.
    const best = (await api.rpc.chain.getHeader()).number.toNumber();
    const load = {};
    for (let n = 1; n <= best; n++) {
      const block = await api.rpc.chain.getBlock(await api.rpc.chain.getBlockHash(n));
      for (const xt of block.block.extrinsics) {
        if (xt.method.section !== 'inferenceProofs' || !xt.isSigned) continue;
        const entry = (load[xt.method.method] ??= { count: 0, bytes: 0 });
        entry.count += 1;
        entry.bytes += xt.encodedLength;
      }
    }
    const commits = proofEvents.filter((e) => e.method === 'Committed').length;
    assert.equal(load.commit?.count, commits, 'one commit transaction per commitment');
    assert.equal(load.audit?.count, 1, 'one audit');
    assert.equal(load.draw?.count, commits + 1, 'one draw per commitment and audit');
    assert.equal(load.revealReceipt?.count, 1, 'Bob revealed its challenged receipt');
    assert.equal(load.revealSignedReceipt?.count, 1, 'the client revealed Charlie\'s');
    assert.equal(load.sealVote?.count, 6, 'three seals per challenge');
    assert.equal(load.openVote?.count, 6, 'three openings per challenge');
    console.log(`proofs chain load (a commitment and an audit, both challenged): ${JSON.stringify(load)}`);
  }, dump));
});
