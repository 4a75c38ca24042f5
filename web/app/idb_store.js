// Local records in IndexedDB: one database per user and server origin
// (the browser scopes IndexedDB by origin), an object store of records by
// id and one of metadata (device name, token, tombstone mark).
const RECORDS = 'records';
const META = 'meta';

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    tx.onerror = () => reject(tx.error);
  });
}

export class IdbStore {
  constructor(db) {
    this.db = db;
  }

  // Opens (creating if needed) the database of `user`.
  static async open(user) {
    const request = indexedDB.open(`syncstack-todo:${user}`, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(RECORDS, { keyPath: 'id' });
      request.result.createObjectStore(META);
    };
    return new IdbStore(await promised(request));
  }

  close() {
    this.db.close();
  }

  // Every local record, in id order.
  async all() {
    const tx = this.db.transaction(RECORDS, 'readonly');
    return promised(tx.objectStore(RECORDS).getAll());
  }

  // Reads the records of `ids`, lets `decide` (synchronous) turn them into
  // {puts, removes, ...} and applies that, all in one readwrite
  // transaction: a local edit cannot slip in between. Resolves with what
  // `decide` returned once the transaction committed.
  transact(ids, decide) {
    const tx = this.db.transaction(RECORDS, 'readwrite');
    const records = tx.objectStore(RECORDS);
    const committed = done(tx);
    return new Promise((resolve, reject) => {
      const current = new Map();
      let pending = ids.length;
      const decideAndWrite = () => {
        let change;
        try {
          change = decide(current);
          for (const r of change.puts ?? []) records.put(r);
          for (const id of change.removes ?? []) records.delete(id);
        } catch (e) {
          tx.abort();
          reject(e);
          return;
        }
        committed.then(() => resolve(change), reject);
      };
      const getEach = () => {
        if (pending === 0) decideAndWrite();
        for (const id of ids) {
          const get = records.get(id);
          get.onsuccess = () => {
            if (get.result !== undefined) current.set(id, get.result);
            if (--pending === 0) decideAndWrite();
          };
        }
      };
      // A large batch (a first sync's) is read in one getAll of its id
      // range when the range holds few other records: far fewer requests.
      if (ids.length < 64) {
        getEach();
      } else {
        const sorted = [...ids].sort();
        const range = IDBKeyRange.bound(sorted[0], sorted[sorted.length - 1]);
        const count = records.count(range);
        count.onsuccess = () => {
          if (count.result > 2 * ids.length) return getEach();
          const wanted = new Set(ids);
          const all = records.getAll(range);
          all.onsuccess = () => {
            for (const r of all.result) if (wanted.has(r.id)) current.set(r.id, r);
            decideAndWrite();
          };
        };
      }
      committed.catch(reject);
    });
  }

  async getMeta(key) {
    const tx = this.db.transaction(META, 'readonly');
    return promised(tx.objectStore(META).get(key));
  }

  async setMeta(key, value) {
    const tx = this.db.transaction(META, 'readwrite');
    tx.objectStore(META).put(value, key);
    return done(tx);
  }
}
