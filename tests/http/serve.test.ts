// The runtime adapter's Serve (core's HTTP/1.1 server on Node, Bun.serve,
// Deno.serve): a handler that throws gets the client a 500, the daemon hears
// of the error through onError, and the server goes on serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runtime, runtimeName } from '../helpers/runtime.ts';

test('Serve: a handler that throws answers 500, reports the error, and serving goes on', async () => {
  const errors: unknown[] = [];
  const listener = await runtime.serve!(
    (req) => {
      if (new URL(req.url).pathname === '/boom') throw new Error('boom');
      return new Response('ok');
    },
    { host: '127.0.0.1', port: 0 },
    (err) => errors.push(err),
  );
  try {
    const base = `http://127.0.0.1:${listener.address.port}`;
    const bad = await fetch(`${base}/boom`, { signal: AbortSignal.timeout(5000) });
    assert.equal(bad.status, 500, `[${runtimeName}]`);
    await bad.arrayBuffer();
    assert.equal(errors.length, 1, `[${runtimeName}] onError calls`);
    assert.match(String(errors[0]), /boom/);
    const good = await fetch(`${base}/`, { signal: AbortSignal.timeout(5000) });
    assert.equal(await good.text(), 'ok');
  } finally {
    await listener.close();
  }
});
