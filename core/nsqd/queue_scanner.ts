// The queue scanner (NSQ's queueScanLoop in nsqd/nsqd.go), Redis-style
// probabilistic expiration instead of a timer per message:
//
// Every --queue-scan-interval it picks --queue-scan-selection-count channels
// at random and lets each requeue its timed-out in-flight messages and queue
// its due deferred ones. If more than --queue-scan-dirty-percent of them had
// work, it goes again at once, since more channels are likely to be dirty;
// otherwise it sleeps until the next tick. The channel list is refreshed
// every --queue-scan-refresh-interval, and the worker pool is resized then to
// a quarter of the channel count, between 1 and --queue-scan-worker-pool-max.
//
// Workers are cooperative tasks: each processes one channel and then yields
// to I/O, so a pass never holds the event loop for more than `pool` channels
// and ten thousand dirty channels do not stall the sockets.

export interface ScanTarget {
  readonly exiting: boolean;
  processInFlightQueue(now: number): boolean;
  processDeferredQueue(now: number): boolean;
}

export interface ScannerOptions {
  queueScanInterval: number;
  queueScanRefreshInterval: number;
  queueScanSelectionCount: number;
  queueScanWorkerPoolMax: number;
  queueScanDirtyPercent: number;
}

const yieldToIO = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class QueueScanner {
  private readonly opts: ScannerOptions;
  private readonly listChannels: () => ScanTarget[];
  private channels: ScanTarget[] = [];
  private lastRefresh = -Infinity;
  private running = false;
  /** Set by stop() to cut a pass short; scanOnce() also works on a scanner that was never started. */
  private stopping = false;
  private sleepTimer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | undefined;
  private done: Promise<void> = Promise.resolve();
  poolSize = 1;

  constructor(opts: ScannerOptions, listChannels: () => ScanTarget[]) {
    this.opts = opts;
    this.listChannels = listChannels;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.done;
  }

  /** Rebuilds the channel list and resizes the pool; also done on its own every refresh interval. */
  refresh(): void {
    this.channels = this.listChannels();
    this.lastRefresh = performance.now();
    const want = Math.floor(this.channels.length * 0.25);
    this.poolSize = Math.min(Math.max(want, 1), this.opts.queueScanWorkerPoolMax);
  }

  /** One pass over a random selection; returns how many channels were picked and how many had work. */
  async scanOnce(): Promise<{ selected: number; dirty: number }> {
    const picked = pick(this.channels, this.opts.queueScanSelectionCount);
    let dirty = 0;
    let next = 0;
    const worker = async () => {
      while (next < picked.length && !this.stopping) {
        const ch = picked[next++]!;
        if (!ch.exiting) {
          const now = performance.now();
          const a = ch.processInFlightQueue(now);
          const b = ch.processDeferredQueue(now);
          if (a || b) dirty++;
        }
        await yieldToIO();
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < Math.min(this.poolSize, picked.length); i++) workers.push(worker());
    await Promise.all(workers);
    return { selected: picked.length, dirty };
  }

  private async loop(): Promise<void> {
    while (this.running) {
      await this.sleep(this.opts.queueScanInterval);
      if (!this.running) return;
      if (performance.now() - this.lastRefresh >= this.opts.queueScanRefreshInterval) this.refresh();
      while (this.running && this.channels.length > 0) {
        const { selected, dirty } = await this.scanOnce();
        if (selected === 0 || dirty / selected <= this.opts.queueScanDirtyPercent) break;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }
}

/** `n` distinct items chosen uniformly at random (NSQ's UniqRands). */
function pick<T>(items: readonly T[], n: number): T[] {
  const len = items.length;
  if (n >= len) return items.slice();
  const seen = new Set<number>();
  const out: T[] = [];
  while (out.length < n) {
    const r = Math.floor(Math.random() * len);
    if (seen.has(r)) continue;
    seen.add(r);
    out.push(items[r]!);
  }
  return out;
}
