// The seed's three cases, as the C++ engine decides them
// (framework/src/engine/plan.cc), and what an answer does to the local
// records. Pure functions over plain objects: no DOM, no storage, no I/O.
import { formatTimestamp, parseTimestamp } from './protocol.js';
//
// A local record: {id, data, last_update, state, deleted, base}
//   data         the application's fields (everything but the id key and
//                last_update)
//   last_update  the version this device holds (its own write's stamp, or
//                the server's)
//   state        'created'  written here, never acknowledged
//                'changed'  edited here since the server acknowledged it
//                'deleted'  deleted here, not yet acknowledged
//                'synced'   the same as the server's copy `base`
//   base         the server's last_update when this device last agreed
//                with it; null if it never did

export const CREATED = 'created';
export const CHANGED = 'changed';
export const DELETED = 'deleted';
export const SYNCED = 'synced';

// Plan actions.
export const GET_NEW = 'get-new';         // case 1: only on the server
export const PULL = 'pull';               // case 2: the server's copy wins
export const PUSH_ADD = 'push-add';       // case 3: created here
export const PUSH_UPDATE = 'push-update'; // case 2/3: this device's edit
export const PUSH_DELETE = 'push-delete'; // deleted here
export const DELETE_HERE = 'delete-here'; // the server deleted it (proven)
export const DROP = 'drop';               // a local delete the server never saw

// The local record after a local write at `nowMs`: a stamp after both the
// clock and the record's own last stamp, so an edit never orders before
// the version it edits even when the device clock went back.
export function stampAfter(previous, nowMs) {
  const now = formatTimestamp(nowMs);
  if (!previous || now > previous) return now;
  return formatTimestamp(parseTimestamp(previous) + 1);
}

// The state a record takes when edited here.
export function stateAfterEdit(record) {
  return record.state === CREATED || (record.state === DELETED && record.base === null)
    ? CREATED : CHANGED;
}

function emptyCases() {
  return {
    fetched_new: 0, pulled: 0, pushed_adds: 0, pushed_updates: 0, pushed_deletes: 0,
    deleted_here: 0, dropped: 0, unchanged: 0, repushed: 0,
  };
}

// Plans one collection. `local` is every local record (any order);
// `manifest` the server's entries [{<idKey>: id, last_update}]. With
// `resync` (the server collected tombstones this device may not have
// seen) a record edited here but absent there is deleted here, and absence
// itself proves a delete. Returns {ops, conflicts, cases}; an op is
// {action, id, snapshot, byAbsence?, conflict?}, `snapshot` the local
// record as planned (to notice edits made while the sync runs).
export function planCollection(local, manifest, idKey, { resync = false } = {}) {
  const server = new Map();
  for (const entry of manifest) server.set(entry[idKey], entry.last_update);
  const plan = { ops: [], conflicts: [], cases: emptyCases() };
  const seen = new Set();
  for (const record of local) {
    seen.add(record.id);
    if (server.has(record.id)) {
      planBoth(record, server.get(record.id), plan);
    } else {
      planOnlyLocal(record, resync, plan);
    }
  }
  for (const [id, lastUpdate] of server) {
    if (seen.has(id)) continue;
    plan.ops.push({ action: GET_NEW, id, snapshot: null, server: lastUpdate });
    plan.cases.fetched_new++;
  }
  return plan;
}

function op(plan, action, record, extra = {}) {
  const entry = { action, id: record.id, snapshot: snapshotOf(record), ...extra };
  plan.ops.push(entry);
  return entry;
}

export function snapshotOf(record) {
  return { state: record.state, deleted: record.deleted, last_update: record.last_update };
}

function noteConflict(plan, id, what, kept) {
  plan.conflicts.push({ id, what, kept });
  return plan.conflicts.length - 1;
}

// Case 2: on both sides.
function planBoth(record, serverStamp, plan) {
  const serverMoved = serverStamp !== record.base;
  if (record.state === SYNCED) {
    if (serverMoved) {
      op(plan, PULL, record);
      plan.cases.pulled++;
    } else {
      plan.cases.unchanged++;
    }
    return;
  }
  const push = record.state === DELETED ? PUSH_DELETE
    : record.state === CREATED ? PUSH_ADD : PUSH_UPDATE;
  if (serverMoved || record.state === CREATED) {
    const what = record.state === CREATED ? 'created here and on the server'
      : record.state === DELETED ? 'deleted here, edited on the server'
        : 'edited on both sides';
    // Last write wins: the newer last_update; the server's policy has the
    // last word on a push and answers with its copy if it keeps it.
    if (record.last_update < serverStamp) {
      op(plan, PULL, record, { conflict: noteConflict(plan, record.id, what, 'server') });
      plan.cases.pulled++;
      return;
    }
    op(plan, push, record, { conflict: noteConflict(plan, record.id, what, 'client') });
  } else {
    op(plan, push, record);
  }
  countPush(plan, push);
}

function countPush(plan, push) {
  if (push === PUSH_DELETE) plan.cases.pushed_deletes++;
  else if (push === PUSH_ADD) plan.cases.pushed_adds++;
  else plan.cases.pushed_updates++;
}

