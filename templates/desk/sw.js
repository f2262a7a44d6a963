/* GridPatrol service worker. Served from the site root with Cache-Control: no-cache.
   Caches are named by version; activation deletes every cache of an older version. */
const VERSION = '{{ version }}';
const SHELL = 'gridpatrol-shell-' + VERSION;
const PAGES = 'gridpatrol-pages-' + VERSION;
const PRECACHE = {{ precache|tojson }};
const OFFLINE_URL = {{ offline_url|tojson }};
importScripts({{ queue_url|tojson }});  // the offline queue, for Background Sync

self.addEventListener('sync', (event) => {
  if (event.tag !== 'gridpatrol-sync') return;
  // Rejecting makes the browser try again later; a needed log-in waits for the user instead.
  event.waitUntil(self.GridQueue.sync().then((outcome) => {
    if (outcome.state === 'offline' || outcome.state === 'error') throw new Error(outcome.state);
  }));
});

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL);
    await cache.addAll(PRECACHE);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names
      .filter((name) => name.startsWith('gridpatrol-') && name !== SHELL && name !== PAGES)
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  // Signing out forgets the pages kept for offline reading (they are the user's own).
  if (event.data && event.data.type === 'logout') {
    event.waitUntil(caches.delete(PAGES));
  }
});

function cacheable(response) {
  return response && response.ok && response.status === 200 && !response.redirected &&
    response.type === 'basic';
}

async function networkFirst(request, fallbackToOffline) {
  try {
    const response = await fetch(request);
    if (cacheable(response)) {
      const cache = await caches.open(PAGES);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (err) {
    const cached = await caches.match(request, {ignoreVary: true});
    if (cached) return cached;
    if (fallbackToOffline) {
      const offline = await caches.match(OFFLINE_URL);
      if (offline) return offline;
    }
    throw err;
  }
}

async function cacheFirst(request) {
  const cached = await caches.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (cacheable(response)) {
    const cache = await caches.open(SHELL);
    await cache.put(request, response.clone());
  }
  return response;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;  // map tiles: the browser's own cache
  if (request.headers.get('HX-Request')) return;     // fragments are never kept as pages
  if (url.pathname.startsWith('/static/')) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === 'navigate') {
    event.respondWith(networkFirst(request, true));
  } else {
    event.respondWith(networkFirst(request, false));
  }
});
