// nsqd's options (PROTOCOL.md section 4): one table drives the flags, --help,
// the config-file keys and the defaults; valibot checks the ranges. Durations
// are in milliseconds.
import * as v from 'valibot';
import { ConfigError } from '../errors.ts';
import type { FlagSpec } from '../config/flags.ts';
import { address, int, ms, oneOf, validateOptions } from '../config/validate.ts';

export const VERSION = '1.3.0';

export interface NsqdOptions {
  logLevel: string;
  logPrefix: string;
  logFormat: 'text' | 'json';
  nodeId: number;
  tcpAddress: string;
  httpAddress: string;
  httpsAddress: string;
  broadcastAddress: string;
  broadcastTcpPort: number;
  broadcastHttpPort: number;
  lookupdTcpAddress: string[];
  /** How often each nsqlookupd is PINGed (ms; Go: fixed 15 s). */
  lookupdPingInterval: number;
  authHttpAddress: string[];
  authHttpRequestMethod: string;
  httpClientConnectTimeout: number;
  httpClientRequestTimeout: number;
  topologyRegion: string;
  topologyZone: string;
  dataPath: string;
  memQueueSize: number;
  maxBytesPerFile: number;
  syncEvery: number;
  syncTimeout: number;
  durable: boolean;
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
  statsdAddress: string;
  statsdPrefix: string;
  statsdInterval: number;
  statsdMemStats: boolean;
  statsdUdpPacketSize: number;
  statsdExcludeEphemeral: boolean;
  /** Sorted descending, each in (0, 1]; empty: e2e latency not tracked. */
  e2eProcessingLatencyPercentile: number[];
  e2eProcessingLatencyWindowTime: number;
  tlsCert: string;
  tlsKey: string;
  tlsClientAuthPolicy: string;
  tlsRootCaFile: string;
  tlsRequired: string;
  tlsMinVersion: string;
  enableExperiment: string[];
}

/** Flags nsq-ts does not implement yet: refused at start-up when set, never silently ignored. */
const NOT_YET = '(not supported yet by nsq-ts: refused when set)';

