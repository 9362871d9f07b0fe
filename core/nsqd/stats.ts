// /stats (NSQ's nsqd/stats.go and the text printer of nsqd/http.go;
// PROTOCOL.md 5.8): one snapshot of topics, channels and clients, rendered as
// JSON with Go nsqd's fields in Go's order, or as Go's text layout. /metrics
// (metrics.ts) renders the same snapshot for Prometheus.
import { formatDuration } from '../config/duration.ts';
import type { MemoryUsage } from '../ports.ts';
import type { Channel } from './channel.ts';
import { ClientV2 } from './client_v2.ts';
import { aggregateE2e, E2E_DISABLED, nanosecondsToHuman, type E2eProcessingLatency, type E2eResult } from './e2e_latency.ts';
import type { NSQD } from './nsqd.ts';
import { VERSION } from './options.ts';
import type { Topic } from './topic.ts';

export interface PubCount {
  topic: string;
  count: number;
}

/** A connection, as Go's ClientV2Stats (field order as its JSON). */
export interface ClientStats {
  client_id: string;
  hostname: string;
  version: 'V2';
  remote_address: string;
  state: number;
  ready_count: number;
  in_flight_count: number;
  message_count: number;
  finish_count: number;
  requeue_count: number;
  connect_ts: number;
  sample_rate: number;
  deflate: boolean;
  snappy: boolean;
  user_agent: string;
  authed?: boolean;
  auth_identity?: string;
  auth_identity_url?: string;
  topology_zone: string;
  topology_region: string;
  /** Omitted when the connection has not published. */
  pub_counts?: PubCount[];
  tls: boolean;
  tls_cipher_suite: string;
  tls_version: string;
  tls_negotiated_protocol: string;
  tls_negotiated_protocol_is_mutual: boolean;
}

export interface ChannelStats {
  channel_name: string;
  depth: number;
  backend_depth: number;
  in_flight_count: number;
  deferred_count: number;
  message_count: number;
  requeue_count: number;
  timeout_count: number;
  client_count: number;
  /** null when include_clients=false. */
  clients: ClientStats[] | null;
  paused: boolean;
  e2e_processing_latency: E2eResult;
}

export interface TopicStats {
  topic_name: string;
  channels: ChannelStats[];
  depth: number;
  backend_depth: number;
  message_count: number;
  message_bytes: number;
  paused: boolean;
  e2e_processing_latency: E2eResult;
}

/** Go's memStats, filled from the runtime's figures where there is an equivalent. */
export interface MemStats {
  heap_objects: number;
  heap_idle_bytes: number;
  heap_in_use_bytes: number;
  heap_released_bytes: number;
  gc_pause_usec_100: number;
  gc_pause_usec_99: number;
  gc_pause_usec_95: number;
  next_gc_bytes: number;
  gc_total_runs: number;
}

/** The JSON body of GET /stats?format=json. */
export interface StatsSnapshot {
  version: string;
  health: string;
  start_time: number;
  /** null when a `topic` filter names no existing topic. */
  topics: TopicStats[] | null;
  /** Omitted with include_mem=false. */
  memory?: MemStats;
  /** null with include_clients=false or when no connection has published. */
  producers: ClientStats[] | null;
}

export interface StatsFilter {
  /** Only this topic ('' = all). */
  topic?: string;
  /** Only this channel in each selected topic ('' = all). */
  channel?: string;
  includeClients?: boolean;
  includeMem?: boolean;
}

