// A daemon's TOML config file (--config), as NSQ reads it: keys are the flag
// names with '-' turned into '_' unless a flag names another key
// (FlagSpec.configKey); durations are Go duration strings (an integer is
// milliseconds, as go-options reads it). Values are checked against the flag's
// type here, with valibot; ranges are checked later with the flags' values.
// Precedence is the caller's: explicit flag > file > default.
import { parse as parseToml } from 'smol-toml';
import * as v from 'valibot';
import { ConfigError } from '../errors.ts';
import { parseDuration } from './duration.ts';
import type { FlagSpec, FlagType } from './flags.ts';

/** The config-file key of a flag, or null when the file cannot set it. */
export function configKeyOf(spec: FlagSpec): string | null {
  if (spec.configKey === null) return null;
  return spec.configKey ?? spec.name.replace(/-/g, '_');
}

const INT_TEXT = /^[-+]?\d+$/;

const numberFrom = (allowed: string) =>
  v.union([
    v.number(),
    v.pipe(v.string(), v.trim(), v.check((s) => s !== '' && Number.isFinite(Number(s)), allowed), v.transform(Number)),
  ], allowed);

/** What each flag type accepts in TOML, converted to the value the flag parser would give. */
const BY_TYPE: Record<FlagType, v.GenericSchema<unknown, unknown>> = {
  string: v.pipe(v.union([v.string(), v.number(), v.boolean()], 'expected a string'), v.transform(String)),
  int: v.union([
    v.pipe(v.number(), v.integer('expected an integer')),
    v.pipe(v.string(), v.trim(), v.regex(INT_TEXT, 'expected an integer'), v.transform(Number)),
  ], 'expected an integer'),
  float: numberFrom('expected a number'),
  bool: v.union([
    v.boolean(),
    v.pipe(v.string(), v.toLowerCase(), v.picklist(['true', 'false', '1', '0', 't', 'f'], 'expected true or false'), v.transform((s) => ['true', '1', 't'].includes(s))),
  ], 'expected true or false'),
  duration: v.union([
    v.pipe(v.number(), v.integer('expected a duration such as "250ms", "60s" or "1m30s" (an integer is milliseconds)')),
    v.pipe(
      v.string(),
      v.transform((s) => parseDuration(s)),
      v.number('expected a duration such as "250ms", "60s" or "1m30s"'),
    ),
  ], 'expected a duration such as "250ms", "60s" or "1m30s" (an integer is milliseconds)'),
  list: v.union([
    v.array(v.string('expected a list of strings')),
    v.pipe(v.string(), v.transform((s) => (s === '' ? [] : [s]))),
  ], 'expected a list of strings, e.g. ["127.0.0.1:4160"]'),
  floatList: v.union([
    v.array(v.number('expected a list of numbers')),
    v.pipe(v.number(), v.transform((n) => [n])),
    v.pipe(
      v.string(),
      v.transform((s) => s.split(',').filter((p) => p.trim() !== '').map(Number)),
      v.check((a) => a.every((n) => Number.isFinite(n)), 'expected comma-separated numbers'),
    ),
  ], 'expected a list of numbers, e.g. [1.0, 0.99]'),
};

export interface ConfigFileValues {
  /** Flag name → value, for every key the file sets. */
  values: Record<string, unknown>;
  /** Flag name → the key the file used (to name it in errors). */
  keys: Map<string, string>;
  /** Keys that match no option (NSQ ignores them; the caller warns). */
  unknown: string[];
}

/** Parses and type-checks a config file's text. `path` names it in errors. */
export function parseConfigFile(text: string, specs: readonly FlagSpec[], path: string): ConfigFileValues {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    // smol-toml's message ends with a code frame: keep its first line, and say where.
    const e = err as { message?: string; line?: number; column?: number };
    const where = e.line !== undefined ? ` (line ${e.line}, column ${e.column})` : '';
    throw new ConfigError(`failed to load config file ${path} - ${String(e.message ?? err).split('\n')[0]}${where}`, { cause: err });
  }
  const byKey = new Map<string, FlagSpec>();
  for (const s of specs) {
    const key = configKeyOf(s);
    if (key !== null) byKey.set(key, s);
  }
  const out: ConfigFileValues = { values: {}, keys: new Map(), unknown: [] };
  for (const [key, raw] of Object.entries(doc)) {
    const spec = byKey.get(key);
    if (spec === undefined) {
      out.unknown.push(key);
      continue;
    }
    const r = v.safeParse(BY_TYPE[spec.type], raw, { abortEarly: true });
    if (!r.success) {
      const shown = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? '{...}' : JSON.stringify(raw);
      throw new ConfigError(`invalid value ${shown} for ${key} in ${path} (--${spec.name}): ${r.issues[0].message}`);
    }
    out.values[spec.name] = r.output;
    out.keys.set(spec.name, key);
  }
  return out;
}
