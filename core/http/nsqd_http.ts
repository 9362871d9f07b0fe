// nsqd's HTTP API (NSQ's nsqd/http.go; PROTOCOL.md section 5) as a Hono app.
// Every query parameter and body goes through a valibot schema whose issue
// messages are NSQ's error texts, so a failed check becomes NSQ's answer as
// it is (400 {"message":"MISSING_ARG_TOPIC"}, ...). /pub is the hot path:
// it parses only the parameters it needs, with primitive schemas.
import type { Context, Hono } from 'hono';
import * as v from 'valibot';
import { configKeyOf } from '../config/config_file.ts';
import { LOG_LEVELS, type LogLevel } from '../log.ts';
import { isValidChannelName, isValidTopicName } from '../protocol/names.ts';
import { nowNs } from '../nsqd/message.ts';
import { formatPrometheus, PROMETHEUS_CONTENT_TYPE } from '../nsqd/metrics.ts';
import type { NSQD } from '../nsqd/nsqd.ts';
import { NSQ_TS_ONLY_FLAGS, NSQD_FLAGS, VERSION } from '../nsqd/options.ts';
import { formatStatsText, getStats } from '../nsqd/stats.ts';
import type { FlagSpec } from '../config/flags.ts';
import {
  ApiError, boolParam, contentLength, createApiApp, emptyResponse, jsonResponse, parseQuery, plainResponse, readBody,
  textResponse, TEXT_CONTENT_TYPE, NSQ_CONTENT_TYPE, type Route,
} from './api_response.ts';

const ABORT_EARLY = { abortEarly: true } as const;

/** Runs `schema` on `input`; a failure becomes a 400 with the issue's message (NSQ's error text). */
function check<T>(schema: v.GenericSchema<unknown, T>, input: unknown): T {
  const r = v.safeParse(schema, input, ABORT_EARLY);
  if (!r.success) throw new ApiError(400, r.issues[0].message);
  return r.output;
}

/** The query string, or 400 INVALID_REQUEST where Go's url.ParseQuery fails. */
function query(c: Context): Record<string, string> {
  const q = parseQuery(c.req.url);
  if (q === undefined) throw new ApiError(400, 'INVALID_REQUEST');
  return q;
}

// ---- schemas: the message of each check is NSQ's error text

const topicName = (invalid: string) => v.pipe(v.string('MISSING_ARG_TOPIC'), v.check(isValidTopicName, invalid));
const anyTopicName = v.string('MISSING_ARG_TOPIC');
const channelName = v.pipe(v.string('MISSING_ARG_CHANNEL'), v.check(isValidChannelName, 'INVALID_ARG_CHANNEL'));

/** /pub, /mpub, /topic/create, /topic/empty. */
const PubTopic = topicName('INVALID_TOPIC');
/** /channel/*: the other spelling of the error. */
const ChannelTopic = topicName('INVALID_ARG_TOPIC');
// (One schema per parameter, checked in Go's order: a valibot object would
// answer a missing key with its own message, not the key schema's.)

/** include_clients / include_mem: true/1/false/0, anything else (or nothing) true. */
const TrueUnlessFalse = v.optional(v.pipe(v.string(), v.transform((s) => boolParam(s) ?? true)), 'true');

const StatsQuery = v.object({
  format: v.optional(v.string(), ''),
  topic: v.optional(v.string(), ''),
  channel: v.optional(v.string(), ''),
  include_clients: TrueUnlessFalse,
  include_mem: TrueUnlessFalse,
});

/** binary=: true/1 binary, false/0 or absent text, anything else binary (deprecated). */
const BinaryParam = v.optional(v.string());

const LogLevelBody = v.pipe(v.string(), v.toLowerCase(), v.picklist(LOG_LEVELS, 'INVALID_VALUE'));
const LookupdAddressesBody = v.nullable(v.array(v.string('INVALID_VALUE'), 'INVALID_VALUE'));

// ---- /config/:opt

const camel = (name: string) => name.replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase());

