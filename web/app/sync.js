// One sync run of the todo collection, as the C++ engine runs it
// (framework/src/engine/run.cc): lock → fetch.json → the three cases →
// proof of deletes by absence → synchronise.json in batches, each answer
// applied in one local transaction → unlock. No DOM: the page passes an
// Api (protocol.js) and a store (idb_store.js, or memory_store.js in node).
import { ApiError } from './protocol.js';
import {
  CHANGED, CREATED, DELETED, DELETE_HERE, DROP, SYNCED, absencesToProve, applyAnswer,
  buildRequests, planCollection, settleAbsences, stampAfter, stateAfterEdit, unchanged,
} from './plan.js';

// Conflict policies whose order is last_update alone: the only ones this
// client plans with (the others need version data it does not keep).
const POLICIES = new Set(['lww', 'hlc']);

export class SyncClient {
  // api: an Api with a token; store: IdbStore or MemoryStore; device: its
  // name for the lock; policy: the login answer's; onProgress({phase,
  // done, total, message}) is called as the run goes.
  constructor({
    api, store, device, policy = 'lww', collection = 'todo', idKey = 'id', batchSize = 1000,
    maxLockWaitMs = 120_000, onProgress = () => {},
    sleep = (ms) => new Promise((r) => setTimeout(r, ms)), now = () => Date.now(),
  }) {
    Object.assign(this, {
      api, store, device, policy, collection, idKey, batchSize, maxLockWaitMs, onProgress, sleep,
      now,
    });
  }

  // Runs one sync. Resolves with a report {cases, conflicts, requests,
  // ms, resync}; rejects with ApiError / NetworkError / Error (a clear
  // message) — local records are then as the last applied answer left them.
  async sync() {
    if (!POLICIES.has(this.policy)) {
      throw new Error(`the server's conflict policy is "${this.policy}"; ` +
        'this web client syncs only with lww or hlc servers');
    }
    const started = this.now();
    this.requests = 0;
    const lock = await this.acquire();
    try {
      const report = await this.run(lock);
      if (lock._seq !== undefined) await this.store.setMeta('synced_through', lock._seq);
      report.ms = this.now() - started;
      report.requests = this.requests;
      this.onProgress({ phase: 'done', done: 1, total: 1, message: 'synced' });
      return report;
    } finally {
      await this.api.unlock(this.lease).catch(() => {});  // else it expires
    }
  }

