// Echo throughput through the runtime's Net adapter, server and client in one
// process: the client sends 100-byte frames in 64 KiB batches for --seconds
// (default 3), the server writes each chunk it reads back as one batch.
//   node --import tsx bench/net_echo.ts | bun bench/net_echo.ts | deno run -A bench/net_echo.ts
import process from 'node:process';
import type { Connection } from '../core/ports.ts';
import { runtime } from '../tests/helpers/runtime.ts';

const FRAME = 100;
const BATCH_FRAMES = 655; // 65,500 bytes: a 64 KiB batch of whole frames

function flag(name: string, fallback: number): number {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return Number(args[i + 1]);
    if (args[i].startsWith(`--${name}=`)) return Number(args[i].slice(name.length + 3));
  }
  return fallback;
}

/** Writes back every chunk as one batch, honouring the writer's back-pressure. */
async function echo(conn: Connection): Promise<void> {
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if ((writer.desiredSize ?? 1) <= 0) await writer.ready;
    writer.write(value).catch(() => { /* surfaces on ready/close */ });
  }
  await writer.close();
}

function batch(): Uint8Array {
  const buf = new Uint8Array(FRAME * BATCH_FRAMES);
  const view = new DataView(buf.buffer);
  for (let i = 0; i < BATCH_FRAMES; i++) {
    view.setInt32(i * FRAME, FRAME - 4); // NSQ-style size prefix
    view.setInt32(i * FRAME + 4, 2); // FrameTypeMessage
    buf.fill(0x61 + (i % 26), i * FRAME + 8, (i + 1) * FRAME);
  }
  return buf;
}

async function main(): Promise<void> {
  const seconds = flag('seconds', 3);
  const listener = await runtime.net.listen({ host: '127.0.0.1', port: 0 }, (c) => {
    echo(c).catch((e) => console.error('echo:', e)).finally(() => c.close());
  });
  const client = await runtime.net.connect({ host: '127.0.0.1', port: listener.address.port });
  const data = batch();
  let received = 0;
  const reading = (async () => {
    const reader = client.readable.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      received += value.byteLength;
    }
  })();

  const writer = client.writable.getWriter();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let sent = 0;
  while (performance.now() < deadline) {
    if ((writer.desiredSize ?? 1) <= 0) await writer.ready;
    writer.write(data).catch(() => { /* surfaces on ready/close */ });
    sent += data.byteLength;
  }
  await writer.close(); // half-close: the server echoes the rest, then ends
  await reading;
  const elapsed = (performance.now() - start) / 1000;
  client.close();
  await listener.close();

  if (received !== sent) throw new Error(`sent ${sent} bytes, received ${received}`);
  const mb = sent / 1e6 / elapsed;
  console.log(
    `${runtime.name}: ${mb.toFixed(1)} MB/s echoed (${(sent / FRAME / elapsed / 1e6).toFixed(2)} M frames/s), ` +
      `${(sent / 1e6).toFixed(0)} MB in ${elapsed.toFixed(2)} s`,
  );
}

// Bounded: a stuck transfer fails instead of hanging.
const guard = setTimeout(() => { console.error('net_echo: timed out'); process.exit(1); }, (flag('seconds', 3) + 30) * 1000);
await main();
clearTimeout(guard);
