// nsqd.dat (PROTOCOL.md 3.7): the topics and channels, with their paused
// flags, that nsqd recreates on start. One line of JSON in Go's shape, so Go
// nsqd 1.3.0 and nsq-ts read each other's file:
//
//   {"topics":[{"name":"q1","paused":false,"channels":[{"name":"ch","paused":false}]}],"version":"1.3.0"}
//
// Written atomically (temporary file, fsync, rename, folder fsync) after each
// change, coalesced: a change while a write is under way is written once
// right after it. Ephemeral topics and channels are left out.
//
// Beyond Go: an unreadable nsqd.dat does not stop nsqd. It is renamed
// nsqd.dat.bad, and the topics and channels are rebuilt from the disk queue
// files in the data path (their paused flags are lost), so their messages
// are not orphaned. Queue files of topics or channels that nsqd.dat does not
// list (nsqd killed between creating a topic and writing the file) are
// picked up the same way.
import { atomicWrite, joinPath, parseSegmentFileName } from '../diskqueue/files.ts';
import type { Logger } from '../log.ts';
import type { Storage } from '../ports.ts';
import { isEphemeral, isValidChannelName, isValidTopicName } from '../protocol/names.ts';

export const METADATA_FILE = 'nsqd.dat';

export interface ChannelMetadata {
  name: string;
  paused: boolean;
}

export interface TopicMetadata {
  name: string;
  paused: boolean;
  channels: ChannelMetadata[];
}

/** Go's encoding: `null` for no topics and for a topic without channels, version last. */
export function encodeMetadata(topics: readonly TopicMetadata[], version: string): string {
  const list = topics
    .filter((t) => !isEphemeral(t.name))
    .map((t) => {
      const channels = t.channels.filter((c) => !isEphemeral(c.name)).map((c) => ({ name: c.name, paused: c.paused }));
      return { name: t.name, paused: t.paused, channels: channels.length > 0 ? channels : null };
    });
  return JSON.stringify({ topics: list.length > 0 ? list : null, version });
}

/** Parses nsqd.dat; throws on text that is not its JSON. Invalid names are reported through `skip`. */
export function parseMetadata(text: string, skip: (what: string) => void = () => {}): TopicMetadata[] {
  const obj = JSON.parse(text) as { topics?: unknown };
  if (obj === null || typeof obj !== 'object') throw new Error('not a JSON object');
  const topics = obj.topics ?? null;
  if (topics !== null && !Array.isArray(topics)) throw new Error('"topics" is not an array');
  const out: TopicMetadata[] = [];
  for (const t of (topics ?? []) as { name?: unknown; paused?: unknown; channels?: unknown }[]) {
    if (typeof t?.name !== 'string' || !isValidTopicName(t.name)) {
      skip(`topic name ${JSON.stringify(t?.name)} is not valid`);
      continue;
    }
    const channels: ChannelMetadata[] = [];
    for (const c of (Array.isArray(t.channels) ? t.channels : []) as { name?: unknown; paused?: unknown }[]) {
      if (typeof c?.name !== 'string' || !isValidChannelName(c.name)) {
        skip(`channel name ${JSON.stringify(c?.name)} of topic ${t.name} is not valid`);
        continue;
      }
      channels.push({ name: c.name, paused: c.paused === true });
    }
    out.push({ name: t.name, paused: t.paused === true, channels });
  }
  return out;
}

/**
 * Topic and channel names that have disk queue files in `dataPath`
 * (`<topic>.diskqueue.*` and `<topic>:<channel>.diskqueue.*`).
 */
export async function queuesOnDisk(storage: Storage, dataPath: string): Promise<TopicMetadata[]> {
  const topics = new Map<string, TopicMetadata>();
  const topicOf = (name: string) => {
    let t = topics.get(name);
    if (t === undefined) topics.set(name, (t = { name, paused: false, channels: [] }));
    return t;
  };
  for (const file of await storage.list(dataPath === '' ? '.' : dataPath)) {
    const m = /^(.*)\.diskqueue\.meta\.dat$/.exec(file);
    const queue = m ? m[1]! : parseSegmentFileName(file)?.name;
    if (queue === undefined) continue;
    const colon = queue.indexOf(':');
    const topic = colon < 0 ? queue : queue.slice(0, colon);
    if (!isValidTopicName(topic) || isEphemeral(topic)) continue;
    if (colon < 0) {
      topicOf(topic);
      continue;
    }
    const channel = queue.slice(colon + 1);
    if (!isValidChannelName(channel) || isEphemeral(channel)) continue;
    const t = topicOf(topic);
    if (!t.channels.some((c) => c.name === channel)) t.channels.push({ name: channel, paused: false });
  }
  return [...topics.values()];
}

/** Reads and writes nsqd.dat for one data path. */
export class MetadataFile {
  private readonly storage: Storage;
  private readonly dataPath: string;
  private readonly logger: Logger;
  private readonly snapshot: () => string;
  private writing: Promise<void> | undefined;
  private again = false;

  /** `snapshot` returns the file's content as of now. */
  constructor(storage: Storage, dataPath: string, logger: Logger, snapshot: () => string) {
    this.storage = storage;
    this.dataPath = dataPath;
    this.logger = logger;
    this.snapshot = snapshot;
  }

  /**
   * The topics to recreate: nsqd.dat's, plus queues found on disk that it
   * does not list. A missing file is an empty start; an unreadable one is
   * set aside (see the top of this file).
   */
  async load(): Promise<TopicMetadata[]> {
    const path = joinPath(this.dataPath, METADATA_FILE);
    const bytes = await this.storage.readFile(path);
    let topics: TopicMetadata[] = [];
    if (bytes !== undefined) {
      const text = new TextDecoder().decode(bytes);
      try {
        topics = parseMetadata(text, (what) => this.logger.warn(`NSQ: skipping creation of invalid entry in ${METADATA_FILE}: ${what}`));
      } catch (err) {
        this.logger.error(`NSQ: ${path} is unreadable (${err instanceof Error ? err.message : String(err)}); renaming it to ${METADATA_FILE}.bad and recreating topics and channels from the disk queue files`);
        await this.storage.rename(path, `${path}.bad`);
      }
    }
    const known = new Map(topics.map((t) => [t.name, t]));
    for (const found of await queuesOnDisk(this.storage, this.dataPath)) {
      let t = known.get(found.name);
      if (t === undefined) {
        if (bytes !== undefined) this.logger.warn(`NSQ: topic ${found.name} has disk queue files but is not in ${METADATA_FILE}: recreating it`);
        t = { name: found.name, paused: false, channels: [] };
        known.set(t.name, t);
        topics.push(t);
      }
      for (const c of found.channels) {
        if (t.channels.some((x) => x.name === c.name)) continue;
        if (bytes !== undefined) this.logger.warn(`NSQ: channel ${found.name}:${c.name} has disk queue files but is not in ${METADATA_FILE}: recreating it`);
        t.channels.push(c);
      }
    }
    return topics;
  }

  /** Writes the current state soon (coalesced); resolves once a write that includes it is done. */
  persist(): Promise<void> {
    if (this.writing !== undefined) {
      this.again = true;
      return this.writing;
    }
    const run = async (): Promise<void> => {
      do {
        this.again = false;
        try {
          await atomicWrite(this.storage, this.dataPath, METADATA_FILE, new TextEncoder().encode(this.snapshot()), true);
        } catch (err) {
          this.logger.error(`NSQ: failed to persist metadata: ${err instanceof Error ? err.message : String(err)}`);
        }
      } while (this.again);
      this.writing = undefined;
    };
    this.writing = run();
    return this.writing;
  }
}
