// Layer-range inference through the network, on the real model (SmolLM2-135M-Instruct Q4_1,
// put in place by scripts/fetch-model.sh) and a `--dev` node.
//
// Alice registers the model from its file (`model register` computes the weights digest).
// Bob, Charlie and Dave `serve` layers [0,10), [10,20), [20,30): each checks its file against
// the chain's digest, registers its inference node and serves the activation API. `infer`
// takes the chain's route and generates, for three prompts, exactly the tokens an in-process
// run generates, paying every forward pass with a payment-channel voucher (the client
// opens one channel per node and reuses it); when the client asks to close them, each node claims
// at once and is paid exactly its price times the passes it served. Eve adds a second node for [10,20); Charlie is killed mid-generation and the
// text does not change (the client re-routes through Eve and replays the session). Bad input:
// a tampered model file is refused by `serve` before it registers anything; malformed
// activations, unknown sessions, position gaps, missing and foreign vouchers get typed JSON
// errors while the node keeps serving. The gateway: the official `openai` Python client streams a
// chat completion through it; every node is paid exactly its passes (Bob, offline when the
// client asks to close, claims when he is back inside the challenge period) and the client gets
// the rest back. Pricing agents: five `serve --agent` workers start three on one shard and one on
// each other; their agents move and re-price on chain until the shards hold two, two and one
// node at the prices P2P-LLM's rules predict (checked against an independent closed form).
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';

import { connectApi, disconnectAll, freePort, rpc, runCommand, sendAndFinalize, startNode, stopAllNodes, waitFor, withLogs } from './lib/node.mjs';
import { dumpWorkerLogs, killAllWorkers, worker, WorkerProcess } from './lib/worker.mjs';

const MODELS = process.env.APPCHAIN_MODELS || path.join(os.homedir(), '.cache', 'appchain-models');
const MODEL_FILE = path.join(MODELS, 'SmolLM2-135M-Instruct.Q4_1.gguf');
const PROMPTS = ['What is the capital of France?', 'Write a short poem about the sea.', 'Tell me a story about a robot.'];
const TOKENS = 32;

