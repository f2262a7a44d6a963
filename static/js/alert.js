/* The alert page and the alerts list: each dispatch's two clocks (RULES §4: on site within
   1 hour, disposal within 2 hours) count down to the server's deadline; the phone's clock is
   corrected by the offset measured at the last sync (queue.js keeps it), so the countdown is
   right across reloads, sleep and offline, whatever the phone's clock says. mm:ss; amber in the
   last 15 minutes; red and counting up once overdue.

   The supervisor's answers are recorded into the offline queue (queue.js, sync kinds
   "alert.onsite" and "alert.disposal") with their photos (capture.js), and sent when there is
   a signal: the time that counts is when they were recorded. */
(function () {
  'use strict';
  var AMBER_MS = 15 * 60 * 1000;
  var Q = window.GridQueue;
  var offsetMs = 0;

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function text(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (ms < 0 ? '+' : '') + (h ? h + ':' + pad(m) : pad(m)) + ':' + pad(sec);
  }

  function tick() {
    var now = Date.now() + offsetMs;
    document.querySelectorAll('.clock[data-deadline-ms]').forEach(function (clock) {
      if (clock.dataset.answered) return;
      var left = Number(clock.dataset.deadlineMs) - now;
      var out = clock.querySelector('.countdown');
      out.textContent = text(left);
      clock.classList.toggle('amber', left > 0 && left <= AMBER_MS);
      clock.classList.toggle('overdue', left <= 0);
    });
  }

  // The offset: the last sync's measurement; else, on a page fresh from the server (not from
  // the service worker's copy), the time the page was made.
  function measure() {
    var clocks = document.querySelector('.clocks[data-server-ms]');
    var fresh = false;
    try {
      var nav = performance.getEntriesByType('navigation')[0];
      fresh = nav && nav.transferSize > 0 && performance.now() < 60000;
    } catch (e) { fresh = false; }
    var fromPage = clocks && fresh ? Number(clocks.dataset.serverMs) - (performance.timeOrigin + nav.responseStart) : null;
    if (!Q) return Promise.resolve(fromPage || 0);
    return Q.get('clock-offset').then(function (kept) {
      if (kept && typeof kept.offset_ms === 'number') return kept.offset_ms;
      return fromPage || 0;
    }, function () { return fromPage || 0; });
  }

  if (document.querySelector('.clock[data-deadline-ms]')) {
    measure().then(function (offset) {
      offsetMs = offset;
      tick();
      setInterval(tick, 1000);
    });
    // Opened with a signal: send what waits, and measure the offset afresh while at it.
    if (Q && navigator.onLine) {
      Q.sync().then(measure).then(function (offset) { offsetMs = offset; tick(); },
                                  function () { /* offline after all: keep the last offset */ });
    }
  }

  // --- the supervisor's answers --------------------------------------------------------------

  var box = document.getElementById('my-dispatch');
  if (!box || !Q || !window.GridCapture) return;
  var d = box.dataset;
  var position = null;

  function distanceM(lat1, lon1, lat2, lon2) {
    var r = 6371008.8, rad = Math.PI / 180;
    var a = Math.pow(Math.sin((lat2 - lat1) * rad / 2), 2) +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.pow(Math.sin((lon2 - lon1) * rad / 2), 2);
    return 2 * r * Math.asin(Math.sqrt(a));
  }

  function showPosition() {
    var out = document.getElementById('feedback-position');
    if (!position) { out.textContent = d.labelNofix; return; }
    var m = Math.round(distanceM(position.lat, position.lon, Number(d.stationLat), Number(d.stationLon)));
    out.textContent = m > Number(d.arrivalM)
      ? d.labelFar.replace('{d}', m).replace('{limit}', d.arrivalM)
      : d.labelNear.replace('{d}', m);
  }

  if (navigator.geolocation) {
    navigator.geolocation.watchPosition(function (p) {
      position = {lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy};
      showPosition();
    }, function () { showPosition(); }, {enableHighAccuracy: true, maximumAge: 10000});
  }
  showPosition();

  function kick() {
    if (navigator.onLine) Q.sync();
    if (navigator.serviceWorker && navigator.serviceWorker.ready) {
      navigator.serviceWorker.ready.then(function (reg) {
        if (reg.sync) return reg.sync.register('gridpatrol-sync');
      }).catch(function () { /* Background Sync is optional */ });
    }
  }

  // An answer the server refused (too far from the station, say) is said here, in words.
  window.addEventListener('gridpatrol:queue', function (e) {
    var mine = (e.detail.refused || []).filter(function (r) {
      return String(r.kind).indexOf('alert.') === 0 && r.data && r.data.dispatch === Number(d.dispatch);
    });
    if (mine.length) {
      document.getElementById('feedback-state').textContent =
        mine.map(function (r) { return r.message || r.error; }).join(' ');
    }
  });

  document.querySelectorAll('.feedback-form').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var files = form.elements.photos ? form.elements.photos.files : [];
      var fix = position || {};
      var data = {dispatch: Number(d.dispatch), note: form.elements.note.value,
                  photos: files.length, lat: fix.lat, lon: fix.lon, accuracy: fix.accuracy};
      if (form.elements.open_problem && form.elements.open_problem.checked) {
        data.problem = {category: form.elements.category.value,
                        severity: form.elements.severity.value,
                        description: form.elements.problem_description.value};
      }
      var button = form.querySelector('button');
      button.disabled = true;
      Q.add(form.dataset.kind, data).then(function (item) {
        return window.GridCapture.attach(files, 'alert_feedback', item.client_id, fix);
      }).then(function () {
        form.hidden = true;
        document.getElementById('feedback-state').textContent = d.labelQueued;
        kick();
      }).catch(function (err) {
        button.disabled = false;
        document.getElementById('feedback-state').textContent = String(err);
      });
    });
  });
})();