/** The options /config can address: NSQ's, by config-file key. */
const CONFIG_OPTIONS: ReadonlyMap<string, FlagSpec> = new Map(
  NSQD_FLAGS.filter((f) => !NSQ_TS_ONLY_FLAGS.has(f.name))
    .map((f) => [configKeyOf(f), f] as const)
    .filter((e): e is readonly [string, FlagSpec] => e[0] !== null),
);
const ConfigOption = v.pipe(v.string(), v.check((k) => CONFIG_OPTIONS.has(k), 'INVALID_OPTION'));

const TLS_REQUIRED: Record<string, number> = { false: 0, '0': 0, f: 0, 'tcp-https': 1, true: 2, '1': 2, t: 2 };
const TLS_VERSION: Record<string, number> = { 'ssl3.0': 0x0300, 'tls1.0': 0x0301, 'tls1.1': 0x0302, 'tls1.2': 0x0303, 'tls1.3': 0x0304 };

/** An option's value as Go nsqd answers it: durations in ns, log_level 1-5, TLS settings as Go's numbers. */
function configValue(nsqd: NSQD, spec: FlagSpec): unknown {
  const value = (nsqd.opts as unknown as Record<string, unknown>)[camel(spec.name)];
  switch (spec.name) {
    case 'node-id': return nsqd.opts.nodeId;
    case 'log-level': return LOG_LEVELS.indexOf(nsqd.logger.level) + 1;
    case 'tls-required': return TLS_REQUIRED[String(value)] ?? 0;
    case 'tls-min-version': return TLS_VERSION[String(value)] ?? 0x0301;
  }
  if (spec.type === 'duration') return Math.round((value as number) * 1e6);
  return value;
}

/** Go answers a string as raw text, anything else as JSON (RespondV1). */
function configResponse(value: unknown): Response {
  return typeof value === 'string' ? textResponse(value) : jsonResponse(value);
}

const decoder = new TextDecoder();

// ---- the app

