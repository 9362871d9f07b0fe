// Syncing a disk queue: when, and what a sync writes.
//
// - When: after --sync-every operations (puts plus takes, counted by op()),
//   after --sync-timeout when anything happened, when a segment is finished
//   or left, after recovery, and on close, as go-diskqueue.
// - A sync (doSync) fsyncs the write segment, writes the deferral notes,
//   releases the sync() waiters it covers, then replaces the metadata and
//   deletes the segments the metadata has moved past. Metadata positions are
//   the taken ones: after a crash, records taken since the last sync are read
//   again (at least once).
// - Syncs never stack: the lane runs one at a time, and a sync asked for
//   while one runs happens once after it, covering everything put meanwhile.
//   sync() resolves once every record put before the call is fsynced, so
//   concurrent callers share one fsync (group commit; nsqd's --durable
//   answers OK on it). When only sync() callers wait, the lane runs the
//   lighter doCommit: an fsync without the metadata.
import { kick } from './lane.ts';
import { deleteFinished } from './reader.ts';
import { atomicWrite, encodeMeta, metaFileName } from './files.ts';
import type { QueueState, Waiter } from './state.ts';

/** Counts an operation toward --sync-every and arms the --sync-timeout timer. */
export function op(q: QueueState): void {
  if (++q.ops >= q.o.syncEvery) {
    if (!q.syncWanted) {
      q.syncWanted = true;
      kick(q);
    }
  } else if (q.syncTimer === undefined && !q.closing) {
    q.syncTimer = setTimeout(() => {
      q.syncTimer = undefined;
      if (q.ops > 0 && !q.closing) {
        q.syncWanted = true;
        kick(q);
      }
    }, q.o.syncTimeout);
  }
}

/**
 * sync()'s group commit, lighter than a full sync: fsync the data (and
 * write changed deferral notes), release the waiters; the metadata follows
 * at the next regular sync. A crash in between is covered by start-up
 * recovery: a write segment longer than the metadata says is read to its end.
 */
export async function doCommit(q: QueueState): Promise<void> {
  q.commitWanted = false;
  if (q.deleting) return;
  const covered = q.totalPut - q.unflushed;
  if (q.writeHandle !== undefined) await q.writeHandle.sync();
  if (q.notes.changed) await q.notes.write(false);
  releaseWaiters(q, covered);
}

/**
 * Fsyncs what was written so far, writes the deferral notes, releases the
 * sync() waiters, then writes the metadata. Does not flush the batch: the
 * lane writes it first (and a roll must finish writing its own first).
 */
export async function doSync(q: QueueState): Promise<void> {
  q.syncWanted = false;
  q.commitWanted = false;
  if (q.deleting) return;
  q.ops = 0;
  if (q.syncTimer !== undefined) {
    clearTimeout(q.syncTimer);
    q.syncTimer = undefined;
  }
  const covered = q.totalPut - q.unflushed;
  if (q.writeHandle !== undefined) await q.writeHandle.sync();
  // Deferral notes before sync() waiters go: a durable DPUB's due time is part of its commit.
  await q.notes.write(q.positions().depth === 0 && q.unflushed === 0);
  releaseWaiters(q, covered);
  const meta = q.positions();
  if (q.o.beforeMetaSync) await q.o.beforeMetaSync();
  if (q.closed) return;
  await atomicWrite(q.storage, q.dir, metaFileName(q.name), encodeMeta(meta));
  await deleteFinished(q, meta.readFileNum);
}

/** Records up to `covered` (a totalPut count) are fsynced: resolve the sync() callers they cover. */
export function releaseWaiters(q: QueueState, covered: number): void {
  if (covered > q.syncedPut) q.syncedPut = covered;
  if (q.waiters.length === 0) return;
  const keep: Waiter[] = [];
  for (const w of q.waiters) {
    if (w.upTo <= q.syncedPut) w.resolve();
    else keep.push(w);
  }
  q.waiters = keep;
  if (keep.length > 0) q.commitWanted = true;
}
