// Two nsqlookupd and two nsqd as real processes (bin/nsqlookupd, bin/nsqd on
// the machine's Node; see tests/helpers/daemon.ts), on kernel-chosen ports:
// discovery within a second, an nsqjs Reader consuming from both nsqd through
// lookupdHTTPAddresses, tombstones, a restarted lookupd getting everything
// again, and nsqd that stop (SIGSTOP: no more PINGs) or exit leaving /nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nsq from 'nsqjs';
import type { Message } from 'nsqjs';
import { startDaemon, type Daemon } from '../helpers/daemon.ts';
import { http } from '../helpers/lookupd.ts';
import { runtimeName } from '../helpers/runtime.ts';

const T = { timeout: 60_000 };
const NODE = { on: 'node' } as const;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`[${runtimeName}] timed out after ${ms} ms waiting for ${what()}`);
    await sleep(20);
  }
  return Date.now() - t0;
}

interface Cluster {
  lookupds: Daemon[];
  nsqds: Daemon[];
  dirs: string[];
}

interface Node {
  broadcast_address: string;
  tcp_port: number;
  http_port: number;
  topics: string[];
  tombstones: boolean[];
}

const lookupdArgs = (extra: string[] = []) => ['--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--broadcast-address=127.0.0.1', ...extra];

async function startCluster(lookupdExtra: string[], nsqdExtra: string[]): Promise<Cluster> {
  const c: Cluster = { lookupds: [], nsqds: [], dirs: [] };
  try {
    c.lookupds = await Promise.all([0, 1].map(() => startDaemon('nsqlookupd', lookupdArgs(lookupdExtra), NODE)));
    c.dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'nsqd-cluster-')));
    c.nsqds = await Promise.all(c.dirs.map((dir) => startDaemon('nsqd', [
      '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--broadcast-address=127.0.0.1', `--data-path=${dir}`,
      ...c.lookupds.map((l) => `--lookupd-tcp-address=${l.tcpAddress}`), ...nsqdExtra,
    ], NODE)));
    for (const l of c.lookupds) {
      await waitFor(async () => (await nodes(l)).length === 2, 5000, () => `both nsqd on lookupd ${l.tcpAddress}`);
    }
    return c;
  } catch (err) {
    await stopCluster(c);
    throw err;
  }
}

async function stopCluster(c: Cluster): Promise<void> {
  const exits = await Promise.all([...c.nsqds, ...c.lookupds].map(async (d) => [d, await d.stop()] as const));
  for (const dir of c.dirs) rmSync(dir, { recursive: true, force: true });
  for (const [d, exit] of exits) {
    assert.deepEqual(exit, { code: 0, signal: null }, `${d.name} ${d.tcpAddress} exits cleanly on SIGTERM; stderr: ${d.stderr().slice(-1000)}`);
  }
}

async function nodes(l: Daemon): Promise<Node[]> {
  const r = await http(`${l.url}/nodes`);
  assert.equal(r.status, 200, r.text);
  return (r.json() as { producers: Node[] }).producers;
}

async function lookupPorts(l: Daemon, topic: string): Promise<number[]> {
  const r = await http(`${l.url}/lookup?topic=${topic}`);
  if (r.status === 404) return [];
  assert.equal(r.status, 200, r.text);
  return (r.json() as { producers: { tcp_port: number }[] }).producers.map((p) => p.tcp_port).sort();
}

const nodePorts = async (l: Daemon) => (await nodes(l)).map((n) => n.tcp_port).sort();
const ports = (...ds: Daemon[]) => ds.map((d) => d.tcpPort).sort();

