// nsqd's options (PROTOCOL.md section 4): one table drives the flags, --help,
// the config-file keys and the defaults; valibot checks the ranges. Durations
// are in milliseconds.
import * as v from 'valibot';
import { ConfigError } from '../errors.ts';
import type { FlagSpec } from '../config/flags.ts';

export const VERSION = '1.3.0';

export interface NsqdOptions {
  logLevel: string;
  logPrefix: string;
  nodeId: number;
  tcpAddress: string;
  httpAddress: string;
  broadcastAddress: string;
  dataPath: string;
  memQueueSize: number;
  maxBytesPerFile: number;
  syncEvery: number;
  syncTimeout: number;
  queueScanInterval: number;
  queueScanRefreshInterval: number;
  queueScanSelectionCount: number;
  queueScanWorkerPoolMax: number;
  queueScanDirtyPercent: number;
  msgTimeout: number;
  maxMsgTimeout: number;
  maxMsgSize: number;
  maxBodySize: number;
  maxReqTimeout: number;
  clientTimeout: number;
  maxHeartbeatInterval: number;
  maxRdyCount: number;
  maxOutputBufferSize: number;
  maxOutputBufferTimeout: number;
  minOutputBufferTimeout: number;
  outputBufferTimeout: number;
  maxChannelConsumers: number;
  deflate: boolean;
  maxDeflateLevel: number;
  snappy: boolean;
}

/** Flags nsq-ts does not implement yet: refused at start-up when set, never silently ignored. */
const NOT_YET = '(not supported yet by nsq-ts: refused when set)';

export const NSQD_FLAGS: readonly FlagSpec[] = [
  { name: 'config', type: 'string', default: '', help: 'path to config file', configKey: null },
  { name: 'version', type: 'bool', default: false, help: 'print version string', configKey: null },
  { name: 'log-level', type: 'string', default: 'info', help: 'set log verbosity: debug, info, warn, error, or fatal' },
  { name: 'log-prefix', type: 'string', default: '[nsqd] ', help: 'log message prefix' },
  { name: 'verbose', type: 'bool', default: false, help: '[deprecated] has no effect, use --log-level', configKey: null },
  { name: 'node-id', type: 'int', default: -1, help: 'unique part for message IDs, (int) in range [0,1024) (default is hash of hostname)', configKey: 'id' },
  { name: 'worker-id', type: 'int', default: -1, help: '[deprecated] use --node-id', configKey: null },
  { name: 'tcp-address', type: 'string', default: '0.0.0.0:4150', help: '<addr>:<port> to listen on for TCP clients' },
  { name: 'http-address', type: 'string', default: '0.0.0.0:4151', help: `<addr>:<port> to listen on for HTTP clients ${NOT_YET}` },
  { name: 'https-address', type: 'string', default: '0.0.0.0:4152', help: '<addr>:<port> to listen on for HTTPS clients' },
  { name: 'broadcast-address', type: 'string', default: '', help: 'address that will be registered with lookupd (defaults to the OS hostname)' },
  { name: 'data-path', type: 'string', default: '', help: 'path to store disk-backed messages' },
  { name: 'mem-queue-size', type: 'int', default: 10000, help: 'number of messages to keep in memory (per topic/channel)' },
  { name: 'max-bytes-per-file', type: 'int', default: 104857600, help: 'number of bytes per diskqueue file before rolling' },
  { name: 'sync-every', type: 'int', default: 2500, help: 'number of messages per diskqueue fsync' },
  { name: 'sync-timeout', type: 'duration', default: 2000, help: 'duration of time per diskqueue fsync' },
  { name: 'queue-scan-interval', type: 'duration', default: 100, help: 'how often the queue scanner looks for expired in-flight and due deferred messages' },
  { name: 'queue-scan-refresh-interval', type: 'duration', default: 5000, help: 'how often the queue scanner refreshes its channel list and resizes its worker pool' },
  { name: 'queue-scan-selection-count', type: 'int', default: 20, help: 'number of channels to check per queue scan loop' },
  { name: 'queue-scan-worker-pool-max', type: 'int', default: 4, help: 'max concurrency for checking in-flight and deferred message timeouts' },
  { name: 'queue-scan-dirty-percent', type: 'float', default: 0.25, help: 'scan again at once when more than this fraction of the selected channels had work' },
  { name: 'msg-timeout', type: 'duration', default: 60000, help: 'default duration to wait before auto-requeing a message' },
  { name: 'max-msg-timeout', type: 'duration', default: 900000, help: 'maximum duration before a message will timeout' },
  { name: 'max-msg-size', type: 'int', default: 1048576, help: 'maximum size of a single message in bytes' },
  { name: 'max-body-size', type: 'int', default: 5242880, help: 'maximum size of a single command body' },
  { name: 'max-req-timeout', type: 'duration', default: 3600000, help: 'maximum requeuing timeout for a message' },
  { name: 'client-timeout', type: 'duration', default: 60000, help: 'client timeout; the default heartbeat interval is half of it' },
  { name: 'max-heartbeat-interval', type: 'duration', default: 60000, help: 'maximum client configurable duration of time between client heartbeats' },
  { name: 'max-rdy-count', type: 'int', default: 2500, help: 'maximum RDY count for a client' },
  { name: 'max-output-buffer-size', type: 'int', default: 65536, help: 'maximum client configurable size (in bytes) for a client output buffer' },
  { name: 'max-output-buffer-timeout', type: 'duration', default: 30000, help: 'maximum client configurable duration of time between flushing to a client' },
  { name: 'min-output-buffer-timeout', type: 'duration', default: 25, help: 'minimum client configurable duration of time between flushing to a client' },
  { name: 'output-buffer-timeout', type: 'duration', default: 250, help: 'default duration of time between flushing data to clients' },
  { name: 'max-channel-consumers', type: 'int', default: 0, help: 'maximum channel consumer connection count per nsqd instance (default 0, i.e., unlimited)' },
  { name: 'deflate', type: 'bool', default: true, help: `enable deflate feature negotiation (client compression) ${NOT_YET}` },
  { name: 'max-deflate-level', type: 'int', default: 6, help: 'max deflate compression level a client can negotiate (> values == > nsqd CPU usage)' },
  { name: 'snappy', type: 'bool', default: true, help: `enable snappy feature negotiation (client compression) ${NOT_YET}` },
  { name: 'lookupd-tcp-address', type: 'list', default: [], help: `lookupd TCP address (may be given multiple times) ${NOT_YET}`, configKey: 'nsqlookupd_tcp_addresses' },
  { name: 'auth-http-address', type: 'list', default: [], help: `<addr>:<port> or a full url to query auth server (may be given multiple times) ${NOT_YET}`, configKey: 'auth_http_addresses' },
  { name: 'tls-cert', type: 'string', default: '', help: `path to certificate file ${NOT_YET}` },
  { name: 'tls-key', type: 'string', default: '', help: `path to key file ${NOT_YET}` },
  { name: 'statsd-address', type: 'string', default: '', help: `UDP <addr>:<port> of a statsd daemon for pushing stats ${NOT_YET}` },
  { name: 'e2e-processing-latency-percentile', type: 'floatList', default: [], help: `message processing time percentiles (as float (0, 1.0]) to track ${NOT_YET}`, configKey: 'e2e_processing_latency_percentiles' },
];

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const ms = (min: number) => v.pipe(v.number(), v.minValue(min));

