// The todo app in Chromium against the real `syncstack serve --web`: a
// phone and a laptop (two browser contexts) edit offline, one deletes what
// the other edits, both sync, and both pages and the server converge; a
// reload with the network off still shows the data. Screenshots go to the
// output folder.
//
//   node todo_e2e.mjs --bin SYNCSTACK --schema SCHEMA --app web/app --out DIR
//
// Exit 77 (skipped) when Chromium is missing, except under CI=true.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import assert from 'node:assert/strict';
import { startServe } from '../serve.mjs';
import { launchChromium, CHROMIUM } from './chromium.mjs';

const { values: opt } = parseArgs({
  options: {
    bin: { type: 'string' }, schema: { type: 'string' }, app: { type: 'string' },
    out: { type: 'string', default: 'web-artifacts' },
  },
});

function skipOrFail(why) {
  if (process.env.CI === 'true') {
    console.error(`FAIL ${why} (CI=true: not skipping)`);
    process.exit(1);
  }
  console.log(`SKIP ${why}`);
  process.exit(77);
}

if (!existsSync(CHROMIUM)) skipOrFail(`${CHROMIUM} not found (apt-get install chromium)`);

const PASSWORD = 'ann-pw';
const server = await startServe({
  bin: opt.bin, schema: opt.schema, web: resolve(opt.app), users: { ann: PASSWORD },
});
const browser = await launchChromium();
const out = resolve(opt.out);
mkdirSync(out, { recursive: true });

const t0 = Date.now();
const step = (text) => console.log(`-- [${((Date.now() - t0) / 1000).toFixed(1)} s] ${text}`);

async function openDevice(name, viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`[${name}] page error: ${e.message}`));
  page.on('console', (m) => console.log(`[${name}] console: ${m.text()}`));
  await page.goto(server.url + '/');
  await page.waitForSelector('body[data-ready="true"]');
  await page.fill('#user', 'ann');
  await page.fill('#password', PASSWORD);
  await page.fill('#device', name);
  await page.click('#login');
  await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('logged in'));
  // The service worker controls the page once it has cached the app.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r));
    }
  });
  return { name, context, page };
}

async function addTodo(d, title) {
  await d.page.fill('#new-title', title);
  await d.page.click('#add');
  await d.page.waitForSelector(`#todos li input.title >> nth=0`);
}

const item = (d, title) => d.page.locator(`#todos li[data-title="${title}"]`);

async function shot(d, name) {
  const file = join(out, name);
  await d.page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
}

// Clicks sync and waits for its end; returns the status line.
async function sync(d) {
  await d.page.evaluate(() => { document.body.dataset.sync = ''; });
  await d.page.click('#sync');
  try {
    await d.page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.sync),
      null, { timeout: 15000 });
  } catch (e) {
    throw new Error(`${d.name}: sync did not end: ${await d.page.textContent('#status')} / ` +
      `${await d.page.textContent('#progress-text')}`);
  }
  return d.page.textContent('#status');
}

// The todos a page shows: [{title, done, state}], sorted by title.
function shown(d) {
  return d.page.$$eval('#todos li', (lis) => lis.map((li) => ({
    title: li.querySelector('input.title').value,
    done: li.querySelector('input.done').checked,
    state: li.dataset.state,
  })).sort((a, b) => a.title.localeCompare(b.title)));
}

// The server's todos, read with fetch.json and a get under the lock.
async function serverTodos() {
  const call = async (method, path, body, headers = {}) => {
    const r = await fetch(server.url + path, {
      method, headers: { 'Content-Type': 'application/json', ...headers },
      body: body && JSON.stringify(body),
    });
    return r.status === 204 ? null : r.json();
  };
  const { token } = await call('POST', '/v1/login', { user: 'ann', password: PASSWORD });
  const auth = { Authorization: `Bearer ${token}` };
  const manifest = await call('GET', '/v1/fetch.json?collections=todo', null, auth);
  const { lease } = await call('POST', '/v1/lock', { device: 'checker' }, auth);
  const answer = await call('POST', '/v1/synchronise.json',
    { get: { todo: manifest.todo.map((e) => e.id) } }, { ...auth, 'X-Sync-Lease': lease });
  await call('DELETE', '/v1/lock', null, { ...auth, 'X-Sync-Lease': lease });
  return (answer.get?.todo ?? []).map((r) => ({ title: r.title, done: r.done }))
    .sort((a, b) => a.title.localeCompare(b.title));
}

