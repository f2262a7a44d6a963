/* GridPatrol service worker. Served from the site root with Cache-Control: no-cache.
   Caches are named by version; activation deletes every cache of an older version. */
const VERSION = '{{ version }}';
const SHELL = 'gridpatrol-shell-' + VERSION;
const PAGES = 'gridpatrol-pages-' + VERSION;
const PRECACHE = {{ precache|tojson }};
const OFFLINE_URL = {{ offline_url|tojson }};
const LOGIN_URL = {{ login_url|tojson }};
const ICON = {{ asset_url('icons/icon-192.png')|tojson }};
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

// A signed-in page lists its bottom bar's pages (static/js/app.js): each is fetched and kept,
// with the offline page as this person sees it (with the bottom bar), so every tab still opens
// when the signal goes. A page kept less than WARM_AGE_MS ago is not fetched again.
const WARM_AGE_MS = 30 * 60 * 1000;

async function warm(paths) {
  const cache = await caches.open(PAGES);
  for (const path of [...paths, OFFLINE_URL]) {
    const url = new URL(path, self.location.origin);
    if (url.origin !== self.location.origin) continue;
    const kept = await cache.match(url.href, {ignoreVary: true});
    const keptAt = kept ? Date.parse(kept.headers.get('Date') || '') : NaN;
    if (kept && Date.now() - keptAt < WARM_AGE_MS) continue;
    try {
      const response = await fetch(url.href, {credentials: 'same-origin'});
      const final = new URL(response.url || url.href);
      // A tab that redirects (网格 → the person's own grid) is kept under the tab's address, as
      // a plain response: a navigation may not be answered with a redirected one. A redirect
      // to the log-in page means the session ended: nothing is kept.
      if (response.ok && response.status === 200 && response.type === 'basic' &&
          final.origin === url.origin && final.pathname !== LOGIN_URL) {
        const body = response.redirected ? await response.blob() : null;
        await cache.put(url.href, body ? new Response(body, {headers: response.headers}) : response);
      }
    } catch (err) {
      return;  // the network went: what is kept stays
    }
  }
}

self.addEventListener('message', (event) => {
  const data = event.data || {};
  // Signing out forgets the pages kept for offline reading (they are the user's own).
  if (data.type === 'logout') {
    event.waitUntil(caches.delete(PAGES));
  } else if (data.type === 'claim') {
    event.waitUntil(self.clients.claim());
  } else if (data.type === 'warm' && Array.isArray(data.paths)) {
    event.waitUntil(warm(data.paths.filter((p) => typeof p === 'string').slice(0, 12)));
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
      // The signed-in person's copy first (it has their bottom bar), else the shell's.
      const pages = await caches.open(PAGES);
      const offline = (await pages.match(OFFLINE_URL)) || (await caches.match(OFFLINE_URL));
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

// A push (notify/delivery.py push_payload): {title, body, url, tag, kind, urgent, deadline?,
// deadline_text?}.
// One notification per subject (its tag); an alert stays until touched (requireInteraction).
self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (err) {
    data = {body: event.data ? event.data.text() : ''};
  }
  const title = typeof data.title === 'string' && data.title ? data.title : '网格巡查';
  let body = typeof data.body === 'string' ? data.body : '';
  // The deadline as the server wrote it for this person (their language, China time), else
  // as this phone writes times.
  if (typeof data.deadline_text === 'string' && data.deadline_text) {
    body += '\n' + data.deadline_text;
  } else if (typeof data.deadline === 'string') {
    const due = new Date(data.deadline);
    if (!isNaN(due)) body += '\n⏰ ' + due.toLocaleString();
  }
  const url = typeof data.url === 'string' ? data.url : '/';
  event.waitUntil(self.registration.showNotification(title, {
    body: body,
    tag: typeof data.tag === 'string' && data.tag ? data.tag : undefined,
    renotify: Boolean(data.tag),
    requireInteraction: Boolean(data.urgent),
    icon: ICON,
    data: {url: url, kind: data.kind || ''},
  }));
});

// Touching a notification: an open window of the app goes to its page, else one opens.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || '/',
    self.location.origin);
  if (target.origin !== self.location.origin) return;  // only the app's own pages
  event.waitUntil((async () => {
    const wins = await self.clients.matchAll({type: 'window', includeUncontrolled: true});
    for (const win of wins) {
      if (new URL(win.url).origin === self.location.origin && 'focus' in win) {
        await win.focus();
        if ('navigate' in win) await win.navigate(target.href);
        return;
      }
    }
    await self.clients.openWindow(target.href);
  })());
});
