// nsqd's configuration as a user meets it: the daemon started as a child
// process with a TOML --config file and flags (flag over file over default,
// read back over HTTP with GET /config/:opt), bad values that stop start-up
// with a message naming the option, the value and what is allowed, the log
// formats, and --http-address.
//
// Each runtime starts its own entry point: bin/nsqd on Node (the Node running
// the tests), adapters/bun/nsqd.ts on Bun, adapters/deno/nsqd.ts on Deno, so
// every adapter's readTextFile and serve are exercised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { runToExit as run, startOnFreePorts, withDaemon, withTempDir } from '../helpers/daemon.ts';
import { get, JSON_CT } from '../helpers/http.ts';
import { WireClient } from '../helpers/wire.ts';

const withDir = <T>(fn: (dir: string) => Promise<T>) => withTempDir('nsqd-config-', fn);

/** Runs nsqd until it exits by itself (start-up errors). */
const runToExit = (args: string[], dir: string) => run('nsqd', args, { cwd: dir });

/** Starts nsqd with `args(tcp, http)` (two ports free a moment ago) and waits until GET /ping answers. */
const startNsqd = (dir: string, args: (tcp: string, http: string) => string[] | Promise<string[]>) => startOnFreePorts('nsqd', args, { cwd: dir, ready: 'ping' });

async function configValue(port: number, opt: string): Promise<unknown> {
  const r = await get(port, `/config/${opt}`);
  assert.equal(r.status, 200, `/config/${opt}: ${r.text}`);
  return r.headers.get('content-type') === JSON_CT ? r.json() : r.text;
}

test('--config: the file sets options, an explicit flag wins over it, defaults fill the rest', async () => {
  await withDir(async (dir) => {
    const conf = join(dir, 'nsqd.toml');
    await withDaemon(startNsqd(dir, async (tcp, httpAddr) => {
      // Written here: the addresses come from the config file, not flags.
      const toml = [
        '# nsqd.toml: NSQ\'s keys',
        `tcp_address = "${tcp}"`,
        `http_address = "${httpAddr}"`,
        `data_path = "${dir}"`,
        'mem_queue_size = 123',
        'max_rdy_count = 7',
        'msg_timeout = "1m30s"',
        'max_msg_timeout = 3600000  # an integer is milliseconds',
        'e2e_processing_latency_percentiles = [0.5, 0.99]',
        'e2e_processing_latency_window_time = "2m"',
        'log_level = "error"',
        'deflate = false',
        'statsd_prefix = "custom.%s"',
        'id = 617',
        'nsqlookupd_tcp_addresses = []',
      ].join('\n');
      await writeFile(conf, toml);
      return [`--config=${conf}`, '--max-rdy-count=9', '-log-level', 'info', '--mem-queue-size', '456'];
    }), async (d) => {
      const p = d.httpPort;
      assert.equal(await configValue(p, 'mem_queue_size'), 456, 'flag over file');
      assert.equal(await configValue(p, 'max_rdy_count'), 9, 'flag over file');
      assert.equal(await configValue(p, 'log_level'), 2, 'flag over file: info');
      assert.equal(await configValue(p, 'msg_timeout'), 90_000_000_000, 'file');
      assert.equal(await configValue(p, 'max_msg_timeout'), 3_600_000_000_000, 'file, integer ms');
      assert.deepEqual(await configValue(p, 'e2e_processing_latency_percentiles'), [0.99, 0.5], 'file, sorted descending');
      assert.equal(await configValue(p, 'e2e_processing_latency_window_time'), 120_000_000_000, 'file');
      assert.equal(await configValue(p, 'deflate'), false, 'file');
      assert.equal(await configValue(p, 'statsd_prefix'), 'custom.%s', 'file');
      assert.equal(await configValue(p, 'id'), 617, 'file');
      assert.equal(await configValue(p, 'max_msg_size'), 1_048_576, 'default');
      assert.equal(await configValue(p, 'output_buffer_timeout'), 250_000_000, 'default');
      assert.equal(await configValue(p, 'tcp_address'), `127.0.0.1:${d.tcpPort}`, 'file');
      // The options take effect, not just read back: IDENTIFY reports them.
      const c = await WireClient.connect(d.tcpPort);
      try {
        const f = await c.identify({ feature_negotiation: true });
        const info = JSON.parse(f.text) as Record<string, unknown>;
        assert.equal(info.max_rdy_count, 9);
        assert.equal(info.msg_timeout, 90_000);
        assert.equal(info.max_msg_timeout, 3_600_000);
      } finally {
        c.destroy();
      }
      assert.match(d.stderr(), /INFO: HTTP: listening on 127\.0\.0\.1:\d+/);
    });
  });
});