export const NSQD_FLAGS: readonly FlagSpec[] = [
  { name: 'config', type: 'string', default: '', help: 'path to config file', configKey: null },
  { name: 'version', type: 'bool', default: false, help: 'print version string', configKey: null },
  { name: 'log-level', type: 'string', default: 'info', help: 'set log verbosity: debug, info, warn, error, or fatal' },
  { name: 'log-prefix', type: 'string', default: '[nsqd] ', help: 'log message prefix' },
  { name: 'log-format', type: 'string', default: 'text', help: 'log line format: text (NSQ\'s) or json (one object per line with a severity field) [nsq-ts]' },
  { name: 'verbose', type: 'bool', default: false, help: '[deprecated] has no effect, use --log-level', configKey: null },
  { name: 'node-id', type: 'int', default: -1, help: 'unique part for message IDs, (int) in range [0,1024) (default is hash of hostname)', configKey: 'id' },
  { name: 'worker-id', type: 'int', default: -1, help: '[deprecated] use --node-id', configKey: null },
  { name: 'tcp-address', type: 'string', default: '0.0.0.0:4150', help: '<addr>:<port> to listen on for TCP clients' },
  { name: 'http-address', type: 'string', default: '0.0.0.0:4151', help: '<addr>:<port> to listen on for HTTP clients ("" disables HTTP)' },
  { name: 'https-address', type: 'string', default: '0.0.0.0:4152', help: '<addr>:<port> to listen on for HTTPS clients (used only with --tls-cert and --tls-key)' },
  { name: 'broadcast-address', type: 'string', default: '', help: 'address that will be registered with lookupd (defaults to the OS hostname)' },
  { name: 'broadcast-tcp-port', type: 'int', default: 0, help: 'TCP port that will be registered with lookupd (defaults to the TCP port that this nsqd is listening on)' },
  { name: 'broadcast-http-port', type: 'int', default: 0, help: 'HTTP port that will be registered with lookupd (defaults to the HTTP port that this nsqd is listening on)' },
  { name: 'lookupd-tcp-address', type: 'list', default: [], help: 'lookupd TCP address (may be given multiple times)', configKey: 'nsqlookupd_tcp_addresses' },
  { name: 'lookupd-ping-interval', type: 'duration', default: 15000, help: 'how often to PING each nsqlookupd (keep it under nsqlookupd\'s --inactive-producer-timeout) [nsq-ts]' },
  { name: 'auth-http-address', type: 'list', default: [], help: `<addr>:<port> or a full url to query auth server (may be given multiple times) ${NOT_YET}`, configKey: 'auth_http_addresses' },
  { name: 'auth-http-request-method', type: 'string', default: 'get', help: 'HTTP method to use for auth server requests: get or post' },
  { name: 'http-client-connect-timeout', type: 'duration', default: 2000, help: 'timeout for HTTP connect' },
  { name: 'http-client-request-timeout', type: 'duration', default: 5000, help: 'timeout for HTTP request' },
  { name: 'topology-region', type: 'string', default: '', help: 'region this nsqd runs in (reported by /info and IDENTIFY)' },
  { name: 'topology-zone', type: 'string', default: '', help: 'availability zone this nsqd runs in (reported by /info and IDENTIFY)' },
  { name: 'data-path', type: 'string', default: '', help: 'path to store disk-backed messages' },
  { name: 'mem-queue-size', type: 'int', default: 10000, help: 'number of messages to keep in memory (per topic/channel)' },
  { name: 'max-bytes-per-file', type: 'int', default: 104857600, help: 'number of bytes per diskqueue file before rolling' },
  { name: 'sync-every', type: 'int', default: 2500, help: 'number of messages per diskqueue fsync' },
  { name: 'sync-timeout', type: 'duration', default: 2000, help: 'duration of time per diskqueue fsync' },
  { name: 'durable', type: 'bool', default: false, help: '(nsq-ts) answer PUB/MPUB/DPUB only once their messages are fsynced (group commit); every non-ephemeral message goes through the disk queues' },
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
  { name: 'statsd-address', type: 'string', default: '', help: `UDP <addr>:<port> of a statsd daemon for pushing stats ${NOT_YET}` },
  { name: 'statsd-prefix', type: 'string', default: 'nsq.%s', help: 'prefix used for keys sent to statsd (%s for host replacement)' },
  { name: 'statsd-interval', type: 'duration', default: 60000, help: 'duration between pushing to statsd' },
  { name: 'statsd-mem-stats', type: 'bool', default: true, help: 'toggle sending memory and GC stats to statsd' },
  { name: 'statsd-udp-packet-size', type: 'int', default: 508, help: 'the size in bytes of statsd UDP packets' },
  { name: 'statsd-exclude-ephemeral', type: 'bool', default: false, help: 'skip ephemeral topics and channels when sending stats to statsd' },
  { name: 'e2e-processing-latency-percentile', type: 'floatList', default: [], help: 'message processing time percentiles (as float (0, 1.0]) to track (can be specified multiple times or comma separated \'1.0,0.99,0.5\', default none)', configKey: 'e2e_processing_latency_percentiles' },
  { name: 'e2e-processing-latency-window-time', type: 'duration', default: 600000, help: 'calculate end to end latency quantiles for this duration of time (i.e. 60s would only show quantile calculations from the past 60 seconds)' },
  { name: 'tls-cert', type: 'string', default: '', help: `path to certificate file ${NOT_YET}` },
  { name: 'tls-key', type: 'string', default: '', help: `path to key file ${NOT_YET}` },
  { name: 'tls-client-auth-policy', type: 'string', default: '', help: `client certificate auth policy ('require' or 'require-verify') ${NOT_YET}` },
  { name: 'tls-root-ca-file', type: 'string', default: '', help: `path to certificate authority file ${NOT_YET}` },
  { name: 'tls-required', type: 'string', default: 'false', help: `require TLS for client connections (true, false, tcp-https) ${NOT_YET}` },
  { name: 'tls-min-version', type: 'string', default: 'tls1.0', help: 'minimum SSL/TLS version acceptable (\'ssl3.0\', \'tls1.0\', \'tls1.1\', \'tls1.2\' or \'tls1.3\')' },
  { name: 'enable-experiment', type: 'list', default: [], help: `enable experimental feature (may be given multiple times) ${NOT_YET}` },
];

/**
 * NSQ's options (PROTOCOL.md section 4) that nsq-ts does not implement yet,
 * and the test that they are in use: refused at start-up, never ignored.
 */
const REFUSED: readonly [flag: string, inUse: (v: unknown) => boolean][] = [
  ['auth-http-address', (v) => (v as unknown[]).length > 0],
  ['enable-experiment', (v) => (v as unknown[]).length > 0],
  ['tls-cert', (v) => v !== ''],
  ['tls-key', (v) => v !== ''],
  ['tls-client-auth-policy', (v) => v !== ''],
  ['tls-root-ca-file', (v) => v !== ''],
  ['tls-required', (v) => !['false', '0', 'f'].includes(String(v).toLowerCase())],
  ['statsd-address', (v) => v !== ''],
];

