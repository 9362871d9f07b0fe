import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNsqd } from '../helpers/nsqd.ts';
import { WireClient, withBody } from '../helpers/wire.ts';

test('publish then consume one message', async () => {
  const d = await startNsqd();
  try {
    const p = await WireClient.connect(d.port);
    await p.pub('smoke', 'hello');
    const c = await WireClient.connect(d.port);
    await c.sub('smoke', 'ch', 1);
    const m = await c.readMessage();
    assert.equal(m.body, 'hello');
    assert.equal(m.attempts, 1);
    assert.match(m.id, /^[0-9a-f]{16}$/);
    c.write(`FIN ${m.id}\n`);
    p.write(withBody('PUB smoke\n', 'two'));
    await p.expectResponse('OK');
    assert.equal((await c.readMessage()).body, 'two');
    p.destroy();
    c.destroy();
  } finally {
    await d.close();
  }
});