/** Fields a connection may carry once TLS, compression, AUTH or topology land; absent means off. */
interface OptionalClientState {
  deflate?: boolean;
  snappy?: boolean;
  authed?: boolean;
  authIdentity?: string;
  authIdentityUrl?: string;
  topologyZone?: string;
  topologyRegion?: string;
  tls?: boolean;
  tlsCipherSuite?: string;
  tlsVersion?: string;
  tlsNegotiatedProtocol?: string;
  tlsNegotiatedProtocolIsMutual?: boolean;
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function clientStats(c: ClientV2, topicFilter = ''): ClientStats {
  const o = c as ClientV2 & OptionalClientState;
  const s: ClientStats = {
    client_id: c.clientId,
    hostname: c.hostname,
    version: 'V2',
    remote_address: c.remoteAddress,
    state: c.state,
    ready_count: c.readyCount,
    in_flight_count: c.inFlightCount,
    message_count: c.messageCount,
    finish_count: c.finishCount,
    requeue_count: c.requeueCount,
    connect_ts: Math.floor(c.connectTime / 1000),
    sample_rate: c.sampleRate,
    deflate: o.deflate ?? false,
    snappy: o.snappy ?? false,
    user_agent: c.userAgent,
  } as ClientStats;
  if (o.authed) s.authed = true;
  if (o.authIdentity) s.auth_identity = o.authIdentity;
  if (o.authIdentityUrl) s.auth_identity_url = o.authIdentityUrl;
  s.topology_zone = o.topologyZone ?? '';
  s.topology_region = o.topologyRegion ?? '';
  if (c.pubCounts.size > 0) {
    const counts: PubCount[] = [];
    for (const [topic, count] of c.pubCounts) if (topicFilter === '' || topic === topicFilter) counts.push({ topic, count });
    if (counts.length > 0) s.pub_counts = counts;
  }
  s.tls = o.tls ?? false;
  s.tls_cipher_suite = o.tlsCipherSuite ?? '';
  s.tls_version = o.tlsVersion ?? '';
  s.tls_negotiated_protocol = o.tlsNegotiatedProtocol ?? '';
  s.tls_negotiated_protocol_is_mutual = o.tlsNegotiatedProtocolIsMutual ?? false;
  return s;
}

function channelStats(ch: Channel, includeClients: boolean, topicFilter: string): ChannelStats {
  const consumers = ch.consumers();
  let clients: ClientStats[] | null = null;
  if (includeClients) {
    clients = [];
    for (const c of consumers) if (c instanceof ClientV2) clients.push(clientStats(c, topicFilter));
  }
  const e2e = ch.e2e;
  return {
    channel_name: ch.name,
    depth: ch.depth(),
    backend_depth: ch.backend.depth(),
    in_flight_count: ch.inFlightCount(),
    deferred_count: ch.deferredCount(),
    message_count: ch.messageCount,
    requeue_count: ch.requeueCount,
    timeout_count: ch.timeoutCount,
    client_count: consumers.length,
    clients,
    paused: ch.paused,
    e2e_processing_latency: e2e === undefined ? E2E_DISABLED : e2e.result(),
  };
}

function topicStats(t: Topic, channels: ChannelStats[]): TopicStats {
  return {
    topic_name: t.name,
    channels,
    depth: t.depth(),
    backend_depth: t.backend.depth(),
    message_count: t.messageCount,
    message_bytes: t.messageBytes,
    paused: t.paused,
    // Go merges every channel of the topic, whatever the channel filter.
    e2e_processing_latency: aggregateE2e(t.channelsSnapshot().map((c): E2eProcessingLatency | undefined => c.e2e)),
  };
}

/** Go's getMemStats, from the runtime's figures (0 where JavaScript has no equivalent). */
export function memStats(m: MemoryUsage | undefined): MemStats {
  const used = m?.heapUsed ?? 0;
  const total = m?.heapTotal ?? 0;
  return {
    heap_objects: 0,
    heap_idle_bytes: Math.max(0, total - used),
    heap_in_use_bytes: used,
    heap_released_bytes: 0,
    gc_pause_usec_100: 0,
    gc_pause_usec_99: 0,
    gc_pause_usec_95: 0,
    next_gc_bytes: total,
    gc_total_runs: 0,
  };
}

/** Go's NSQD.GetStats plus the /stats envelope. */
export function getStats(nsqd: NSQD, filter: StatsFilter = {}): StatsSnapshot {
  const topicFilter = filter.topic ?? '';
  const channelFilter = filter.channel ?? '';
  const includeClients = filter.includeClients ?? true;
  let topics: TopicStats[] | null;
  let selected: Topic[] | undefined;
  if (topicFilter === '') selected = nsqd.topicList().sort(byName);
  else {
    const t = nsqd.getExistingTopic(topicFilter);
    selected = t === undefined ? undefined : [t];
  }
  if (selected === undefined) topics = null;
  else {
    topics = [];
    for (const t of selected) {
      let chans: Channel[];
      if (channelFilter === '') chans = [...t.channelsSnapshot()].sort(byName);
      else {
        const c = t.getExistingChannel(channelFilter);
        if (c === undefined) continue;
        chans = [c];
      }
      topics.push(topicStats(t, chans.map((c) => channelStats(c, includeClients, topicFilter))));
    }
  }
  let producers: ClientStats[] | null = null;
  if (includeClients) {
    for (const c of nsqd.clientList()) {
      if (c.pubCounts.size === 0) continue;
      (producers ??= []).push(clientStats(c, topicFilter));
    }
  }
  const snapshot: StatsSnapshot = { version: VERSION, health: nsqd.getHealth(), start_time: nsqd.startTime, topics } as StatsSnapshot;
  if (filter.includeMem ?? true) snapshot.memory = memStats(nsqd.runtime.memoryUsage?.());
  snapshot.producers = producers;
  return snapshot;
}

// ---- the text format

const MEM_KEYS: readonly (keyof MemStats)[] = [
  'heap_objects', 'heap_idle_bytes', 'heap_in_use_bytes', 'heap_released_bytes',
  'gc_pause_usec_100', 'gc_pause_usec_99', 'gc_pause_usec_95', 'next_gc_bytes', 'gc_total_runs',
];

const pad = (v: string | number, width: number) => String(v).padEnd(width);

function e2eText(r: E2eResult): string {
  return r.percentiles === null ? '' : r.percentiles.map((p) => nanosecondsToHuman(p.value)).join(', ');
}

/** Go's time.RFC3339 in local time: 2026-11-24T04:08:50Z or ...T05:08:50+01:00. */
export function rfc3339Local(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${zone}`;
}

/** Go's ClientV2Stats.String(): the producer form when it has published, else the consumer form. */
function clientText(c: ClientStats, nowMs: number): string {
  const connected = formatDuration(Math.max(0, Math.floor((nowMs - c.connect_ts * 1000) / 1000)) * 1000);
  const i = c.remote_address.lastIndexOf(':');
  const port = i < 0 ? '' : c.remote_address.slice(i + 1);
  const id = `${c.hostname}:${port} ${c.user_agent}`;
  if (c.pub_counts !== undefined) {
    let total = 0;
    for (const p of c.pub_counts) total += p.count;
    const topics = c.pub_counts.map((p) => `${p.topic}=${p.count}`).join(',');
    return `[V2 ${pad(id, 21)}] msgs: ${pad(total, 8)} topics: ${topics} connected: ${connected}`;
  }
  return `[V2 ${pad(id, 21)}] state: ${c.state} inflt: ${pad(c.in_flight_count, 4)} rdy: ${pad(c.ready_count, 4)} ` +
    `fin: ${pad(c.finish_count, 8)} re-q: ${pad(c.requeue_count, 8)} msgs: ${pad(c.message_count, 8)} connected: ${connected}`;
}

/** Go nsqd's text /stats. `startedAtMs` is the start time in ms, `build` what follows "built w/". */
export function formatStatsText(s: StatsSnapshot, startedAtMs: number, build: string, nowMs = Date.now()): string {
  let out = `nsqd v${s.version} (built w/${build})\nstart_time ${rfc3339Local(startedAtMs)}\nuptime ${formatDuration(nowMs - startedAtMs)}\n`;
  out += `\nHealth: ${s.health}\n`;
  if (s.memory !== undefined) {
    out += '\nMemory:\n';
    for (const k of MEM_KEYS) out += `   ${pad(k, 25)}\t${s.memory[k]}\n`;
  }
  const topics = s.topics ?? [];
  if (topics.length === 0) out += '\nTopics: None\n';
  else {
    out += '\nTopics:';
    for (const t of topics) {
      out += `\n${t.paused ? '*P ' : '   '}[${pad(t.topic_name, 15)}] depth: ${pad(t.depth, 5)} be-depth: ${pad(t.backend_depth, 5)} ` +
        `msgs: ${pad(t.message_count, 8)} e2e%: ${e2eText(t.e2e_processing_latency)}\n`;
      for (const c of t.channels) {
        out += `   ${c.paused ? '*P ' : '   '}[${pad(c.channel_name, 25)}] depth: ${pad(c.depth, 5)} be-depth: ${pad(c.backend_depth, 5)} ` +
          `inflt: ${pad(c.in_flight_count, 4)} def: ${pad(c.deferred_count, 4)} re-q: ${pad(c.requeue_count, 5)} ` +
          `timeout: ${pad(c.timeout_count, 5)} msgs: ${pad(c.message_count, 8)} e2e%: ${e2eText(c.e2e_processing_latency)}\n`;
        for (const cl of c.clients ?? []) out += `        ${clientText(cl, nowMs)}\n`;
      }
    }
  }
  const producers = s.producers ?? [];
  if (producers.length === 0) out += '\nProducers: None\n';
  else {
    out += '\nProducers:\n';
    for (const p of producers) out += `   ${clientText(p, nowMs)}\n`;
  }
  return out;
}
