// The real `bin/nsqd` executable as a child process: --version, --help, flag
// errors, Go flag syntax, options that take effect, and a clean exit on
// SIGTERM/SIGINT that releases the port.
//
// Which Node runs bin/nsqd: this file checks the *Node* CLI (bin/nsqd loads
// adapters/node/nsqd.ts); Bun and Deno have their own entry points.
// - Under Node, `process.execPath` is the Node running the tests (Node 20
//   through tsx, or Node 24 with native type stripping), so the CLI is
//   checked on both Node versions.
// - Under Bun and Deno, `process.execPath` is bun/deno, which must not stand in
//   for Node. We take `npm_node_execpath` (the machine's Node that runs npm,
//   set when the tests run through `npm test`), else `node` from PATH. Under
//   npm, PATH's `node` would be node_modules/.bin/node (Node 24), which is why
//   npm_node_execpath comes first. The test then still exercises the runtime's
//   node:child_process (spawn, pipes, signals) and node:net against the daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NSQD_FLAGS } from '../../core/nsqd/options.ts';
import { runtimeName } from '../helpers/runtime.ts';
import { WireClient } from '../helpers/wire.ts';

const NSQD_BIN = fileURLToPath(new URL('../../bin/nsqd', import.meta.url));
const NODE = runtimeName === 'node' ? process.execPath : process.env.npm_node_execpath || 'node';

/** Node 20 loads the TypeScript sources through tsx: a cold start can take a second or more. */
const START_MS = 20_000;
const EXIT_MS = 10_000;

interface Exit {
  code: number | null;
  signal: string | null;
}

interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** The exit, or an error naming `what` after `ms`. */
  waitExit(ms: number, what: string): Promise<Exit>;
  running(): boolean;
  kill(): void;
}

function launch(args: string[], cwd: string): Proc {
  // HTTP on a kernel-chosen port, so a daemon on the default 4151 elsewhere does not interfere.
  const http = args.some((a) => /^--?http-address/.test(a)) ? [] : ['--http-address=127.0.0.1:0'];
  const child = spawn(NODE, [NSQD_BIN, ...http, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (out += d));
  child.stderr!.on('data', (d: string) => (err += d));
  let done = false;
  // 'close' (not 'exit'): both pipes are drained by then.
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
    child.on('error', (e) => {
      done = true;
      err += `\nspawn error: ${String(e)}`;
      resolve({ code: null, signal: null });
    });
  });
  const p: Proc = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    running: () => !done,
    kill: () => {
      if (!done) child.kill('SIGKILL');
    },
    async waitExit(ms, what) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`[${runtimeName}] timed out after ${ms} ms waiting for ${what}; stdout: ${JSON.stringify(out.slice(-500))} stderr: ${JSON.stringify(err.slice(-500))}`)), ms);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return p;
}

/** A scratch working directory (and --data-path) per test, removed afterwards. */
async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'nsqd-cli-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs bin/nsqd to completion (for commands that exit by themselves). */
async function runToExit(args: string[]): Promise<Exit & { stdout: string; stderr: string }> {
  return withDir(async (dir) => {
    const p = launch(args, dir);
    try {
      const exit = await p.waitExit(START_MS, `\`nsqd ${args.join(' ')}\` to exit`);
      return { ...exit, stdout: p.stdout(), stderr: p.stderr() };
    } finally {
      p.kill();
    }
  });
}

/** A port that was free a moment ago (the kernel's pick for port 0). */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** True if 127.0.0.1:port can be bound right now. */
async function canBind(port: number): Promise<boolean> {
  const srv = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => srv.close(() => resolve()));
  return ok;
}

interface Daemon {
  proc: Proc;
  port: number;
}

/**
 * Starts the daemon with `args(addr)` (addr = "127.0.0.1:<free port>") and waits for its
 * "TCP: listening on" log line. Retries with another port if the one picked was taken
 * meanwhile. The caller must `proc.kill()` in a finally.
 */
async function startDaemon(dir: string, args: (addr: string) => string[]): Promise<Daemon> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const addr = `127.0.0.1:${port}`;
    const proc = launch([...args(addr), `--data-path=${dir}`], dir);
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), START_MS);
      const check = () => {
        if (proc.stderr().includes(`TCP: listening on ${addr}`)) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      proc.child.stderr!.on('data', check);
      proc.exited.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
      check();
    });
    if (ready) return { proc, port };
    const state = proc.running() ? 'still running, killed' : 'exited by itself';
    proc.kill();
    await proc.waitExit(EXIT_MS, 'the failed daemon to go away').catch(() => {});
    if (attempt < 3 && /EADDRINUSE|address already in use/i.test(proc.stderr())) continue;
    throw new Error(`[${runtimeName}] nsqd ${args(addr).join(' ')} did not start listening on ${addr} within ${START_MS} ms` +
      ` (${state}); stderr: ${JSON.stringify(proc.stderr().slice(-1000))}`);
  }
}

