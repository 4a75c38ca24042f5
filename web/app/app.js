// The page: a todo list kept in IndexedDB, synced with `syncstack serve`
// on demand. All sync logic lives in sync.js / plan.js (tested in node);
// this file only wires the DOM to it.
import { Api, ApiError, NetworkError, newId } from './protocol.js';
import { IdbStore } from './idb_store.js';
import { SyncClient, createTodo, deleteTodo, editTodo, visibleTodos } from './sync.js';

const $ = (selector) => document.querySelector(selector);

// The server: this page's origin, or ?server=URL (the server then needs
// --cors-origin for this page's origin), remembered for offline loads.
const serverFromQuery = new URLSearchParams(location.search).get('server');
if (serverFromQuery !== null) localStorage.setItem('syncstack.server', serverFromQuery);
const app = {
  api: new Api({ base: localStorage.getItem('syncstack.server') ?? '' }),
  store: null,
  user: null,
  device: null,
  policy: 'lww',
  syncing: false,
};

function randomDeviceName() {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return 'web-' + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// Opens `user`'s local records (no network needed).
async function openUser(user) {
  app.store?.close();
  app.store = await IdbStore.open(user);
  app.user = user;
  localStorage.setItem('syncstack.user', user);
  app.device = (await app.store.getMeta('device')) ?? randomDeviceName();
  await app.store.setMeta('device', app.device);
  app.policy = (await app.store.getMeta('policy')) ?? 'lww';
  const session = await app.store.getMeta('session');
  app.api.token = session && session.until > Date.now() ? session.token : null;
  $('#who').textContent = `${user} on ${app.device}`;
  const last = await app.store.getMeta('last_sync');
  if (last) {
    setStatus(`last sync ${last.at.replace('T', ' ').slice(0, 19)} UTC — ${last.text}`);
    showConflicts(last.conflicts);
  }
  await render();
}

async function logIn(event) {
  event.preventDefault();
  const user = $('#user').value.trim();
  setStatus('logging in…');
  try {
    const answer = await app.api.login(user, $('#password').value);
    await openUser(user);
    const device = $('#device').value.trim();
    if (device) {
      app.device = device;
      await app.store.setMeta('device', device);
      $('#who').textContent = `${user} on ${device}`;
    }
    app.policy = answer.policy ?? 'lww';
    await app.store.setMeta('policy', app.policy);
    app.api.token = answer.token;
    await app.store.setMeta('session', {
      token: answer.token, until: Date.now() + (answer.expires_in - 30) * 1000,
    });
    $('#password').value = '';
    setStatus(`logged in as ${user}`);
  } catch (e) {
    setStatus(messageOf(e), true);
  }
}

async function render() {
  const list = $('#todos');
  const todos = app.store ? visibleTodos(await app.store.all()) : [];
  list.replaceChildren(...todos.map(todoItem));
  const unsynced = todos.filter((t) => t.state !== 'synced').length;
  $('#count').textContent = `${todos.length} todos, ${unsynced} not synced yet`;
}

// One list item; its controls are handled by listeners on the list
// (listenOnList), so that 10,000 todos do not make 30,000 listeners.
function todoItem(todo) {
  const li = document.createElement('li');
  li.dataset.id = todo.id;
  li.dataset.state = todo.state;
  li.dataset.title = String(todo.data.title ?? '');
  if (todo.data.done) li.className = 'done';
  const done = document.createElement('input');
  done.type = 'checkbox';
  done.className = 'done';
  done.checked = !!todo.data.done;
  const title = document.createElement('input');
  title.className = 'title';
  title.value = li.dataset.title;
  const badge = document.createElement('span');
  badge.className = `badge ${todo.state}`;
  badge.textContent = todo.state;
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'delete';
  remove.textContent = '✕';
  remove.title = 'delete';
  li.append(done, title, badge, remove);
  return li;
}

function listenOnList() {
  const list = $('#todos');
  list.addEventListener('change', (event) => {
    const id = event.target.closest('li')?.dataset.id;
    if (!id) return;
    if (event.target.classList.contains('done')) edit(id, { done: event.target.checked });
    if (event.target.classList.contains('title')) edit(id, { title: event.target.value });
  });
  list.addEventListener('click', (event) => {
    const id = event.target.closest('li')?.dataset.id;
    if (id && event.target.classList.contains('delete')) removeTodo(id);
  });
}

async function edit(id, changes) {
  await editTodo(app.store, id, changes, Date.now());
  await render();
}

async function removeTodo(id) {
  await deleteTodo(app.store, id, Date.now());
  await render();
}

async function add(event) {
  event.preventDefault();
  if (!app.store) return setStatus('log in first (once; then it works offline)', true);
  const input = $('#new-title');
  await createTodo(app.store, {
    title: input.value, done: false, created: new Date().toISOString(),
  }, Date.now(), newId());
  input.value = '';
  await render();
}

function showProgress({ done, total, message }) {
  const bar = $('#progress');
  bar.max = Math.max(total, 1);
  bar.value = Math.min(done, bar.max);
  $('#progress-text').textContent = message;
}

async function sync() {
  if (app.syncing) return;
  if (!app.store || !app.api.token) {
    document.body.dataset.sync = 'failed';
    return setStatus('log in to sync', true);
  }
  app.syncing = true;
  $('#sync').disabled = true;
  document.body.dataset.sync = 'running';
  try {
    const client = new SyncClient({
      api: app.api, store: app.store, device: app.device, policy: app.policy,
      onProgress: showProgress,
    });
    // One sync at a time across this browser's tabs of the app.
    const report = navigator.locks
      ? await navigator.locks.request(`syncstack-sync:${app.user}`, () => client.sync())
      : await client.sync();
    const c = report.cases;
    const text = `synced in ${report.ms} ms: ${c.pushed_adds + c.pushed_updates + c.pushed_deletes} ` +
      `sent, ${c.fetched_new + c.pulled} received, ${c.deleted_here} deleted here, ` +
      `${report.conflicts.length} conflicts${report.resync ? ' (full resync)' : ''}`;
    showConflicts(report.conflicts);
    setStatus(text);
    await app.store.setMeta('last_sync', { at: new Date().toISOString(), text, conflicts: report.conflicts });
    document.body.dataset.sync = 'done';
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      app.api.token = null;
      await app.store.setMeta('session', null);
    }
    setStatus(`sync failed: ${messageOf(e)}`, true);
    document.body.dataset.sync = 'failed';
  } finally {
    app.syncing = false;
    $('#sync').disabled = false;
    await render();
  }
}

