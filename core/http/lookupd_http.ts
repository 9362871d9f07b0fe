// nsqlookupd's HTTP API (NSQ's nsqlookupd/http.go; PROTOCOL.md 6.4) as a Hono
// app, with NSQ's V1 response conventions (api_response.ts). Lists come in
// the database's order (Go's are in random map order).
import type { Context, Hono } from 'hono';
import { isValidChannelName, isValidTopicName } from '../protocol/names.ts';
import type { NSQLookupd } from '../lookupd/lookupd.ts';
import { VERSION } from '../lookupd/options.ts';
import { filterByActive, keysOf, peerInfoJson, peerInfoText, subkeysOf, type Producer } from '../lookupd/registration_db.ts';
import {
  ApiError, createApiApp, emptyResponse, JSON_CONTENT_TYPE, jsonResponse, NSQ_CONTENT_TYPE, parseQuery, plainResponse, type Route,
} from './api_response.ts';

/** The query string, or 400 INVALID_REQUEST where Go's url.ParseQuery fails. */
function query(c: Context): Record<string, string> {
  const q = parseQuery(c.req.url);
  if (q === undefined) throw new ApiError(400, 'INVALID_REQUEST');
  return q;
}

/** The `topic` parameter (any text), or 400 MISSING_ARG_TOPIC. */
function topicParam(q: Record<string, string>): string {
  const topic = q.topic;
  if (topic === undefined) throw new ApiError(400, 'MISSING_ARG_TOPIC');
  return topic;
}

/** Go's http_api.GetTopicChannelArgs. */
function topicChannelArgs(q: Record<string, string>): [string, string] {
  const topic = topicParam(q);
  if (!isValidTopicName(topic)) throw new ApiError(400, 'INVALID_ARG_TOPIC');
  const channel = q.channel;
  if (channel === undefined) throw new ApiError(400, 'MISSING_ARG_CHANNEL');
  if (!isValidChannelName(channel)) throw new ApiError(400, 'INVALID_ARG_CHANNEL');
  return [topic, channel];
}

const JSON_HEADERS = Object.freeze({ 'Content-Type': JSON_CONTENT_TYPE, 'X-NSQ-Content-Type': NSQ_CONTENT_TYPE });

/** 200 with JSON already serialized. */
function jsonText(text: string): Response {
  return new Response(text, { status: 200, headers: JSON_HEADERS });
}

/** Go's zero time.Time as UnixNano(), printed for a never-tombstoned entry. */
const ZERO_TIME_NS = '-6795364578871345152';

/** Date.now() milliseconds as integer nanoseconds, exactly (beyond 2^53, so as text). */
function nanos(ms: number): string {
  return (BigInt(Math.round(ms)) * 1_000_000n).toString();
}

