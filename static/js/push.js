/* Web Push on this browser (templates/notify/settings.html): subscribe with the server's VAPID
   key, send the subscription to the server, or unsubscribe; and say which state it is in.
   No inline script (CSP): everything it needs is in the #push element's data- attributes. */
(function () {
  'use strict';
  var box = document.getElementById('push');
  if (!box) return;
  var d = box.dataset;
  var state = document.getElementById('push-state');
  var on = document.getElementById('push-subscribe');
  var off = document.getElementById('push-unsubscribe');

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }

  function show(text, subscribed) {
    state.textContent = text;
    state.dataset.state = subscribed === null ? 'none' : (subscribed ? 'on' : 'off');
    on.hidden = subscribed !== false;
    off.hidden = subscribed !== true;
  }

  // The VAPID key is base64url; pushManager.subscribe takes its bytes.
  function keyBytes(text) {
    var padded = text.replace(/-/g, '+').replace(/_/g, '/');
    padded += '='.repeat((4 - padded.length % 4) % 4);
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function send(subscription) {
    return fetch(d.subscribeUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf(), 'Accept': 'application/json'},
      body: JSON.stringify(subscription.toJSON())
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) throw new Error(body.message || ('HTTP ' + response.status));
        return body;
      });
    });
  }

  function forget(endpoint) {
    var form = new FormData();
    form.append('endpoint', endpoint);
    form.append('csrf_token', csrf());
    return fetch(d.unsubscribeUrl, {method: 'POST', credentials: 'same-origin', body: form});
  }

  function registration() {
    return navigator.serviceWorker.ready;
  }

  function refresh() {
    if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
      show(d.labelUnsupported, null);
      return;
    }
    if (Notification.permission === 'denied') {
      show(d.labelDenied, null);
      return;
    }
    registration().then(function (reg) {
      return reg.pushManager.getSubscription();
    }).then(function (subscription) {
      if (subscription) {
        // Keep the server's copy current (it may have dropped a gone one, or the user changed).
        send(subscription).then(function () { show(d.labelOn, true); })
          .catch(function () { show(d.labelOn, true); });
      } else {
        show(d.labelOff, false);
      }
    }).catch(function () { show(d.labelUnsupported, null); });
  }

  on.addEventListener('click', function () {
    show(d.labelWorking, null);
    Notification.requestPermission().then(function (permission) {
      if (permission !== 'granted') throw new Error(d.labelDenied);
      return registration();
    }).then(function (reg) {
      return reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: keyBytes(d.key)});
    }).then(send).then(function () {
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
      return subscription.unsubscribe().then(function () { return forget(endpoint); });
    }).then(function () {
      show(d.labelOff, false);
    }).catch(function (err) {
      show(d.labelFailed + ' ' + (err && err.message ? err.message : String(err)), true);
    });
  });

  refresh();
})();
