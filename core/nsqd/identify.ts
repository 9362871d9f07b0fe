// IDENTIFY (PROTOCOL.md 2.8): the client's settings, checked in Go nsqd's
// order (heartbeat, output buffer timeout, output buffer size, sample rate,
// msg timeout), and the feature-negotiation answer.
import * as v from 'valibot';
import { FatalClientError } from '../errors.ts';
import type { ClientV2 } from './client_v2.ts';
import type { NSQD } from './nsqd.ts';
import { VERSION } from './options.ts';

// Go's json.Unmarshal into nsqd's identifyDataV2: unknown fields ignored, null
// leaves the default, keys matched exactly or else case-insensitively (the
// last key for a field wins), ints must be integer literals in range (Go's int
// is 64-bit, sample_rate an int32).
const str = v.nullish(v.string());
const bool = v.nullish(v.boolean());
const intN = (bits: number) => v.nullish(v.pipe(v.number(), v.integer(), v.minValue(-(2 ** (bits - 1))), v.maxValue(2 ** (bits - 1) - 1)));
const int = intN(64);

const IdentifyBody = v.object({
  client_id: str,
  hostname: str,
  user_agent: str,
  feature_negotiation: bool,
  heartbeat_interval: int,
  output_buffer_size: int,
  output_buffer_timeout: int,
  tls_v1: bool,
  snappy: bool,
  deflate: bool,
  deflate_level: int,
  sample_rate: intN(32),
  msg_timeout: int,
  topology_region: str,
  topology_zone: str,
});

const FIELDS = new Set(Object.keys(IdentifyBody.entries));

// A byte order mark is kept, so that JSON.parse refuses it as Go does.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** The known fields of a decoded body, found as Go's decoder finds them. */
function pickFields(json: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const name = FIELDS.has(key) ? key : key.toLowerCase();
    if (FIELDS.has(name)) out[name] = value;
  }
  return out;
}

/** Applies an IDENTIFY body to the client; returns the reply text ("OK" or the JSON). */
export function identify(nsqd: NSQD, client: ClientV2, body: Uint8Array): string {
  const bad = (desc: string) => new FatalClientError('E_BAD_BODY', desc);
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(body));
  } catch (err) {
    throw new FatalClientError('E_BAD_BODY', 'IDENTIFY failed to decode JSON body', { cause: err });
  }
  // JSON null decodes to nothing; anything but an object (arrays included) cannot be decoded into the struct
  if (typeof json !== 'object' || Array.isArray(json)) throw bad('IDENTIFY failed to decode JSON body');
  const parsed = v.safeParse(IdentifyBody, json === null ? {} : pickFields(json));
  if (!parsed.success) throw bad('IDENTIFY failed to decode JSON body');
  const data = parsed.output;
  const opts = nsqd.opts;

  if (data.client_id) client.clientId = data.client_id;
  if (data.hostname) client.hostname = data.hostname;
  client.userAgent = data.user_agent ?? '';

  const hb = data.heartbeat_interval ?? 0;
  let heartbeat = client.heartbeatInterval;
  if (hb === -1) heartbeat = 0;
  else if (hb >= 1000 && hb <= opts.maxHeartbeatInterval) heartbeat = hb;
  else if (hb !== 0) throw bad(`IDENTIFY heartbeat interval (${hb}) is invalid`);

  const obt = data.output_buffer_timeout ?? 0;
  let timeout = opts.outputBufferTimeout;
  if (obt === -1) timeout = 0;
  else if (obt >= opts.minOutputBufferTimeout && obt <= opts.maxOutputBufferTimeout) timeout = obt;
  else if (obt !== 0) throw bad(`IDENTIFY output buffer timeout (${obt}) is invalid`);

  const obs = data.output_buffer_size ?? 0;
  let size = client.outputBufferSize;
  if (obs === -1) {
    size = 1;
    timeout = 0;
  } else if (obs >= 64 && obs <= opts.maxOutputBufferSize) size = obs;
  else if (obs !== 0) throw bad(`IDENTIFY output buffer size (${obs}) is invalid`);

  const sampleRate = data.sample_rate ?? 0;
  if (sampleRate < 0 || sampleRate > 99) throw bad(`IDENTIFY sample rate (${sampleRate}) is invalid`);

  const mt = data.msg_timeout ?? 0;
  let msgTimeout = client.msgTimeout;
  if (mt >= 1000 && mt <= opts.maxMsgTimeout) msgTimeout = mt;
  else if (mt !== 0) throw bad(`IDENTIFY msg timeout (${mt}) is invalid`);

  client.heartbeatInterval = heartbeat;
  client.outputBufferTimeout = timeout;
  client.outputBufferSize = size;
  client.sampleRate = sampleRate;
  client.msgTimeout = msgTimeout;
  client.featureNegotiation = data.feature_negotiation === true;
  client.identified = true;
  client.armTimers();

  if (!client.featureNegotiation) return 'OK';
  // TLS, snappy and deflate are not offered yet: answered as by a Go nsqd with them disabled.
  return JSON.stringify({
    max_rdy_count: opts.maxRdyCount,
    version: VERSION,
    max_msg_timeout: opts.maxMsgTimeout,
    msg_timeout: msgTimeout,
    tls_v1: false,
    deflate: false,
    deflate_level: Math.min(6, opts.maxDeflateLevel),
    max_deflate_level: opts.maxDeflateLevel,
    snappy: false,
    sample_rate: sampleRate,
    auth_required: false,
    output_buffer_size: size,
    output_buffer_timeout: timeout,
    topology_region: '',
    topology_zone: '',
  });
}
