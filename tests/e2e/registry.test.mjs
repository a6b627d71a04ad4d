// The compute registry on a `--dev` node: a model of 8 layers in shards of 2, six inference
// nodes with different ranges, costs and prices. `registry_route` must return the route a
// brute-force enumeration (written here, independently of the Rust code) finds for alpha 0,
// 0.5 and 1; `registry_paretoRoutes` the brute-force frontier; `registry_shardNodes` exactly the
// nodes whose range overlaps each shard. A node that stops heartbeating leaves the route.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, encodeAddress } from '@polkadot/util-crypto';

import {
  bestNumber,
  connectApi,
  disconnectAll,
  rpc,
  rpcRaw,
  sendAndFinalize,
  startNode,
  stopAllNodes,
  waitFor,
  withLogs,
} from './lib/node.mjs';

const LAYERS = 8;
const SHARD_SIZE = 2;
const UNITS = 10n ** 12n;
const MIN_COLLATERAL = 100n * UNITS;

// [start, end), cost in ms, price in plancks. Three complete routes exist:
//   a+b (price 20, cost 80), c+d+e (price 85, cost 20), f alone (price 15, cost 100);
// alpha 0 picks c+d+e, alpha 0.5 picks a+b (50 vs 52.5 vs 57.5), alpha 1 picks f.
const NODES = {
  a: { layers: [0, 4], cost: 40, price: 10n },
  b: { layers: [4, 8], cost: 40, price: 10n },
  c: { layers: [0, 2], cost: 5, price: 30n },
  d: { layers: [2, 6], cost: 10, price: 25n },
  e: { layers: [6, 8], cost: 5, price: 30n },
  f: { layers: [0, 8], cost: 100, price: 15n },
};

const PPB = 1_000_000_000n;
const weightOf = (alphaPpb, price, cost) => alphaPpb * price + (PPB - alphaPpb) * BigInt(cost);
const lexLess = (x, y) => {
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] < y[i];
  return x.length < y.length;
};

/** Every route from layer 0 to `m` over `nodes` ({id, start, end, cost, price}). */
function allRoutes(m, nodes) {
  const out = [];
  const walk = (at, path) => {
    if (at === m) {
      out.push({
        nodes: path.map((n) => n.id),
        price: path.reduce((s, n) => s + n.price, 0n),
        cost: path.reduce((s, n) => s + BigInt(n.cost), 0n),
      });
      return;
    }
    for (const n of nodes) if (n.start === at) walk(n.end, [...path, n]);
  };
  walk(0, []);
  return out;
}

function bruteBest(m, nodes, alphaPpb) {
  let best = null;
  for (const r of allRoutes(m, nodes)) {
    const w = alphaPpb * r.price + (PPB - alphaPpb) * r.cost;
    if (!best || w < best.w || (w === best.w && lexLess(r.nodes, best.nodes))) best = { ...r, w };
  }
  return best;
}

function bruteFrontier(m, nodes) {
  const routes = allRoutes(m, nodes);
  const dominated = (r) =>
    routes.some((o) => o.price <= r.price && o.cost <= r.cost && (o.price < r.price || o.cost < r.cost));
  const byTotals = new Map();
  for (const r of routes.filter((r) => !dominated(r))) {
    const key = `${r.price}/${r.cost}`;
    const kept = byTotals.get(key);
    if (!kept || lexLess(r.nodes, kept.nodes)) byTotals.set(key, r);
  }
  return [...byTotals.values()].sort((x, y) => (x.price < y.price ? -1 : x.price > y.price ? 1 : 0));
}

