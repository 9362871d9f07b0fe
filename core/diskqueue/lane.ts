// The storage lane of a disk queue: one storage operation at a time per
// queue, as go-diskqueue's ioLoop goroutine, but started on demand. kick()
// queues one microtask that drives the lane until nothing is left: tasks
// first (empty, delete, close, recovery), then the write batch, then a sync.
// A sync runs beside the lane (batch writes go on during its fsync, so a slow
// fsync does not let the batch pile up); tasks wait for it, and a roll does
// too. A failed write or sync is logged and reported (onError: nsqd turns
// unhealthy), and the lane tries again after RETRY_MS.
import { doCommit, doSync } from './sync.ts';
import { errorText, RETRY_MS, type QueueState } from './state.ts';
import { flushBatch } from './writer.ts';

export function kick(q: QueueState): void {
  if (q.driving || !q.ready || q.closed || q.retryTimer !== undefined) return; // a failure waits for its retry
  if (q.tasks.length === 0 && q.batchLen === 0 && !q.syncWanted && !q.commitWanted) return;
  q.driving = true;
  queueMicrotask(() => void drive(q));
}

/** The lane: tasks first, then the batch, then a sync (beside the lane). */
async function drive(q: QueueState): Promise<void> {
  try {
    for (;;) {
      if (q.tasks.length > 0) {
        if (q.syncing) await q.syncing;
        await q.tasks.shift()!();
      } else if (q.batchLen > 0) {
        await flushBatch(q);
      } else if ((q.syncWanted || q.commitWanted) && q.syncing === undefined) {
        q.syncing = (q.syncWanted ? doSync(q) : doCommit(q)).then(
          () => {
            q.syncing = undefined;
            kick(q);
          },
          (err) => {
            q.syncing = undefined;
            q.syncWanted = true;
            fail(q, err);
          },
        );
      } else {
        break;
      }
      if (q.closed) break;
    }
    q.driving = false;
    if (q.failing) {
      q.failing = false;
      q.o.onRecovered?.();
    }
  } catch (err) {
    q.driving = false;
    fail(q, err);
  }
}

function fail(q: QueueState, err: unknown): void {
  if (q.retryTimer !== undefined) return;
  q.failing = true;
  q.log('error', `storage failed, retrying in ${RETRY_MS} ms: ${errorText(err)}`);
  q.o.onError?.(err);
  // `failing` stays set until a drive of the lane completes: that reports the recovery (nsqd healthy again).
  q.retryTimer = setTimeout(() => {
    q.retryTimer = undefined;
    kick(q);
  }, RETRY_MS);
}

/** Runs `fn` in the lane and resolves when it has run (errors are the caller's). */
export function runTask(q: QueueState, fn: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    q.tasks.push(() => fn().then(resolve, reject));
    if (!q.driving && !q.ready) return; // runs once opened
    kick(q);
  });
}

export function stopTimers(q: QueueState): void {
  if (q.syncTimer !== undefined) clearTimeout(q.syncTimer);
  if (q.retryTimer !== undefined) clearTimeout(q.retryTimer);
  q.syncTimer = q.retryTimer = undefined;
}
