/* GridPatrol: the small amount of script every page needs. No inline script anywhere (CSP). */
(function () {
  'use strict';
  var script = document.currentScript;
  var swUrl = script && script.dataset.sw;
  var labels = script ? script.dataset : {};

  // Text for the library calls that would take markup (Leaflet's tooltips, popups and
  // attributions): what the server sends, a source's name for one, goes in as text, never as
  // HTML. tests/test_js_sinks.py keeps every such call going through here (issue 9).
  window.GridText = {
    element: function (text, tag) {
      var el = document.createElement(tag || 'span');
      el.textContent = text === null || text === undefined ? '' : String(text);
      return el;
    },
    // Only for an API that accepts nothing but an HTML string (Leaflet's attribution).
    html: function (text) {
      var s = text === null || text === undefined ? '' : String(text);
      return s.replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; });
    }
  };

  // Leaflet's own controls speak English: its zoom buttons are titled "Zoom in" and "Zoom out",
  // and its prefix credits it under the title "A JavaScript library for interactive maps". Each
  // map gets the page's words for the buttons (set on this script's tag) and no prefix (the
  // licence is in static/vendor/leaflet-1.9.4/).
  function localiseControls(map) {
    var zoom = map.zoomControl && map.zoomControl.getContainer();
    [['.leaflet-control-zoom-in', labels.labelZoomIn],
      ['.leaflet-control-zoom-out', labels.labelZoomOut]].forEach(function (pair) {
      var button = zoom && zoom.querySelector(pair[0]);
      if (button && pair[1]) {
        button.title = pair[1];
        button.setAttribute('aria-label', pair[1]);
      }
    });
    if (map.attributionControl) map.attributionControl.setPrefix(false);
  }

  // A map's tile layer, and a sentence under the map when there are no tiles to show (none
  // configured, or the tile server unreachable) so a grey box is never left unexplained.
  // The map element carries the tile URL and the sentence; note is where the sentence goes.
  // Every map passes through here, so here its controls get the page's language too.
  window.GridTiles = {
    add: function (map, el, note, options) {
      var d = el.dataset;
      localiseControls(map);
      function explain() { if (note && !note.textContent) note.textContent = d.labelNoTiles || ''; }
      if (!d.tiles) { explain(); return null; }
      var opts = {attribution: GridText.html(d.attribution)};
      Object.keys(options || {}).forEach(function (k) { opts[k] = options[k]; });
      var tiles = L.tileLayer(d.tiles, opts);
      tiles.once('tileerror', explain);
      return tiles.addTo(map);
    }
  };

  if ('serviceWorker' in navigator && swUrl) {
    navigator.serviceWorker.register(swUrl, {scope: '/'}).catch(function (err) {
      console.warn('service worker not registered', err);
    });
    // A page opened while the worker was still activating stays uncontrolled (its claim ran
    // for the page before): ask it to claim this one too, so a reload works offline.
    navigator.serviceWorker.ready.then(function (registration) {
      if (!navigator.serviceWorker.controller && registration.active) {
        registration.active.postMessage({type: 'claim'});
      }
    });
  }

  // Keep the bottom bar's pages on the phone while the network is there (templates/desk/sw.js).
  function warmTabs() {
    var worker = navigator.serviceWorker && navigator.serviceWorker.controller;
    var links = document.querySelectorAll('.mainnav a[href]');
    if (!worker || !links.length || !navigator.onLine) return;
    var paths = Array.prototype.map.call(links, function (a) { return a.getAttribute('href'); })
      .filter(function (path, i, all) { return all.indexOf(path) === i; });
    worker.postMessage({type: 'warm', paths: paths});
  }
  if ('serviceWorker' in navigator) {
    window.addEventListener('load', warmTabs);
    navigator.serviceWorker.addEventListener('controllerchange', warmTabs);
  }

  // Web Push (static/js/push.js) is loaded once the page has loaded, and only where it has work:
  // the settings page, or a browser that allowed notifications (only such a browser can hold a
  // subscription to keep current). A first visit never has that permission, so the script stays
  // off the phone's critical path. It reads its settings from its own tag, copied from the meta.
  function loadPush() {
    var meta = document.querySelector('meta[name="gridpatrol-push"]');
    var wanted = document.getElementById('push') ||
      ('Notification' in window && Notification.permission === 'granted');
    if (!meta || !meta.dataset.src || !wanted) return;
    var tag = document.createElement('script');
    Object.keys(meta.dataset).forEach(function (name) { tag.dataset[name] = meta.dataset[name]; });
    tag.src = meta.dataset.src;
    document.head.appendChild(tag);
  }
  if (document.readyState === 'complete') loadPush(); else window.addEventListener('load', loadPush);

  // A link to one of a page's actions (/patrol/problems/7#act-escalate) opens that action.
  function openLinkedAction() {
    var target = /^#act-[a-z_]+$/.test(location.hash) && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === 'DETAILS') {
      target.open = true;
      target.scrollIntoView({block: 'start'});
    }
  }
  document.addEventListener('DOMContentLoaded', openLinkedAction);
  window.addEventListener('hashchange', openLinkedAction);

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }

  document.addEventListener('htmx:configRequest', function (event) {
    event.detail.headers['X-CSRFToken'] = csrfToken();
  });

  // The unread badge polls (templates/notify/_badge.html): not while the tab is hidden or the
  // phone is offline, so a phone in a pocket does not wake the server every 20 seconds.
  document.addEventListener('htmx:beforeRequest', function (event) {
    var el = event.detail && event.detail.elt;
    if (el && el.id === 'unread-badge' && (document.hidden || !navigator.onLine)) {
      event.preventDefault();
    }
  });

  function showNetwork() {
    var badge = document.getElementById('net-status');
    if (badge) badge.hidden = navigator.onLine;
    document.documentElement.classList.toggle('offline', !navigator.onLine);
  }
  // Anything recorded offline is sent when the app opens and when the network returns.
  function syncQueue() {
    if (!window.GridQueue || !navigator.onLine) return;
    window.GridQueue.counts().then(function (c) { if (c.waiting) window.GridQueue.sync(); });
  }
  document.addEventListener('DOMContentLoaded', syncQueue);
  window.addEventListener('online', syncQueue);

  window.addEventListener('online', showNetwork);
  window.addEventListener('offline', showNetwork);
  document.addEventListener('DOMContentLoaded', showNetwork);

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (form.matches('[data-logout]') && navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({type: 'logout'});
    }
  });
})();