describe('compute registry on a dev node', { timeout: 600_000 }, () => {
  let node;
  let api;
  let alice;
  let model;
  const ids = {}; // letter -> node id

  before(async () => {
    await cryptoWaitReady();
    node = await startNode({ name: 'e2e-registry', extraArgs: ['--dev', '--tmp'] });
    api = await connectApi(node.wsUrl);
    alice = new Keyring({ type: 'sr25519' }).addFromUri('//Alice');
  });

  after(async () => {
    await disconnectAll();
    await stopAllNodes();
  });

  /** On-chain nodes of the model as routing input, optionally only those serving. */
  async function chainNodes({ servingOnly }) {
    const out = [];
    for (let s = 0; s < LAYERS / SHARD_SIZE; s++) {
      for (const n of await rpc(node.httpUrl, 'registry_shardNodes', [model, s])) {
        if (servingOnly && !n.serving) continue;
        if (out.some((o) => o.id === n.id)) continue;
        out.push({ id: n.id, start: n.layers.start, end: n.layers.end, cost: n.costMs, price: BigInt(n.price) });
      }
    }
    return out;
  }

  test(
    'registering a model and six nodes holds deposit and collateral',
    withLogs(async () => {
      model = (await api.query.registry.nextModelId()).toNumber();
      const digest = `0x${'ab'.repeat(32)}`;
      const { events: modelEvents } = await sendAndFinalize(
        api,
        api.tx.registry.registerModel('tiny-8', LAYERS, SHARD_SIZE, digest),
        alice,
      );
      const registered = modelEvents.find(({ event }) => api.events.registry.ModelRegistered.is(event));
      assert.ok(registered, 'ModelRegistered emitted');
      assert.equal(registered.event.data.model.toNumber(), model);

      const firstNode = (await api.query.registry.nextNodeId()).toNumber();
      const letters = Object.keys(NODES);
      const calls = letters.map((l, i) =>
        api.tx.registry.registerInferenceNode(
          model,
          { start: NODES[l].layers[0], end: NODES[l].layers[1] },
          NODES[l].cost,
          NODES[l].price,
          `http://127.0.0.1:${7000 + i}`,
          MIN_COLLATERAL,
        ),
      );
      const { events } = await sendAndFinalize(api, api.tx.utility.batchAll(calls), alice);
      const nodeEvents = events.filter(({ event }) => api.events.registry.InferenceNodeRegistered.is(event));
      assert.equal(nodeEvents.length, 6);
      letters.forEach((l, i) => {
        ids[l] = firstNode + i;
        assert.equal(nodeEvents[i].event.data.node.toNumber(), ids[l]);
      });

      const held = await api.query.balances.holds(alice.address);
      const byReason = Object.fromEntries(held.map((h) => [h.id.toHuman().Registry, h.amount.toBigInt()]));
      assert.equal(byReason.NodeCollateral, 6n * MIN_COLLATERAL);
      assert.equal(byReason.ModelDeposit, 10n * UNITS);
    }),
  );

  test(
    'registry_shardNodes lists exactly the nodes overlapping each shard',
    withLogs(async () => {
      for (let s = 0; s < LAYERS / SHARD_SIZE; s++) {
        const listed = (await rpc(node.httpUrl, 'registry_shardNodes', [model, s])).map((n) => n.id);
        const lo = s * SHARD_SIZE;
        const hi = lo + SHARD_SIZE;
        const expected = Object.keys(NODES)
          .filter((l) => NODES[l].layers[0] < hi && NODES[l].layers[1] > lo)
          .map((l) => ids[l])
          .sort((x, y) => x - y);
        assert.deepEqual(listed, expected, `shard ${s}`);
      }
      const one = (await rpc(node.httpUrl, 'registry_shardNodes', [model, 1])).find((n) => n.id === ids.d);
      assert.deepEqual(one.layers, { start: 2, end: 6 });
      assert.equal(one.costMs, 10);
      assert.equal(one.price, '25');
      assert.equal(one.endpoint, 'http://127.0.0.1:7003');
      assert.equal(one.collateral, MIN_COLLATERAL.toString());
      assert.equal(one.serving, true);
      assert.equal(one.owner, encodeAddress(alice.publicKey, 4242), 'owner as SS58 with the chain prefix');

      // A shard past the model and an unknown model are typed errors.
      const past = await rpcRaw(node.httpUrl, 'registry_shardNodes', [model, LAYERS / SHARD_SIZE]);
      assert.equal(past.error?.code, 1002);
      const unknown = await rpcRaw(node.httpUrl, 'registry_shardNodes', [model + 100, 0]);
      assert.equal(unknown.error?.code, 1001);
      // An explicit block hash is honoured: at genesis the model did not exist.
      const genesis = await rpc(node.httpUrl, 'chain_getBlockHash', [0]);
      const atGenesis = await rpcRaw(node.httpUrl, 'registry_shardNodes', [model, 0, genesis]);
      assert.equal(atGenesis.error?.code, 1001);
    }),
  );

  test(
    'registry_route equals the brute force for alpha 0, 0.5 and 1',
    withLogs(async () => {
      const nodes = await chainNodes({ servingOnly: true });
      assert.equal(nodes.length, 6);
      const expectedRoutes = { 0: [ids.c, ids.d, ids.e], 0.5: [ids.a, ids.b], 1: [ids.f] };
      for (const alpha of [0, 0.5, 1]) {
        const alphaPpb = BigInt(Math.round(alpha * 1e9));
        const got = await rpc(node.httpUrl, 'registry_route', [model, alpha]);
        const want = bruteBest(LAYERS, nodes, alphaPpb);
        assert.deepEqual(got.nodes, want.nodes, `alpha ${alpha}`);
        assert.deepEqual(got.nodes, expectedRoutes[alpha], `alpha ${alpha} (hand-checked)`);
        assert.equal(BigInt(got.totalPrice), want.price);
        assert.equal(BigInt(got.totalCost), want.cost);
        assert.equal(BigInt(got.weight), want.w);
      }
      const frontier = await rpc(node.httpUrl, 'registry_paretoRoutes', [model]);
      assert.deepEqual(
        frontier.map((r) => [r.nodes, BigInt(r.totalPrice), BigInt(r.totalCost)]),
        bruteFrontier(LAYERS, nodes).map((r) => [r.nodes, r.price, r.cost]),
      );
      assert.equal(frontier.length, 3);
      const bad = await rpcRaw(node.httpUrl, 'registry_route', [model, 1.5]);
      assert.equal(bad.error?.code, 1005);
    }),
  );

  test(
    'a node that stops heartbeating leaves the route',
    withLogs(async () => {
      const interval = api.consts.registry.heartbeatInterval.toNumber();
      const timeout = api.consts.registry.heartbeatTimeout.toNumber();
      const keepAlive = ['a', 'b', 'c', 'd', 'e'].map((l) => ids[l]);
      const silent = ids.f;
      let lastBeat = (await api.query.registry.nodes(keepAlive[0])).unwrap().lastHeartbeat.toNumber();

      const gone = await waitFor(
        async () => {
          const best = await bestNumber(node.httpUrl);
          if (best >= lastBeat + interval + 1) {
            const { events } = await sendAndFinalize(
              api,
              api.tx.utility.batchAll(keepAlive.map((n) => api.tx.registry.heartbeat(n))),
              alice,
            );
            const beats = events.filter(({ event }) => api.events.registry.Heartbeat.is(event));
            assert.equal(beats.length, keepAlive.length);
            lastBeat = (await api.query.registry.nodes(keepAlive[0])).unwrap().lastHeartbeat.toNumber();
          }
          const route = await rpc(node.httpUrl, 'registry_route', [model, 1]);
          return route.nodes.includes(silent) ? null : route;
        },
        { timeout: (timeout + 3 * interval) * 3_000 + 60_000, interval: 2_000, what: `node ${silent} to time out` },
      );

      const serving = await chainNodes({ servingOnly: true });
      assert.deepEqual(
        serving.map((n) => n.id).sort((x, y) => x - y),
        keepAlive,
      );
      assert.deepEqual(gone.nodes, bruteBest(LAYERS, serving, PPB).nodes);
      assert.deepEqual(gone.nodes, [ids.a, ids.b]);
      const listed = (await rpc(node.httpUrl, 'registry_shardNodes', [model, 0])).find((n) => n.id === silent);
      assert.equal(listed.serving, false, 'still listed, no longer serving');
    }),
  );
});
