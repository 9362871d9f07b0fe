// The real `bin/nsqlookupd` executable (on the machine's Node, see
// tests/helpers/daemon.ts): --version, --help with NSQ's flags and defaults,
// flag errors, --config, a taken port, and a clean exit on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOOKUPD_FLAGS } from '../../core/lookupd/options.ts';
import { runToExit, startDaemon } from '../helpers/daemon.ts';
import { http } from '../helpers/lookupd.ts';

const T = { timeout: 30_000 };
const NODE = { on: 'node' } as const;

test('nsqlookupd --version and --help', T, async () => {
  const v = await runToExit('nsqlookupd', ['--version'], NODE);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /^nsqlookupd v1\.3\.0 \S.*\n$/);
  const h = await runToExit('nsqlookupd', ['--help'], NODE);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /^Usage of nsqlookupd:/m);
  for (const f of LOOKUPD_FLAGS) assert.match(h.stdout, new RegExp(`^  -${f.name}\\b`, 'm'), `--help lists -${f.name}`);
  for (const [flag, shown] of [
    ['tcp-address string', '(default "0.0.0.0:4160")'],
    ['http-address string', '(default "0.0.0.0:4161")'],
    ['inactive-producer-timeout duration', '(default 5m0s)'],
    ['tombstone-lifetime duration', '(default 45s)'],
    ['log-prefix string', '(default "[nsqlookupd] ")'],
  ] as const) {
    const at = h.stdout.indexOf(`  -${flag}\n`);
    assert.ok(at >= 0, `--help has "  -${flag}"`);
    assert.ok((h.stdout.slice(at).split('\n')[1] ?? '').endsWith(shown), `-${flag} shows ${shown}`);
  }
});

test('nsqlookupd refuses unknown flags and bad values (exit 2, as Go) and a taken port (exit 1)', T, async () => {
  const unknown = await runToExit('nsqlookupd', ['--lookupd-tcp-address=x:1'], NODE);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /flag provided but not defined: -lookupd-tcp-address/);
  const bad = await runToExit('nsqlookupd', ['--inactive-producer-timeout=soon'], NODE);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /inactive-producer-timeout/);
  assert.match(bad.stderr, /soon/);
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  try {
    const port = (blocker.address() as net.AddressInfo).port;
    const taken = await runToExit('nsqlookupd', [`--tcp-address=127.0.0.1:${port}`, '--http-address=127.0.0.1:0'], NODE);
    assert.equal(taken.code, 1, taken.stderr);
    assert.match(taken.stderr, /EADDRINUSE|address already in use/i);
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});

test('nsqlookupd --config (flags win over the file); SIGTERM exits 0', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsqlookupd-cli-'));
  const config = join(dir, 'nsqlookupd.cfg');
  writeFileSync(config, 'broadcast_address = "from-file"\ntombstone_lifetime = "3s"\ntcp_address = "127.0.0.1:1"\n');
  const d = await startDaemon('nsqlookupd', [`--config=${config}`, '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0'], NODE);
  try {
    const c = new net.Socket();
    const reply = await new Promise<string>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      c.on('error', reject);
      c.on('data', (b: Buffer) => {
        buf = Buffer.concat([buf, b]);
        if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) resolve(buf.subarray(4, 4 + buf.readInt32BE(0)).toString());
      });
      c.connect(d.tcpPort, '127.0.0.1', () => {
        const body = Buffer.from(JSON.stringify({ broadcast_address: 'b', tcp_port: 1, http_port: 2, version: '1.3.0' }));
        const size = Buffer.alloc(4);
        size.writeInt32BE(body.length);
        c.write(Buffer.concat([Buffer.from('  V1IDENTIFY\n'), size, body]));
      });
    });
    c.destroy();
    const info = JSON.parse(reply) as Record<string, unknown>;
    assert.equal(info.broadcast_address, 'from-file', 'broadcast_address from the config file');
    assert.equal(info.tcp_port, d.tcpPort, 'the explicit --tcp-address wins over the file');
    assert.equal(info.http_port, d.httpPort);
    assert.equal((await http(`${d.url}/ping`)).text, 'OK');
  } finally {
    const exit = await d.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(exit, { code: 0, signal: null }, d.stderr());
  }
});
