// The three cases and the answer rules, without a server or a DOM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CHANGED, CREATED, DELETED, SYNCED, GET_NEW, PULL, PUSH_ADD, PUSH_UPDATE, PUSH_DELETE,
  DELETE_HERE, DROP, planCollection, settleAbsences, applyAnswer, buildRequests, stampAfter,
  absencesToProve,
} from '../../app/plan.js';
import { formatTimestamp, parseTimestamp } from '../../app/protocol.js';

const T1 = '2026-01-01 10:00:00.000';
const T2 = '2026-01-01 11:00:00.000';
const T3 = '2026-01-01 12:00:00.000';
const id = (n) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const rec = (n, state, { lu = T1, base = T1, deleted = false, data = { title: `t${n}` } } = {}) =>
  ({ id: id(n), data, last_update: lu, state, deleted, base });
const actionOf = (plan, n) => plan.ops.find((o) => o.id === id(n))?.action;

test('case 1: only on the server is fetched', () => {
  const plan = planCollection([], [{ id: id(1), last_update: T1 }], 'id');
  assert.equal(actionOf(plan, 1), GET_NEW);
  assert.equal(plan.cases.fetched_new, 1);
});

test('case 2: synced rows pull when the server moved, else nothing', () => {
  const plan = planCollection([rec(1, SYNCED), rec(2, SYNCED)],
    [{ id: id(1), last_update: T2 }, { id: id(2), last_update: T1 }], 'id');
  assert.equal(actionOf(plan, 1), PULL);
  assert.equal(actionOf(plan, 2), undefined);
  assert.equal(plan.cases.unchanged, 1);
});

test('case 2: a local edit on an unmoved server copy is pushed without conflict', () => {
  const plan = planCollection([rec(1, CHANGED, { lu: T2 }), rec(2, DELETED, { lu: T2, deleted: true })],
    [{ id: id(1), last_update: T1 }, { id: id(2), last_update: T1 }], 'id');
  assert.equal(actionOf(plan, 1), PUSH_UPDATE);
  assert.equal(actionOf(plan, 2), PUSH_DELETE);
  assert.equal(plan.conflicts.length, 0);
});

test('case 2: both sides moved: the newer last_update wins, a conflict is noted', () => {
  const plan = planCollection(
    [rec(1, CHANGED, { lu: T3 }), rec(2, CHANGED, { lu: T2 }), rec(3, DELETED, { lu: T2, deleted: true })],
    [{ id: id(1), last_update: T2 }, { id: id(2), last_update: T3 }, { id: id(3), last_update: T3 }], 'id');
  assert.equal(actionOf(plan, 1), PUSH_UPDATE);
  assert.equal(actionOf(plan, 2), PULL);
  assert.equal(actionOf(plan, 3), PULL);
  assert.deepEqual(plan.conflicts.map((c) => c.kept), ['client', 'server', 'server']);
  assert.equal(plan.conflicts[2].what, 'deleted here, edited on the server');
});

test('case 3: created here is added; a synced row is deleted only with proof', () => {
  const plan = planCollection([rec(1, CREATED, { base: null }), rec(2, SYNCED)], [], 'id');
  assert.equal(actionOf(plan, 1), PUSH_ADD);
  assert.equal(actionOf(plan, 2), DELETE_HERE);
  assert.deepEqual(absencesToProve(plan), [id(2)]);
});

test('case 3: edited here, absent there: pushed (server decides), or deleted under resync', () => {
  const normal = planCollection([rec(1, CHANGED, { lu: T2 })], [], 'id');
  assert.equal(actionOf(normal, 1), PUSH_UPDATE);
  assert.equal(normal.conflicts[0].what, 'edited here, deleted on the server');
  const resync = planCollection([rec(1, CHANGED, { lu: T2 }), rec(2, SYNCED)], [], 'id', { resync: true });
  assert.equal(actionOf(resync, 1), DELETE_HERE);
  assert.equal(actionOf(resync, 2), DELETE_HERE);
  assert.deepEqual(absencesToProve(resync), []);  // the horizon is the proof
});

test('case 3: a local delete is pushed if acknowledged before, else dropped', () => {
  const plan = planCollection([rec(1, DELETED, { deleted: true }),
    rec(2, DELETED, { deleted: true, base: null })], [], 'id');
  assert.equal(actionOf(plan, 1), PUSH_DELETE);
  assert.equal(actionOf(plan, 2), DROP);
});

