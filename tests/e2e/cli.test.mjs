// Command-line behaviour of the node binary (no long-running node needed).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { runNodeBin } from './lib/node.mjs';

const show = (r) => `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

describe('node CLI', { timeout: 300_000 }, () => {
  let tmp;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'appchain-cli-'));
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('a missing chain spec file is an error naming the file', { timeout: 60_000 }, async () => {
    const r = await runNodeBin(['--chain', '/nonexistent/spec.json', '--base-path', tmp, '--no-prometheus']);
    assert.notEqual(r.code, 0, show(r));
    assert.equal(r.signal, null, show(r));
    assert.match(r.stdout + r.stderr, /\/nonexistent\/spec\.json/, show(r));
  });

  test('an unknown flag is rejected by clap', { timeout: 60_000 }, async () => {
    const r = await runNodeBin(['--no-such-flag']);
    assert.notEqual(r.code, 0, show(r));
    assert.equal(r.code, 2, `clap usage errors exit with 2\n${show(r)}`);
    assert.match(r.stderr, /unexpected argument '--no-such-flag'/, show(r));
  });

  test('--help succeeds and lists the subcommands', { timeout: 60_000 }, async () => {
    const r = await runNodeBin(['--help']);
    assert.equal(r.code, 0, show(r));
    for (const sub of ['benchmark', 'key', 'build-spec', 'purge-chain']) {
      assert.match(r.stdout, new RegExp(`^\\s+${sub}\\b`, 'm'), `'${sub}' not listed\n${show(r)}`);
    }
    for (const flag of ['--dev', '--chain', '--validator', '--rpc-port']) {
      assert.ok(r.stdout.includes(flag), `'${flag}' not in --help\n${show(r)}`);
    }
  });

  test('build-spec --chain local prints a spec with the CPU token', { timeout: 120_000 }, async () => {
    const r = await runNodeBin(['build-spec', '--chain', 'local', '--disable-default-bootnode'], { timeout: 110_000 });
    assert.equal(r.code, 0, show(r));
    let spec;
    assert.doesNotThrow(() => {
      spec = JSON.parse(r.stdout);
    }, `stdout is not JSON\n${show(r)}`);
    assert.equal(spec.properties?.tokenSymbol, 'CPU', JSON.stringify(spec.properties));
    assert.equal(spec.properties?.tokenDecimals, 12);
    assert.equal(spec.properties?.ss58Format, 4242);
    assert.equal(spec.chainType, 'Local');
    assert.ok(spec.genesis, 'spec has a genesis section');
  });

  test('build-spec --chain dev differs from local', { timeout: 120_000 }, async () => {
    const r = await runNodeBin(['build-spec', '--chain', 'dev', '--disable-default-bootnode'], { timeout: 110_000 });
    assert.equal(r.code, 0, show(r));
    const spec = JSON.parse(r.stdout);
    assert.equal(spec.chainType, 'Development');
    assert.equal(spec.properties?.tokenSymbol, 'CPU');
  });

  test('key inspect derives the well-known //Alice key', { timeout: 60_000 }, async () => {
    const r = await runNodeBin(['key', 'inspect', '--scheme', 'Sr25519', '//Alice']);
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stdout,
      /0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d/,
      `sr25519 public key of //Alice\n${show(r)}`,
    );
  });
});
