// The real `bin/nsqd` executable as a child process: --version, --help, flag
// errors, Go flag syntax, options that take effect, and a clean exit on
// SIGTERM/SIGINT that releases the port.
//
// This file checks the *Node* CLI (bin/nsqd loads adapters/node/nsqd.ts), on
// whichever runtime runs the tests (`on: 'node'`, see tests/helpers/daemon.ts);
// Bun and Deno have their own entry points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { NSQD_FLAGS } from '../../core/nsqd/options.ts';
import { runToExit as run, startOnFreePorts, type Daemon, withDaemon, withTempDir } from '../helpers/daemon.ts';
import { WireClient } from '../helpers/wire.ts';

const EXIT_MS = 10_000;

/** HTTP on a kernel-chosen port, so a daemon on the default 4151 elsewhere does not interfere. */
const withHttp = (args: string[]) => (args.some((a) => /^--?http-address/.test(a)) ? args : ['--http-address=127.0.0.1:0', ...args]);

/** A scratch working directory (and --data-path) per test, removed afterwards. */
const withDir = <T>(fn: (dir: string) => Promise<T>) => withTempDir('nsqd-cli-', fn);

/** Runs bin/nsqd to completion (for commands that exit by themselves). */
const runToExit = (args: string[]) => withDir((dir) => run('nsqd', withHttp(args), { on: 'node', cwd: dir }));

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

/** Starts bin/nsqd with `args(addr)` (addr = "127.0.0.1:<free port>") and waits until it listens there. */
const startCli = (dir: string, args: (addr: string) => string[]) =>
  startOnFreePorts('nsqd', (addr) => withHttp([...args(addr), `--data-path=${dir}`]), { on: 'node', cwd: dir });

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

test('nsqd with an unknown flag exits 2 (as Go\'s flag package) with "flag provided but not defined"', async () => {
  for (const args of [['--no-such-flag=1'], ['-no-such-flag'], ['--tcp-address=127.0.0.1:0', '--no-such-flag']]) {
    const r = await runToExit(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit code (stderr: ${r.stderr})`);
    assert.match(r.stderr, /flag provided but not defined: -no-such-flag/, `${args.join(' ')}: message`);
  }
});

test('nsqd with a bad flag value names the option and the value: exit 2 if unparsable, 1 if out of range (as Go)', async () => {
  const cases: [string[], number, RegExp[]][] = [
    [['--mem-queue-size=abc'], 2, [/mem-queue-size/, /abc/]],
    [['--max-rdy-count=0'], 1, [/max-rdy-count/, /\b0\b/]],
    [['--msg-timeout=xyz'], 2, [/msg-timeout/, /xyz/]],
    [['--msg-timeout', '10parsecs'], 2, [/msg-timeout/, /10parsecs/]],
    [['--deflate=maybe'], 2, [/deflate/, /maybe/]],
    [['--max-deflate-level=10'], 1, [/max-deflate-level/, /\b10\b/]],
    [['--node-id=1024'], 1, [/node-id/, /\b1024\b/]],
    [['--tcp-address'], 2, [/flag needs an argument/, /tcp-address/]],
  ];
  for (const [args, code, patterns] of cases) {
    const r = await runToExit(args);
    assert.equal(r.code, code, `${args.join(' ')}: exit code (stdout: ${r.stdout} stderr: ${r.stderr})`);
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
    await withDaemon(startCli(dir, (addr) => [`-tcp-address=${addr}`, '--max-rdy-count=5', '--msg-timeout', '1500ms', '-max-deflate-level=3']), async (d) => {
      await assertServes(d.tcpPort);

      const info = await identifyResponse(d.tcpPort);
      assert.equal(info.max_rdy_count, 5, 'IDENTIFY max_rdy_count');
      assert.equal(info.msg_timeout, 1500, 'IDENTIFY msg_timeout');
      assert.equal(info.max_deflate_level, 3, 'IDENTIFY max_deflate_level');
      assert.equal(info.deflate_level, 3, 'IDENTIFY deflate_level is capped by --max-deflate-level');

      const c = await WireClient.connect(d.tcpPort);
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
    });
  });
});

test('nsqd --flag value syntax, booleans and Go durations', async () => {
  await withDir(async (dir) => {
    await withDaemon(startCli(dir, (addr) => ['--tcp-address', addr, '--deflate=false', '--snappy', '--msg-timeout=1m30s', '--max-msg-timeout', '1h0m0s']), async (d) => {
      await assertServes(d.tcpPort);
      const info = await identifyResponse(d.tcpPort);
      assert.equal(info.msg_timeout, 90_000, 'IDENTIFY msg_timeout from --msg-timeout=1m30s');
      assert.equal(info.max_msg_timeout, 3_600_000, 'IDENTIFY max_msg_timeout from --max-msg-timeout 1h0m0s');
      assert.equal(info.deflate, false, 'deflate not negotiated with --deflate=false');
      assert.equal(info.max_rdy_count, 2500, 'defaults where no flag was given');
    });
  });
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`nsqd exits 0 on ${signal}, closes its clients and releases the port`, async () => {
    await withDir(async (dir) => {
      let d: Daemon | undefined;
      const clients: WireClient[] = [];
      try {
        d = await startCli(dir, (addr) => [`--tcp-address=${addr}`]);
        const consumer = await WireClient.connect(d.tcpPort);
        clients.push(consumer);
        await consumer.sub('cli_signal', 'ch', 1);
        const producer = await WireClient.connect(d.tcpPort);
        clients.push(producer);
        await producer.pub('cli_signal', 'in flight at shutdown');
        assert.equal((await consumer.readMessage()).body, 'in flight at shutdown');

        const t0 = Date.now();
        const exit = await d.stop(signal, EXIT_MS);
        assert.deepEqual(exit, { code: 0, signal: null }, `clean exit after ${signal} (stderr: ${d.stderr().slice(-500)})`);
        await consumer.expectClose(1000);
        await producer.expectClose(1000);
        assert.ok(Date.now() - t0 < EXIT_MS);
        assert.doesNotMatch(d.stderr(), /FATAL|Error:/, 'no error in the log');
        assert.ok(await canBind(d.tcpPort), `port ${d.tcpPort} is free again after exit`);
        await assert.rejects(WireClient.connect(d.tcpPort), 'nothing accepts connections on the old port');
      } finally {
        for (const c of clients) c.destroy();
        await d?.kill9();
      }
    });
  });
}
