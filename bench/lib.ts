// Shared pieces of the bench clients (bench_writer, bench_reader,
// bench_roundtrip): Go-style flags, a V2 frame parser that works on the
// socket's own Buffers (no per-byte loop, no per-frame allocation unless a
// frame straddles two chunks), command encoders, and result printing.
//
// The clients talk to nsqd over node:net directly: one socket.write() per
// batch of commands, callbacks per frame, no promise per message, so that
// what they measure is the server.
import * as net from 'node:net';
import process from 'node:process';

export const FRAME_RESPONSE = 0;
export const FRAME_ERROR = 1;
export const FRAME_MESSAGE = 2;

/** Offset of the message ID and body in a message frame's data (PROTOCOL.md 2.4). */
export const MSG_ID_OFFSET = 10;
export const MSG_BODY_OFFSET = 26;

// A reader of our output that goes away (`| head -1`) is no error of the benchmark.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

export const MAGIC_V2 = Buffer.from('  V2');
export const NOP = Buffer.from('NOP\n');

// ---------------------------------------------------------------- flags

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };

/** Go duration text ("3s", "1m30s", "250ms") → milliseconds; undefined if it is not one. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const parts = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.test(text) ? text.match(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g) : null;
  if (!parts) return undefined;
  let ms = 0;
  for (const part of parts) {
    const m = /^([\d.]+)(.+)$/.exec(part)!;
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return ms;
}

/** Milliseconds as Go prints a Duration, to the microsecond: "3.001234s", "999.6ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Number(ms.toFixed(3))}ms`;
  if (ms < 60000) return `${Number((ms / 1000).toFixed(6))}s`;
  const m = Math.floor(ms / 60000);
  return `${m}m${Number(((ms - m * 60000) / 1000).toFixed(6))}s`;
}

export type FlagType = 'string' | 'int' | 'duration' | 'bool';

export interface FlagSpec {
  type: FlagType;
  default: string | number | boolean;
  help: string;
}

export type FlagValues = Record<string, string | number | boolean>;

/**
 * Parses Go-style flags: `--name=value`, `--name value`, `-name=value`;
 * a bool flag given alone is true. Durations ("3s", "500ms") become
 * milliseconds. `--help` prints the usage and exits.
 */
export function parseFlags(tool: string, specs: Record<string, FlagSpec>, argv = process.argv.slice(2)): FlagValues {
  const values: FlagValues = {};
  for (const [name, spec] of Object.entries(specs)) values[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) die(tool, `unexpected argument ${JSON.stringify(arg)}`);
    const body = arg.replace(/^--?/, '');
    if (body === 'help' || body === 'h') {
      process.stdout.write(usage(tool, specs));
      process.exit(0);
    }
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = specs[name];
    if (!spec) die(tool, `flag provided but not defined: -${name}`);
    let text: string;
    if (eq >= 0) text = body.slice(eq + 1);
    else if (spec.type === 'bool') text = 'true';
    else if (i + 1 < argv.length) text = argv[++i]!;
    else die(tool, `flag needs an argument: -${name}`);
    values[name] = convert(tool, name, spec.type, text);
  }
  return values;
}

function convert(tool: string, name: string, type: FlagType, text: string): string | number | boolean {
  switch (type) {
    case 'string':
      return text;
    case 'bool':
      if (['true', '1', 't', 'T', 'TRUE', 'True'].includes(text)) return true;
      if (['false', '0', 'f', 'F', 'FALSE', 'False'].includes(text)) return false;
      return die(tool, `invalid boolean value ${JSON.stringify(text)} for -${name}`);
    case 'int': {
      const n = Number(text);
      if (!Number.isInteger(n)) die(tool, `invalid integer value ${JSON.stringify(text)} for -${name}`);
      return n;
    }
    case 'duration': {
      const ms = parseDuration(text);
      if (ms === undefined || ms < 0) die(tool, `invalid duration ${JSON.stringify(text)} for -${name}`);
      return ms;
    }
  }
}

function usage(tool: string, specs: Record<string, FlagSpec>): string {
  let out = `Usage of ${tool}:\n`;
  for (const [name, spec] of Object.entries(specs)) {
    const def = spec.type === 'duration' ? formatDuration(spec.default as number) : JSON.stringify(spec.default);
    out += `  --${name}${spec.type === 'bool' ? '' : ` <${spec.type}>`}\n      ${spec.help} (default ${def})\n`;
  }
  return out;
}