/** nsqlookupd's HTTP API over `lookupd`. */
export function createLookupdApp(lookupd: NSQLookupd): Hono {
  const db = lookupd.db;
  const opts = lookupd.opts;
  const log = lookupd.logger;

  const routes: Route[] = [
    { method: 'GET', path: '/ping', handler: () => plainResponse(200, 'OK') },
    { method: 'GET', path: '/info', handler: () => jsonResponse({ version: VERSION }) },
    {
      method: 'GET', path: '/debug', handler: () => {
        // Go's map[string][]map[string]interface{}: keys sorted at both levels; keys without producers absent.
        const entries: [string, Producer[]][] = [];
        for (const [r, producers] of db.all()) if (producers.length > 0) entries.push([`${r.category}:${r.key}:${r.subkey}`, producers]);
        entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        const s = JSON.stringify;
        const body = entries.map(([key, producers]) => `${s(key)}:[${producers.map((p) => {
          const i = p.peerInfo;
          return `{"broadcast_address":${s(i.broadcastAddress)},"hostname":${s(i.hostname)},"http_port":${i.httpPort},"id":${s(i.id)},` +
            `"last_update":${nanos(i.lastUpdate)},"tcp_port":${i.tcpPort},"tombstoned":${p.tombstoned},` +
            `"tombstoned_at":${p.tombstoned ? nanos(p.tombstonedAt) : ZERO_TIME_NS},"topology_region":${s(i.topologyRegion)},` +
            `"topology_zone":${s(i.topologyZone)},"version":${s(i.version)}}`;
        }).join(',')}]`).join(',');
        return jsonText(`{${body}}`);
      },
    },
    {
      method: 'GET', path: '/lookup', handler: (c) => {
        const topic = topicParam(query(c));
        if (db.findRegistrations('topic', topic, '').length === 0) throw new ApiError(404, 'TOPIC_NOT_FOUND');
        const channels = subkeysOf(db.findRegistrations('channel', topic, '*'));
        const producers = filterByActive(db.findProducers('topic', topic, ''), opts.inactiveProducerTimeout, opts.tombstoneLifetime);
        // The hot route: each producer's JSON is built once per peer.
        let text = `{"channels":${JSON.stringify(channels)},"producers":[`;
        for (let i = 0; i < producers.length; i++) text += (i > 0 ? ',' : '') + peerInfoText(producers[i]!.peerInfo);
        return jsonText(`${text}]}`);
      },
    },
    { method: 'GET', path: '/topics', handler: () => jsonResponse({ topics: keysOf(db.findRegistrations('topic', '*', '')) }) },
    {
      method: 'GET', path: '/channels', handler: (c) => {
        const topic = topicParam(query(c));
        return jsonResponse({ channels: subkeysOf(db.findRegistrations('channel', topic, '*')) });
      },
    },
    {
      method: 'GET', path: '/nodes', handler: () => {
        // Tombstoned producers are listed (lifetime 0); tombstones[i] says whether the node is tombstoned for topics[i].
        const now = Date.now();
        const producers = filterByActive(db.findProducers('client', '', ''), opts.inactiveProducerTimeout, 0, now);
        const nodes = producers.map((p) => {
          const id = p.peerInfo.id;
          const topics = keysOf(db.lookupRegistrations(id).filter((r) => r.category === 'topic'));
          const tombstones = topics.map((t) => db.getProducer({ category: 'topic', key: t, subkey: '' }, id)?.isTombstoned(opts.tombstoneLifetime, now) ?? false);
          return { ...peerInfoJson(p.peerInfo), tombstones, topics };
        });
        return jsonResponse({ producers: nodes });
      },
    },
    {
      method: 'POST', path: '/topic/create', handler: (c) => {
        const topic = topicParam(query(c));
        if (!isValidTopicName(topic)) throw new ApiError(400, 'INVALID_ARG_TOPIC');
        log.info(`DB: adding topic(${topic})`);
        db.addRegistration({ category: 'topic', key: topic, subkey: '' });
        return emptyResponse();
      },
    },
    {
      method: 'POST', path: '/topic/delete', handler: (c) => {
        const topic = topicParam(query(c));
        for (const r of db.findRegistrations('channel', topic, '*')) {
          log.info(`DB: removing channel(${r.subkey}) from topic(${topic})`);
          db.removeRegistration(r);
        }
        for (const r of db.findRegistrations('topic', topic, '')) {
          log.info(`DB: removing topic(${topic})`);
          db.removeRegistration(r);
        }
        return emptyResponse();
      },
    },
    {
      method: 'POST', path: '/topic/tombstone', handler: (c) => {
        const q = query(c);
        const topic = topicParam(q);
        const node = q.node;
        if (node === undefined) throw new ApiError(400, 'MISSING_ARG_NODE');
        log.info(`DB: setting tombstone for producer@${node} of topic(${topic})`);
        const now = Date.now();
        for (const p of db.findProducers('topic', topic, '')) {
          if (`${p.peerInfo.broadcastAddress}:${p.peerInfo.httpPort}` === node) p.tombstone(now);
        }
        return emptyResponse();
      },
    },
    {
      method: 'POST', path: '/channel/create', handler: (c) => {
        const [topic, channel] = topicChannelArgs(query(c));
        log.info(`DB: adding channel(${channel}) in topic(${topic})`);
        db.addRegistration({ category: 'channel', key: topic, subkey: channel });
        log.info(`DB: adding topic(${topic})`);
        db.addRegistration({ category: 'topic', key: topic, subkey: '' });
        return emptyResponse();
      },
    },
    {
      method: 'POST', path: '/channel/delete', handler: (c) => {
        const [topic, channel] = topicChannelArgs(query(c));
        const regs = db.findRegistrations('channel', topic, channel);
        if (regs.length === 0) throw new ApiError(404, 'CHANNEL_NOT_FOUND');
        log.info(`DB: removing channel(${channel}) from topic(${topic})`);
        for (const r of regs) db.removeRegistration(r);
        return emptyResponse();
      },
    },
  ];
  return createApiApp(routes, log);
}
