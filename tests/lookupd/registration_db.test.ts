// The registration database (PROTOCOL.md 6.3) as a unit: keys, producers,
// wildcards, the per-peer index, activity and tombstone filtering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterByActive, keysOf, Producer, RegistrationDB, subkeysOf, type PeerInfo, type Registration } from '../../core/lookupd/registration_db.ts';

function peer(id: string, lastUpdate = 1000): PeerInfo {
  return { id, remoteAddress: id, hostname: 'h', broadcastAddress: `b-${id}`, tcpPort: 4150, httpPort: 4151, version: '1.3.0', topologyZone: '', topologyRegion: '', lastUpdate };
}

const topic = (t: string): Registration => ({ category: 'topic', key: t, subkey: '' });
const channel = (t: string, c: string): Registration => ({ category: 'channel', key: t, subkey: c });
const CLIENT: Registration = { category: 'client', key: '', subkey: '' };
const sorted = (a: string[]) => [...a].sort();

test('addProducer adds a peer once per key; the first entry (and its tombstone) stays', () => {
  const db = new RegistrationDB();
  const a = peer('a');
  const first = new Producer(a);
  assert.equal(db.addProducer(topic('t'), first), true);
  first.tombstone(5000);
  assert.equal(db.addProducer(topic('t'), new Producer(a)), false, 'a second REGISTER of the same peer adds nothing');
  const ps = db.findProducers('topic', 't', '');
  assert.equal(ps.length, 1);
  assert.equal(ps[0], first, 'the old entry stays, tombstone included');
  assert.equal(ps[0]!.isTombstoned(45_000, 6000), true);
  assert.equal(db.addProducer(topic('t'), new Producer(peer('b'))), true);
  assert.equal(db.findProducers('topic', 't', '').length, 2);
});

test('removeProducer leaves the key (with no producers) and reports what is left', () => {
  const db = new RegistrationDB();
  db.addProducer(topic('t'), new Producer(peer('a')));
  db.addProducer(topic('t'), new Producer(peer('b')));
  assert.deepEqual(db.removeProducer(topic('t'), 'a'), { removed: true, left: 1 });
  assert.deepEqual(db.removeProducer(topic('t'), 'a'), { removed: false, left: 1 });
  assert.deepEqual(db.removeProducer(topic('t'), 'b'), { removed: true, left: 0 });
  assert.deepEqual(db.findRegistrations('topic', 't', ''), [topic('t')], 'the key stays');
  assert.deepEqual(db.findProducers('topic', 't', ''), []);
  assert.deepEqual(db.removeProducer(topic('nope'), 'a'), { removed: false, left: 0 });
});

test('findRegistrations: exact keys and "*" wildcards on key and subkey', () => {
  const db = new RegistrationDB();
  db.addRegistration(topic('t1'));
  db.addRegistration(topic('t2'));
  db.addRegistration(channel('t1', 'c1'));
  db.addRegistration(channel('t1', 'c2'));
  db.addRegistration(channel('t2', 'c3'));
  assert.deepEqual(sorted(keysOf(db.findRegistrations('topic', '*', ''))), ['t1', 't2']);
  assert.deepEqual(sorted(subkeysOf(db.findRegistrations('channel', 't1', '*'))), ['c1', 'c2']);
  assert.deepEqual(sorted(subkeysOf(db.findRegistrations('channel', '*', '*'))), ['c1', 'c2', 'c3']);
  assert.deepEqual(subkeysOf(db.findRegistrations('channel', '*', 'c3')), ['c3']);
  assert.deepEqual(db.findRegistrations('channel', 't1', 'c9'), []);
  assert.deepEqual(db.findRegistrations('channel', 'nope', '*'), []);
  assert.deepEqual(db.findRegistrations('nothing', '*', '*'), []);
  db.addRegistration(topic('t1'));
  assert.equal(db.findRegistrations('topic', '*', '').length, 2, 'adding an existing key changes nothing');
});

test('findProducers over several keys lists each peer once', () => {
  const db = new RegistrationDB();
  const a = peer('a');
  db.addProducer(channel('t', 'c1'), new Producer(a));
  db.addProducer(channel('t', 'c2'), new Producer(a));
  db.addProducer(channel('t', 'c2'), new Producer(peer('b')));
  const ids = db.findProducers('channel', 't', '*').map((p) => p.peerInfo.id);
  assert.deepEqual(sorted(ids), ['a', 'b']);
});

test('lookupRegistrations follows adds, removes and removeRegistration', () => {
  const db = new RegistrationDB();
  const a = peer('a');
  db.addProducer(CLIENT, new Producer(a));
  db.addProducer(topic('t'), new Producer(a));
  db.addProducer(channel('t', 'c'), new Producer(a));
  db.addProducer(topic('u'), new Producer(peer('b')));
  const regs = (id: string) => db.lookupRegistrations(id).map((r) => `${r.category}:${r.key}:${r.subkey}`).sort();
  assert.deepEqual(regs('a'), ['channel:t:c', 'client::', 'topic:t:']);
  db.removeRegistration(channel('t', 'c'));
  assert.deepEqual(regs('a'), ['client::', 'topic:t:']);
  assert.deepEqual(db.findRegistrations('channel', 't', '*'), [], 'the key is gone');
  db.removeProducer(topic('t'), 'a');
  assert.deepEqual(regs('a'), ['client::']);
  db.removeProducer(CLIENT, 'a');
  assert.deepEqual(regs('a'), []);
  assert.deepEqual(regs('b'), ['topic:u:']);
  db.removeRegistration(topic('nope')); // no error
});

test('all() lists every key with its producers', () => {
  const db = new RegistrationDB();
  db.addRegistration(topic('empty'));
  db.addProducer(topic('t'), new Producer(peer('a')));
  const all = [...db.all()].map(([r, ps]) => `${r.category}:${r.key}:${r.subkey}=${ps.map((p) => p.peerInfo.id).join(',')}`).sort();
  assert.deepEqual(all, ['topic:empty:=', 'topic:t:=a']);
});

test('filterByActive: inactive after the timeout, tombstoned until the lifetime passes', () => {
  const active = new Producer(peer('a', 10_000));
  const stale = new Producer(peer('b', 10_000 - 301_000));
  const edge = new Producer(peer('c', 10_000 - 300_000));
  const tomb = new Producer(peer('d', 10_000));
  tomb.tombstone(9_000);
  const all = [active, stale, edge, tomb];
  const ids = (ps: Producer[]) => ps.map((p) => p.peerInfo.id);
  assert.deepEqual(ids(filterByActive(all, 300_000, 45_000, 10_000)), ['a', 'c'], 'now − last_update <= timeout is active');
  assert.deepEqual(ids(filterByActive(all, 300_000, 0, 10_000)), ['a', 'c', 'd'], 'lifetime 0: tombstones ignored (/nodes)');
  assert.deepEqual(ids(filterByActive(all, 300_000, 45_000, 9_000 + 45_000)), ['a', 'd'], "45 s later: d's tombstone expired, c went inactive");
  assert.equal(tomb.isTombstoned(45_000, 9_000 + 44_999), true);
  assert.equal(tomb.isTombstoned(45_000, 9_000 + 45_000), false, 'the tombstone expires after the lifetime');
  assert.equal(active.isTombstoned(45_000, 10_000), false);
});
