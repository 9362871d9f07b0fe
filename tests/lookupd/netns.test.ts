// Across hosts: nsqlookupd and nsqd in two network namespaces of their own,
// and the test (the consumer) in the original one, joined by veth pairs:
//
//   ns "lookupd" 10.231.X.1 ──── 10.231.X.2  ns "nsqd"        (nsqd → lookupd, TCP V1)
//   ns "lookupd" 10.231.X.6 ──── 10.231.X.5  test             (consumer → lookupd HTTP)
//   ns "nsqd"    10.231.X.10 ─── 10.231.X.9  test             (consumer → nsqd TCP)
//
// lookupd sees nsqd at 10.231.X.2 (remote_address), which the consumer cannot
// reach; nsqd announces --broadcast-address=10.231.X.10, and an nsqjs Reader
// given only the lookupd's HTTP address finds it there and consumes. Needs
// root and `ip`; otherwise the test is skipped and says why. Only the
// namespaces, interfaces and addresses created here are touched, and they
// are removed afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nsq from 'nsqjs';
import type { Message } from 'nsqjs';
import { startDaemon, type Daemon } from '../helpers/daemon.ts';
import { http } from '../helpers/lookupd.ts';
import { runtimeName } from '../helpers/runtime.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const PID = process.pid;
const NS_LOOKUPD = `nsqts-${PID}-lookupd`;
const NS_NSQD = `nsqts-${PID}-nsqd`;
/** Interface names (at most 15 bytes): <tag><link><end>. */
const TAG = `nq${PID % 1_000_000}`;
const IF = { a0: `${TAG}a0`, a1: `${TAG}a1`, b0: `${TAG}b0`, b1: `${TAG}b1`, c0: `${TAG}c0`, c1: `${TAG}c1` };