// Case 3: only on the device.
function planOnlyLocal(record, resync, plan) {
  switch (record.state) {
    case CREATED:
      op(plan, PUSH_ADD, record);
      plan.cases.pushed_adds++;
      return;
    case CHANGED:
      if (resync) {  // its tombstone may be gone: pushing would resurrect it
        op(plan, DELETE_HERE, record, {
          conflict: noteConflict(plan, record.id,
            'edited here, deleted on the server (tombstone collected)', 'server'),
        });
        plan.cases.deleted_here++;
        return;
      }
      // The server's policy orders this edit and its delete.
      op(plan, PUSH_UPDATE, record, {
        conflict: noteConflict(plan, record.id, 'edited here, deleted on the server', 'client'),
      });
      plan.cases.pushed_updates++;
      return;
    case DELETED:
      if (record.base !== null) {
        // Deleted on both sides: the later delete must still win over an
        // edit made between the two, so the server orders it.
        op(plan, PUSH_DELETE, record);
        plan.cases.pushed_deletes++;
      } else {
        op(plan, DROP, record);
        plan.cases.dropped++;
      }
      return;
    default:  // SYNCED: deleted on the server — only with its proof
      op(plan, DELETE_HERE, record, { byAbsence: !resync });
      plan.cases.deleted_here++;
  }
}

// The ids whose absence the server must prove before they are deleted here.
export function absencesToProve(plan) {
  return plan.ops.filter((o) => o.byAbsence).map((o) => o.id);
}

// Settles every delete by absence with the server's answer to a `get` of
// their ids with "_tombstones": true. Returns the records the server holds
// after all (to store as synced). A tombstone not older than this device's
// copy proves the delete; neither record nor tombstone means the server
// lost the record: it is pushed again.
// Only the ops of `asked` (a Set of ids) are settled.
export function settleAbsences(plan, answer, asked, collection, idKey) {
  const live = new Map();
  for (const r of answer.get?.[collection] ?? []) live.set(r[idKey], r);
  const tombstones = new Map();
  for (const t of answer._tombstones?.[collection] ?? []) tombstones.set(t[idKey], t.last_update);
  const found = [];
  for (const o of plan.ops) {
    if (!o.byAbsence || !asked.has(o.id)) continue;
    o.byAbsence = false;
    if (live.has(o.id)) {
      o.action = PULL;
      plan.cases.deleted_here--;
      plan.cases.pulled++;
      found.push(live.get(o.id));
      continue;
    }
    const t = tombstones.get(o.id);
    if (t !== undefined && t >= o.snapshot.last_update) continue;  // proven
    o.action = PUSH_ADD;
    plan.cases.deleted_here--;
    plan.cases.pushed_adds++;
    plan.cases.repushed++;
  }
  return found;
}

// A record as the server sends it, split into a local synced record.
export function fromServer(wire, idKey) {
  const data = { ...wire };
  delete data[idKey];
  delete data.last_update;
  return {
    id: wire[idKey], data, last_update: wire.last_update, state: SYNCED, deleted: false,
    base: wire.last_update,
  };
}

// A local record as the server wants it in add/update.
export function toWire(record, idKey) {
  return { ...record.data, [idKey]: record.id, last_update: record.last_update };
}

// Whether `current` (the record now, or undefined) is still what the plan saw.
export function unchanged(current, snapshot) {
  if (snapshot === null) return current === undefined;
  return current !== undefined && current.state === snapshot.state &&
    current.deleted === snapshot.deleted && current.last_update === snapshot.last_update;
}

// Splits the ops that talk to the server into synchronise.json bodies of
// at most `batchSize` ops each. `records` maps id → local record.
export function buildRequests(ops, records, collection, idKey, batchSize) {
  const wire = ops.filter((o) => o.action !== DELETE_HERE && o.action !== DROP);
  const batches = [];
  for (let i = 0; i < wire.length; i += batchSize) {
    const slice = wire.slice(i, i + batchSize);
    const body = {};
    const list = (key) => ((body[key] ??= { [collection]: [] })[collection]);
    for (const o of slice) {
      if (o.action === GET_NEW || o.action === PULL) list('get').push(o.id);
      else if (o.action === PUSH_DELETE) list('delete').push(o.id);
      else list(o.action === PUSH_ADD ? 'add' : 'update').push(toWire(records.get(o.id), idKey));
    }
    batches.push({ ops: slice, body });
  }
  return batches;
}

// What one synchronise.json answer does to the local records of `ops`:
// {puts, removes, conflicts}. `current` maps id → the record now (edits made
// while the sync ran are kept for the next sync, never overwritten).
export function applyAnswer(ops, answer, current, collection, idKey) {
  const got = new Map();
  for (const r of answer.get?.[collection] ?? []) got.set(r[idKey], r);
  const stamps = new Map();
  for (const s of answer.stamps?.[collection] ?? []) stamps.set(s[idKey], s.last_update);
  const kept = new Map();
  for (const c of answer.conflicts?.[collection] ?? []) kept.set(c[idKey], c.kept);
  const out = { puts: [], removes: [], conflicts: [] };
  for (const o of ops) {
    const now = current.get(o.id);
    if (kept.has(o.id)) out.conflicts.push({ id: o.id, kept: kept.get(o.id) });
    if (!unchanged(now, o.snapshot)) continue;
    if (got.has(o.id)) {  // asked for, or the server kept its own copy
      out.puts.push(fromServer(got.get(o.id), idKey));
    } else if (o.action === PUSH_DELETE) {
      out.removes.push(o.id);  // acknowledged, or the server had no copy
    } else if (kept.get(o.id) === 'server') {
      out.removes.push(o.id);  // the server keeps a newer delete
    } else if (stamps.has(o.id) && (o.action === PUSH_ADD || o.action === PUSH_UPDATE)) {
      const stamp = stamps.get(o.id);
      out.puts.push({ ...now, state: SYNCED, deleted: false, base: stamp, last_update: stamp });
    }
    // A get the server left out (deleted meanwhile) stays as it is: its
    // absence proves nothing; the next sync asks again.
  }
  return out;
}
