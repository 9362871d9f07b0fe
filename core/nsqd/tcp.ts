// The TCP accept path (NSQ's nsqd/tcp.go): read the 4-byte magic, then hand
// the connection to protocol V2, or answer E_BAD_PROTOCOL and close.
import type { Connection } from '../ports.ts';
import { encodeFrame, FRAME_TYPE_ERROR } from '../protocol/frame.ts';
import type { NSQD } from './nsqd.ts';
import { ProtocolV2 } from './protocol_v2.ts';

const MAGIC_V2 = [0x20, 0x20, 0x56, 0x32]; // "  V2"

export async function handleConnection(nsqd: NSQD, conn: Connection): Promise<void> {
  const reader = conn.readable.getReader();
  let head = new Uint8Array(0);
  // The magic may arrive split across chunks; the client must send it within a client timeout.
  const timer = setTimeout(() => conn.close(), nsqd.opts.clientTimeout);
  try {
    while (head.length < 4) {
      const { value, done } = await reader.read();
      if (done) return conn.close();
      const joined = new Uint8Array(head.length + value.length);
      joined.set(head);
      joined.set(value, head.length);
      head = joined;
    }
  } catch {
    return conn.close();
  } finally {
    clearTimeout(timer);
  }
  if (!MAGIC_V2.every((b, i) => head[i] === b)) {
    nsqd.logger.error(`client(${conn.remoteAddress}) bad protocol magic`);
    const writer = conn.writable.getWriter();
    try {
      await writer.write(encodeFrame(FRAME_TYPE_ERROR, 'E_BAD_PROTOCOL'));
      await writer.close();
    } catch {
      // the peer is gone
    }
    reader.cancel().catch(() => {});
    return conn.close();
  }
  const client = nsqd.addClient(conn);
  await new ProtocolV2(nsqd, client).ioLoop(reader, head.subarray(4));
}
