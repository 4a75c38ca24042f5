// A store of local records in memory, with the same interface as
// IdbStore (idb_store.js): the reference for tests in node.
export class MemoryStore {
  constructor() {
    this.records = new Map();
    this.meta = new Map();
  }

  // Every local record, in id order.
  async all() {
    return [...this.records.values()].map((r) => structuredClone(r))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  // Reads the records of `ids` (a Map id → record, absent ones left out),
  // lets `decide` (synchronous) turn them into {puts, removes, ...} and
  // applies that atomically. Returns what `decide` returned.
  async transact(ids, decide) {
    const current = new Map();
    for (const id of ids) {
      if (this.records.has(id)) current.set(id, structuredClone(this.records.get(id)));
    }
    const change = decide(current);
    for (const r of change.puts ?? []) this.records.set(r.id, structuredClone(r));
    for (const id of change.removes ?? []) this.records.delete(id);
    return change;
  }

  async getMeta(key) {
    return this.meta.has(key) ? structuredClone(this.meta.get(key)) : undefined;
  }

  async setMeta(key, value) {
    this.meta.set(key, structuredClone(value));
  }
}
