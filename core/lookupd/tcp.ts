// nsqlookupd's TCP accept path (NSQ's nsqlookupd/tcp.go): read the 4-byte
// magic, then run protocol V1, or answer E_BAD_PROTOCOL (unframed: size and
// text, no frame type) and close.
import type { Connection } from '../ports.ts';
import { LookupProtocolV1, type LookupContext } from './lookup_protocol_v1.ts';

const MAGIC_V1 = [0x20, 0x20, 0x56, 0x31]; // "  V1"
const BAD_PROTOCOL = Uint8Array.of(0, 0, 0, 14, ...new TextEncoder().encode('E_BAD_PROTOCOL'));

export async function handleLookupConnection(ctx: LookupContext, conn: Connection): Promise<void> {
  const reader = conn.readable.getReader();
  let head = new Uint8Array(0);
  try {
    while (head.length < 4) {
      const { value, done } = await reader.read();
      if (done) {
        ctx.logger.error(`failed to read protocol version from ${conn.remoteAddress} - EOF`);
        return conn.close();
      }
      const joined = new Uint8Array(head.length + value.length);
      joined.set(head);
      joined.set(value, head.length);
      head = joined;
    }
  } catch (err) {
    ctx.logger.error(`failed to read protocol version from ${conn.remoteAddress} - ${String(err)}`);
    return conn.close();
  }
  const magic = String.fromCharCode(...head.subarray(0, 4));
  ctx.logger.info(`CLIENT(${conn.remoteAddress}): desired protocol magic '${magic}'`);
  if (!MAGIC_V1.every((b, i) => head[i] === b)) {
    const writer = conn.writable.getWriter();
    try {
      await writer.write(BAD_PROTOCOL);
      await writer.close();
    } catch {
      // the peer is gone
    }
    ctx.logger.error(`client(${conn.remoteAddress}) bad protocol magic '${magic}'`);
    reader.cancel().catch(() => {});
    return conn.close();
  }
  await new LookupProtocolV1(ctx, conn).ioLoop(reader, head.subarray(4));
}
