// First sync of N todos into an empty browser: the server holds N records
// (seeded over the API), a fresh Chromium context logs in and syncs; the
// time from the click to the end of the sync (the page's own report) and
// until the list shows all N is printed per run, with a second,
// nothing-to-do sync. Measures; asserts nothing but the count.
//
//   node web/bench/first_sync.mjs --bin build/release/apps/syncstack/syncstack \
//        --schema tests/data/seed_schema.json [--records 10000] [--runs 3]
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { startServe } from '../tests/serve.mjs';
import { launchChromium } from '../tests/browser/chromium.mjs';

const { values: opt } = parseArgs({
  options: {
    bin: { type: 'string' }, schema: { type: 'string' },
    records: { type: 'string', default: '10000' }, runs: { type: 'string', default: '3' },
  },
});
const N = Number(opt.records);
const app = resolve(dirname(fileURLToPath(import.meta.url)), '../app');
const server = await startServe({ bin: opt.bin, schema: opt.schema, web: app, users: { ann: 'pw' } });

async function call(method, path, body, headers = {}) {
  const r = await fetch(server.url + path, {
    method, headers: { 'Content-Type': 'application/json', ...headers }, body: body && JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

async function seed() {
  const { token } = await call('POST', '/v1/login', { user: 'ann', password: 'pw' });
  const auth = { Authorization: `Bearer ${token}` };
  const { lease } = await call('POST', '/v1/lock', { device: 'seeder' }, auth);
  for (let i = 0; i < N; i += 1000) {
    const add = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) {
      add.push({ id: randomUUID(), title: `todo number ${j}`, done: j % 3 === 0,
        created: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, j)).toISOString(),
        last_update: '2026-01-01 00:00:00.000' });
    }
    await call('POST', '/v1/synchronise.json', { add: { todo: add } }, { ...auth, 'X-Sync-Lease': lease });
  }
  await call('DELETE', '/v1/lock', null, { ...auth, 'X-Sync-Lease': lease });
}

async function syncOnce(page) {
  await page.evaluate(() => { document.body.dataset.sync = ''; });
  const start = Date.now();
  await page.click('#sync');
  await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.sync), null,
    { timeout: 300000 });
  const synced = Date.now() - start;
  const status = await page.textContent('#status');
  if (!status.startsWith('synced')) throw new Error(status);
  await page.waitForFunction((n) => document.querySelectorAll('#todos li').length === n, N,
    { timeout: 300000 });
  return { synced, shown: Date.now() - start, reportMs: Number(/synced in (\d+) ms/.exec(status)[1]), status };
}

await seed();
const browser = await launchChromium();
const rows = [];
try {
  for (let run = 0; run < Number(opt.runs); run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url + '/');
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#user', 'ann');
    await page.fill('#password', 'pw');
    await page.fill('#device', `bench-${run}`);
    await page.click('#login');
    await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('logged in'));
    const first = await syncOnce(page);
    const again = await syncOnce(page);
    rows.push({ first, again });
    console.log(`run ${run + 1}: first sync ${first.reportMs} ms (click → list of ${N} shown ` +
      `${first.shown} ms); second sync ${again.reportMs} ms — ${first.status}`);
    await context.close();
  }
} finally {
  await browser.close();
  await server.stop();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`median of ${rows.length}: first sync of ${N} records ${median(rows.map((r) => r.first.reportMs))} ms, ` +
  `shown after ${median(rows.map((r) => r.first.shown))} ms; nothing-to-do sync ` +
  `${median(rows.map((r) => r.again.reportMs))} ms (Chromium ${browser.version()})`);