function ip(...args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

function must(...args: string[]): string {
  const r = ip(...args);
  if (!r.ok) throw new Error(`ip ${args.join(' ')}: ${r.out}`);
  return r.out;
}

/** A third octet X such that nothing on this machine uses 10.231.X.0/24 yet. */
function freeSubnet(): number | undefined {
  const used = `${ip('-4', '-o', 'addr').out}\n${ip('-4', 'route').out}`;
  for (let i = 0; i < 256; i++) {
    const x = (PID + i) % 256;
    if (!used.includes(`10.231.${x}.`)) return x;
  }
  return undefined;
}

/** Why the test cannot run here, or undefined. */
function skipReason(): string | undefined {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (uid !== 0) return `needs root to create network namespaces (uid ${uid})`;
  const version = ip('-V');
  if (!version.ok) return `the ip command is not available: ${version.out}`;
  const probe = `nsqts-${PID}-probe`;
  const add = ip('netns', 'add', probe);
  if (!add.ok) return `cannot create a network namespace: ${add.out}`;
  ip('netns', 'del', probe);
  const veth = ip('link', 'add', `${TAG}p0`, 'type', 'veth', 'peer', 'name', `${TAG}p1`);
  if (!veth.ok) return `cannot create a veth pair: ${veth.out}`;
  ip('link', 'del', `${TAG}p0`);
  if (freeSubnet() === undefined) return 'no free 10.231.X.0/24 subnet';
  return undefined;
}

const skip = skipReason();
if (skip !== undefined) console.log(`# [${runtimeName}] netns test skipped: ${skip}`);

function cleanup(): void {
  for (const ns of [NS_LOOKUPD, NS_NSQD]) ip('netns', 'del', ns);
  for (const name of [IF.a0, IF.b0, IF.c0, IF.a1, IF.b1, IF.c1]) ip('link', 'del', name);
}

test('across network namespaces: discovery through --broadcast-address, consumption with nsqjs', { timeout: 60_000, skip }, async () => {
  const x = freeSubnet()!;
  const net = (host: number) => `10.231.${x}.${host}`;
  const daemons: Daemon[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'nsqd-netns-'));
  let reader: InstanceType<typeof nsq.Reader> | undefined;
  try {
    must('netns', 'add', NS_LOOKUPD);
    must('netns', 'add', NS_NSQD);
    // link a: lookupd <-> nsqd; link b: test <-> lookupd; link c: test <-> nsqd
    must('link', 'add', IF.a0, 'type', 'veth', 'peer', 'name', IF.a1);
    must('link', 'add', IF.b0, 'type', 'veth', 'peer', 'name', IF.b1);
    must('link', 'add', IF.c0, 'type', 'veth', 'peer', 'name', IF.c1);
    must('link', 'set', IF.a0, 'netns', NS_LOOKUPD);
    must('link', 'set', IF.a1, 'netns', NS_NSQD);
    must('link', 'set', IF.b1, 'netns', NS_LOOKUPD);
    must('link', 'set', IF.c1, 'netns', NS_NSQD);
    must('-n', NS_LOOKUPD, 'addr', 'add', `${net(1)}/30`, 'dev', IF.a0);
    must('-n', NS_NSQD, 'addr', 'add', `${net(2)}/30`, 'dev', IF.a1);
    must('addr', 'add', `${net(5)}/30`, 'dev', IF.b0);
    must('-n', NS_LOOKUPD, 'addr', 'add', `${net(6)}/30`, 'dev', IF.b1);
    must('addr', 'add', `${net(9)}/30`, 'dev', IF.c0);
    must('-n', NS_NSQD, 'addr', 'add', `${net(10)}/30`, 'dev', IF.c1);
    for (const [ns, dev] of [[NS_LOOKUPD, IF.a0], [NS_LOOKUPD, IF.b1], [NS_LOOKUPD, 'lo'], [NS_NSQD, IF.a1], [NS_NSQD, IF.c1], [NS_NSQD, 'lo']] as const) {
      must('-n', ns, 'link', 'set', dev, 'up');
    }
    must('link', 'set', IF.b0, 'up');
    must('link', 'set', IF.c0, 'up');

    const lookupd = await startDaemon('nsqlookupd', ['--tcp-address=0.0.0.0:0', '--http-address=0.0.0.0:0', `--broadcast-address=${net(1)}`], { on: 'node', prefix: ['ip', 'netns', 'exec', NS_LOOKUPD] });
    daemons.push(lookupd);
    const nsqd = await startDaemon('nsqd', [
      '--tcp-address=0.0.0.0:0', '--http-address=0.0.0.0:0', `--data-path=${dataDir}`,
      `--broadcast-address=${net(10)}`, `--lookupd-tcp-address=${net(1)}:${lookupd.tcpPort}`,
    ], { on: 'node', prefix: ['ip', 'netns', 'exec', NS_NSQD] });
    daemons.push(nsqd);
    const lookupdUrl = `http://${net(6)}:${lookupd.httpPort}`;
    const nsqdUrl = `http://${net(10)}:${nsqd.httpPort}`;

    // from outside, the daemons are only reachable on their namespaces' addresses
    assert.equal((await http(`${lookupdUrl}/ping`)).text, 'OK');
    const N = 10;
    const pub = await http(`${nsqdUrl}/mpub?topic=across`, 'POST', Array.from({ length: N }, (_, i) => `m${i}`).join('\n'));
    assert.equal(pub.status, 200, pub.text);

    // discovery: lookupd saw nsqd's connection from 10.231.X.2, but hands out the broadcast address
    let producers: { remote_address: string; broadcast_address: string; tcp_port: number }[] = [];
    const deadline = Date.now() + 5000;
    for (;;) {
      const r = await http(`${lookupdUrl}/lookup?topic=across`);
      if (r.status === 200) producers = (r.json() as { producers: typeof producers }).producers;
      if (producers.length > 0) break;
      if (Date.now() > deadline) throw new Error(`topic "across" not in /lookup within 5 s; nsqd: ${nsqd.stderr().slice(-1000)}`);
      await sleep(50);
    }
    assert.equal(producers.length, 1);
    assert.equal(producers[0]!.broadcast_address, net(10), 'the broadcast address');
    assert.equal(producers[0]!.tcp_port, nsqd.tcpPort);
    assert.ok(producers[0]!.remote_address.startsWith(`${net(2)}:`), `lookupd saw nsqd at ${producers[0]!.remote_address}`);

    // consumption: the Reader knows only the lookupd
    const received: string[] = [];
    const errors: Error[] = [];
    reader = new nsq.Reader('across', 'ch', { lookupdHTTPAddresses: [`${net(6)}:${lookupd.httpPort}`], lookupdPollInterval: 1 });
    reader.on('error', (err: Error) => errors.push(err));
    reader.on('message', (m: Message) => {
      received.push(m.body.toString());
      m.finish();
    });
    reader.connect();
    const until = Date.now() + 10_000;
    while (received.length < N && Date.now() < until) await sleep(20);
    assert.deepEqual([...received].sort(), Array.from({ length: N }, (_, i) => `m${i}`).sort(), `every message (errors: ${errors.map(String)})`);
    reader.close();
    reader = undefined;

    for (const d of daemons.reverse()) {
      const exit = await d.stop();
      assert.deepEqual(exit, { code: 0, signal: null }, `${d.name} exits cleanly; stderr: ${d.stderr().slice(-1000)}`);
    }
  } finally {
    reader?.close();
    await Promise.all(daemons.map((d) => d.kill9()));
    cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const left = ip('netns', 'list').out;
  assert.ok(!left.includes(NS_LOOKUPD) && !left.includes(NS_NSQD), `namespaces removed: ${left}`);
  assert.ok(!ip('-4', '-o', 'addr').out.includes(`10.231.${x}.`), 'addresses removed');
});
