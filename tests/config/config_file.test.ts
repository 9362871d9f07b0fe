// --config files (core/config/config_file.ts) and the options they feed
// (core/nsqd/options.ts): NSQ's keys, TOML types, and messages that name the
// option, the value and what is allowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configKeyOf, parseConfigFile } from '../../core/config/config_file.ts';
import { ConfigError } from '../../core/errors.ts';
import { buildOptions, NSQD_FLAGS } from '../../core/nsqd/options.ts';

const parse = (text: string) => parseConfigFile(text, NSQD_FLAGS, 'nsqd.toml');

test('every option of PROTOCOL.md section 4 has a flag and a config key', () => {
  const keys = new Map(NSQD_FLAGS.map((f) => [configKeyOf(f), f.name]));
  for (const key of [
    'log_level', 'log_prefix', 'id', 'tcp_address', 'http_address', 'https_address', 'broadcast_address', 'broadcast_tcp_port',
    'broadcast_http_port', 'nsqlookupd_tcp_addresses', 'auth_http_addresses', 'auth_http_request_method', 'http_client_connect_timeout',
    'http_client_request_timeout', 'topology_region', 'topology_zone', 'data_path', 'mem_queue_size', 'max_bytes_per_file', 'sync_every',
    'sync_timeout', 'queue_scan_worker_pool_max', 'queue_scan_selection_count', 'msg_timeout', 'max_msg_timeout', 'max_msg_size',
    'max_body_size', 'max_req_timeout', 'max_heartbeat_interval', 'max_rdy_count', 'max_output_buffer_size', 'max_output_buffer_timeout',
    'min_output_buffer_timeout', 'output_buffer_timeout', 'max_channel_consumers', 'statsd_address', 'statsd_prefix', 'statsd_interval',
    'statsd_mem_stats', 'statsd_udp_packet_size', 'statsd_exclude_ephemeral', 'e2e_processing_latency_percentiles',
    'e2e_processing_latency_window_time', 'tls_cert', 'tls_key', 'tls_client_auth_policy', 'tls_root_ca_file', 'tls_required',
    'tls_min_version', 'deflate', 'max_deflate_level', 'snappy', 'enable_experiment',
  ]) assert.ok(keys.has(key), `config key ${key}`);
  for (const flag of ['config', 'version', 'verbose', 'worker-id']) {
    assert.equal(configKeyOf(NSQD_FLAGS.find((f) => f.name === flag)!), null, `--${flag} is not a config key`);
  }
  assert.ok(NSQD_FLAGS.some((f) => f.name === 'log-format'), '--log-format');
});

test('TOML values become flag values: strings, ints, bools, durations, lists', () => {
  const file = parse(`
# NSQ keys, NSQ types
tcp_address = "127.0.0.1:4150"
id = 617
mem_queue_size = 5000
queue_scan_dirty_percent = 0.5
deflate = false
snappy = "true"
msg_timeout = "1m30s"
max_msg_timeout = 3600000
nsqlookupd_tcp_addresses = ["127.0.0.1:4160", "127.0.0.1:4162"]
e2e_processing_latency_percentiles = [0.5, 1.0, 0.99]
tls_required = false
no_such_key = 1
`);
  assert.deepEqual(file.values, {
    'tcp-address': '127.0.0.1:4150',
    'node-id': 617,
    'mem-queue-size': 5000,
    'queue-scan-dirty-percent': 0.5,
    deflate: false,
    snappy: true,
    'msg-timeout': 90_000,
    'max-msg-timeout': 3_600_000,
    'lookupd-tcp-address': ['127.0.0.1:4160', '127.0.0.1:4162'],
    'e2e-processing-latency-percentile': [0.5, 1.0, 0.99],
    'tls-required': 'false',
  });
  assert.equal(file.keys.get('node-id'), 'id');
  assert.deepEqual(file.unknown, ['no_such_key']);
  const opts = buildOptions({ ...Object.fromEntries(NSQD_FLAGS.map((f) => [f.name, f.default])), ...file.values }, 0);
  assert.deepEqual(opts.e2eProcessingLatencyPercentile, [1, 0.99, 0.5], 'percentiles sorted descending, as Go');
  assert.equal(opts.nodeId, 617);
  assert.equal(opts.msgTimeout, 90_000);
});