test('bad values in the config file or flags stop start-up, naming the option, the value and what is allowed', async () => {
  await withDir(async (dir) => {
    // [config file, flags, what the message names, exit code: 1, or 2 for a command line Go's flag package refuses]
    const cases: [string | undefined, string[], RegExp[], number?][] = [
      ['mem_queue_size = "abc"', [], [/mem_queue_size/, /"abc"/, /expected an integer/]],
      ['max_rdy_count = 0', [], [/max_rdy_count in .*nsqd\.toml \(--max-rdy-count\)/, /"0"/, /expected an integer >= 1/]],
      ['msg_timeout = "10parsecs"', [], [/msg_timeout/, /10parsecs/, /duration/]],
      ['e2e_processing_latency_percentiles = [1.5]', [], [/e2e_processing_latency_percentiles/, /1\.5/, /\(0, 1\]/]],
      ['log_level = "loud"', [], [/log_level/, /loud/, /debug, info, warn, error, fatal/]],
      ['tls_cert = "/x.pem"', [], [/tls_cert in .*nsqd\.toml \(--tls-cert\) is not supported yet/]],
      ['mem_queue_size = ', [], [/failed to load config file .*nsqd\.toml - .*\(line 1, column \d+\)/]],
      [undefined, ['--config=/nonexistent/nsqd.toml'], [/failed to load config file \/nonexistent\/nsqd\.toml - /]],
      [undefined, ['--e2e-processing-latency-percentile=0'], [/--e2e-processing-latency-percentile/, /"0"/, /\(0, 1\]/]],
      [undefined, ['--e2e-processing-latency-percentile=0.5,abc'], [/e2e-processing-latency-percentile/, /abc/, /numbers/], 2],
      [undefined, ['--e2e-processing-latency-window-time=0s'], [/--e2e-processing-latency-window-time/, /"0s"/, /at least 1ms/]],
      [undefined, ['--log-format=xml'], [/--log-format/, /xml/, /text, json/]],
      [undefined, ['--broadcast-http-port=-1'], [/--broadcast-http-port/, /-1/, /from 0 to 65535/]],
    ];
    const conf = join(dir, 'nsqd.toml');
    for (const [toml, flags, patterns, code = 1] of cases) {
      if (toml !== undefined) await writeFile(conf, `${toml}\n`);
      const args = [...(toml !== undefined ? [`--config=${conf}`] : []), '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', `--data-path=${dir}`, ...flags];
      const r = await runToExit(args, dir);
      const what = toml ?? flags.join(' ');
      assert.equal(r.code, code, `${what}: exit code (stderr: ${r.stderr})`);
      for (const re of patterns) assert.match(r.stderr, re, `${what}: the message names ${re}`);
      assert.match(r.stderr, /FATAL/, `${what}: a fatal log line`);
      assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: one line, no stack trace`);
      assert.doesNotMatch(r.stderr, /listening on/, `${what}: nothing was started`);
    }
  });
});

test('an unknown key in the config file is ignored with a warning, as NSQ ignores it', async () => {
  await withDir(async (dir) => {
    const conf = join(dir, 'nsqd.toml');
    await writeFile(conf, 'no_such_option = 1\nmem_queue_size = 77\n');
    await withDaemon(startNsqd(dir, (tcp, httpAddr) => [`--config=${conf}`, `--tcp-address=${tcp}`, `--http-address=${httpAddr}`, `--data-path=${dir}`]), async (d) => {
      assert.match(d.stderr(), /WARNING: config file .*nsqd\.toml: unknown option "no_such_option" ignored/);
      assert.equal(await configValue(d.httpPort, 'mem_queue_size'), 77);
    });
  });
});

test('logging: NSQ\'s text format with --log-prefix and --log-level; --log-format=json, one object per line', async () => {
  await withDir(async (dir) => {
    await withDaemon(startNsqd(dir, (tcp, httpAddr) => [`--tcp-address=${tcp}`, `--http-address=${httpAddr}`, `--data-path=${dir}`, '--log-prefix=[custom] ']), async (d) => {
      const lines = d.stderr().trim().split('\n');
      assert.ok(lines.length >= 2);
      for (const line of lines) assert.match(line, /^\[custom\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d{6} (DEBUG|INFO|WARNING|ERROR|FATAL): \S/, line);
      assert.ok(lines.some((l) => l.endsWith(`INFO: TCP: listening on 127.0.0.1:${d.tcpPort}`)));
      assert.ok(lines.some((l) => l.endsWith(`INFO: HTTP: listening on 127.0.0.1:${d.httpPort}`)));
    });
    await withDaemon(startNsqd(dir, (tcp, httpAddr) => [`--tcp-address=${tcp}`, `--http-address=${httpAddr}`, `--data-path=${dir}`, '--log-format=json']), async (d) => {
      const lines = d.stderr().trim().split('\n');
      const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const o of objects) {
        assert.match(String(o.severity), /^(DEBUG|INFO|WARNING|ERROR|FATAL)$/);
        assert.equal(typeof o.msg, 'string');
        assert.ok(!Number.isNaN(Date.parse(String(o.time))), 'an ISO time');
        assert.equal(o.component, 'nsqd');
      }
      assert.ok(objects.some((o) => o.severity === 'INFO' && o.msg === `HTTP: listening on 127.0.0.1:${d.httpPort}`));
    });
    // --log-level=warn hides the INFO lines.
    await withDaemon(startNsqd(dir, (tcp, httpAddr) => [`--tcp-address=${tcp}`, `--http-address=${httpAddr}`, `--data-path=${dir}`, '--log-level=warn']), async (d) => {
      assert.doesNotMatch(d.stderr(), /INFO/);
    });
  });
});

test('--http-address "" starts without HTTP; an HTTP port in use stops start-up', async () => {
  await withDir(async (dir) => {
    await withDaemon(startOnFreePorts('nsqd', (tcp) => [`--tcp-address=${tcp}`, '--http-address=', `--data-path=${dir}`], { cwd: dir, http: false }), async (d) => {
      assert.match(d.stderr(), /TCP: listening on/);
      const c = await WireClient.connect(d.tcpPort);
      await c.pub('no_http', 'still serves TCP');
      c.destroy();
      assert.doesNotMatch(d.stderr(), /HTTP: listening/);
    });

    const blocker = net.createServer();
    await new Promise<void>((resolve, reject) => {
      blocker.once('error', reject);
      blocker.listen(0, '127.0.0.1', resolve);
    });
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const r = await runToExit(['--tcp-address=127.0.0.1:0', `--http-address=127.0.0.1:${port}`, `--data-path=${dir}`], dir);
      assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
      assert.match(r.stderr, /EADDRINUSE|address already in use|in use/i);
      assert.doesNotMatch(r.stderr, /listening on/, 'nothing announced: both ports are bound before either is logged');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
