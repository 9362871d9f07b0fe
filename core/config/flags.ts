// Command-line flags in Go's flag syntax, as NSQ's binaries take them:
// -name=value, --name=value, -name value, --name value; booleans as --flag or
// --flag=false; repeatable list flags; "--" ends the flags. Flags are declared
// in a table so that --help, config-file keys and validation share one source.
import { ConfigError } from '../errors.ts';
import { formatDuration, parseDuration } from './duration.ts';

export type FlagType = 'string' | 'int' | 'float' | 'bool' | 'duration' | 'list' | 'floatList';

export interface FlagSpec {
  readonly name: string;
  readonly type: FlagType;
  readonly help: string;
  /** Default value (durations in ms). */
  readonly default: unknown;
  /** Key in a TOML config file, when it differs from the name with '-' → '_'; null when not settable there. */
  readonly configKey?: string | null;
}

export type FlagValues = Record<string, unknown>;

export interface ParsedFlags {
  /** Every flag's value: set on the command line, else the default. */
  values: FlagValues;
  /** Names of the flags given on the command line. */
  explicit: Set<string>;
  /** Arguments after the flags. */
  rest: string[];
}

export function parseFlags(specs: readonly FlagSpec[], argv: readonly string[]): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: FlagValues = {};
  for (const s of specs) values[s.name] = Array.isArray(s.default) ? [...s.default] : s.default;
  const explicit = new Set<string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { i++; break; }
    if (!arg.startsWith('-') || arg === '-') break;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const spec = byName.get(name);
    if (!spec) throw new ConfigError(`flag provided but not defined: -${name} (see --help)`);
    let text: string;
    if (eq >= 0) text = body.slice(eq + 1);
    else if (spec.type === 'bool') text = 'true';
    else {
      if (i + 1 >= argv.length) throw new ConfigError(`flag needs an argument: -${name}`);
      text = argv[++i]!;
    }
    const value = parseValue(spec, text);
    if (spec.type === 'list' || spec.type === 'floatList') {
      const prev = explicit.has(name) ? (values[name] as unknown[]) : [];
      values[name] = [...prev, ...(value as unknown[])];
    } else values[name] = value;
    explicit.add(name);
  }
  return { values, explicit, rest: argv.slice(i) };
}

/** Converts one flag or config value from text; throws a ConfigError naming the option. */
export function parseValue(spec: FlagSpec, text: string): unknown {
  const bad = (allowed: string) => new ConfigError(`invalid value ${JSON.stringify(text)} for flag -${spec.name}: ${allowed}`);
  switch (spec.type) {
    case 'string':
      return text;
    case 'bool': {
      const t = text.toLowerCase();
      if (['1', 't', 'true'].includes(t)) return true;
      if (['0', 'f', 'false'].includes(t)) return false;
      throw bad('expected true or false');
    }
    case 'int': {
      if (!/^[-+]?\d+$/.test(text.trim())) throw bad('expected an integer');
      return Number(text);
    }
    case 'float': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw bad('expected a number');
      return n;
    }
    case 'duration': {
      const ms = parseDuration(text);
      if (ms === undefined) throw bad('expected a duration such as 250ms, 60s or 1m30s');
      return ms;
    }
    case 'list':
      return text === '' ? [] : [text];
    case 'floatList':
      return text.split(',').filter((p) => p.trim() !== '').map((p) => {
        const n = Number(p);
        if (!Number.isFinite(n)) throw bad('expected comma-separated numbers');
        return n;
      });
  }
}

/** The --help text: one block per flag, in Go's style. */
export function formatHelp(usage: string, specs: readonly FlagSpec[]): string {
  const lines = [`Usage of ${usage}:`];
  for (const s of specs) {
    const kind = s.type === 'bool' ? '' : ` ${s.type === 'list' || s.type === 'floatList' ? 'value' : s.type}`;
    lines.push(`  -${s.name}${kind}`);
    const def = s.type === 'duration' ? formatDuration(s.default as number) : Array.isArray(s.default) ? (s.default as unknown[]).join(',') : String(s.default);
    const shown = def === '' || def === 'false' ? '' : ` (default ${s.type === 'string' ? JSON.stringify(def) : def})`;
    lines.push(`    \t${s.help}${shown}`);
  }
  return lines.join('\n');
}