let failed = false;
try {
  step('phone and laptop log in; the phone adds three todos and syncs');
  const [phone, laptop] = await Promise.all([
    openDevice('phone', { width: 390, height: 780 }),
    openDevice('laptop', { width: 1100, height: 780 }),
  ]);
  for (const title of ['milk', 'bread', 'eggs']) await addTodo(phone, title);
  assert.match(await sync(phone), /^synced .* 3 sent/);
  assert.match(await sync(laptop), /^synced .* 3 received/);
  assert.deepEqual((await shown(laptop)).map((t) => t.title), ['bread', 'eggs', 'milk']);

  step('both go offline and edit; the phone deletes what the laptop edits');
  await phone.context.setOffline(true);
  await laptop.context.setOffline(true);
  assert.equal(await phone.page.textContent('#net'), 'offline');
  await item(laptop, 'milk').locator('input.title').fill('oat milk');
  await item(laptop, 'milk').locator('input.title').press('Enter');
  await laptop.page.waitForSelector('#todos li[data-state="changed"]');
  await addTodo(laptop, 'coffee');
  await item(phone, 'milk').locator('button.delete').click();
  await item(phone, 'bread').locator('input.done').check();
  await addTodo(phone, 'tea');
  await phone.page.waitForFunction(() => document.querySelectorAll('#todos li').length === 3);
  assert.match(await sync(phone), /^sync failed: the server cannot be reached/);

  step('a reload with the network off still shows the offline edits');
  await phone.page.reload();
  await phone.page.waitForSelector('body[data-ready="true"]');
  assert.deepEqual(await shown(phone), [
    { title: 'bread', done: true, state: 'changed' },
    { title: 'eggs', done: false, state: 'synced' },
    { title: 'tea', done: false, state: 'created' },
  ]);

  step('both go online and sync at once (the lock lets one in at a time), then once more');
  await phone.context.setOffline(false);
  await laptop.context.setOffline(false);
  const [a, b] = await Promise.all([sync(phone), sync(laptop)]);
  console.log(`phone: ${a}\nlaptop: ${b}`);
  assert.match(a, /^synced/);
  assert.match(b, /^synced/);
  const conflicts = [
    ...await phone.page.$$eval('#conflicts li', (l) => l.map((x) => x.textContent)),
    ...await laptop.page.$$eval('#conflicts li', (l) => l.map((x) => x.textContent)),
  ];
  console.log(`conflicts shown: ${JSON.stringify(conflicts)}`);
  assert.ok(conflicts.some((c) => /milk.*(deleted here|deleted on the server)/.test(c)),
    'the delete/edit conflict is shown on the page');
  for (const d of [phone, laptop]) await shot(d, `todo-${d.name}-conflict-sync.png`);
  await sync(phone);
  await sync(laptop);

  step('both pages and the server hold the same todos');
  const expected = [
    { title: 'bread', done: true }, { title: 'coffee', done: false },
    { title: 'eggs', done: false }, { title: 'tea', done: false },
  ];
  const strip = (list) => list.map(({ title, done }) => ({ title, done }));
  assert.deepEqual(strip(await shown(phone)), expected);
  assert.deepEqual(strip(await shown(laptop)), expected);
  assert.deepEqual(await serverTodos(), expected);
  assert.ok((await shown(laptop)).every((t) => t.state === 'synced'));
  assert.match(await laptop.page.textContent('#progress-text'), /^synced/);

  for (const d of [phone, laptop]) {
    const file = join(out, `todo-${d.name}.png`);
    await d.page.screenshot({ path: file, fullPage: true });
    console.log(`screenshot: ${file}`);
  }

  step('offline again: a reload of the laptop shows the synced data');
  await laptop.context.setOffline(true);
  await laptop.page.reload();
  await laptop.page.waitForSelector('body[data-ready="true"]');
  assert.deepEqual(strip(await shown(laptop)), expected);

  assert.match(await laptop.page.textContent('#status'), /^last sync .* synced in/);
  const file = join(out, 'todo-laptop-offline-reload.png');
  await laptop.page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
  console.log('PASS the phone, the laptop and the server converged');
} catch (e) {
  failed = true;
  console.error(`FAIL ${e.stack}`);
  console.error(`server log:\n${server.log()}`);
} finally {
  await browser.close();
  await server.stop();
}
process.exit(failed ? 1 : 0);