  // POST /v1/lock until granted, waiting while another device holds it.
  async acquire() {
    const extra = { _synced_through: (await this.store.getMeta('synced_through')) ?? 0 };
    const secret = await this.store.getMeta('device_secret');
    if (secret) extra._device_secret = secret;
    const deadline = this.now() + this.maxLockWaitMs;
    for (;;) {
      this.onProgress({ phase: 'lock', done: 0, total: 1, message: 'taking the sync lock' });
      try {
        this.requests++;
        const answer = await this.api.lock(this.device, { extra });
        if (answer._device_secret) await this.store.setMeta('device_secret', answer._device_secret);
        this.lease = answer.lease;
        this.leaseMs = answer.expires_in * 1000;
        this.leaseAt = this.now();
        return answer;
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 'locked' || this.now() >= deadline) throw e;
        const wait = Math.min(Math.max(e.retryAfter ?? 1, 0.2), 1) * 1000;
        this.onProgress({
          phase: 'waiting', done: 0, total: 1,
          message: `another device is syncing; retrying (it said ${e.retryAfter ?? '?'} s)`,
        });
        await this.sleep(wait);
      }
    }
  }

  async renewIfDue() {
    if (this.now() - this.leaseAt < this.leaseMs / 3) return;
    this.requests++;
    const answer = await this.api.lock(this.device, { lease: this.lease });
    this.lease = answer.lease ?? this.lease;
    this.leaseMs = answer.expires_in * 1000;
    this.leaseAt = this.now();
  }

  async call(body) {
    await this.renewIfDue();
    this.requests++;
    return this.api.synchronise(body, this.lease);
  }

  async run(lock) {
    const { collection, idKey } = this;
    this.onProgress({ phase: 'manifest', done: 0, total: 1, message: 'reading the server\'s list' });
    this.requests++;
    const manifest = await this.api.fetchManifest([collection]);
    const local = await this.store.all();
    const plan = planCollection(local, manifest[collection] ?? [], idKey, { resync: !!lock._resync });
    await this.proveAbsences(plan);
    await this.applyLocalOnly(plan);
    const records = new Map(local.map((r) => [r.id, r]));
    const batches = buildRequests(plan.ops, records, collection, idKey, this.batchSize);
    const total = batches.reduce((n, b) => n + b.ops.length, 0);
    const kept = new Map();
    let done = 0;
    this.onProgress({ phase: 'sync', done, total, message: `0 of ${total} changes` });
    for (const batch of batches) {
      const answer = await this.call(batch.body);
      const change = await this.store.transact(batch.ops.map((o) => o.id),
        (current) => applyAnswer(batch.ops, answer, current, collection, idKey));
      for (const c of change.conflicts) kept.set(c.id, c.kept);
      done += batch.ops.length;
      this.onProgress({ phase: 'sync', done, total, message: `${done} of ${total} changes` });
    }
    return {
      cases: plan.cases, conflicts: this.conflictsOf(plan, kept, records), resync: !!lock._resync,
    };
  }

  // Asks the server to prove every delete by absence (a get of the ids
  // with "_tombstones": true, writing nothing) and settles them.
  async proveAbsences(plan) {
    const ids = absencesToProve(plan);
    for (let i = 0; i < ids.length; i += this.batchSize) {
      const asked = ids.slice(i, i + this.batchSize);
      this.onProgress({
        phase: 'prove', done: i, total: ids.length,
        message: `asking the server about ${ids.length} records it no longer lists`,
      });
      const answer = await this.call({ get: { [this.collection]: asked }, _tombstones: true });
      const found = settleAbsences(plan, answer, new Set(asked), this.collection, this.idKey);
      const byId = new Map(plan.ops.map((o) => [o.id, o]));
      await this.store.transact(found.map((r) => r.id), (current) => ({
        puts: found.filter((r) => unchanged(current.get(r.id), byId.get(r.id).snapshot)),
      }));
    }
    // Pulled already: nothing left to ask for.
    const settled = new Set(ids);
    plan.ops = plan.ops.filter((o) => !(settled.has(o.id) && o.action === 'pull'));
  }

  // Deletes proven or ordered by a resync, and local deletes the server
  // never saw: applied here, nothing to send.
  async applyLocalOnly(plan) {
    const ops = plan.ops.filter((o) => o.action === DELETE_HERE || o.action === DROP);
    if (ops.length === 0) return;
    await this.store.transact(ops.map((o) => o.id), (current) => ({
      removes: ops.filter((o) => unchanged(current.get(o.id), o.snapshot)).map((o) => o.id),
    }));
  }

  // The plan's conflicts with the server's final word, and the title the
  // record had here (it may be gone now).
  conflictsOf(plan, kept, records) {
    const out = plan.conflicts.map((c) => ({
      ...c, kept: kept.get(c.id) ?? c.kept, title: records.get(c.id)?.data.title,
    }));
    const planned = new Set(out.map((c) => c.id));
    for (const [id, k] of kept) {
      if (!planned.has(id)) {
        out.push({ id, what: 'the server kept its own copy', kept: k, title: records.get(id)?.data.title });
      }
    }
    return out;
  }
}

// --- local writes, as the app makes them ---

// A new todo; resolves with its record.
export async function createTodo(store, data, nowMs, id) {
  const record = {
    id, data, last_update: stampAfter(null, nowMs), state: CREATED, deleted: false, base: null,
  };
  await store.transact([], () => ({ puts: [record] }));
  return record;
}

// Merges `changes` into the todo's fields; false if there is no such todo.
export async function editTodo(store, id, changes, nowMs) {
  const change = await store.transact([id], (current) => {
    const r = current.get(id);
    if (!r || r.deleted) return { puts: [] };
    return {
      puts: [{
        ...r, data: { ...r.data, ...changes }, state: stateAfterEdit(r),
        last_update: stampAfter(r.last_update, nowMs),
      }],
    };
  });
  return change.puts.length === 1;
}

// Deletes the todo here; the next sync tells the server.
export async function deleteTodo(store, id, nowMs) {
  const change = await store.transact([id], (current) => {
    const r = current.get(id);
    if (!r || r.deleted) return { puts: [] };
    return {
      puts: [{ ...r, state: DELETED, deleted: true, last_update: stampAfter(r.last_update, nowMs) }],
    };
  });
  return change.puts.length === 1;
}

// The todos an app shows: not deleted, oldest first.
export function visibleTodos(records) {
  const key = (r) => `${r.data.created ?? ''}|${r.id}`;
  return records.filter((r) => !r.deleted).map((r) => [key(r), r])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
}

export { CHANGED, CREATED, DELETED, SYNCED };