export function die(tool: string, message: string): never {
  process.stderr.write(`[${tool}] ${message}\n`);
  process.exit(2);
}

/** "host:port" → host and port. */
export function splitHostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  if (colon < 0) throw new Error(`address ${JSON.stringify(address)} is not host:port`);
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  return { host: host === '' ? '127.0.0.1' : host, port: Number(address.slice(colon + 1)) };
}

// ---------------------------------------------------------------- frames

/** Called once per complete frame; `data` is buf[start, end). */
export type FrameHandler = (type: number, buf: Buffer, start: number, end: number) => void;

/**
 * Splits the byte stream into frames. Complete frames are handed over as
 * offsets into the chunk the socket delivered; only a frame that straddles
 * two chunks is copied (once, into a buffer of its exact size).
 */
export class FrameParser {
  private readonly onFrame: FrameHandler;
  /** A frame that straddles chunks: its bytes so far, and how many it has in all. */
  private partial: Buffer | undefined;
  private partialLen = 0;
  private partialNeed = 0;
  /** Up to 3 bytes of a size field split across chunks. */
  private head = Buffer.alloc(4);
  private headLen = 0;

  constructor(onFrame: FrameHandler) {
    this.onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    const len = chunk.length;
    if (this.headLen > 0) {
      while (this.headLen < 4 && pos < len) this.head[this.headLen++] = chunk[pos++]!;
      if (this.headLen < 4) return;
      this.headLen = 0;
      this.startPartial(this.head, 0);
    }
    if (this.partial !== undefined) {
      const n = Math.min(this.partialNeed - this.partialLen, len - pos);
      chunk.copy(this.partial, this.partialLen, pos, pos + n);
      this.partialLen += n;
      pos += n;
      if (this.partialLen < this.partialNeed) return;
      const frame = this.partial;
      this.partial = undefined;
      this.emit(frame, 0, frame.length);
    }
    while (pos + 4 <= len) {
      const size = ((chunk[pos]! << 24) | (chunk[pos + 1]! << 16) | (chunk[pos + 2]! << 8) | chunk[pos + 3]!) >>> 0;
      const end = pos + 4 + size;
      if (end > len) break;
      this.emit(chunk, pos, end);
      pos = end;
    }
    if (pos < len) {
      if (len - pos < 4) {
        while (pos < len) this.head[this.headLen++] = chunk[pos++]!;
        return;
      }
      this.startPartial(chunk, pos);
      const n = len - pos;
      chunk.copy(this.partial!, 0, pos, len);
      this.partialLen = n;
    }
  }

  private startPartial(sizeBytes: Buffer, at: number): void {
    const size = sizeBytes.readUInt32BE(at);
    if (size < 4 || size > 64 << 20) throw new Error(`bad frame size ${size}`);
    this.partialNeed = 4 + size;
    this.partial = Buffer.allocUnsafe(this.partialNeed);
    sizeBytes.copy(this.partial, 0, at, at + 4);
    this.partialLen = 4;
  }

  private emit(buf: Buffer, pos: number, end: number): void {
    const type = (buf[pos + 4]! << 24) | (buf[pos + 5]! << 16) | (buf[pos + 6]! << 8) | buf[pos + 7]!;
    this.onFrame(type, buf, pos + 8, end);
  }
}