test('absence proof: live → pulled, newer tombstone → deleted, nothing → pushed again', () => {
  const plan = planCollection([rec(1, SYNCED), rec(2, SYNCED), rec(3, SYNCED), rec(4, SYNCED)], [], 'id');
  const answer = {
    get: { todo: [{ id: id(1), title: 'back', last_update: T2 }] },
    _tombstones: { todo: [{ id: id(2), last_update: T2 }, { id: id(3), last_update: '2025-01-01 00:00:00.000' }] },
  };
  const found = settleAbsences(plan, answer, new Set([id(1), id(2), id(3)]), 'todo', 'id');
  assert.deepEqual(found.map((r) => r.title), ['back']);
  assert.equal(actionOf(plan, 1), PULL);
  assert.equal(actionOf(plan, 2), DELETE_HERE);  // proven
  assert.equal(actionOf(plan, 3), PUSH_ADD);     // tombstone older than the copy
  assert.equal(actionOf(plan, 4), DELETE_HERE);  // not asked yet: still unproven
  assert.deepEqual(absencesToProve(plan), [id(4)]);
  assert.equal(plan.cases.repushed, 1);
});

test('requests: batches of at most N ops with the four lists', () => {
  const local = [rec(1, CREATED, { base: null }), rec(2, CHANGED, { lu: T2 }),
    rec(3, DELETED, { lu: T2, deleted: true })];
  const plan = planCollection(local, [{ id: id(2), last_update: T1 }, { id: id(3), last_update: T1 },
    { id: id(4), last_update: T1 }], 'id');
  const batches = buildRequests(plan.ops, new Map(local.map((r) => [r.id, r])), 'todo', 'id', 2);
  assert.equal(batches.length, 2);
  const all = batches.map((b) => b.body);
  assert.deepEqual(all[0].add.todo, [{ title: 't1', id: id(1), last_update: T1 }]);
  assert.deepEqual(all[0].update.todo, [{ title: 't2', id: id(2), last_update: T2 }]);
  assert.deepEqual(all[1].delete.todo, [id(3)]);
  assert.deepEqual(all[1].get.todo, [id(4)]);
});

test('answers: stamps sync, kept-server copies replace, newer deletes remove', () => {
  const local = [rec(1, CREATED, { base: null }), rec(2, CHANGED, { lu: T2 }),
    rec(3, CHANGED, { lu: T2 }), rec(4, DELETED, { lu: T2, deleted: true })];
  const plan = planCollection(local, [{ id: id(2), last_update: T1 }, { id: id(4), last_update: T1 },
    { id: id(5), last_update: T1 }], 'id');
  const answer = {
    stamps: { todo: [{ id: id(1), last_update: T3 }] },
    conflicts: { todo: [{ id: id(2), kept: 'server' }, { id: id(3), kept: 'server' }] },
    get: { todo: [{ id: id(2), title: 'theirs', last_update: T3 }, { id: id(5), title: 'new', last_update: T1 }] },
  };
  const current = new Map(local.map((r) => [r.id, r]));
  const out = applyAnswer(plan.ops, answer, current, 'todo', 'id');
  const put = new Map(out.puts.map((r) => [r.id, r]));
  assert.deepEqual(put.get(id(1)), { ...local[0], state: SYNCED, base: T3, last_update: T3 });
  assert.deepEqual(put.get(id(2)).data, { title: 'theirs' });
  assert.equal(put.get(id(2)).state, SYNCED);
  assert.deepEqual(put.get(id(5)).data, { title: 'new' });
  assert.deepEqual(out.removes.sort(), [id(3), id(4)]);  // kept server, no copy: deleted there
  assert.equal(out.conflicts.length, 2);
});

test('answers never overwrite an edit made while the sync ran', () => {
  const local = [rec(1, CHANGED, { lu: T2 })];
  const plan = planCollection(local, [{ id: id(1), last_update: T1 }], 'id');
  const edited = { ...local[0], last_update: T3, data: { title: 'newer' } };
  const out = applyAnswer(plan.ops, { stamps: { todo: [{ id: id(1), last_update: T2 }] } },
    new Map([[id(1), edited]]), 'todo', 'id');
  assert.deepEqual(out.puts, []);
  assert.deepEqual(out.removes, []);
});

test('timestamps: canonical text, strictly after the previous stamp', () => {
  assert.equal(formatTimestamp(Date.UTC(2013, 4, 1, 15, 42, 50, 7)), '2013-05-01 15:42:50.007');
  assert.equal(parseTimestamp('2013-05-01 15:42:50'), Date.UTC(2013, 4, 1, 15, 42, 50));
  assert.ok(Number.isNaN(parseTimestamp('yesterday')));
  const later = '2030-01-01 00:00:00.000';
  assert.equal(stampAfter(later, Date.UTC(2026, 0, 1)), '2030-01-01 00:00:00.001');
  assert.equal(stampAfter(T1, Date.UTC(2027, 0, 1)), '2027-01-01 00:00:00.000');
});
