// nsqlookupd's options (NSQ's nsqlookupd/options.go and apps/nsqlookupd;
// PROTOCOL.md 6.1): one table drives the flags, --help, the config-file keys
// and the defaults; valibot checks the values. Durations are in milliseconds.
import * as v from 'valibot';
import type { FlagSpec } from '../config/flags.ts';
import { address, ms, oneOf, validateOptions } from '../config/validate.ts';

export { VERSION } from '../nsqd/options.ts';

export interface LookupdOptions {
  logLevel: string;
  logPrefix: string;
  logFormat: 'text' | 'json';
  tcpAddress: string;
  httpAddress: string;
  /** '' until start-up puts the OS hostname in. */
  broadcastAddress: string;
  inactiveProducerTimeout: number;
  tombstoneLifetime: number;
}

export const LOOKUPD_FLAGS: readonly FlagSpec[] = [
  { name: 'config', type: 'string', default: '', help: 'path to config file', configKey: null },
  { name: 'version', type: 'bool', default: false, help: 'print version string', configKey: null },
  { name: 'log-level', type: 'string', default: 'info', help: 'set log verbosity: debug, info, warn, error, or fatal' },
  { name: 'log-prefix', type: 'string', default: '[nsqlookupd] ', help: 'log message prefix' },
  { name: 'log-format', type: 'string', default: 'text', help: 'log line format: text (NSQ\'s) or json (one object per line with a severity field) [nsq-ts]' },
  { name: 'verbose', type: 'bool', default: false, help: '[deprecated] has no effect, use --log-level', configKey: null },
  { name: 'tcp-address', type: 'string', default: '0.0.0.0:4160', help: '<addr>:<port> to listen on for TCP clients' },
  { name: 'http-address', type: 'string', default: '0.0.0.0:4161', help: '<addr>:<port> to listen on for HTTP clients' },
  { name: 'broadcast-address', type: 'string', default: '', help: 'address of this lookupd node, (default to the OS hostname)' },
  { name: 'inactive-producer-timeout', type: 'duration', default: 300_000, help: 'duration of time a producer will remain in the active list since its last ping' },
  { name: 'tombstone-lifetime', type: 'duration', default: 45_000, help: 'duration of time a producer will remain tombstoned if registration remains' },
];

const OptionsSchema = v.object({
  logLevel: oneOf(['debug', 'info', 'warn', 'error', 'fatal']),
  logPrefix: v.string(),
  logFormat: oneOf(['text', 'json']),
  tcpAddress: address,
  httpAddress: address,
  broadcastAddress: v.string(),
  inactiveProducerTimeout: ms(0),
  tombstoneLifetime: ms(0),
});

export function defaultLookupdOptions(overrides: Partial<LookupdOptions> = {}): LookupdOptions {
  return buildLookupdOptions(Object.fromEntries(LOOKUPD_FLAGS.map((f) => [f.name, f.default])), overrides);
}

/**
 * Flag values (by flag name) → validated options. Throws a ConfigError naming
 * the option, the value and what is allowed; `describe` names an option.
 */
export function buildLookupdOptions(
  values: Record<string, unknown>,
  overrides: Partial<LookupdOptions> = {},
  describe: (flag: string) => string = (flag) => `--${flag}`,
): LookupdOptions {
  return validateOptions<LookupdOptions>(LOOKUPD_FLAGS, OptionsSchema, values, overrides, describe);
}