/** True when buf[start, end) is the ASCII text `text`. */
export function isText(buf: Buffer, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (buf[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

// ---------------------------------------------------------------- commands

/** `PUB <topic>\n[size][body]`. */
export function encodePub(topic: string, body: Buffer): Buffer {
  const line = Buffer.from(`PUB ${topic}\n`);
  const out = Buffer.alloc(line.length + 4 + body.length);
  line.copy(out, 0);
  out.writeInt32BE(body.length, line.length);
  body.copy(out, line.length + 4);
  return out;
}

/** `MPUB <topic>\n[body size][count]([size][body])*` with `count` copies of `body`. */
export function encodeMpub(topic: string, body: Buffer, count: number): Buffer {
  const line = Buffer.from(`MPUB ${topic}\n`);
  const bodySize = 4 + count * (4 + body.length);
  const out = Buffer.alloc(line.length + 4 + bodySize);
  let at = line.copy(out, 0);
  at = out.writeInt32BE(bodySize, at);
  at = out.writeInt32BE(count, at);
  for (let i = 0; i < count; i++) {
    at = out.writeInt32BE(body.length, at);
    at += body.copy(out, at);
  }
  return out;
}

export function encodeIdentify(fields: Record<string, unknown>): Buffer {
  const json = Buffer.from(JSON.stringify(fields));
  const line = Buffer.from('IDENTIFY\n');
  const out = Buffer.alloc(line.length + 4 + json.length);
  line.copy(out, 0);
  out.writeInt32BE(json.length, line.length);
  json.copy(out, line.length + 4);
  return out;
}

/** A message body of `size` bytes, as NSQ's bench_writer: all 'a'. */
export function messageBody(size: number): Buffer {
  return Buffer.alloc(size, 'a');
}

/**
 * Writes FIN commands for many messages into slabs: one allocation per 1 MiB
 * of FINs, one socket.write per received chunk. A slab region is never
 * rewritten, so writes still queued in the socket stay intact.
 */
export class FinWriter {
  private slab = Buffer.allocUnsafe(1 << 20);
  private at = 0;
  private start = 0;

  /** Appends `FIN <id>\n` for the message whose frame data starts at `dataStart`. */
  add(buf: Buffer, dataStart: number): void {
    if (this.at + 21 > this.slab.length) {
      const pending = this.slab.subarray(this.start, this.at);
      this.slab = Buffer.allocUnsafe(1 << 20);
      this.at = pending.copy(this.slab, 0);
      this.start = 0;
    }
    const s = this.slab;
    let at = this.at;
    s[at] = 0x46; // F
    s[at + 1] = 0x49; // I
    s[at + 2] = 0x4e; // N
    s[at + 3] = 0x20;
    buf.copy(s, at + 4, dataStart + MSG_ID_OFFSET, dataStart + MSG_BODY_OFFSET);
    s[at + 20] = 0x0a;
    at += 21;
    this.at = at;
  }

  /** Sends what was added since the last flush in one write. */
  flush(socket: net.Socket): void {
    if (this.at === this.start) return;
    socket.write(this.slab.subarray(this.start, this.at));
    this.start = this.at;
  }
}

// ---------------------------------------------------------------- connections

/** Connects, disables Nagle and sends the magic. */
export function connect(address: string): Promise<net.Socket> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.write(MAGIC_V2);
      resolve(socket);
    });
  });
}

/**
 * Sends `commands` and waits for `responses` response frames, each of which
 * must be "OK" (setup: IDENTIFY, SUB). Returns the parser-free socket again.
 */
export function expectOks(socket: net.Socket, commands: Buffer[], responses: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = responses;
    const parser = new FrameParser((type, buf, start, end) => {
      const text = buf.toString('latin1', start, end);
      if (type === FRAME_RESPONSE && text === '_heartbeat_') return void socket.write(NOP);
      if (type !== FRAME_RESPONSE || text !== 'OK') {
        cleanup();
        reject(new Error(`${what}: unexpected ${type === FRAME_ERROR ? 'error' : `frame type ${type}`}: ${text}`));
        return;
      }
      if (--left === 0) {
        cleanup();
        resolve();
      }
    });
    const onData = (chunk: Buffer) => parser.push(chunk);
    const onEnd = () => {
      cleanup();
      reject(new Error(`${what}: connection closed`));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
    };
    socket.on('data', onData);
    socket.on('close', onEnd);
    socket.on('error', onEnd);
    socket.write(Buffer.concat(commands));
  });
}

// ---------------------------------------------------------------- results

export function now(): number {
  return performance.now();
}

/** CPU time this process used since `since`, as a fraction of one core over `wallMs`. */
export function cpuShare(since: NodeJS.CpuUsage, wallMs: number): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000 / wallMs;
}

/** Go's Duration text, e.g. 3.001234s. */
export function goDuration(ms: number): string {
  return formatDuration(ms);
}

/** With --json, a line run.ts reads when the timed part starts. */
export function announceStart(json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify({ event: 'start' })}\n`);
}

/** With --json, the result as one JSON line (for run.ts); always the human-readable lines. */
export function report(json: boolean, lines: string[], result: Record<string, unknown>): void {
  for (const line of lines) process.stdout.write(`${line}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ event: 'result', ...result })}\n`);
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