/** Connect, PUB, expect OK: the daemon really serves the V2 protocol on `port`. */
async function assertServes(port: number): Promise<void> {
  const c = await WireClient.connect(port);
  try {
    await c.pub('cli_check', 'hello');
  } finally {
    c.destroy();
  }
}

async function identifyResponse(port: number): Promise<Record<string, unknown>> {
  const c = await WireClient.connect(port);
  try {
    const f = await c.identify({ feature_negotiation: true, client_id: 'cli-test', deflate: true, deflate_level: 9 });
    assert.equal(f.type, 0, `IDENTIFY answered with a response frame, got ${f.type} ${f.text}`);
    return JSON.parse(f.text) as Record<string, unknown>;
  } finally {
    c.destroy();
  }
}

test('nsqd --version prints "nsqd v1.3.0 ..." and exits 0', async () => {
  const r = await runToExit(['--version']);
  assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
  assert.match(r.stdout, /^nsqd v1\.3\.0 \S.*\n$/);
  const single = await runToExit(['-version']);
  assert.equal(single.code, 0);
  assert.equal(single.stdout, r.stdout, '-version is the same flag');
});

test('nsqd --help lists every flag with its default and exits 0', async () => {
  const r = await runToExit(['--help']);
  assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
  const text = r.stdout + r.stderr;
  assert.match(text, /^Usage of nsqd:/m);
  for (const f of NSQD_FLAGS) assert.match(text, new RegExp(`^  -${f.name}\\b`, 'm'), `--help lists -${f.name}`);
  for (const [flag, shown] of [
    ['tcp-address string', '(default "0.0.0.0:4150")'],
    ['mem-queue-size int', '(default 10000)'],
    ['max-rdy-count int', '(default 2500)'],
    ['msg-timeout duration', '(default 1m0s)'],
    ['max-msg-timeout duration', '(default 15m0s)'],
    ['output-buffer-timeout duration', '(default 250ms)'],
    ['deflate', '(default true)'],
  ] as const) {
    const at = text.indexOf(`  -${flag}\n`);
    assert.ok(at >= 0, `--help has the line "  -${flag}"`);
    const help = text.slice(at).split('\n')[1] ?? '';
    assert.ok(help.endsWith(shown), `-${flag}: "${help.trim()}" ends with ${shown}`);
  }
  const short = await runToExit(['-h']);
  assert.equal(short.code, 0, '-h exits 0');
  assert.equal(short.stdout + short.stderr, text, '-h prints the same help');
});

test('nsqd with an unknown flag exits 1 with "flag provided but not defined"', async () => {
  for (const args of [['--no-such-flag=1'], ['-no-such-flag'], ['--tcp-address=127.0.0.1:0', '--no-such-flag']]) {
    const r = await runToExit(args);
    assert.equal(r.code, 1, `${args.join(' ')}: exit code (stderr: ${r.stderr})`);
    assert.match(r.stderr, /flag provided but not defined: -no-such-flag/, `${args.join(' ')}: message`);
  }
});

test('nsqd with a bad flag value exits 1 naming the option and the value', async () => {
  const cases: [string[], RegExp[]][] = [
    [['--mem-queue-size=abc'], [/mem-queue-size/, /abc/]],
    [['--max-rdy-count=0'], [/max-rdy-count/, /\b0\b/]],
    [['--msg-timeout=xyz'], [/msg-timeout/, /xyz/]],
    [['--msg-timeout', '10parsecs'], [/msg-timeout/, /10parsecs/]],
    [['--deflate=maybe'], [/deflate/, /maybe/]],
    [['--max-deflate-level=10'], [/max-deflate-level/, /\b10\b/]],
    [['--node-id=1024'], [/node-id/, /\b1024\b/]],
    [['--tcp-address'], [/flag needs an argument/, /tcp-address/]],
  ];
  for (const [args, patterns] of cases) {
    const r = await runToExit(args);
    assert.equal(r.code, 1, `${args.join(' ')}: exit code (stdout: ${r.stdout} stderr: ${r.stderr})`);
    for (const re of patterns) assert.match(r.stderr, re, `${args.join(' ')}: the message names ${re}`);
    assert.doesNotMatch(r.stderr, /^\s+at /m, `${args.join(' ')}: a one-line error, not a stack trace`);
  }
});