describe('layer inference through the network', { timeout: 900_000 }, () => {
  let node;
  let api;
  let base;
  let modelId;
  const nodes = {}; // name -> { proc, id, endpoint }
  const args = (...rest) => ['--url', node.wsUrl, ...rest];

  before(async () => {
    assert.ok(existsSync(MODEL_FILE), `${MODEL_FILE} is missing: run scripts/fetch-model.sh`);
    node = await startNode({ name: 'inference' });
    api = await connectApi(node.wsUrl);
    base = mkdtempSync(path.join(os.tmpdir(), 'inference-e2e-'));
  });

  after(async () => {
    await killAllWorkers();
    await disconnectAll();
    await stopAllNodes();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const dump = () => dumpWorkerLogs(4000);

  async function serve(name, layers, costMs) {
    const port = await freePort();
    const proc = new WorkerProcess(
      name,
      args('--base-path', path.join(base, name), '--log-format', 'json', 'serve', '--model', String(modelId), '--file', MODEL_FILE,
        '--layers', layers, '--listen', `127.0.0.1:${port}`, '--cost-ms', String(costMs), '--price', '0.001'),
      { suri: `//${name}` },
    );
    const ready = await proc.waitForEvent({ event: 'serving_inference' }, { timeout: 180_000 });
    nodes[name] = { proc, id: ready.node, endpoint: ready.endpoint };
    return nodes[name];
  }

  // The client pays every forward pass through payment channels, as Alice's stash account
  // (every named account also serves in one of the tests).
  const CLIENT = { suri: '//Alice//stash' };
  const clientArgs = (...rest) => args('--base-path', path.join(base, 'client'), ...rest);
  const infer = (extra, timeout = 180_000) =>
    worker(clientArgs('infer', '--model', String(modelId), '--file', MODEL_FILE, '--max-tokens', String(TOKENS), ...extra), { timeout, ...CLIENT });

  const local = async (prompt, tokens = TOKENS) => {
    const r = await worker(['infer', '--local', '--json', '--model', '0', '--file', MODEL_FILE, '--max-tokens', String(tokens), '--chat', prompt]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  test('three serve workers on the chain route generate what one process generates', withLogs(async () => {
    const inspect = await worker(['model', 'inspect', MODEL_FILE]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const digest = /weights digest: (0x[0-9a-f]{64})/.exec(inspect.stdout)[1];

    const reg = await worker(args('model', 'register', '--file', MODEL_FILE, '--name', 'smollm2-135m-instruct-q4_1', '--shard-size', '10'), { suri: '//Alice' });
    assert.equal(reg.code, 0, reg.stderr);
    modelId = Number(/registered model (\d+)/.exec(reg.stdout)[1]);
    const onChain = (await api.query.registry.models(modelId)).unwrap();
    assert.equal(onChain.weightsDigest.toHex(), digest, 'the chain holds the digest model inspect computed');
    assert.equal(onChain.layers.toNumber(), 30);

    // Three accounts, so their registrations do not wait for each other.
    await Promise.all([serve('Bob', '0..10', 20), serve('Charlie', '10..20', 20), serve('Dave', '20..30', 20)]);
    const route = await rpc(node.httpUrl, 'registry_route', [modelId, 0.5]);
    assert.deepEqual(route.nodes, [nodes.Bob.id, nodes.Charlie.id, nodes.Dave.id]);

    let perHop = 0n;
    for (const prompt of PROMPTS) {
      const reference = await local(prompt);
      const r = await infer(['--chat', prompt, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const got = JSON.parse(r.stdout);
      assert.deepEqual(got.route, route.nodes, 'the chain route was used');
      assert.ok(got.tokens.length > 0 && got.tokens.length <= TOKENS, `${got.tokens.length} tokens`);
      assert.deepEqual(got.tokens, reference.tokens, `same tokens for ${JSON.stringify(prompt)}`);
      assert.equal(got.text, reference.text);
      const passes = 3n * BigInt(got.tokens.length);
      assert.equal(got.price, String(passes * 1_000_000_000n), 'one priced pass per hop per token');
      assert.equal(got.paid, got.price, 'a voucher paid every pass');
      perHop += BigInt(got.tokens.length) * 1_000_000_000n;
    }

    // The client's channels, one per node, reused across the three generations. When it asks
    // to close them, each node claims at once: its owner is paid exactly its price times the
    // passes it served.
    const channels = await rpc(node.httpUrl, 'channels_ofPayer', [keyOf('Alice//stash')]);
    const routeNodes = [nodes.Bob.id, nodes.Charlie.id, nodes.Dave.id];
    assert.deepEqual(channels.map((c) => c.node).sort(), [...routeNodes].sort(), 'one channel per node of the route');
    // One through the worker's command, the others in one batched transaction.
    const closed = await worker(clientArgs('channel', 'close', String(channels[0].id)), CLIENT);
    assert.equal(closed.code, 0, closed.stderr);
    const client = new Keyring({ type: 'sr25519' }).addFromUri(CLIENT.suri);
    await sendAndFinalize(api, api.tx.utility.batchAll(channels.slice(1).map((c) => api.tx.paymentChannels.requestClose(c.id))), client);
    await waitFor(async () => {
      const now = await Promise.all(channels.map((c) => rpc(node.httpUrl, 'channels_get', [c.id])));
      return now.every((c) => c && BigInt(c.claimed) === perHop);
    }, { timeout: 60_000, what: 'every node to claim exactly its passes' });
    for (const name of ['Bob', 'Charlie', 'Dave']) {
      assert.ok(nodes[name].proc.events().some((e) => e.event === 'channel_claim' && e.closing === true), `${name} claimed on the close request`);
    }
  }, dump));

  test('a node killed mid-generation is replaced and the text does not change', withLogs(async () => {
    await serve('Eve', '10..20', 40); // costlier than Charlie: a spare, not on the route
    const prompt = 'Write a short poem about the sea.';
    const reference = await local(prompt, 48);
    const proc = new WorkerProcess('infer', clientArgs('--log-format', 'json', 'infer', '--model', String(modelId), '--file', MODEL_FILE,
      '--max-tokens', '48', '--chat', prompt), CLIENT);
    await proc.waitForEvent({ event: 'route' });
    await proc.waitForLine(/\S/); // the first token is out
    await nodes.Charlie.proc.kill('SIGKILL');
    const exit = await proc.exitPromise;
    assert.equal(exit.code, 0, proc.stderr);
    assert.equal(proc.stdout.trim(), reference.text.trim(), 'the streamed text is the in-process text');
    const failed = proc.events().find((e) => e.event === 'hop_failed');
    assert.equal(failed?.node, nodes.Charlie.id, 'the killed node failed');
    const rerouted = proc.events().find((e) => e.event === 'rerouted');
    assert.ok(rerouted, 'the client re-routed');
    assert.match(rerouted.route, new RegExp(`\\b${nodes.Eve.id}\\b`), 'through the spare');
    const done = proc.events().find((e) => e.event === 'generated');
    assert.equal(done.tokens, reference.tokens.length);
    assert.ok(done.tokens > 5, 'long enough to be cut mid-generation');
    assert.equal(done.failovers, 1);
  }, dump));

  test('bad input: a tampered file is refused, bad activations get typed errors, the node keeps serving', withLogs(async () => {
    // One flipped bit in the last tensor: `serve` refuses the file and registers nothing.
    const tampered = path.join(base, 'tampered.gguf');
    copyFileSync(MODEL_FILE, tampered);
    const size = statSync(tampered).size;
    const fd = openSync(tampered, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, size - 100);
    byte[0] ^= 1;
    writeSync(fd, byte, 0, 1, size - 100);
    closeSync(fd);
    const before = (await api.query.registry.nodesByOwner(keyOf('Ferdie'))).length;
    const r = await worker(args('--base-path', path.join(base, 'Ferdie'), 'serve', '--model', String(modelId), '--file', tampered,
      '--layers', '0..10', '--listen', '127.0.0.1:0'), { suri: '//Ferdie' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /weights digest mismatch: the file has [0-9a-f]{64}, the chain expects [0-9a-f]{64}/);
    assert.equal((await api.query.registry.nodesByOwner(keyOf('Ferdie'))).length, before, 'nothing registered');

    // Bad requests to Bob's node: typed JSON errors.
    const endpoint = nodes.Bob.endpoint;
    const opened = await fetch(`${endpoint}/v1/sessions`, { method: 'POST' });
    assert.equal(opened.status, 201);
    const { session } = await opened.json();
    const expectError = async (response, status, code) => {
      assert.equal(response.status, status);
      const body = await response.json();
      assert.equal(body.error.code, code, JSON.stringify(body));
      assert.ok(body.error.message.length > 0);
    };
    const forward = (id, body) => fetch(`${endpoint}/v1/sessions/${id}/forward`, { method: 'POST', body });
    await expectError(await forward(session, Buffer.from('not a frame')), 400, 'bad_frame');
    const header = (position, tokens) => {
      const h = Buffer.alloc(48);
      h.write('ACT1', 0, 'ascii');
      h.writeUInt32LE(modelId, 4);
      h.writeUInt32LE(0, 8);
      h.writeUInt32LE(10, 12);
      Buffer.from(session, 'hex').copy(h, 16);
      h.writeUInt32LE(position, 32);
      h.writeUInt32LE(tokens, 36);
      h.writeUInt32LE(576, 40);
      return h;
    };
    const frame = (position, tokens) => Buffer.concat([header(position, tokens), Buffer.alloc(tokens * 576 * 4)]);
    await expectError(await forward(session, frame(0, 2).subarray(0, 48 + 576 * 4)), 400, 'bad_frame'); // wrong length
    await expectError(await forward(session, frame(3, 1)), 409, 'position_gap');
    await expectError(await forward('0'.repeat(32), frame(0, 1)), 404, 'unknown_session');
    // Bob charges: a computable frame without a voucher, or with a voucher someone else
    // signed, is refused; Alice's own voucher, signed here from the documented payload, pays.
    await expectError(await forward(session, frame(0, 1)), 402, 'payment_required');
    const alice = new Keyring({ type: 'sr25519' }).addFromUri('//Alice');
    const opened2 = await sendAndFinalize(api, api.tx.paymentChannels.open(nodes.Bob.id, 10n ** 10n), alice);
    const channel = opened2.events.find(({ event }) => event.method === 'ChannelOpened').event.data.channel.toNumber();
    const le = (v, n) => { const b = Buffer.alloc(n); let x = BigInt(v); for (let i = 0; i < n; i++) { b[i] = Number(x & 0xffn); x >>= 8n; } return b; };
    const voucher = (amount, signer = alice) => {
      const payload = Buffer.concat([Buffer.from('appchain/channel/voucher'), Buffer.from(api.genesisHash.toU8a()), le(channel, 8), le(amount, 16)]);
      return { 'x-appchain-channel': String(channel), 'x-appchain-cumulative': String(amount), 'x-appchain-signature': u8aToHex(signer.sign(payload)) };
    };
    const paidForward = (id, body, headers) => fetch(`${endpoint}/v1/sessions/${id}/forward`, { method: 'POST', body, headers });
    const bobKey = new Keyring({ type: 'sr25519' }).addFromUri('//Bob');
    let refused;
    await waitFor(async () => {
      refused = await paidForward(session, frame(0, 1), voucher(1_000_000_000n, bobKey));
      return refused.status !== 402 || (await refused.clone().json()).error.code !== 'unknown_channel';
    }, { timeout: 30_000, what: 'Bob to see the channel' });
    await expectError(refused, 402, 'payment_refused');
    await expectError(await paidForward(session, frame(0, 1), voucher(999_999_999n)), 402, 'payment_refused'); // below the price
    const ok = await paidForward(session, frame(0, 1), voucher(1_000_000_000n));
    assert.equal(ok.status, 200, 'the same session still works, paid');
    assert.equal((await ok.arrayBuffer()).byteLength, 48 + 576 * 4);
    assert.equal((await fetch(`${endpoint}/v1/sessions/${session}`, { method: 'DELETE' })).status, 204);

    // The network still generates (the route may still list Charlie until his heartbeats
    // time out; the client routes around him).
    const again = await infer(['--chat', PROMPTS[0], '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).tokens, (await local(PROMPTS[0])).tokens);
  }, dump));

  test('the OpenAI gateway streams a chat completion, pays each node exactly, and the client gets the rest back', withLogs(async () => {
    // Three serving nodes now: Bob [0,10), Eve [10,20) (Charlie was killed), Dave [20,30).
    const payer = '//Dave//stash';
    const gatewayArgs = (...rest) => args('--base-path', path.join(base, 'gateway'), ...rest);
    const port = await freePort();
    const gateway = new WorkerProcess('gateway', gatewayArgs('--log-format', 'json', 'gateway', '--model', String(modelId), '--file', MODEL_FILE,
      '--listen', `127.0.0.1:${port}`, '--max-per-request', '1', '--max-per-day', '10'), { suri: payer });
    await gateway.waitForEvent({ event: 'gateway_listening' }, { timeout: 120_000 });

    // Bad requests get OpenAI-style errors.
    const bad = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages": 3}' });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.type, 'invalid_request_error');

    const prompt = PROMPTS[1];
    const tokens = 24;
    const python = path.join(process.env.APPCHAIN_MODELS ?? path.join(os.homedir(), '.cache/appchain-models'), 'pyref/bin/python');
    const r = await runCommand(python, [path.join(import.meta.dirname, 'py/openai_chat.py'), `http://127.0.0.1:${port}/v1`, prompt, String(tokens)], { timeout: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    const reference = await local(prompt, tokens);
    assert.deepEqual(got.models, ['smollm2-135m-instruct-q4_1']);
    assert.equal(got.text, reference.text, 'the streamed completion is the in-process text');
    assert.ok(got.chunks > 1, `streamed in ${got.chunks} chunks`);
    assert.ok(got.usage.completion_tokens > 0 && got.usage.completion_tokens <= tokens, JSON.stringify(got.usage));
    assert.equal(got.usage.total_tokens, got.usage.prompt_tokens + got.usage.completion_tokens);
    const passes = BigInt(got.usage.forward_passes);
    assert.equal(passes % 3n, 0n, 'three hops, the same passes each');
    assert.equal(BigInt(got.usage.cost), passes * 1_000_000_000n, 'usage reports the price of every pass');

    // Closing, with Bob offline (stopped) when the client asks: Eve and Dave claim at once; Bob
    // comes back inside the challenge period and claims too. Each is paid exactly its price
    // times its passes.
    const dave = new Keyring({ type: 'sr25519' }).addFromUri(payer);
    const channels = await rpc(node.httpUrl, 'channels_ofPayer', [dave.address]);
    const hops = [nodes.Bob.id, nodes.Eve.id, nodes.Dave.id];
    assert.deepEqual(channels.map((c) => c.node).sort(), [...hops].sort(), 'one channel per hop, none to the dead node');
    const perHop = (passes / 3n) * 1_000_000_000n;
    const claimed = async (c) => BigInt((await rpc(node.httpUrl, 'channels_get', [c.id])).claimed);
    const bobChannel = channels.find((c) => c.node === nodes.Bob.id);
    nodes.Bob.proc.child.kill('SIGSTOP');
    try {
      await sendAndFinalize(api, api.tx.utility.batchAll(channels.map((c) => api.tx.paymentChannels.requestClose(c.id))), dave);
      await waitFor(async () => (await Promise.all(channels.filter((c) => c !== bobChannel).map(claimed))).every((x) => x === perHop),
        { timeout: 60_000, what: 'Eve and Dave to claim on the close request' });
      assert.equal(await claimed(bobChannel), 0n, 'Bob, offline, has not claimed');
    } finally {
      nodes.Bob.proc.child.kill('SIGCONT');
    }
    const closesAt = (await rpc(node.httpUrl, 'channels_get', [bobChannel.id])).closesAt;
    await waitFor(async () => (await claimed(bobChannel)) === perHop, { timeout: 60_000, what: 'Bob to claim when back' });
    assert.ok((await api.query.system.number()).toNumber() <= closesAt, 'inside the challenge period');

    // After the challenge period anyone finalizes; the client gets the rest and its storage deposits back.
    const free = async () => (await api.query.system.account(dave.address)).data.free.toBigInt();
    const current = await Promise.all(channels.map((c) => rpc(node.httpUrl, 'channels_get', [c.id])));
    await waitFor(async () => (await api.query.system.number()).toNumber() >= closesAt, { timeout: 120_000, what: 'the challenge period to end' });
    const before = await free();
    const alice = new Keyring({ type: 'sr25519' }).addFromUri('//Alice');
    await sendAndFinalize(api, api.tx.utility.batchAll(current.map((c) => api.tx.paymentChannels.finalize(c.id))), alice);
    const refund = current.reduce((acc, c) => acc + BigInt(c.deposit) - BigInt(c.claimed) + BigInt(c.storageDeposit), 0n);
    assert.equal(await free(), before + refund, 'the rest of every deposit, and the storage deposits, went back');
    const holds = (await api.query.balances.holds(dave.address)).filter((h) => h.id.toHuman().PaymentChannels);
    assert.equal(holds.length, 0, 'nothing is held for channels any more');
    assert.ok(nodes.Bob.proc.events().some((e) => e.event === 'channel_claim' && e.closing === true), 'Bob claimed the closing channel');

    // On-chain transactions: 3 opens, 3 claims, 3 close requests and 3 finalizations (here
    // batched into one each) for all the passes, against one payment per pass.
    const generated = BigInt(got.usage.completion_tokens);
    console.log(`# channels: 12 transactions for ${generated} tokens (${passes} paid passes); per 1,000 tokens: 12 + 3 claims per claim period, against ${3n * 1000n} payments`);
    await gateway.kill('SIGTERM');
  }, dump));

  test('pricing agents balance the shards and settle at the prices the pricing rules predict', withLogs(async () => {
    // A second registration of the same file, so that only the five agents serve it.
    const reg = await worker(args('model', 'register', '--file', MODEL_FILE, '--name', 'smollm2-agents', '--shard-size', '10'), { suri: '//Alice' });
    assert.equal(reg.code, 0, reg.stderr);
    const model = Number(/registered model (\d+)/.exec(reg.stdout)[1]);
    const UNIT = 1_000_000_000n; // --price-unit 0.001 CPU
    const ALPHA = 0.5;
    const MAX = 10; // --agent-max-price, in units
    const agent = async (name, layers) => {
      const port = await freePort();
      const proc = new WorkerProcess(
        `${name}-agent`,
        args('--base-path', path.join(base, `${name}-agent`), '--log-format', 'json', 'serve', '--model', String(model), '--file', MODEL_FILE,
          '--layers', layers, '--listen', `127.0.0.1:${port}`, '--cost-ms', '20', '--price', '0.001',
          '--agent', '--agent-policy', 'best-response', '--agent-alpha', String(ALPHA), '--price-unit', '0.001',
          '--agent-max-price', String(MAX), '--reprice-every', '1', '--min-price-change', '0.001', '--move-every', '4'),
        { suri: `//${name}` },
      );
      const ready = await proc.waitForEvent({ event: 'serving_inference' }, { timeout: 180_000 });
      return { name, proc, id: ready.node };
    };
    // Unbalanced at equal prices: three nodes on the first shard, one on each other.
    // All start together, so none moves before the others are on the market.
    const agents = await Promise.all([['Bob', '0..10'], ['Charlie', '0..10'], ['Dave', '0..10'], ['Eve', '10..20'], ['Ferdie', '20..30']]
      .map(([name, layers]) => agent(name, layers)));
    const ids = new Set(agents.map((a) => a.id));

    // The chain's view: each agent's layers and price.
    const market = async () => {
      const seen = new Map();
      for (let shard = 0; shard < 3; shard++) {
        for (const n of await rpc(node.httpUrl, 'registry_shardNodes', [model, shard])) {
          if (ids.has(n.id)) seen.set(n.id, { shard: n.layers.start / 10, price: BigInt(n.price), serving: n.serving });
        }
      }
      return seen;
    };
    const units = (p) => Number(p) / Number(UNIT);
    // Lambert's W (principal branch, z >= 0) by Newton's method: an independent reference.
    const lambertW = (z) => {
      let w = Math.log1p(z);
      for (let i = 0; i < 100; i++) w -= (w * Math.exp(w) - z) / (Math.exp(w) * (w + 1));
      return w;
    };
    // Best response to one equal-cost rival at price q: (1 + W(e^{alpha q - 1})) / alpha.
    const bestResponse = (q) => (1 + lambertW(Math.exp(ALPHA * q - 1))) / ALPHA;

    let settled = null;
    let stable = 0;
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 3000));
      const m = await market();
      const byShard = [[], [], []];
      for (const [id, v] of m) byShard[v.shard].push({ id, ...v });
      const counts = byShard.map((s) => s.length);
      const balanced = [...counts].sort().join() === '1,2,2';
      const priced = byShard.every((s) =>
        s.length === 1 ? units(s[0].price) === MAX : s.every((n, i) => Math.abs(units(n.price) - bestResponse(units(s[1 - i].price))) <= 0.002 * units(n.price)));
      if (balanced && priced && m.size === 5) {
        stable += 1;
        settled = byShard;
        if (stable >= 3) break;
      } else {
        stable = 0;
      }
    }
    assert.ok(settled && stable >= 3, `the agents did not settle: ${JSON.stringify([...(await market())].map(([id, v]) => [id, v.shard, String(v.price)]))}`);

    // Moves: nodes left the crowded shard, each for a larger share, and nobody wants to move
    // now (equal costs: the shares are head counts, so counts differing by at most one).
    const moves = agents.flatMap((a) => a.proc.events().filter((e) => e.event === 'agent_move'));
    assert.ok(moves.length >= 1, 'at least one agent moved');
    for (const m of moves) assert.ok(m.share > m.current_share, JSON.stringify(m));
    // Prices: the closed form of two equal nodes, 2 / (alpha (2 - 1)) = 4 units, and the
    // ceiling for a node alone.
    for (const shard of settled) {
      for (const n of shard) {
        const expected = shard.length === 1 ? MAX : 2 / (ALPHA * (2 - 1));
        assert.ok(Math.abs(units(n.price) - expected) <= 0.01 * expected, `node ${n.id}: ${units(n.price)} vs ${expected}`);
      }
    }
    // The route prices what the rules predict: its nodes' prices sum to the route's total.
    const route = await rpc(node.httpUrl, 'registry_route', [model, ALPHA]);
    const m = await market();
    const sum = route.nodes.reduce((acc, id) => acc + m.get(id).price, 0n);
    assert.equal(BigInt(route.totalPrice), sum);
    assert.ok(Math.abs(units(sum) - (4 + 4 + MAX)) <= 0.01 * (4 + 4 + MAX), `route price ${units(sum)} units`);
    // Every agent logged its decisions with their numbers.
    for (const a of agents) {
      const reprices = a.proc.events().filter((e) => e.event === 'agent_reprice');
      assert.ok(reprices.length >= 1, `${a.name} re-priced`);
      assert.ok(reprices.every((e) => typeof e.probability === 'number' && typeof e.gradient === 'number'));
    }
    // A session opened on a node that moved still generates on the new layers.
    const generated = await worker(clientArgs('infer', '--model', String(model), '--file', MODEL_FILE, '--max-tokens', '8', '--chat', PROMPTS[0], '--json'), CLIENT);
    assert.equal(generated.code, 0, generated.stderr);
    assert.deepEqual(JSON.parse(generated.stdout).tokens, (await local(PROMPTS[0], 8)).tokens);
    for (const a of agents) await a.proc.kill('SIGTERM');
  }, dump));

  const keyOf = (name) => new Keyring({ type: 'sr25519' }).addFromUri(`//${name}`).address;
});