test('a value of the wrong type names the key, the file, the value and what is allowed', () => {
  const cases: [string, RegExp][] = [
    ['mem_queue_size = "abc"', /^invalid value "abc" for mem_queue_size in nsqd\.toml \(--mem-queue-size\): expected an integer$/],
    ['mem_queue_size = 1.5', /^invalid value 1\.5 for mem_queue_size in nsqd\.toml \(--mem-queue-size\): expected an integer$/],
    ['msg_timeout = "10parsecs"', /^invalid value "10parsecs" for msg_timeout in nsqd\.toml \(--msg-timeout\): expected a duration/],
    ['deflate = "maybe"', /^invalid value "maybe" for deflate .*: expected true or false$/],
    ['nsqlookupd_tcp_addresses = [1, 2]', /^invalid value \[1,2\] for nsqlookupd_tcp_addresses .*expected a list of strings/],
    ['e2e_processing_latency_percentiles = ["x"]', /^invalid value \["x"\] for e2e_processing_latency_percentiles .*expected a list of numbers/],
    ['queue_scan_dirty_percent = "lots"', /^invalid value "lots" for queue_scan_dirty_percent .*expected a number/],
  ];
  for (const [line, re] of cases) {
    assert.throws(() => parse(line), (err: unknown) => err instanceof ConfigError && re.test(err.message), line);
  }
});

test('a file that is not TOML is refused with the parser\'s message', () => {
  const refused = (text: string, re: RegExp) => assert.throws(() => parse(text), (err: unknown) => err instanceof ConfigError && re.test(err.message), text);
  refused('mem_queue_size = \n', /^failed to load config file nsqd\.toml - Invalid TOML document: .+ \(line 1, column \d+\)$/);
  refused('a = 1\n[unclosed', /^failed to load config file nsqd\.toml - .+ \(line 2, column \d+\)$/);
});

test('ranges are checked with the flags; messages name the option, the value and what is allowed', () => {
  const defaults = Object.fromEntries(NSQD_FLAGS.map((f) => [f.name, f.default]));
  const bad = (values: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => buildOptions({ ...defaults, ...values }, 0), (err: unknown) => err instanceof ConfigError && re.test(err.message), JSON.stringify(values));
  bad({ 'e2e-processing-latency-percentile': [0.5, 0] }, /^invalid value "0\.5,0" for --e2e-processing-latency-percentile: each percentile must be in \(0, 1\]$/);
  bad({ 'e2e-processing-latency-percentile': [1.01] }, /--e2e-processing-latency-percentile.*\(0, 1\]/);
  bad({ 'e2e-processing-latency-window-time': 0 }, /^invalid value "0s" for --e2e-processing-latency-window-time: expected a duration of at least 1ms$/);
  bad({ 'log-format': 'xml' }, /^invalid value "xml" for --log-format: expected one of text, json$/);
  bad({ 'log-level': 'loud' }, /^invalid value "loud" for --log-level: expected one of debug, info, warn, error, fatal$/);
  bad({ 'max-rdy-count': 0 }, /^invalid value "0" for --max-rdy-count: expected an integer >= 1$/);
  bad({ 'max-deflate-level': 10 }, /^invalid value "10" for --max-deflate-level: expected an integer from 1 to 9$/);
  bad({ 'node-id': 1024 }, /^invalid value "1024" for --node-id: expected an integer from 0 to 1023$/);
  bad({ 'tls-min-version': 'tls9' }, /^invalid value "tls9" for --tls-min-version: expected one of ssl3\.0, tls1\.0, tls1\.1, tls1\.2, tls1\.3$/);
  bad({ 'auth-http-request-method': 'put' }, /^invalid value "put" for --auth-http-request-method: expected one of get, post$/);
  bad({ 'broadcast-http-port': 70000 }, /^invalid value "70000" for --broadcast-http-port: expected an integer from 0 to 65535$/);
  bad({ 'tls-cert': '/x.pem' }, /^--tls-cert is not supported yet by nsq-ts; remove it to start$/);
  bad({ 'tls-required': 'true' }, /--tls-required is not supported yet/);
  bad({ 'statsd-address': '127.0.0.1:8125' }, /--statsd-address is not supported yet/);
  // The config loader names the key it came from.
  assert.throws(() => buildOptions({ ...defaults, 'max-rdy-count': 0 }, 0, {}, (f) => `${f.replace(/-/g, '_')} in x.toml (--${f})`),
    { message: 'invalid value "0" for max_rdy_count in x.toml (--max-rdy-count): expected an integer >= 1' });
  // Case-insensitive levels, as Go's.
  assert.equal(buildOptions({ ...defaults, 'log-level': 'WARN' }, 0).logLevel, 'warn');
});