test('cluster: a new topic shows in /lookup within a second; an nsqjs Reader given lookupdHTTPAddresses consumes from both nsqd; tombstones', T, async () => {
  const c = await startCluster([], []);
  const [l1, l2] = c.lookupds as [Daemon, Daemon];
  const [n1, n2] = c.nsqds as [Daemon, Daemon];
  let reader: InstanceType<typeof nsq.Reader> | undefined;
  try {
    // discovery: a topic created over HTTP, another by a PUB over TCP
    let t0 = Date.now();
    assert.equal((await http(`${n1.url}/topic/create?topic=fresh`, 'POST')).status, 200);
    for (const l of [l1, l2]) await waitFor(async () => (await lookupPorts(l, 'fresh')).includes(n1.tcpPort), 1000, () => `"fresh" on ${l.tcpAddress}`);
    const createdIn = Date.now() - t0;
    t0 = Date.now();
    assert.equal((await http(`${n2.url}/pub?topic=fresh`, 'POST', 'x')).status, 200);
    for (const l of [l1, l2]) await waitFor(async () => (await lookupPorts(l, 'fresh')).length === 2, 1000, () => `both nsqd for "fresh" on ${l.tcpAddress}`);
    const pubIn = Date.now() - t0;
    assert.ok(createdIn < 1000 && pubIn < 1000, `visible in ${createdIn} / ${pubIn} ms`);

    // nsqjs Reader: discovers both nsqd through both lookupds and gets every message
    const N = 20;
    for (const [i, n] of [n1, n2].entries()) {
      const body = Array.from({ length: N }, (_, k) => `nsqd${i + 1}-${k}`).join('\n');
      assert.equal((await http(`${n.url}/mpub?topic=shared`, 'POST', body)).status, 200);
    }
    const received = new Set<string>();
    const errors: Error[] = [];
    reader = new nsq.Reader('shared', 'ch', { lookupdHTTPAddresses: [l1.url.slice(7), l2.url], lookupdPollInterval: 1, maxInFlight: 10 });
    reader.on('error', (err: Error) => errors.push(err));
    reader.on('message', (m: Message) => {
      received.add(m.body.toString());
      m.finish();
    });
    reader.connect();
    await waitFor(() => received.size === 2 * N, 10_000, () => `${2 * N} messages (got ${received.size}: ${[...received].slice(0, 5)}...; errors ${errors.map(String)})`);
    assert.deepEqual([...received].filter((b) => b.startsWith('nsqd1-')).length, N, 'every message of nsqd 1');
    assert.deepEqual([...received].filter((b) => b.startsWith('nsqd2-')).length, N, 'every message of nsqd 2');
    assert.equal(reader.connectionIds.length, 2, `one connection per nsqd: ${reader.connectionIds}`);
    assert.deepEqual(errors, []);
    reader.close();
    reader = undefined;

    // tombstone nsqd 1 for "shared" on lookupd 1: gone from /lookup there, flagged in /nodes, untouched on lookupd 2
    const tomb = await http(`${l1.url}/topic/tombstone?topic=shared&node=127.0.0.1:${n1.httpPort}`, 'POST');
    assert.equal(tomb.status, 200, tomb.text);
    assert.deepEqual(await lookupPorts(l1, 'shared'), [n2.tcpPort], 'lookupd 1: only nsqd 2 for "shared"');
    assert.deepEqual(await lookupPorts(l1, 'fresh'), ports(n1, n2), 'lookupd 1: both for "fresh"');
    assert.deepEqual(await lookupPorts(l2, 'shared'), ports(n1, n2), 'lookupd 2: both for "shared"');
    const node1 = (await nodes(l1)).find((n) => n.tcp_port === n1.tcpPort)!;
    assert.ok(node1, 'a tombstoned nsqd is still in /nodes');
    assert.equal(node1.tombstones.length, node1.topics.length, 'tombstones and topics have the same length');
    assert.deepEqual(node1.topics.map((t, i) => `${t}=${node1.tombstones[i]}`).sort(), ['fresh=false', 'shared=true']);
  } finally {
    reader?.close();
    await stopCluster(c);
  }
});