const OptionsSchema = v.object({
  logLevel: v.picklist(['debug', 'info', 'warn', 'error', 'fatal']),
  logPrefix: v.string(),
  nodeId: int(0, 1023),
  tcpAddress: v.pipe(v.string(), v.minLength(1)),
  httpAddress: v.string(),
  broadcastAddress: v.string(),
  dataPath: v.string(),
  memQueueSize: int(0),
  maxBytesPerFile: int(1),
  syncEvery: int(1),
  syncTimeout: ms(0),
  queueScanInterval: ms(1),
  queueScanRefreshInterval: ms(1),
  queueScanSelectionCount: int(1),
  queueScanWorkerPoolMax: int(1),
  queueScanDirtyPercent: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  msgTimeout: ms(1),
  maxMsgTimeout: ms(1),
  maxMsgSize: int(1),
  maxBodySize: int(1),
  maxReqTimeout: ms(0),
  clientTimeout: ms(2),
  maxHeartbeatInterval: ms(1),
  maxRdyCount: int(1),
  maxOutputBufferSize: int(64),
  maxOutputBufferTimeout: ms(1),
  minOutputBufferTimeout: ms(1),
  outputBufferTimeout: ms(1),
  maxChannelConsumers: int(0),
  deflate: v.boolean(),
  maxDeflateLevel: int(1, 9),
  snappy: v.boolean(),
});

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The default options, as Go nsqd's (node id 0 until a host name is known). */
export function defaultOptions(overrides: Partial<NsqdOptions> = {}): NsqdOptions {
  return buildOptions(Object.fromEntries(NSQD_FLAGS.map((f) => [f.name, f.default])), 0, overrides);
}

/**
 * Turns flag values (by flag name) into validated options. `defaultNodeId`
 * applies when --node-id is not given. Throws a ConfigError that names the
 * option, the value and what is allowed.
 */
export function buildOptions(values: Record<string, unknown>, defaultNodeId: number, overrides: Partial<NsqdOptions> = {}): NsqdOptions {
  for (const name of ['lookupd-tcp-address', 'auth-http-address', 'e2e-processing-latency-percentile']) {
    if ((values[name] as unknown[] | undefined)?.length) throw new ConfigError(`--${name} is not supported yet by nsq-ts; remove it to start`);
  }
  for (const name of ['tls-cert', 'tls-key', 'statsd-address']) {
    if (values[name]) throw new ConfigError(`--${name} is not supported yet by nsq-ts; remove it to start`);
  }
  const raw: Record<string, unknown> = {};
  for (const f of NSQD_FLAGS) {
    const key = camel(f.name);
    if (key in OptionsSchema.entries) raw[key] = values[f.name];
  }
  if (raw.nodeId === -1) raw.nodeId = defaultNodeId;
  Object.assign(raw, overrides);
  const result = v.safeParse(OptionsSchema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    const key = String(issue.path?.[0]?.key ?? '');
    const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new ConfigError(`invalid value ${JSON.stringify(issue.input)} for --${flag}: ${issue.message}`);
  }
  const opts = result.output;
  if (opts.maxMsgSize > opts.maxBodySize) throw new ConfigError(`--max-msg-size (${opts.maxMsgSize}) must not exceed --max-body-size (${opts.maxBodySize})`);
  return opts;
}
