// GET /metrics: the /stats snapshot in Prometheus' text exposition format
// (version 0.0.4). Go nsqd has no such endpoint; the metric names are listed
// in README.md.
import type { MemoryUsage } from '../ports.ts';
import type { E2eResult } from './e2e_latency.ts';
import type { StatsSnapshot } from './stats.ts';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsExtra {
  /** Connected TCP clients. */
  clients: number;
  /** The runtime's name, for nsqd_info. */
  runtime: string;
  memory: MemoryUsage | undefined;
}

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',')}}`;
}

class Writer {
  private out: string[] = [];
  private families = new Map<string, { help: string; type: string; samples: string[] }>();

  sample(name: string, type: 'gauge' | 'counter', help: string, labels: Labels, value: number): void {
    let f = this.families.get(name);
    if (f === undefined) {
      f = { help, type, samples: [] };
      this.families.set(name, f);
    }
    f.samples.push(`${name}${labelText(labels)} ${Number.isFinite(value) ? value : 0}`);
  }

  text(): string {
    for (const [name, f] of this.families) {
      this.out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.samples);
    }
    return this.out.join('\n') + '\n';
  }
}

function e2e(w: Writer, scope: 'topic' | 'channel', labels: Labels, r: E2eResult): void {
  if (r.percentiles === null) return;
  for (const p of r.percentiles) {
    w.sample(`nsqd_${scope}_e2e_processing_latency_seconds`, 'gauge',
      `Time from publish to FIN at the configured quantiles (--e2e-processing-latency-percentile) over --e2e-processing-latency-window-time`,
      { ...labels, quantile: String(p.quantile) }, p.value / 1e9);
  }
  w.sample(`nsqd_${scope}_e2e_processing_latency_count`, 'gauge', 'FINs in the e2e latency window', labels, r.count);
}

/** Renders a snapshot taken with include_clients=false (client counts are always there). */
export function formatPrometheus(s: StatsSnapshot, extra: MetricsExtra): string {
  const w = new Writer();
  w.sample('nsqd_info', 'gauge', 'nsqd version and runtime (always 1)', { version: s.version, runtime: extra.runtime }, 1);
  w.sample('nsqd_start_time_seconds', 'gauge', 'Start time of nsqd, in seconds since the epoch', {}, s.start_time);
  w.sample('nsqd_healthy', 'gauge', '1 when healthy, 0 after a failed backend write (see /ping)', {}, s.health === 'OK' ? 1 : 0);
  w.sample('nsqd_clients', 'gauge', 'Connected TCP clients (producers and consumers)', {}, extra.clients);
  const topics = s.topics ?? [];
  w.sample('nsqd_topics', 'gauge', 'Topics', {}, topics.length);
  w.sample('nsqd_channels', 'gauge', 'Channels across all topics', {}, topics.reduce((n, t) => n + t.channels.length, 0));
  for (const t of topics) {
    const l = { topic: t.topic_name };
    w.sample('nsqd_topic_depth', 'gauge', 'Messages waiting in the topic (memory + backend) for a channel', l, t.depth);
    w.sample('nsqd_topic_backend_depth', 'gauge', 'Messages of the topic in its backend (disk) queue', l, t.backend_depth);
    w.sample('nsqd_topic_messages_total', 'counter', 'Messages published to the topic since start', l, t.message_count);
    w.sample('nsqd_topic_message_bytes_total', 'counter', 'Body bytes published to the topic since start', l, t.message_bytes);
    w.sample('nsqd_topic_paused', 'gauge', '1 when the topic is paused', l, t.paused ? 1 : 0);
    w.sample('nsqd_topic_channels', 'gauge', 'Channels of the topic', l, t.channels.length);
    e2e(w, 'topic', l, t.e2e_processing_latency);
  }
  for (const t of topics) {
    for (const c of t.channels) {
      const l = { topic: t.topic_name, channel: c.channel_name };
      w.sample('nsqd_channel_depth', 'gauge', 'Messages queued in the channel (memory + backend), excluding in-flight and deferred', l, c.depth);
      w.sample('nsqd_channel_backend_depth', 'gauge', 'Messages of the channel in its backend (disk) queue', l, c.backend_depth);
      w.sample('nsqd_channel_in_flight', 'gauge', 'Messages sent to a consumer and not yet finished, requeued or timed out', l, c.in_flight_count);
      w.sample('nsqd_channel_deferred', 'gauge', 'Messages deferred (DPUB, defer= or REQ with a delay)', l, c.deferred_count);
      w.sample('nsqd_channel_messages_total', 'counter', 'Messages copied into the channel since start', l, c.message_count);
      w.sample('nsqd_channel_requeues_total', 'counter', 'Messages requeued (REQ, or a consumer left) since start', l, c.requeue_count);
      w.sample('nsqd_channel_timeouts_total', 'counter', 'In-flight messages that timed out since start', l, c.timeout_count);
      w.sample('nsqd_channel_clients', 'gauge', 'Consumers subscribed to the channel', l, c.client_count);
      w.sample('nsqd_channel_paused', 'gauge', '1 when the channel is paused', l, c.paused ? 1 : 0);
      e2e(w, 'channel', l, c.e2e_processing_latency);
    }
  }
  const m = extra.memory;
  if (m !== undefined) {
    w.sample('nsqd_memory_rss_bytes', 'gauge', 'Resident set size of the process', {}, m.rss);
    w.sample('nsqd_memory_heap_total_bytes', 'gauge', 'JavaScript heap reserved', {}, m.heapTotal);
    w.sample('nsqd_memory_heap_used_bytes', 'gauge', 'JavaScript heap in use', {}, m.heapUsed);
    w.sample('nsqd_memory_external_bytes', 'gauge', 'Memory outside the JavaScript heap held by JavaScript objects (buffers)', {}, m.external);
  }
  return w.text();
}
