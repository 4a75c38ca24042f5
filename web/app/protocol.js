// The wire side of docs/protocol.md: login, the lock, fetch.json and
// synchronise.json over fetch(). No DOM, no storage: usable from node too.

// An answer other than 2xx: the HTTP status, the protocol's error code
// ("locked", "lease_lost", …), its message and Retry-After in seconds.
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// A failure to reach the server at all (offline, refused, reset).
export class NetworkError extends Error {}

const pad = (n, width = 2) => String(n).padStart(width, '0');

// `ms` since the epoch as the protocol's UTC "YYYY-MM-DD HH:MM:SS.mmm".
// Such texts order by time when compared as strings.
export function formatTimestamp(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.` +
    `${pad(d.getUTCMilliseconds(), 3)}`;
}

// The protocol's timestamp text as ms since the epoch (NaN if malformed).
export function parseTimestamp(text) {
  const m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,3}))?Z?$/.exec(text ?? '');
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +(m[7] ?? '0').padEnd(3, '0'));
}

// A new record id: a random (version 4) UUID, lower-case.
export function newId() {
  return globalThis.crypto.randomUUID();
}

// A client of one server. `base` is its URL ('' for the page's own origin).
export class Api {
  constructor({ base = '', fetch = (...a) => globalThis.fetch(...a) } = {}) {
    this.base = base.replace(/\/$/, '');
    this.fetch = fetch;
    this.token = null;
  }

  // POST /v1/login → {token, expires_in, policy}; keeps the token.
  async login(user, password) {
    const answer = await this.call('POST', '/v1/login', { body: { user, password }, auth: false });
    this.token = answer.token;
    return answer;
  }

  // POST /v1/lock: a new lease (no `lease`) or a renewal of `lease`.
  // `extra` holds the protocol's optional members (_synced_through, …).
  // 423 comes back as an ApiError with code "locked" and retryAfter.
  lock(device, { lease = null, extra = {} } = {}) {
    return this.call('POST', '/v1/lock', { body: { device, ...extra }, lease });
  }

  // DELETE /v1/lock: gives the lease back.
  unlock(lease) {
    return this.call('DELETE', '/v1/lock', { lease });
  }

  // GET /v1/fetch.json for `collections` → {collection: [{id, last_update}]}.
  fetchManifest(collections) {
    const query = collections ? `?collections=${collections.map(encodeURIComponent).join(',')}` : '';
    return this.call('GET', `/v1/fetch.json${query}`);
  }

  // POST /v1/synchronise.json under `lease`.
  synchronise(body, lease) {
    return this.call('POST', '/v1/synchronise.json', { body, lease });
  }

  async call(method, path, { body = undefined, lease = null, auth = true } = {}) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth && this.token) headers.Authorization = `Bearer ${this.token}`;
    if (lease) headers['X-Sync-Lease'] = lease;
    let response;
    try {
      response = await this.fetch(this.base + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (e) {
      throw new NetworkError(`cannot reach the server (${method} ${path}): ${e.message}`);
    }
    const text = await response.text();
    if (response.ok) return text ? JSON.parse(text) : null;
    let error = {};
    try { error = JSON.parse(text); } catch { /* not JSON: keep the status */ }
    const header = response.headers.get('Retry-After');
    const retryAfter = error.retry_after ?? (header === null ? null : Number(header));
    throw new ApiError(response.status, error.error ?? 'http_' + response.status,
      error.message ?? `${method} ${path}: HTTP ${response.status}`, retryAfter);
  }
}