test('cluster: a restarted lookupd gets everything again; a stopped nsqd leaves /nodes after the inactive timeout, an exited one at once', T, async () => {
  const INACTIVE_MS = 2000;
  const c = await startCluster([`--inactive-producer-timeout=${INACTIVE_MS}ms`], ['--lookupd-ping-interval=250ms']);
  const l1 = c.lookupds[0]!;
  let l2 = c.lookupds[1]!;
  const [n1, n2] = c.nsqds as [Daemon, Daemon];
  try {
    assert.equal((await http(`${n1.url}/topic/create?topic=ta`, 'POST')).status, 200);
    assert.equal((await http(`${n1.url}/channel/create?topic=ta&channel=ca`, 'POST')).status, 200);
    assert.equal((await http(`${n2.url}/topic/create?topic=tb`, 'POST')).status, 200);
    await waitFor(async () => (await lookupPorts(l2, 'tb')).length === 1, 2000, () => '"tb" on lookupd 2');

    // restart lookupd 2 on the same ports; a topic is created while it is down
    const { tcpPort, httpPort } = l2;
    const exit = await l2.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, `lookupd 2 stops cleanly: ${l2.stderr().slice(-500)}`);
    assert.equal((await http(`${n1.url}/topic/create?topic=tc`, 'POST')).status, 200);
    l2 = await startDaemon('nsqlookupd', [`--tcp-address=127.0.0.1:${tcpPort}`, `--http-address=127.0.0.1:${httpPort}`, '--broadcast-address=127.0.0.1', `--inactive-producer-timeout=${INACTIVE_MS}ms`], NODE);
    c.lookupds[1] = l2;
    const restarted = l2;
    const topicsOf = async (l: Daemon) => ((await http(`${l.url}/topics`)).json() as { topics: string[] }).topics.sort();
    await waitFor(async () => (await topicsOf(restarted)).length === 3 && (await nodes(restarted)).every((n) => n.topics.length > 0) && (await nodes(restarted)).length === 2,
      10_000, () => 'both nsqd and every topic on the restarted lookupd');
    assert.deepEqual(await topicsOf(l2), ['ta', 'tb', 'tc']);
    const lookupTa = (await http(`${l2.url}/lookup?topic=ta`)).json() as { channels: string[]; producers: { tcp_port: number; http_port: number }[] };
    assert.deepEqual(lookupTa.channels, ['ca']);
    assert.deepEqual(lookupTa.producers.map((p) => [p.tcp_port, p.http_port]), [[n1.tcpPort, n1.httpPort]]);
    assert.deepEqual(await lookupPorts(l2, 'tb'), [n2.tcpPort]);
    assert.deepEqual(await lookupPorts(l2, 'tc'), [n1.tcpPort]);

    // SIGSTOP nsqd 2: its connections stay open but its PINGs stop
    n2.signal('SIGSTOP');
    const stoppedAt = Date.now();
    assert.deepEqual(await nodePorts(l1), ports(n1, n2), 'still listed right after it stopped');
    await waitFor(async () => !(await nodePorts(l1)).includes(n2.tcpPort), INACTIVE_MS + 3000, () => 'the stopped nsqd to leave /nodes');
    const goneAfter = Date.now() - stoppedAt;
    assert.ok(goneAfter >= INACTIVE_MS - 500, `left /nodes ${goneAfter} ms after it stopped, not before the ${INACTIVE_MS} ms timeout (less one PING interval)`);
    assert.deepEqual(await nodePorts(l1), [n1.tcpPort], 'nsqd 1 PINGs and stays');
    assert.deepEqual(await lookupPorts(l1, 'tb'), [], 'nor is it in /lookup');
    await waitFor(async () => (await nodePorts(l2)).length === 1, 3000, () => 'the same on lookupd 2');
    // SIGCONT: its next PING brings it back
    n2.signal('SIGCONT');
    await waitFor(async () => (await nodePorts(l1)).length === 2, 3000, () => 'nsqd 2 back after SIGCONT');

    // an nsqd that exits closes its connections: it leaves at once
    const exit1 = await n1.stop();
    assert.deepEqual(exit1, { code: 0, signal: null }, `nsqd 1 stops cleanly: ${n1.stderr().slice(-500)}`);
    for (const l of [l1, l2]) {
      const ms = await waitFor(async () => (await nodePorts(l)).length === 1, 1000, () => `nsqd 1 gone from ${l.tcpAddress}`);
      assert.ok(ms < 1000);
      assert.deepEqual(await nodePorts(l), [n2.tcpPort]);
    }
    assert.deepEqual(await lookupPorts(l1, 'ta'), [], 'its topics have no producer left');
  } finally {
    await stopCluster(c);
  }
});
