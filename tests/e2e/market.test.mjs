// Markets and SLA escrow on a `--dev` node.
//
// Ferdie opens the market of shard 0 of a model with a fixed listing fee; Bob, Charlie and Dave
// list inference nodes asking 5, 7 and 9 CPU per unit. Eve buys 3 units with a maximum of 10:
// Bob's node wins the reverse-Vickrey auction and, after accepting, completing and the challenge
// window, is paid 7 per unit. A second sale goes to Charlie (at 9, Dave's ask), who accepts and
// never delivers: after the deadline Eve is refunded and gets the penalty from Charlie's
// collateral. Over the whole run, every account's free-balance change equals what the events
// (fees, deposits, listing fees, escrow, payouts, refunds, penalties) say, to the plank.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';

import {
  bestNumber,
  connectApi,
  disconnectAll,
  eventsBetween,
  rpc,
  rpcRaw,
  sendAndFinalize,
  startNode,
  stopAllNodes,
  waitFor,
  withLogs,
} from './lib/node.mjs';

const UNITS = 10n ** 12n;
const MIN_COLLATERAL = 100n * UNITS;
const LISTING_FEE = 1n * UNITS;
const PENALTY = 20n * UNITS;
const UNITS_OF_WORK = 3;

describe('markets and SLA escrow on a dev node', { timeout: 900_000 }, () => {
  let node;
  let api;
  let k; // keyring pairs by name
  let model;
  let market;
  let startHash;
  let endHash;
  const nodeOf = {}; // seller name -> node id
  const ownerOfNode = {}; // node id -> address
  const agreements = {}; // 'paid' | 'expired' -> agreement id

  before(async () => {
    await cryptoWaitReady();
    node = await startNode({ name: 'e2e-market', extraArgs: ['--dev', '--tmp'] });
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

  /** An address in the chain's SS58 format, as the API renders account ids. */
  const addr = (who) => api.createType('AccountId', who).toString();

  const eventOf = (events, section, method) =>
    events.find(({ event }) => event.section === section && event.method === method)?.event;

  async function waitForBlock(n, what) {
    await waitFor(async () => (await bestNumber(node.httpUrl)) >= n, {
      timeout: (n - (await bestNumber(node.httpUrl)) + 10) * 3_000 + 60_000,
      interval: 1_000,
      what,
    });
  }

  test(
    'setup: a model and three inference nodes on its first shard',
    withLogs(async () => {
      model = (await api.query.registry.nextModelId()).toNumber();
      await sendAndFinalize(api, api.tx.registry.registerModel('tiny-8', 8, 2, `0x${'cd'.repeat(32)}`), k.alice);
      await Promise.all(
        ['bob', 'charlie', 'dave'].map(async (who, i) => {
          const { events } = await sendAndFinalize(
            api,
            api.tx.registry.registerInferenceNode(model, { start: 0, end: 2 }, 10, 1, `http://127.0.0.1:${7100 + i}`, MIN_COLLATERAL),
            k[who],
          );
          const registered = eventOf(events, 'registry', 'InferenceNodeRegistered');
          nodeOf[who] = registered.data.node.toNumber();
          ownerOfNode[nodeOf[who]] = addr(k[who].address);
        }),
      );
      startHash = await api.rpc.chain.getFinalizedHead();
    }),
  );

  test(
    'the lowest ask wins, is paid the second-lowest after the challenge window; the owner gets the listing fees',
    withLogs(async () => {
      const opened = await sendAndFinalize(
        api,
        api.tx.market.openMarket({ LayerShard: { model, shard: 0 } }, { FixedFee: { fee: LISTING_FEE } }),
        k.ferdie,
      );
      market = eventOf(opened.events, 'market', 'MarketOpened').data.market.toNumber();

      const asks = { bob: 5n * UNITS, charlie: 7n * UNITS, dave: 9n * UNITS };
      for (const who of ['bob', 'charlie', 'dave']) {
        const { events } = await sendAndFinalize(api, api.tx.market.list(market, nodeOf[who], asks[who], LISTING_FEE), k[who]);
        const listed = eventOf(events, 'market', 'Listed');
        assert.equal(listed.data.fee.toBigInt(), LISTING_FEE, `${who} paid the listing fee`);
      }
      const listings = await api.query.market.listings(market);
      assert.deepEqual(
        listings.map((l) => [l.node.toNumber(), l.ask.toBigInt()]),
        [
          [nodeOf.bob, asks.bob],
          [nodeOf.charlie, asks.charlie],
          [nodeOf.dave, asks.dave],
        ],
      );

      const terms = { units: UNITS_OF_WORK, maxLatencyMs: 500, duration: 60, penalty: PENALTY };
      // What a buyer polls first: the listings in price order, and the quote of its buy (the
      // buy's own checks, run without writing; the address in the generic SS58 format too).
      const byPrice = await rpc(node.httpUrl, 'market_listings', [market]);
      assert.deepEqual(
        byPrice.map((l) => [l.node, BigInt(l.ask)]),
        ['bob', 'charlie', 'dave'].map((w) => [nodeOf[w], asks[w]]),
      );
      const quoteTerms = { units: UNITS_OF_WORK, maxLatencyMs: 500, duration: 60, penalty: PENALTY.toString() };
      const quote = await rpc(node.httpUrl, 'market_quote', [k.eve.address, market, (10n * UNITS).toString(), quoteTerms]);
      assert.deepEqual(
        [quote.node, BigInt(quote.pricePerUnit), BigInt(quote.escrow), BigInt(quote.ownerFee), BigInt(quote.total)],
        [nodeOf.bob, 7n * UNITS, 21n * UNITS, 0n, 21n * UNITS],
      );
      const tooLow = await rpcRaw(node.httpUrl, 'market_quote', [addr(k.eve.address), market, (4n * UNITS).toString(), quoteTerms]);
      assert.equal(tooLow.error?.code, 1030);
      assert.match(tooLow.error.message, /PriceAboveMaximum/);
      const notAnAddress = await rpcRaw(node.httpUrl, 'market_quote', ['eve', market, '1', quoteTerms]);
      assert.equal(notAnAddress.error?.code, 1020);

      const bought = await sendAndFinalize(api, api.tx.market.buy(market, 10n * UNITS, terms), k.eve);
      const sold = eventOf(bought.events, 'market', 'Sold');
      assert.equal(sold.data.node.toNumber(), nodeOf.bob, 'the lowest ask (5) wins');
      assert.equal(sold.data.ask.toBigInt(), asks.bob);
      assert.equal(sold.data.pricePerUnit.toBigInt(), 7n * UNITS, 'paid the second-lowest ask');
      assert.equal(sold.data.ownerFee.toBigInt(), 0n);
      const id = sold.data.agreement.toNumber();
      agreements.paid = id;
      const agreement = (await api.query.market.agreements(id)).unwrap();
      assert.equal(agreement.client.toString(), addr(k.eve.address));
      // The buy paid exactly the quote.
      assert.equal(sold.data.pricePerUnit.toBigInt(), BigInt(quote.pricePerUnit));
      assert.equal(agreement.escrow.toBigInt(), BigInt(quote.escrow));
      // Agreements by client, by provider and by the provider's owner.
      for (const filter of [{ client: k.eve.address }, { provider: nodeOf.bob }, { providerOwner: addr(k.bob.address) }]) {
        const page = await rpc(node.httpUrl, 'market_agreements', [filter, null, null]);
        assert.deepEqual(page.items.map((a) => a.id), [id], JSON.stringify(filter));
        assert.equal(page.next, null);
        assert.equal(page.items[0].status, 'proposed');
        assert.equal(BigInt(page.items[0].escrow), 21n * UNITS);
      }
      const none = await rpc(node.httpUrl, 'market_agreements', [{ client: k.alice.address }, null, null]);
      assert.deepEqual(none, { items: [], next: null });
      assert.equal(agreement.escrow.toBigInt(), 21n * UNITS);
      assert.ok(agreement.status.isProposed);
      assert.deepEqual(
        (await api.query.market.listings(market)).map((l) => l.node.toNumber()),
        [nodeOf.charlie, nodeOf.dave],
        'the winner is de-listed',
      );
      const holds = await api.query.balances.holds(k.eve.address);
      const escrowHold = holds.find((h) => h.id.toHuman().Market === 'Escrow');
      assert.equal(escrowHold.amount.toBigInt(), 21n * UNITS, 'the payment is held in escrow');

      await sendAndFinalize(api, api.tx.market.accept(id), k.bob);
      const completed = await sendAndFinalize(api, api.tx.market.complete(id), k.bob);
      const payableAt = eventOf(completed.events, 'market', 'WorkCompleted').data.payableAt.toNumber();
      const window = api.consts.market.challengeWindow.toNumber();
      assert.equal(window, 10);

      // Inside the window the payment is refused.
      await assert.rejects(
        sendAndFinalize(api, api.tx.market.claimPayment(id), k.bob),
        /market\.ChallengeWindowOpen/,
      );
      await waitForBlock(payableAt, 'the end of the challenge window');
      const paid = await sendAndFinalize(api, api.tx.market.claimPayment(id), k.bob);
      const payout = eventOf(paid.events, 'market', 'ProviderPaid');
      assert.equal(payout.data.to.toString(), addr(k.bob.address));
      assert.equal(payout.data.amount.toBigInt(), 21n * UNITS, '7 per unit for 3 units');
      assert.ok((await api.query.market.agreements(id)).isNone, 'a settled agreement is removed');
      // Paying twice is refused.
      await assert.rejects(sendAndFinalize(api, api.tx.market.claimPayment(id), k.bob), /market\.UnknownAgreement/);
    }),
  );

  test(
    'a missed deadline refunds the client and slashes the penalty from the provider',
    withLogs(async () => {
      // Charlie and Dave heartbeat so that they still serve.
      await Promise.all(
        ['charlie', 'dave'].map((who) => sendAndFinalize(api, api.tx.registry.heartbeat(nodeOf[who]), k[who])),
      );
      const collateralBefore = (await api.query.registry.nodes(nodeOf.charlie)).unwrap().collateral.toBigInt();
      const terms = { units: UNITS_OF_WORK, maxLatencyMs: 500, duration: 15, penalty: PENALTY };
      const bought = await sendAndFinalize(api, api.tx.market.buy(market, 10n * UNITS, terms), k.eve);
      const sold = eventOf(bought.events, 'market', 'Sold');
      assert.equal(sold.data.node.toNumber(), nodeOf.charlie);
      assert.equal(sold.data.pricePerUnit.toBigInt(), 9n * UNITS);
      const id = sold.data.agreement.toNumber();
      agreements.expired = id;
      await sendAndFinalize(api, api.tx.market.accept(id), k.charlie);
      const deadline = (await api.query.market.agreements(id)).unwrap().deadline.toNumber();

      await assert.rejects(sendAndFinalize(api, api.tx.market.claimRefund(id), k.eve), /market\.DeadlineNotPassed/);
      await waitForBlock(deadline + 1, 'the deadline to pass');
      await assert.rejects(sendAndFinalize(api, api.tx.market.complete(id), k.charlie), /market\.DeadlinePassed/);
      const refunded = await sendAndFinalize(api, api.tx.market.claimRefund(id), k.eve);
      endHash = refunded.blockHash;

      const expired = eventOf(refunded.events, 'market', 'AgreementExpired');
      assert.equal(expired.data.refunded.toBigInt(), 27n * UNITS);
      assert.equal(expired.data.penalty.toBigInt(), PENALTY);
      assert.equal(expired.data.compensation.toBigInt(), PENALTY - PENALTY / 5n, 'a fifth of the slash is burnt');
      const slashed = eventOf(refunded.events, 'registry', 'Slashed');
      assert.equal(slashed.data.node.toNumber(), nodeOf.charlie);
      assert.equal(slashed.data.amount.toBigInt(), PENALTY);
      assert.equal(slashed.data.burnt.toBigInt(), PENALTY / 5n);
      assert.equal(slashed.data.beneficiary.unwrap().toString(), addr(k.eve.address));
      assert.ok(slashed.data.reason.isMissedDeadline);
      const collateralAfter = (await api.query.registry.nodes(nodeOf.charlie)).unwrap().collateral.toBigInt();
      assert.equal(collateralAfter, collateralBefore - PENALTY);
      const charlieHold = (await api.query.balances.holds(k.charlie.address)).find(
        (h) => h.id.toHuman().Registry === 'NodeCollateral',
      );
      assert.equal(charlieHold.amount.toBigInt(), collateralAfter, 'the held collateral shrank by the penalty');
      assert.equal(
        (await api.query.balances.holds(k.eve.address)).filter((h) => h.id.toHuman().Market === 'Escrow').length,
        0,
        'no escrow left on hold',
      );
      assert.ok((await api.query.market.agreements(id)).isNone, 'a settled agreement is removed');
      await assert.rejects(sendAndFinalize(api, api.tx.market.claimRefund(id), k.eve), /market\.UnknownAgreement/);
    }),
  );

  test(
    "every account's balance change matches the events exactly",
    withLogs(async () => {
      const tracked = ['bob', 'charlie', 'dave', 'eve', 'ferdie'].map((w) => addr(k[w].address));
      const expected = Object.fromEntries(tracked.map((a) => [a, 0n]));
      const add = (who, amount) => {
        const a = addr(who);
        if (a in expected) expected[a] += amount;
      };
      const marketOwner = {};
      const clientOf = {};
      let listingFees = 0n;
      const seen = new Set();

      for (const { number, event } of await eventsBetween(api, startHash, endHash)) {
        const d = event.data;
        seen.add(`${number}:${event.section}.${event.method}`);
        switch (`${event.section}.${event.method}`) {
          case 'transactionPayment.TransactionFeePaid':
            add(d.who, -d.actualFee.toBigInt());
            break;
          case 'market.MarketOpened':
            marketOwner[d.market.toNumber()] = d.owner.toString();
            add(d.owner, -d.deposit.toBigInt());
            break;
          case 'market.Listed':
            add(ownerOfNode[d.node.toNumber()], -d.fee.toBigInt());
            add(marketOwner[d.market.toNumber()], d.fee.toBigInt());
            listingFees += d.fee.toBigInt();
            break;
          case 'market.AgreementOpened':
            clientOf[d.agreement.toNumber()] = d.client.toString();
            add(d.client, -d.escrow.toBigInt());
            break;
          case 'market.Sold':
            add(clientOf[d.agreement.toNumber()], -d.ownerFee.toBigInt());
            add(marketOwner[d.market.toNumber()], d.ownerFee.toBigInt());
            break;
          case 'market.ProviderPaid':
            add(d.to, d.amount.toBigInt());
            break;
          case 'market.AgreementExpired':
          case 'market.WorkRejected':
            add(clientOf[d.agreement.toNumber()], d.refunded.toBigInt() + d.compensation.toBigInt());
            assert.equal(d.paid?.toBigInt() ?? 0n, 0n, 'inference agreements pay nothing on expiry');
            break;
          case 'market.AgreementCancelled':
            add(clientOf[d.agreement.toNumber()], d.refunded.toBigInt());
            break;
          default:
        }
      }
      assert.equal(listingFees, 3n * LISTING_FEE, `the owner received three listing fees (${[...seen].join(' ')})`);

      for (const who of tracked) {
        const before = (await api.query.system.account.at(startHash, who)).data.free.toBigInt();
        const afterwards = (await api.query.system.account.at(endHash, who)).data.free.toBigInt();
        assert.equal(afterwards - before, expected[who], `balance change of ${who}`);
      }
      // Spelled out for the two sales: Bob was paid 21, Eve got 27 back plus the 20 penalty
      // less the burnt fifth.
      const eve = addr(k.eve.address);
      const eveFees = expected[eve] - (-21n * UNITS - 27n * UNITS + 27n * UNITS + PENALTY - PENALTY / 5n);
      assert.ok(eveFees < 0n && eveFees > -UNITS, 'Eve paid only transaction fees besides the sales');
    }),
  );
});
