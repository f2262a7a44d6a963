/* GridPatrol offline queue. Everything a supervisor records goes into IndexedDB first and then
   to the server, in order, exactly once: each item carries a client-generated id the server
   treats as the same record on a repeat. Used by the pages and by the service worker
   (Background Sync), so it touches no DOM. */
(function (global) {
  'use strict';

  var DB_NAME = 'gridpatrol';
  var DB_VERSION = 1;
  var BATCH = 50;
  // One id per app start: with performance.now() it lets the server place items in time
  // without trusting the phone's clock (sync/clock.py).
  var BOOT = uuid();
  var running = null;
  var again = false;

  function uuid() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    var b = new Uint8Array(16);
    global.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function stamp() {
    return {device_ms: Date.now(), elapsed_ms: global.performance.now(), boot: BOOT};
  }

  var dbPromise = null;
  function open() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise(function (resolve, reject) {
      var req = global.indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = function () {
        var db = req.result;
        db.createObjectStore('items', {keyPath: 'seq', autoIncrement: true});
        db.createObjectStore('photos', {keyPath: 'client_id'});
        db.createObjectStore('refused', {keyPath: 'client_id'});
        db.createObjectStore('state', {keyPath: 'key'});
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
    return dbPromise;
  }

  function tx(stores, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(stores, mode);
        var result;
        Promise.resolve(work(t)).then(function (r) { result = r; });
        t.oncomplete = function () { resolve(result); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }

  function req(r) {
    return new Promise(function (resolve, reject) {
      r.onsuccess = function () { resolve(r.result); };
      r.onerror = function () { reject(r.error); };
    });
  }

  function all(store) {
    return tx([store], 'readonly', function (t) { return req(t.objectStore(store).getAll()); });
  }

  function notify(detail) {
    if (typeof global.dispatchEvent === 'function' && typeof global.CustomEvent === 'function') {
      global.dispatchEvent(new global.CustomEvent('gridpatrol:queue', {detail: detail}));
    }
  }

  var Queue = {
    uuid: uuid,
    stamp: stamp,

    /* Record an item; returns it. `kind` is one of patrol.start, patrol.route, visit,
       problem, patrol.end; `data` refers to other items by their client ids. */
    add: function (kind, data, clientId) {
      var item = Object.assign({client_id: clientId || uuid(), kind: kind, data: data}, stamp());
      return tx(['items'], 'readwrite', function (t) {
        return req(t.objectStore('items').add(item));
      }).then(function () { Queue.changed(); return item; });
    },

    /* Keep a photo (a Blob already shrunk) with what was read from the original. */
    addPhoto: function (photo) {
      var record = Object.assign({client_id: uuid()}, photo, {stamp: stamp()});
      return tx(['photos'], 'readwrite', function (t) {
        return req(t.objectStore('photos').put(record));
      }).then(function () { Queue.changed(); return record; });
    },

    get: function (key) {
      return tx(['state'], 'readonly', function (t) { return req(t.objectStore('state').get(key)); })
        .then(function (row) { return row ? row.value : null; });
    },

    set: function (key, value) {
      return tx(['state'], 'readwrite', function (t) {
        return req(t.objectStore('state').put({key: key, value: value}));
      });
    },

    counts: function () {
      return Promise.all([all('items'), all('photos'), all('refused')]).then(function (r) {
        return {items: r[0].length, photos: r[1].length, waiting: r[0].length + r[1].length,
                pending: r[0], refused: r[2],
                photoParents: r[1].map(function (p) { return p.parent_client_id; })};
      });
    },

    pending: function () { return all('items'); },

    changed: function (extra) {
      return Queue.counts().then(function (c) { notify(Object.assign({}, c, extra || {})); return c; });
    },

    /* Send what waits, in order. Resolves to {state: 'done'|'offline'|'login'|'error'}.
       Asked while a run is under way, it runs again afterwards: items recorded during a run
       must not wait for the next trigger. */
    sync: function (base) {
      if (running) { again = true; return running; }
      base = base || '';
      var next = function () {
        again = false;
        return exclusive(function () { return run(base); }).then(function (outcome) {
          return again && outcome.state === 'done' ? next() : outcome;
        });
      };
      running = next().then(function (outcome) {
        running = null;
        return Queue.changed({sync: outcome}).then(function () { return outcome; });
      }, function (err) {
        running = null;
        var outcome = {state: 'offline', message: String(err)};
        return Queue.changed({sync: outcome}).then(function () { return outcome; });
      });
      return running;
    }
  };

  // The page and the service worker (Background Sync) each run the queue: one at a time, so
  // that one queue is never sent twice at once (the server would answer both, but slower).
  function exclusive(work) {
    var locks = global.navigator && global.navigator.locks;
    return locks ? locks.request('gridpatrol-sync', work) : work();
  }

  function fetchJson(url, options) {
    return global.fetch(url, Object.assign({credentials: 'same-origin'}, options)).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        return {status: r.status, body: body};
      });
    });
  }

  function token(base) {
    // A fresh token every run: a queue replayed hours later carries a stale one. The answer
    // also says the server's time: the clock offset kept for the alert page's countdowns.
    var asked = Date.now();
    return fetchJson(base + '/sync/token', {headers: {Accept: 'application/json'}, cache: 'no-store'})
      .then(function (t) {
        if (t.status === 200 && t.body && typeof t.body.server_ms === 'number') {
          var answered = Date.now();
          var offset = t.body.server_ms - (asked + answered) / 2;
          return Queue.set('clock-offset', {offset_ms: offset, measured_at: answered})
            .then(function () { return t; }, function () { return t; });
        }
        return t;
      });
  }

  function refuse(record, result) {
    var row = {client_id: record.client_id, kind: record.kind || 'photo', data: record.data || null,
               status: result.status, error: result.error || '', message: result.message || '',
               at: Date.now()};
    return tx(['refused', 'items', 'photos'], 'readwrite', function (t) {
      t.objectStore('refused').put(row);
      if (record.seq !== undefined) t.objectStore('items').delete(record.seq);
      else t.objectStore('photos').delete(record.client_id);
    });
  }

  function removeItem(seq) {
    return tx(['items'], 'readwrite', function (t) { return req(t.objectStore('items').delete(seq)); });
  }

  function refusedIds() {
    return all('refused').then(function (rows) {
      return new Set(rows.map(function (r) { return r.client_id; }));
    });
  }

  // Another item this one depends on (by client id), if any.
  function parents(item) {
    var d = item.data || {};
    return [d.patrol, d.visit].filter(Boolean);
  }

  function run(base) {
    return token(base).then(function (t) {
      if (t.status === 401) return {state: 'login'};
      if (t.status !== 200 || !t.body.csrf_token) return {state: 'error', message: 'token ' + t.status};
      var csrf = t.body.csrf_token;
      var held = new Set();  // what the server failed on in this run (5xx): kept, sent next run
      return sendItems(base, csrf, held).then(function (outcome) {
        if (outcome.state !== 'done') return outcome;
        return sendPhotos(base, csrf, held);
      }).then(function (outcome) {
        if (outcome.state !== 'done' || !held.size) return outcome;
        return {state: 'error', message: 'server error; ' + held.size + ' kept to send again'};
      });
    });
  }

  function sendItems(base, csrf, held) {
    return Promise.all([Queue.pending(), refusedIds()]).then(function (r) {
      var items = r[0].filter(function (it) { return !held.has(it.client_id); }), refused = r[1];
      if (!items.length) return {state: 'done'};
      // An item whose parent was refused can never be recorded: show it, don't send it.
      var blocked = items.filter(function (it) {
        return parents(it).some(function (p) { return refused.has(p); });
      });
      if (blocked.length) {
        return Promise.all(blocked.map(function (it) {
          return refuse(it, {status: 424, error: 'parent_refused',
                             message: 'The record it belongs to was refused.'});
        })).then(function () { return sendItems(base, csrf, held); });
      }
      var batch = items.slice(0, BATCH);
      return fetchJson(base + '/sync/items', {
        method: 'POST',
        headers: {'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': csrf},
        body: JSON.stringify({sent: stamp(), items: batch.map(function (it) {
          return {client_id: it.client_id, kind: it.kind, data: it.data,
                  device_ms: it.device_ms, elapsed_ms: it.elapsed_ms, boot: it.boot};
        })})
      }).then(function (res) {
        if (res.status === 401) return {state: 'login'};
        if (res.status !== 200 || !res.body.results) {
          return {state: 'error', message: (res.body && res.body.message) || ('HTTP ' + res.status)};
        }
        var steps = [], stop = false;
        res.body.results.forEach(function (result, i) {
          if (stop) return;
          var item = batch[i];
          if (result.status >= 200 && result.status < 300) {
            steps.push(removeItem(item.seq));
          } else if (result.status >= 500) {
            held.add(item.client_id);  // the server failed on this one only: keep it, go on
          } else if (result.status === 409 && /^unknown_/.test(result.error || '')) {
            stop = true;  // its parent has not arrived: keep the order, try again later
          } else {
            steps.push(refuse(item, result));
          }
        });
        return Promise.all(steps).then(function () {
          if (stop) return {state: 'error', message: 'waiting for earlier records'};
          return items.length > batch.length ? sendItems(base, csrf, held) : {state: 'done'};
        });
      });
    });
  }

  function sendPhotos(base, csrf, held) {
    return Promise.all([all('photos'), refusedIds()]).then(function (r) {
      var photos = r[0], refused = r[1];
      var chain = Promise.resolve({state: 'done'});
      photos.forEach(function (p) {
        if (refused.has(p.parent_client_id)) {
          chain = chain.then(function (outcome) {
            return refuse(p, {status: 424, error: 'parent_refused',
                              message: 'The record it belongs to was refused.'})
              .then(function () { return outcome; });
          });
          return;
        }
        chain = chain.then(function (outcome) {
          if (outcome.state !== 'done') return outcome;
          return uploadPhoto(base, csrf, p, held);
        });
      });
      return chain;
    });
  }

  function uploadPhoto(base, csrf, p, held) {
    var form = new global.FormData();
    form.append('client_id', p.client_id);
    form.append('parent_kind', p.parent_kind);
    form.append('parent_client_id', p.parent_client_id);
    form.append('stamp', JSON.stringify(p.stamp));
    form.append('sent', JSON.stringify(stamp()));
    ['lat', 'lon', 'accuracy', 'exif_lat', 'exif_lon', 'exif_taken_at', 'sha256'].forEach(function (k) {
      if (p[k] !== undefined && p[k] !== null) form.append(k, String(p[k]));
    });
    form.append('file', p.blob, 'photo.jpg');
    return global.fetch(base + '/sync/photos', {
      method: 'POST', credentials: 'same-origin', body: form,
      headers: {Accept: 'application/json', 'X-CSRFToken': csrf}
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.status === 401) return {state: 'login'};
        if (r.status >= 200 && r.status < 300) {
          return tx(['photos'], 'readwrite', function (t) {
            return req(t.objectStore('photos').delete(p.client_id));
          }).then(function () { return {state: 'done'}; });
        }
        if (r.status === 409 && body.error === 'unknown_parent') return {state: 'done'};
        if (r.status >= 500) {  // kept for the next run; the photos after it go on
          held.add(p.client_id);
          return {state: 'done'};
        }
        return refuse(p, {status: r.status, error: body.error, message: body.message})
          .then(function () { return {state: 'done'}; });
      });
    });
  }

  global.GridQueue = Queue;
})(typeof self !== 'undefined' ? self : this);
