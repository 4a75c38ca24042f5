// The service worker: keeps the app's files so that the page opens with
// the network off. The API (/v1/…) is never cached: records live in
// IndexedDB, and a sync needs the server.
const CACHE = 'syncstack-todo-v1';
const FILES = [
  './', 'index.html', 'style.css', 'app.js', 'protocol.js', 'plan.js', 'sync.js',
  'idb_store.js', 'manifest.webmanifest', 'icon.svg',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

// The cached copy first (so offline works and opens fast), refreshed from
// the network in the background for the next load.
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin ||
      url.pathname.startsWith('/v1/')) {
    return;
  }
  event.respondWith(caches.open(CACHE).then(async (cache) => {
    const hit = await cache.match(event.request, { ignoreSearch: true });
    const refresh = fetch(event.request).then((response) => {
      if (response.ok) cache.put(event.request, response.clone());
      return response;
    }).catch((e) => {
      if (hit) return hit;
      throw e;
    });
    if (hit) {
      event.waitUntil(refresh.catch(() => {}));
      return hit;
    }
    return refresh;
  }));
});