/** nsqd's HTTP API over `nsqd`. */
export function createNsqdApp(nsqd: NSQD): Hono {
  const opts = nsqd.opts;
  const log = nsqd.logger;

  const DeferParam = v.pipe(
    v.string(),
    v.regex(/^[+-]?\d+$/, 'INVALID_DEFER'),
    v.transform(Number),
    v.check((ms) => ms >= 0 && ms <= nsqd.opts.maxReqTimeout, 'INVALID_DEFER'),
  );

  /** OK once nsqd.settlePublish() has settled (--durable's fsync, a disk backlog), as for TCP PUB; at once when nothing waits. */
  const ok = (): Response | Promise<Response> => {
    const settled = nsqd.settlePublish();
    if (settled === undefined) return textResponse('OK');
    return settled.then(
      () => textResponse('OK'),
      (err) => {
        log.error(`HTTP: fsync failed - ${String(err)}`);
        throw new ApiError(500, 'INTERNAL_ERROR');
      },
    );
  };

  const pub = async (c: Context): Promise<Response> => {
    const req = c.req.raw;
    const body = await readBody(req, opts.maxMsgSize, c.env);
    if (body === undefined) throw new ApiError(413, 'MSG_TOO_BIG');
    if (body.length === 0) throw new ApiError(400, 'MSG_EMPTY');
    const q = query(c);
    const topic = nsqd.getTopic(check(PubTopic, q.topic));
    const deferMs = q.defer === undefined ? 0 : check(DeferParam, q.defer);
    if (topic.exiting) throw new ApiError(503, 'EXITING');
    const msg = topic.newMessage(body, nowNs());
    if (deferMs > 0) msg.deferred = deferMs;
    topic.putMessage(msg);
    return ok();
  };

  const mpub = async (c: Context): Promise<Response> => {
    const req = c.req.raw;
    const declared = contentLength(req, c.env);
    if (declared !== null && Number(declared) > opts.maxBodySize) throw new ApiError(413, 'BODY_TOO_BIG');
    const q = query(c);
    const topic = nsqd.getTopic(check(PubTopic, q.topic));
    const binaryText = check(BinaryParam, q.binary);
    let binary = false;
    if (binaryText !== undefined) {
      const b = boolParam(binaryText);
      if (b === undefined) log.warn(`deprecated value '${binaryText}' used for /mpub binary param`);
      binary = b ?? true;
    }
    const body = await readBody(req, opts.maxBodySize, c.env);
    if (body === undefined) throw new ApiError(413, 'BODY_TOO_BIG');
    const bodies = binary ? readBinaryMpub(body, opts.maxMsgSize, opts.maxBodySize) : splitLines(body, opts.maxMsgSize);
    if (topic.exiting) throw new ApiError(503, 'EXITING');
    const ts = nowNs();
    for (const b of bodies) topic.putMessage(topic.newMessage(b, ts));
    return ok();
  };

  /** Topic admin: PubTopic checks the name first (create, empty); delete and pause only look it up. */
  const topicAdmin = (schema: typeof PubTopic | typeof anyTopicName, act: (name: string) => Promise<void> | void) =>
    async (c: Context): Promise<Response> => {
      await act(check(schema, query(c).topic));
      return emptyResponse();
    };

  const existingTopic = (name: string) => {
    const t = nsqd.getExistingTopic(name);
    if (t === undefined) throw new ApiError(404, 'TOPIC_NOT_FOUND');
    return t;
  };

  const channelAdmin = (act: (topicName: string, channelName: string) => Promise<void> | void) =>
    async (c: Context): Promise<Response> => {
      const q = query(c);
      const topic = check(ChannelTopic, q.topic);
      await act(topic, check(channelName, q.channel));
      return emptyResponse();
    };

  const existingChannel = (topicName: string, channelName: string) => {
    const ch = existingTopic(topicName).getExistingChannel(channelName);
    if (ch === undefined) throw new ApiError(404, 'CHANNEL_NOT_FOUND');
    return ch;
  };

  const internal = async (work: () => Promise<void> | void) => {
    try {
      await work();
    } catch (err) {
      log.error(`HTTP: ${String(err)}`);
      throw new ApiError(500, 'INTERNAL_ERROR');
    }
  };

  const routes: Route[] = [
    {
      method: 'GET', path: '/ping', handler: () =>
        nsqd.isHealthy() ? plainResponse(200, nsqd.getHealth()) : plainResponse(500, nsqd.getHealth()),
    },
    {
      method: 'GET', path: '/info', handler: () => jsonResponse({
        version: VERSION,
        broadcast_address: opts.broadcastAddress,
        hostname: nsqd.runtime.hostname(),
        http_port: nsqd.httpPort,
        tcp_port: nsqd.tcpAddress.port,
        start_time: nsqd.startTime,
        max_heartbeat_interval: Math.round(opts.maxHeartbeatInterval * 1e6),
        max_output_buffer_size: opts.maxOutputBufferSize,
        max_output_buffer_timeout: Math.round(opts.maxOutputBufferTimeout * 1e6),
        max_deflate_level: opts.maxDeflateLevel,
        topology_zone: opts.topologyZone,
        topology_region: opts.topologyRegion,
      }),
    },
    {
      method: 'GET', path: '/stats', handler: (c) => {
        const f = check(StatsQuery, query(c));
        const snapshot = getStats(nsqd, { topic: f.topic, channel: f.channel, includeClients: f.include_clients, includeMem: f.include_mem });
        if (f.format === 'json') return jsonResponse(snapshot);
        return new Response(formatStatsText(snapshot, nsqd.startedAt, `nsq-ts on ${nsqd.runtime.name}`), {
          status: 200,
          headers: { 'Content-Type': TEXT_CONTENT_TYPE, 'X-NSQ-Content-Type': NSQ_CONTENT_TYPE },
        });
      },
    },
    {
      method: 'GET', path: '/metrics', handler: () => {
        const snapshot = getStats(nsqd, { includeClients: false, includeMem: false });
        const text = formatPrometheus(snapshot, { clients: nsqd.clientList().length, runtime: nsqd.runtime.name, memory: nsqd.runtime.memoryUsage?.() });
        return new Response(text, { status: 200, headers: { 'Content-Type': PROMETHEUS_CONTENT_TYPE } });
      },
    },
    { method: 'POST', path: '/pub', handler: pub },
    { method: 'POST', path: '/mpub', handler: mpub },

    { method: 'POST', path: '/topic/create', handler: topicAdmin(PubTopic, (name) => void nsqd.getTopic(name)) },
    {
      method: 'POST', path: '/topic/delete', handler: topicAdmin(anyTopicName, async (name) => {
        if (!(await nsqd.deleteExistingTopic(name))) throw new ApiError(404, 'TOPIC_NOT_FOUND');
      }),
    },
    { method: 'POST', path: '/topic/empty', handler: topicAdmin(PubTopic, (name) => { const t = existingTopic(name); return internal(() => t.empty()); }) },
    // Pausing persists the metadata (nsqd.dat) before answering, as Go nsqd.
    { method: 'POST', path: '/topic/pause', handler: topicAdmin(anyTopicName, (name) => { existingTopic(name).pause(); return nsqd.persistMetadata(); }) },
    { method: 'POST', path: '/topic/unpause', handler: topicAdmin(anyTopicName, (name) => { existingTopic(name).unpause(); return nsqd.persistMetadata(); }) },

    { method: 'POST', path: '/channel/create', handler: channelAdmin((t, ch) => void existingTopic(t).getChannel(ch)) },
    {
      method: 'POST', path: '/channel/delete', handler: channelAdmin(async (t, ch) => {
        if (!(await existingTopic(t).deleteChannel(ch))) throw new ApiError(404, 'CHANNEL_NOT_FOUND');
      }),
    },
    { method: 'POST', path: '/channel/empty', handler: channelAdmin((t, ch) => { const c = existingChannel(t, ch); return internal(() => c.empty()); }) },
    { method: 'POST', path: '/channel/pause', handler: channelAdmin((t, ch) => { existingChannel(t, ch).pause(); return nsqd.persistMetadata(); }) },
    { method: 'POST', path: '/channel/unpause', handler: channelAdmin((t, ch) => { existingChannel(t, ch).unpause(); return nsqd.persistMetadata(); }) },

    {
      method: 'GET', path: '/config/:opt', handler: (c) => {
        const spec = CONFIG_OPTIONS.get(check(ConfigOption, c.req.param('opt')))!;
        return configResponse(configValue(nsqd, spec));
      },
    },
    {
      method: 'PUT', path: '/config/:opt', handler: async (c) => {
        const body = await readBody(c.req.raw, opts.maxMsgSize);
        if (body === undefined || body.length === 0) throw new ApiError(413, 'INVALID_VALUE');
        const key = c.req.param('opt');
        const text = decoder.decode(body);
        switch (key) {
          case 'log_level': {
            const level = check(LogLevelBody, text) as LogLevel;
            nsqd.logger.setLevel(level);
            nsqd.opts.logLevel = level;
            break;
          }
          case 'nsqlookupd_tcp_addresses': {
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              throw new ApiError(400, 'INVALID_VALUE');
            }
            const addresses = check(LookupdAddressesBody, json) ?? [];
            nsqd.setLookupdTcpAddresses(addresses); // closes removed peers, connects to new ones
            break;
          }
          default:
            throw new ApiError(400, 'INVALID_OPTION');
        }
        return configResponse(configValue(nsqd, CONFIG_OPTIONS.get(key)!));
      },
    },
  ];
  return createApiApp(routes, log);
}