function showConflicts(conflicts) {
  const items = conflicts.map((c) => {
    const li = document.createElement('li');
    li.dataset.id = c.id;
    const title = c.title ?? c.id.slice(0, 8);
    const outcome = c.kept === 'server' ? "the server's version was kept"
      : c.kept === 'merged' ? 'the versions were merged' : 'this device\'s version was kept';
    li.textContent = `“${title}”: ${c.what} — ${outcome}`;
    return li;
  });
  if (items.length === 0) {
    items.push(Object.assign(document.createElement('li'), { className: 'muted', textContent: 'none' }));
  }
  $('#conflicts').replaceChildren(...items);
}

function messageOf(e) {
  if (e instanceof NetworkError) return 'the server cannot be reached (offline?)';
  if (e instanceof ApiError && e.status === 401) return 'log in again';
  return e.message;
}

function setStatus(text, error = false) {
  $('#status').textContent = text;
  $('#status').classList.toggle('error', error);
}

function showNetwork() {
  const net = $('#net');
  net.textContent = navigator.onLine ? 'online' : 'offline';
  net.className = `net ${navigator.onLine ? 'online' : 'offline'}`;
}

async function start() {
  $('#login-form').addEventListener('submit', logIn);
  $('#add-form').addEventListener('submit', add);
  $('#sync').addEventListener('click', sync);
  listenOnList();
  window.addEventListener('online', showNetwork);
  window.addEventListener('offline', showNetwork);
  showNetwork();
  const user = localStorage.getItem('syncstack.user');
  if (user) {
    $('#user').value = user;
    await openUser(user);
  }
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('sw.js').catch((e) => setStatus(`offline mode off: ${e.message}`));
  }
  document.body.dataset.ready = 'true';
}

start();