/** Flags of nsq-ts beyond Go nsqd's: not addressable through /config/:opt, as Go's fields without a flag. */
export const NSQ_TS_ONLY_FLAGS: ReadonlySet<string> = new Set([
  'log-format', 'queue-scan-interval', 'queue-scan-refresh-interval', 'queue-scan-dirty-percent', 'client-timeout',
  'lookupd-ping-interval', 'durable',
]);

const strings = v.array(v.string());

const OptionsSchema = v.object({
  logLevel: oneOf(['debug', 'info', 'warn', 'error', 'fatal']),
  logPrefix: v.string(),
  logFormat: oneOf(['text', 'json']),
  nodeId: int(0, 1023),
  tcpAddress: address,
  httpAddress: v.string(),
  httpsAddress: v.string(),
  broadcastAddress: v.string(),
  broadcastTcpPort: int(0, 65535),
  broadcastHttpPort: int(0, 65535),
  lookupdTcpAddress: v.array(v.pipe(v.string(), v.regex(/^.+:\d+$/, 'expected <addr>:<port> for each nsqlookupd'))),
  lookupdPingInterval: ms(1),
  authHttpAddress: strings,
  authHttpRequestMethod: oneOf(['get', 'post']),
  httpClientConnectTimeout: ms(0),
  httpClientRequestTimeout: ms(0),
  topologyRegion: v.string(),
  topologyZone: v.string(),
  dataPath: v.string(),
  memQueueSize: int(0),
  maxBytesPerFile: int(1),
  syncEvery: int(1),
  syncTimeout: ms(0),
  durable: v.boolean(),
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
  statsdAddress: v.string(),
  statsdPrefix: v.string(),
  statsdInterval: ms(1),
  statsdMemStats: v.boolean(),
  statsdUdpPacketSize: int(1),
  statsdExcludeEphemeral: v.boolean(),
  e2eProcessingLatencyPercentile: v.pipe(
    v.array(v.pipe(v.number(), v.gtValue(0, 'each percentile must be in (0, 1]'), v.maxValue(1, 'each percentile must be in (0, 1]'))),
    // Go's floatArray keeps them sorted descending.
    v.transform((a) => [...a].sort((x, y) => y - x)),
  ),
  e2eProcessingLatencyWindowTime: ms(1),
  tlsCert: v.string(),
  tlsKey: v.string(),
  tlsClientAuthPolicy: v.pipe(v.string(), v.picklist(['', 'require', 'require-verify'], 'expected require or require-verify')),
  tlsRootCaFile: v.string(),
  tlsRequired: oneOf(['true', 'false', '1', '0', 't', 'f', 'tcp-https']),
  tlsMinVersion: oneOf(['ssl3.0', 'tls1.0', 'tls1.1', 'tls1.2', 'tls1.3']),
  enableExperiment: strings,
});

/** The default options, as Go nsqd's (node id 0 until a host name is known). */
export function defaultOptions(overrides: Partial<NsqdOptions> = {}): NsqdOptions {
  return buildOptions(Object.fromEntries(NSQD_FLAGS.map((f) => [f.name, f.default])), 0, overrides);
}

/**
 * Turns flag values (by flag name) into validated options. `defaultNodeId`
 * applies when --node-id is not given. Throws a ConfigError that names the
 * option, the value and what is allowed; `describe` names an option in it
 * (`--flag` by default; the config loader adds the file's key).
 */
export function buildOptions(
  values: Record<string, unknown>,
  defaultNodeId: number,
  overrides: Partial<NsqdOptions> = {},
  describe: (flag: string) => string = (flag) => `--${flag}`,
): NsqdOptions {
  for (const [name, inUse] of REFUSED) {
    if (values[name] !== undefined && inUse(values[name])) throw new ConfigError(`${describe(name)} is not supported yet by nsq-ts; remove it to start`);
  }
  const opts = validateOptions<NsqdOptions>(NSQD_FLAGS, OptionsSchema, values, overrides, describe, (raw) => {
    if (raw.nodeId === -1) raw.nodeId = defaultNodeId;
  });
  if (opts.maxMsgSize > opts.maxBodySize) {
    throw new ConfigError(`${describe('max-msg-size')} (${opts.maxMsgSize}) must not exceed ${describe('max-body-size')} (${opts.maxBodySize})`);
  }
  return opts;
}