/** Text /mpub: one message per line; empty lines skipped, '\r' kept; every line checked before any is queued. */
function splitLines(body: Uint8Array, maxMsgSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  while (start <= body.length) {
    let nl = body.indexOf(0x0a, start);
    if (nl < 0) nl = body.length;
    const size = nl - start;
    if (size > maxMsgSize) throw new ApiError(413, 'MSG_TOO_BIG');
    if (size > 0) out.push(body.subarray(start, nl));
    start = nl + 1;
  }
  return out;
}

/** Binary /mpub: [int32 count]([int32 size][bytes])*, checked as TCP MPUB; errors are 413 and the code without E_. */
function readBinaryMpub(body: Uint8Array, maxMsgSize: number, maxBodySize: number): Uint8Array[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < 4) throw new ApiError(413, 'BAD_BODY');
  const count = view.getInt32(0);
  if (count <= 0 || count > Math.floor((maxBodySize - 4) / 5)) throw new ApiError(413, 'BAD_BODY');
  const out: Uint8Array[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > body.length) throw new ApiError(413, 'BAD_MESSAGE');
    const size = view.getInt32(at);
    at += 4;
    if (size <= 0 || size > maxMsgSize || at + size > body.length) throw new ApiError(413, 'BAD_MESSAGE');
    out.push(body.subarray(at, at + size));
    at += size;
  }
  return out;
}
