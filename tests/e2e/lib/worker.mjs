// Helpers to drive the real `appchain-worker` binary from the end-to-end tests.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

import { releaseBin, runCommand, waitFor } from './node.mjs';

/** ${WORKER_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}/release/appchain-worker} */
export const WORKER_BIN = releaseBin('WORKER_BIN', 'appchain-worker');

export function assertWorkerBin() {
  if (!existsSync(WORKER_BIN)) {
    throw new Error(`worker binary not found: ${WORKER_BIN}\nbuild it with \`cargo build --release -p appchain-worker\``);
  }
}

/** Runs a one-shot worker command to completion: {code, signal, stdout, stderr}. */
export function worker(args, { suri, timeout = 120_000, env = {} } = {}) {
  assertWorkerBin();
  return runCommand(WORKER_BIN, args, {
    timeout,
    env: { ...(suri === undefined ? {} : { APPCHAIN_SURI: suri }), ...env },
  });
}

const processes = new Set();
const everyProcess = [];

/** A long-running `appchain-worker` process (run, job watch) whose output is collected. */
export class WorkerProcess {
  constructor(name, args, { suri, env = {} } = {}) {
    assertWorkerBin();
    this.name = name;
    this.stdout = '';
    this.stderr = '';
    this.exited = null;
    this.child = spawn(WORKER_BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(suri === undefined ? {} : { APPCHAIN_SURI: suri }), ...env },
    });
    processes.add(this);
    everyProcess.push(this);
    this.child.stdout.on('data', (d) => (this.stdout += d.toString()));
    this.child.stderr.on('data', (d) => (this.stderr += d.toString()));
    this.exitPromise = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        processes.delete(this);
        resolve(this.exited);
      });
    });
  }

  get pid() {
    return this.child.pid;
  }

  /** Waits for a line of output (stdout or stderr) matching `regex`; returns the match. */
  async waitForLine(regex, { timeout = 120_000 } = {}) {
    let match = null;
    await waitFor(
      () => {
        match = regex.exec(this.stdout) || regex.exec(this.stderr);
        if (!match && this.exited) {
          throw Object.assign(new Error(`${this.name} exited (${JSON.stringify(this.exited)}) before ${regex}`), { fatal: true });
        }
        return match !== null;
      },
      { timeout, interval: 100, what: `${this.name}: ${regex}` },
    ).catch((e) => {
      throw new Error(`${e.message}\n---- ${this.name} ----\n${this.stderr.slice(-4000)}\n${this.stdout.slice(-2000)}`);
    });
    return match;
  }

  /**
   * The JSON log events written so far (a worker started with `--log-format json`): every
   * stderr line that parses as an object with an `event` field.
   */
  events() {
    const out = [];
    for (const line of this.stderr.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const parsed = JSON.parse(line);
        if (typeof parsed.event === 'string') out.push(parsed);
      } catch {
        // A line still being written.
      }
    }
    return out;
  }

  /**
   * Waits for a JSON log event whose fields include all of `fields` (e.g.
   * `{ event: 'tx_submitted', tx: 'commit' }`); returns the event.
   */
  async waitForEvent(fields, { timeout = 120_000 } = {}) {
    const matches = (e) => Object.entries(fields).every(([k, v]) => e[k] === v);
    let found = null;
    await waitFor(
      () => {
        found = this.events().find(matches) ?? null;
        if (!found && this.exited) {
          throw Object.assign(new Error(`${this.name} exited (${JSON.stringify(this.exited)}) before ${JSON.stringify(fields)}`), { fatal: true });
        }
        return found !== null;
      },
      { timeout, interval: 100, what: `${this.name}: ${JSON.stringify(fields)}` },
    ).catch((e) => {
      throw new Error(`${e.message}\n---- ${this.name} ----\n${this.stderr.slice(-4000)}\n${this.stdout.slice(-2000)}`);
    });
    return found;
  }

  /** Peak resident memory so far (VmHWM), in bytes. */
  peakRss() {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]);
    return kb * 1024;
  }

  kill(signal = 'SIGKILL') {
    if (!this.exited) this.child.kill(signal);
    return this.exitPromise;
  }
}

/** Kills every worker process still running (use in `after`). */
export async function killAllWorkers() {
  await Promise.all([...processes].map((p) => p.kill('SIGKILL')));
}

/** Prints the output tails of every worker process started so far (on test failure). */
export function dumpWorkerLogs(chars = 3000) {
  for (const p of everyProcess) {
    console.error(`---- ${p.name} (${JSON.stringify(p.exited)}) stderr ----\n${p.stderr.slice(-chars)}`);
    if (p.stdout) console.error(`---- ${p.name} stdout ----\n${p.stdout.slice(-chars)}`);
  }
}
