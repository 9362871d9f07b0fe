// Logging in NSQ's text format ("[nsqd] 2026/11/24 05:05:35.123456 INFO: ...")
// or, with format 'json', one JSON object per line with a severity field.
// Quiet by default below the configured level; the sink is the caller's.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export type LogFormat = 'text' | 'json';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, fatal: 4 };
const LABEL: Record<LogLevel, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'FATAL' };

export type LogSink = (line: string) => void;

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'fatal'];

export class Logger {
  level: LogLevel;
  readonly prefix: string;
  readonly format: LogFormat;
  private readonly sink: LogSink;
  private min: number;

  constructor(level: LogLevel = 'info', prefix = '', sink: LogSink = (line) => console.error(line), format: LogFormat = 'text') {
    this.level = level;
    this.prefix = prefix;
    this.sink = sink;
    this.format = format;
    this.min = RANK[level];
  }

  /** Changes the level at run time (PUT /config/log_level). */
  setLevel(level: LogLevel): void {
    this.level = level;
    this.min = RANK[level];
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.min;
  }

  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (RANK[level] < this.min) return;
    const now = new Date();
    if (this.format === 'json') {
      this.sink(JSON.stringify({ time: now.toISOString(), severity: LABEL[level], component: this.prefix.trim().replace(/^\[|\]$/g, ''), msg, ...fields }));
      return;
    }
    const extra = fields ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : '';
    this.sink(`${this.prefix}${stamp(now)} ${LABEL[level]}: ${msg}${extra}`);
  }

  debug(msg: string, fields?: Record<string, unknown>): void { this.log('debug', msg, fields); }
  info(msg: string, fields?: Record<string, unknown>): void { this.log('info', msg, fields); }
  warn(msg: string, fields?: Record<string, unknown>): void { this.log('warn', msg, fields); }
  error(msg: string, fields?: Record<string, unknown>): void { this.log('error', msg, fields); }
}

/** Go's log.LstdFlags|log.Lmicroseconds: 2009/01/23 01:23:23.123123 */
function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`;
}

/** A logger that drops everything (tests). */
export const silentLogger = new Logger('fatal', '', () => {});
