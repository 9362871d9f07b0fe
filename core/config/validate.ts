// Flag values → a daemon's validated options object, through a valibot
// schema whose keys are the flags' names in camelCase.
import * as v from 'valibot';
import { ConfigError } from '../errors.ts';
import { formatDuration } from './duration.ts';
import type { FlagSpec } from './flags.ts';

// Schema pieces whose messages say what is allowed; validateOptions adds the option's name and the value.
export const int = (min: number, max?: number) => {
  const allowed = max === undefined ? `expected an integer >= ${min}` : `expected an integer from ${min} to ${max}`;
  return v.pipe(v.number(allowed), v.integer(allowed), v.minValue(min, allowed), v.maxValue(max ?? Number.MAX_SAFE_INTEGER, allowed));
};
export const ms = (min: number) => {
  const allowed = `expected a duration of at least ${formatDuration(min)}`;
  return v.pipe(v.number(allowed), v.minValue(min, allowed));
};
export const oneOf = <const T extends readonly string[]>(values: T) =>
  v.pipe(v.string(), v.toLowerCase(), v.picklist(values, `expected one of ${values.join(', ')}`));
export const address = v.pipe(v.string(), v.minLength(1, 'expected <addr>:<port> or a socket path'));

export const camel = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

type Schema = v.ObjectSchema<v.ObjectEntries, v.ErrorMessage<v.ObjectIssue> | undefined>;

/**
 * Picks the schema's keys out of `values` (by flag name), applies `overrides`
 * and validates. A failure throws a ConfigError naming the option (through
 * `describe`: the flag, or the config file's key), the value and what is allowed.
 */
export function validateOptions<T>(
  flags: readonly FlagSpec[],
  schema: Schema,
  values: Record<string, unknown>,
  overrides: Record<string, unknown>,
  describe: (flag: string) => string,
  prepare: (raw: Record<string, unknown>) => void = () => {},
): T {
  const raw: Record<string, unknown> = {};
  for (const f of flags) {
    const key = camel(f.name);
    if (key in schema.entries) raw[key] = values[f.name];
  }
  prepare(raw);
  Object.assign(raw, overrides);
  const result = v.safeParse(schema, raw);
  if (result.success) return result.output as T;
  const issue = result.issues[0];
  const key = String(issue.path?.[0]?.key ?? '');
  const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const spec = flags.find((f) => f.name === flag);
  const value = raw[key];
  const shown = spec?.type === 'duration' && typeof value === 'number' ? formatDuration(value) : Array.isArray(value) ? value.join(',') : String(value);
  throw new ConfigError(`invalid value ${JSON.stringify(shown)} for ${describe(flag)}: ${issue.message}`);
}
