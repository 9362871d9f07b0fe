// A stand-in for nsqd that does nothing but answer OK to each PUB/MPUB: the
// ceiling any Node server can reach in bench_roundtrip --mode=pub (and
// bench_writer) on this machine, with the same client. It keeps no message,
// checks nothing, and answers every other command with nothing.
//
//   ./node_modules/.bin/node bench/ok_server.ts --port=4652 &
//   ./node_modules/.bin/node bench/bench_roundtrip.ts --nsqd-tcp-address=127.0.0.1:4652 --size=100 --runfor=3s
import * as net from 'node:net';
import process from 'node:process';
import { parseFlags } from './lib.ts';

const flags = parseFlags('ok_server', {
  port: { type: 'int', default: 4652, help: 'TCP port on 127.0.0.1' },
});

const OK = Buffer.from([0, 0, 0, 6, 0, 0, 0, 0, 0x4f, 0x4b]);
const NL = 10;

net.createServer({ noDelay: true }, (socket) => {
  let skip = 4; // the magic
  let pending: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let pos = Math.min(skip, buf.length);
    skip -= pos;
    let oks = 0;
    while (pos < buf.length) {
      const nl = buf.indexOf(NL, pos);
      if (nl < 0) break;
      const isPub = buf[pos] === 0x50 || buf[pos] === 0x4d; // PUB, MPUB
      if (!isPub) {
        pos = nl + 1;
        continue;
      }
      if (nl + 5 > buf.length) break;
      const end = nl + 5 + buf.readInt32BE(nl + 1);
      if (end > buf.length) break;
      pos = end;
      oks++;
    }
    if (pos < buf.length) pending = Buffer.from(buf.subarray(pos));
    if (oks === 1) socket.write(OK);
    else if (oks > 1) socket.write(Buffer.concat(Array.from({ length: oks }, () => OK)));
  });
  socket.on('error', () => {});
}).listen(flags.port as number, '127.0.0.1', () => {
  process.stdout.write(`[ok_server] listening on 127.0.0.1:${flags.port}\n`);
});