test('nsqd exits 1 when its TCP port is taken, and refuses flags it does not support yet', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve, reject) => {
    blocker.once('error', reject);
    blocker.listen(0, '127.0.0.1', resolve);
  });
  try {
    const port = (blocker.address() as net.AddressInfo).port;
    const r = await runToExit([`--tcp-address=127.0.0.1:${port}`]);
    assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
    assert.match(r.stderr, /EADDRINUSE|address already in use/i);
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
  for (const flag of ['--auth-http-address=127.0.0.1:4181', '--tls-cert=/nonexistent.pem']) {
    const r = await runToExit(['--tcp-address=127.0.0.1:0', flag]);
    assert.equal(r.code, 1, `${flag}: exit code (stderr: ${r.stderr})`);
    assert.match(r.stderr, new RegExp(`${flag.slice(0, flag.indexOf('='))}.*not supported`), `${flag}: says it is not supported`);
  }
});

test('nsqd -flag=value syntax: listens there, --max-rdy-count and --msg-timeout take effect', async () => {
  await withDir(async (dir) => {
    let d: Daemon | undefined;
    try {
      d = await startDaemon(dir, (addr) => [`-tcp-address=${addr}`, '--max-rdy-count=5', '--msg-timeout', '1500ms', '-max-deflate-level=3']);
      await assertServes(d.port);

      const info = await identifyResponse(d.port);
      assert.equal(info.max_rdy_count, 5, 'IDENTIFY max_rdy_count');
      assert.equal(info.msg_timeout, 1500, 'IDENTIFY msg_timeout');
      assert.equal(info.max_deflate_level, 3, 'IDENTIFY max_deflate_level');
      assert.equal(info.deflate_level, 3, 'IDENTIFY deflate_level is capped by --max-deflate-level');

      const c = await WireClient.connect(d.port);
      try {
        await c.sub('cli_rdy', 'ch');
        c.write('RDY 5\n');
        await c.expectSilence(100);
        c.write('RDY 6\n');
        await c.expectError('E_INVALID RDY count 6 out of range 0-5');
        await c.expectClose();
      } finally {
        c.destroy();
      }
    } finally {
      d?.proc.kill();
    }
  });
});

test('nsqd --flag value syntax, booleans and Go durations', async () => {
  await withDir(async (dir) => {
    let d: Daemon | undefined;
    try {
      d = await startDaemon(dir, (addr) => ['--tcp-address', addr, '--deflate=false', '--snappy', '--msg-timeout=1m30s', '--max-msg-timeout', '1h0m0s']);
      await assertServes(d.port);
      const info = await identifyResponse(d.port);
      assert.equal(info.msg_timeout, 90_000, 'IDENTIFY msg_timeout from --msg-timeout=1m30s');
      assert.equal(info.max_msg_timeout, 3_600_000, 'IDENTIFY max_msg_timeout from --max-msg-timeout 1h0m0s');
      assert.equal(info.deflate, false, 'deflate not negotiated with --deflate=false');
      assert.equal(info.max_rdy_count, 2500, 'defaults where no flag was given');
    } finally {
      d?.proc.kill();
    }
  });
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`nsqd exits 0 on ${signal}, closes its clients and releases the port`, async () => {
    await withDir(async (dir) => {
      let d: Daemon | undefined;
      const clients: WireClient[] = [];
      try {
        d = await startDaemon(dir, (addr) => [`--tcp-address=${addr}`]);
        const consumer = await WireClient.connect(d.port);
        clients.push(consumer);
        await consumer.sub('cli_signal', 'ch', 1);
        const producer = await WireClient.connect(d.port);
        clients.push(producer);
        await producer.pub('cli_signal', 'in flight at shutdown');
        assert.equal((await consumer.readMessage()).body, 'in flight at shutdown');

        const t0 = Date.now();
        // process.kill(pid), not child.kill(): Deno's node:child_process (2.9) records the
        // signal given to ChildProcess.kill() as the child's signalCode and then reports
        // (code null, signal SIGTERM) even when the child caught it and exited 0 by itself.
        // process.kill sends the same signal and leaves the real exit status visible.
        process.kill(d.proc.child.pid!, signal);
        const exit = await d.proc.waitExit(EXIT_MS, `nsqd to exit after ${signal}`);
        assert.deepEqual(exit, { code: 0, signal: null }, `clean exit after ${signal} (stderr: ${d.proc.stderr().slice(-500)})`);
        await consumer.expectClose(1000);
        await producer.expectClose(1000);
        assert.ok(Date.now() - t0 < EXIT_MS);
        assert.doesNotMatch(d.proc.stderr(), /FATAL|Error:/, 'no error in the log');
        assert.ok(await canBind(d.port), `port ${d.port} is free again after exit`);
        await assert.rejects(WireClient.connect(d.port), 'nothing accepts connections on the old port');
      } finally {
        for (const c of clients) c.destroy();
        d?.proc.kill();
      }
    });
  });
}
