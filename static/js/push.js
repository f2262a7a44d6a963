/* Web Push on this browser. Loaded by static/js/app.js after the page, on a signed-in page
   whose browser allowed notifications (templates/base.html's meta): keep the server's
   copy of this browser's subscription current, and move a subscription made with an older VAPID
   key to the server's current one (docs/operations.md, "Key rotation"), silently. On the
   settings page (templates/notify/settings.html): subscribe or unsubscribe, and say which state
   it is in. No inline script (CSP): the key and the address come in this script tag's data-
   attributes (app.js copies them from the meta), the settings page's words in #push's. */
(function () {
  'use strict';
  var script = document.currentScript;
  var page = script ? script.dataset : {};
  // The endpoint whose subscription the server last took from this browser with the key the
  // server then called current (a failed send leaves it unset, so the next page sends again).
  var SENT = 'gridpatrol-push-sent';
  // The key a renewal last failed to reach, and when: not tried again for a day, so that a
  // push service that will not subscribe with it does not see a new subscription every page.
  var FAILED = 'gridpatrol-push-renewal-failed';
  var DAY_MS = 24 * 60 * 60 * 1000;

  function supported() {
    return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }

  // A VAPID key is base64url; pushManager.subscribe takes its bytes, and a subscription's
  // options.applicationServerKey gives them back (an ArrayBuffer).
  function keyBytes(text) {
    var padded = text.replace(/-/g, '+').replace(/_/g, '/');
    padded += '='.repeat((4 - padded.length % 4) % 4);
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function keyText(buffer) {
    if (!buffer) return '';
    var bytes = new Uint8Array(buffer);
    var raw = '';
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function keyOf(subscription) {
    return keyText(subscription.options && subscription.options.applicationServerKey);
  }

  function remember(endpoint) {
    try {
      if (endpoint) localStorage.setItem(SENT, endpoint); else localStorage.removeItem(SENT);
    } catch (err) { /* private mode: the next page sends again */ }
  }

  function remembered() {
    try { return localStorage.getItem(SENT); } catch (err) { return null; }
  }

  function failedLately(key) {
    try {
      var failed = JSON.parse(localStorage.getItem(FAILED) || 'null');
      return !!failed && failed.key === key && Date.now() - failed.at < DAY_MS;
    } catch (err) { return false; }
  }

  function failed(key) {
    try {
      localStorage.setItem(FAILED, JSON.stringify({key: key, at: Date.now()}));
    } catch (err) { /* tried again on the next page */ }
  }

  // The subscription to the server, with the key it was made for and the endpoint it replaces;
  // the answer says the server's current key. A refusal rejects with its status.
  function send(subscription, replaces) {
    var body = subscription.toJSON();
    var key = keyOf(subscription);
    if (key) body.applicationServerKey = key;
    if (replaces) body.replaces = replaces;
    return fetch(page.subscribeUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf(), 'Accept': 'application/json'},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) {
          var error = new Error(answer.message || ('HTTP ' + response.status));
          error.status = response.status;
          throw error;
        }
        remember(subscription.endpoint);
        return answer;
      });
    });
  }

  // Subscribe again with the server's current key and tell the server, which forgets the old
  // endpoint. A browser holds one subscription at a time, so the old one goes first; if the
  // push service will not make a new one, subscribe again with the old key (the server still
  // signs with it while it keeps it as a fallback). Resolves with the subscription kept.
  function renew(reg, old, oldKey, newKey) {
    var endpoint = old.endpoint;
    return old.unsubscribe().then(function () {
      return reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: keyBytes(newKey)})
        .catch(function (err) {
          failed(newKey);
          if (!oldKey) throw err;
          return reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: keyBytes(oldKey)});
        });
    }).then(function (fresh) {
      return send(fresh, endpoint).then(function () { return fresh; });
    });
  }

  // On each page: nothing unless this browser's subscription is not known to be on the server
  // or was made with another key than the page's; then send it, and renew it when the server
  // (not the page, which may be an old copy) says its current key is another.
  function keepCurrent(reg, force) {
    return reg.pushManager.getSubscription().then(function (subscription) {
      if (!subscription || !navigator.onLine) return subscription;
      var key = keyOf(subscription);
      if (!force && remembered() === subscription.endpoint &&
          (!key || key === page.key || failedLately(page.key))) {
        return subscription;
      }
      return send(subscription).then(function (answer) {
        if (key && answer.key && answer.key !== key && !failedLately(answer.key)) {
          return renew(reg, subscription, key, answer.key);
        }
        return subscription;
      }, function (err) {
        // The server refused the subscription's key (retired): only the current one will do.
        if (err.status === 400 && key && page.key && key !== page.key) {
          return renew(reg, subscription, null, page.key);
        }
        return subscription;
      });
    });
  }

  function registration() {
    return navigator.serviceWorker.ready;
  }

  var box = document.getElementById('push');
  if (!box) {
    if (supported() && page.key && page.subscribeUrl && Notification.permission === 'granted') {
      registration().then(function (reg) { return keepCurrent(reg, false); })
        .catch(function () { /* silent: the old subscription still works while it is kept */ });
    }
    return;
  }

  // --- the settings page -----------------------------------------------------------------------
  var d = box.dataset;
  var state = document.getElementById('push-state');
  var on = document.getElementById('push-subscribe');
  var off = document.getElementById('push-unsubscribe');

  function show(text, subscribed) {
    state.textContent = text;
    state.dataset.state = subscribed === null ? 'none' : (subscribed ? 'on' : 'off');
    on.hidden = subscribed !== false;
    off.hidden = subscribed !== true;
  }

  function forget(endpoint) {
    var form = new FormData();
    form.append('endpoint', endpoint);
    form.append('csrf_token', csrf());
    return fetch(d.unsubscribeUrl, {method: 'POST', credentials: 'same-origin', body: form});
  }

  function refresh() {
    if (!supported()) {
      show(d.labelUnsupported, null);
      return;
    }
    if (Notification.permission === 'denied') {
      show(d.labelDenied, null);
      return;
    }
    // Keep the server's copy current (it may have dropped a gone one, or the user changed).
    registration().then(function (reg) {
      return keepCurrent(reg, true).catch(function () { return reg.pushManager.getSubscription(); });
    }).then(function (subscription) {
      if (subscription) show(d.labelOn, true); else show(d.labelOff, false);
    }).catch(function () { show(d.labelUnsupported, null); });
  }

  on.addEventListener('click', function () {
    show(d.labelWorking, null);
    Notification.requestPermission().then(function (permission) {
      if (permission !== 'granted') throw new Error(d.labelDenied);
      return registration();
    }).then(function (reg) {
      return reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: keyBytes(page.key)});
    }).then(function (subscription) {
      return send(subscription);
    }).then(function () {
      show(d.labelOn, true);
    }).catch(function (err) {
      show(d.labelFailed + ' ' + (err && err.message ? err.message : String(err)), false);
    });
  });

  off.addEventListener('click', function () {
    show(d.labelWorking, null);
    registration().then(function (reg) {
      return reg.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) return null;
      var endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(function () {
        remember(null);
        return forget(endpoint);
      });
    }).then(function () {
      show(d.labelOff, false);
    }).catch(function (err) {
      show(d.labelFailed + ' ' + (err && err.message ? err.message : String(err)), true);
    });
  });

  refresh();
})();
