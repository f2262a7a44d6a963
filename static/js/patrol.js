/* The patrol page: start, record the route, visit each source, report problems with photos,
   end. Everything goes to the offline queue (queue.js) first; nothing needs the network. */
(function () {
  'use strict';
  var app = document.getElementById('patrol-app');
  if (!app || !window.GridQueue) return;
  var d = app.dataset, Q = window.GridQueue, gridId = Number(d.gridId);
  var reported = null;  // the client id of the problem reported last on this page
  var KEY = {patrol: 'patrol:' + gridId, visited: 'visited:' + gridId, route: 'route:' + gridId};
  var MIN_STEP_M = 25;       // keep route points at least 25 m apart
  var MAX_SPEED_MS = 70;     // a hop faster than this (about 250 km/h) is a bad fix
  var ROUTE_FLUSH = 10;      // points per queued route item
  var FAR_FROM_GRID_M = 2000;     // this far outside the boundary, say so in words
  var FAR_FROM_SOURCES_M = 5000;  // the same, judged by the nearest source when there is no boundary

  var position = null, patrol = null, lastKept = null, route = [], sources = [];
  var visited = {day: '', ids: []}, map = null, layers = null, problemFor = null;
  var boundary = null;  // the grid's outer rings as [[lon, lat], ...], once loaded

  function $(id) { return document.getElementById(id); }

  function haversine(lat1, lon1, lat2, lon2) {
    var r = Math.PI / 180, dLat = (lat2 - lat1) * r, dLon = (lon2 - lon1) * r;
    var a = Math.pow(Math.sin(dLat / 2), 2) +
      Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.pow(Math.sin(dLon / 2), 2);
    return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(a)));
  }

  function localDay() {
    var now = new Date();
    return now.getFullYear() + '-' + (now.getMonth() + 1) + '-' + now.getDate();
  }

  function fix() {
    return position ? {lat: position.lat, lon: position.lon, accuracy: position.accuracy}
                    : {lat: null, lon: null, accuracy: null};
  }

  // --- position and route ---------------------------------------------------------------------

  function onPosition(p) {
    position = {lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy,
                device_ms: Date.now(), elapsed_ms: performance.now()};
    $('position').textContent = position.lat.toFixed(6) + ', ' + position.lon.toFixed(6) +
      ' ±' + Math.round(position.accuracy) + ' ' + d.labelM;
    if (patrol) keep(position);
    renderSources();
    showPosition();
    showFar();
  }

  function keep(pos) {
    if (lastKept) {
      var metres = haversine(lastKept.lat, lastKept.lon, pos.lat, pos.lon);
      var seconds = Math.max((pos.elapsed_ms - lastKept.elapsed_ms) / 1000, 0.001);
      if (metres < MIN_STEP_M || metres / seconds > MAX_SPEED_MS) return;
    }
    lastKept = pos;
    route.push([pos.device_ms, pos.elapsed_ms, pos.lon, pos.lat, pos.accuracy]);
    Q.set(KEY.route, route);
    if (route.length >= ROUTE_FLUSH) flushRoute();
  }

  function flushRoute() {
    if (!patrol || !route.length) return Promise.resolve();
    var points = route;
    route = [];
    return Q.set(KEY.route, route).then(function () {
      return Q.add('patrol.route', {patrol: patrol.client_id, points: points});
    });
  }

  // --- patrol, visits, problems ---------------------------------------------------------------

  function start() {
    var f = fix();
    return Q.add('patrol.start', {grid_id: gridId, lat: f.lat, lon: f.lon, accuracy: f.accuracy})
      .then(function (item) {
        patrol = {client_id: item.client_id, started_ms: item.device_ms};
        lastKept = null;
        return Q.set(KEY.patrol, patrol);
      }).then(function () {
        if (position) keep(position);
        render();
        kick();
      });
  }

  function end() {
    var f = fix();
    return flushRoute().then(function () {
      return Q.add('patrol.end', {patrol: patrol.client_id, lat: f.lat, lon: f.lon,
                                  accuracy: f.accuracy});
    }).then(function () {
      patrol = null;
      return Q.set(KEY.patrol, null);
    }).then(function () { render(); kick(); });
  }

  function markVisited(sourceId) {
    if (visited.day !== localDay()) visited = {day: localDay(), ids: []};
    if (visited.ids.indexOf(sourceId) < 0) visited.ids.push(sourceId);
    return Q.set(KEY.visited, visited);
  }

  function visit(source, outcome, note, files) {
    if (!patrol) { alert(d.labelNeedPatrol); return Promise.reject(new Error('no patrol')); }
    var f = fix();
    return flushRoute().then(function () {
      return Q.add('visit', {patrol: patrol.client_id, source_id: source.id, outcome: outcome,
                             note: note || '', lat: f.lat, lon: f.lon, accuracy: f.accuracy});
    }).then(function (item) {
      return attach(files, 'visit', item.client_id).then(function () {
        return markVisited(source.id);
      }).then(function () { return item; });
    });
  }

  function problem(source, fields, files) {
    if (!patrol) { alert(d.labelNeedPatrol); return Promise.reject(new Error('no patrol')); }
    var f = fix();
    var before = source ? visit(source, 'problem', fields.description, []) : Promise.resolve(null);
    return before.then(function (visitItem) {
      return Q.add('problem', {
        patrol: patrol.client_id, visit: visitItem ? visitItem.client_id : null,
        source_id: source ? source.id : null, category: fields.category,
        severity: fields.severity, description: fields.description,
        stopped_on_spot: fields.stopped, lat: f.lat, lon: f.lon, accuracy: f.accuracy});
    }).then(function (item) {
      return attach(files, 'problem', item.client_id).then(function () { return item; });
    });
  }

  // Photos are read and shrunk by GridCapture (capture.js), shared with the alert page.
  function attach(files, parentKind, parentId) {
    return window.GridCapture.attach(files, parentKind, parentId, fix());
  }

  // --- the page -------------------------------------------------------------------------------

  function metresText(m) {
    return m >= 1000 ? (m / 1000).toFixed(1) + ' ' + d.labelKm : Math.round(m) + ' ' + d.labelM;
  }

  function distanceText(s) {
    if (!position || s.lat === null) return '';
    return metresText(haversine(position.lat, position.lon, s.lat, s.lon));
  }

  // --- how far outside the grid ---------------------------------------------------------------

  // Metres from the position to the boundary, 0 inside. A flat projection around the position
  // is close enough at village scale and still right to a few percent at 100 km.
  function outsideBy(lat, lon, rings) {
    var kx = 111320 * Math.cos(lat * Math.PI / 180), ky = 110540;
    var inside = false, best = Infinity;
    rings.forEach(function (ring) {
      for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        var ax = (ring[j][0] - lon) * kx, ay = (ring[j][1] - lat) * ky;
        var bx = (ring[i][0] - lon) * kx, by = (ring[i][1] - lat) * ky;
        if ((ay > 0) !== (by > 0) && 0 < ax + (bx - ax) * (0 - ay) / (by - ay)) inside = !inside;
        var dx = bx - ax, dy = by - ay, len = dx * dx + dy * dy;
        var t = len ? Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len)) : 0;
        best = Math.min(best, Math.sqrt(Math.pow(ax + t * dx, 2) + Math.pow(ay + t * dy, 2)));
      }
    });
    return inside ? 0 : best;
  }

  function farBy() {
    if (!position) return 0;
    if (boundary && boundary.length) {
      var m = outsideBy(position.lat, position.lon, boundary);
      return m > FAR_FROM_GRID_M ? m : 0;
    }
    var nearest = Infinity;
    sources.forEach(function (s) {
      if (s.lat !== null) nearest = Math.min(nearest, haversine(position.lat, position.lon, s.lat, s.lon));
    });
    return nearest !== Infinity && nearest > FAR_FROM_SOURCES_M ? nearest : 0;
  }

  function showFar() {
    var box = $('patrol-far'), m = farBy();
    box.hidden = !m;
    if (!m) return;
    var km = m >= 10000 ? Math.round(m / 1000) : (m / 1000).toFixed(1);
    box.textContent = d.labelFar.replace('{distance}', km + d.labelKm);
  }

  function isVisited(s) {
    return s.visited_today || (visited.day === localDay() && visited.ids.indexOf(s.id) >= 0);
  }

  function renderSources() {
    var list = $('source-list'), tpl = $('source-row');
    var ordered = sources.slice().sort(function (a, b) {
      if (!position || a.lat === null || b.lat === null) return a.name < b.name ? -1 : 1;
      return haversine(position.lat, position.lon, a.lat, a.lon) -
        haversine(position.lat, position.lon, b.lat, b.lon);
    });
    var remaining = 0;
    ordered.forEach(function (s) {
      var row = list.querySelector('[data-source="' + s.id + '"]');
      if (!row) {
        row = tpl.content.firstElementChild.cloneNode(true);
        row.dataset.source = s.id;
        row.querySelector('.source-name').textContent = s.name;
        row.querySelector('.source-kind').textContent = s.kind_label || s.kind;
        wire(row, s);
      }
      row.querySelector('.source-distance').textContent = distanceText(s);
      var mark = row.querySelector('.source-visited');
      mark.hidden = !isVisited(s);
      mark.textContent = d.labelVisited;
      if (!isVisited(s)) remaining += 1;
      list.appendChild(row);  // moves it into distance order
    });
    $('remaining').textContent = '(' + remaining + ' ' + d.labelRemaining + ')';
  }

  function wire(row, source) {
    var form = row.querySelector('.visit-form');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      visit(source, 'normal', form.elements.note.value, form.elements.photos.files).then(function () {
        form.reset();
        row.querySelector('details').open = false;
        renderSources();
        kick();
      });
    });
    row.querySelector('.problem-button').addEventListener('click', function () { openProblem(source); });
  }

  function openProblem(source) {
    if (!patrol) { alert(d.labelNeedPatrol); return; }
    problemFor = source;
    $('problem-form').reset();
    $('problem-error').hidden = true;
    $('problem-source').textContent = source ? source.name : d.gridName;
    $('problem-dialog').showModal();
  }

  function saveProblem(e) {
    var form = $('problem-form');
    if (e.submitter && e.submitter.value === 'cancel') return;
    e.preventDefault();
    var fields = {category: form.elements.category.value, severity: form.elements.severity.value,
                  description: form.elements.description.value.trim(),
                  stopped: form.elements.stopped_on_spot.checked};
    if (!fields.category || !fields.description) {
      $('problem-error').textContent = d.labelDescribe;
      $('problem-error').hidden = false;
      return;
    }
    problem(problemFor, fields, form.elements.photos.files).then(function (item) {
      reported = item.client_id;
      $('problem-send-up').hidden = true;
      $('problem-dialog').close();
      $('problem-next').hidden = false;  // what happens to it next, in words
      $('problem-next').scrollIntoView({block: 'center'});
      renderSources();
      kick();
    });
  }

  function render() {
    $('start-patrol').hidden = !!patrol;
    $('end-patrol').hidden = !patrol;
    $('report-problem').hidden = !patrol;
    $('patrol-state').textContent = patrol
      ? d.labelStarted + ' ' + new Date(patrol.started_ms).toLocaleTimeString()
      : d.labelNone;
  }

  // What waits, as the supervisor recorded it: "2 条记录 · 3 张照片 · 1 段轨迹". A problem and
  // the visit it was found on are one record; route segments are counted apart.
  function queueDetail(c) {
    var held = {}, records = 0, routes = 0;
    c.pending.forEach(function (it) { held[it.client_id] = true; });
    c.pending.forEach(function (it) {
      if (it.kind === 'patrol.route') routes += 1;
      else if (!(it.kind === 'problem' && it.data && held[it.data.visit])) records += 1;
    });
    return [[d.labelRecords, records], [d.labelPhotos, c.photos], [d.labelRoutes, routes]]
      .filter(function (part) { return part[1] > 0; })
      .map(function (part) { return part[0].replace('{n}', part[1]); })
      .join(' · ');
  }

  // Once the problem just reported has left the queue (sent by this page or by the service
  // worker) its next step is one tap away: its page, with "send it up" open.
  function offerSendUp(c) {
    if (!reported) return;
    var waits = c.photoParents.indexOf(reported) >= 0 ||
      c.pending.concat(c.refused).some(function (it) { return it.client_id === reported; });
    var link = $('problem-send-up');
    link.hidden = waits;
    if (!waits) link.href = d.problemUrl.replace(/0{8}-0{4}-0{4}-0{4}-0{12}/, reported) + '#act-escalate';
  }

  // A kind of queued record in words: 'patrol.start' is data-label-kind-patrol-start.
  function kindLabel(kind) {
    var key = 'labelKind' + String(kind).split(/[._]/).map(function (part) {
      return part.charAt(0).toUpperCase() + part.slice(1);
    }).join('');
    return d[key] || kind;
  }

  function showQueue(e) {
    var c = e.detail;
    offerSendUp(c);
    $('queue-count').textContent = String(c.waiting);
    $('queue-detail').textContent = queueDetail(c);
    var sync = c.sync || {};
    var text = {done: c.waiting ? '' : d.labelSent, offline: d.labelOffline, login: d.labelLogin,
                error: d.labelError}[sync.state] || '';
    if (!navigator.onLine) text = d.labelOffline;
    $('sync-state').textContent = text;
    $('sync-login').hidden = sync.state !== 'login';
    var box = $('refused-box'), list = $('refused-list');
    box.hidden = !c.refused.length;
    list.textContent = '';
    c.refused.forEach(function (r) {
      var li = document.createElement('li');
      li.textContent = kindLabel(r.kind) + ': ' + (r.message || r.error || r.status);
      list.appendChild(li);
    });
  }

  function showPosition() {
    if (!position) return;
    if (!map) { previewMe(); return; }
    if (!layers.me) {
      layers.me = L.circleMarker([position.lat, position.lon],
        {radius: 7, color: '#c62828', fillOpacity: 0.6, className: 'patrol-me'}).addTo(map);
    }
    layers.me.setLatLng([position.lat, position.lon]);
  }

  // Leaflet's stylesheet and script, added to the page once it is drawn; resolves when both
  // have loaded (the service worker keeps them for offline use).
  function loadLeaflet() {
    if (window.L) return Promise.resolve();
    function add(tag, attrs) {
      return new Promise(function (resolve, reject) {
        var el = document.createElement(tag);
        Object.keys(attrs).forEach(function (k) { el[k] = attrs[k]; });
        el.onload = resolve;
        el.onerror = reject;
        document.head.appendChild(el);
      });
    }
    return Promise.all([add('link', {rel: 'stylesheet', href: d.leafletCss}),
                        add('script', {src: d.leafletJs})]);
  }

  // The map, drawn once: the grid's boundary (fetched while Leaflet loads) sets the view, or
  // else the sources do; one layout of the tiles, not two. The view and the tiles come first,
  // the boundary and the sources each in a task of its own after them: Leaflet's set-up of a
  // polygon and of a marker with a tooltip per source is the page's heaviest script, and a phone
  // that ran it all at once could not answer a tap for a quarter of a second (Lighthouse's TBT).
  function drawMap(own) {
    var el = $('patrol-map');
    if (!window.L || !el || map) return;
    var focused = !!preview && preview.box.contains(document.activeElement);
    if (preview) preview.box.remove();
    preview = null;
    map = L.map(el, {zoomControl: true});
    if (focused) el.focus();
    var placed = sources.filter(function (s) { return s.lat !== null; });
    var points = placed.map(function (s) { return [s.lat, s.lon]; });
    if (own && own.length && boundary && boundary.length) {
      var corners = L.latLngBounds([]);
      boundary.forEach(function (ring) {
        ring.forEach(function (p) { corners.extend([p[1], p[0]]); });
      });
      map.fitBounds(corners, {padding: [10, 10], animate: false});
    } else if (points.length) {
      map.fitBounds(points, {padding: [20, 20], animate: false, maxZoom: 16});
    } else {
      map.setView([44.0, 87.3], 9);
    }
    GridTiles.add(map, el, $('patrol-map-note'));
    layers = {sources: L.layerGroup().addTo(map), me: null};
    showPosition();
    setTimeout(function () {
      if (!own || !own.length) return;
      layers.boundary = L.geoJSON(own, {
        style: {color: '#0b6e4f', weight: 2, fillOpacity: 0.05, className: 'patrol-boundary'},
        interactive: false
      }).addTo(map);
    }, 0);
    setTimeout(function () {
      placed.forEach(function (s) {
        L.circleMarker([s.lat, s.lon], {radius: 6, color: '#0b6e4f'})
          .bindTooltip(GridText.element(s.name)).addTo(layers.sources);
      });
    }, 0);
  }

  // --- the map before Leaflet -------------------------------------------------------------------
  // A first look at the map costs a cheap phone no library: the tiles as images, and the
  // boundary, the sources and the phone's position in SVG, at the view Leaflet opens with.
  // Leaflet (140 KB of script, the page's heaviest work) is loaded when the supervisor touches
  // the map to move or zoom it, or to read a source's name, and takes the preview's place.
  var preview = null;  // {box, svg, me, z, x0, y0, w, h}: its elements, its view and its size
  var opening = null;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var TILE = 256;

  // Web Mercator, as Leaflet's map: a point's pixel at zoom z.
  function pixel(lat, lon, z) {
    var size = TILE * Math.pow(2, z);
    var sin = Math.sin(Math.max(Math.min(lat, 85.0511287798), -85.0511287798) * Math.PI / 180);
    return [(lon + 180) / 360 * size, (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * size];
  }

  // The view drawMap's fitBounds gives: the largest whole zoom at which the points fit inside
  // the padding, centred on them.
  function previewView(points, pad, maxZoom, w, h) {
    if (!points.length) return {z: 9, centre: pixel(44.0, 87.3, 9)};
    var lats = points.map(function (p) { return p[0]; });
    var lons = points.map(function (p) { return p[1]; });
    var nw = pixel(Math.max.apply(null, lats), Math.min.apply(null, lons), 0);
    var se = pixel(Math.min.apply(null, lats), Math.max.apply(null, lons), 0);
    var scale = Math.min((w - 2 * pad) / Math.max(se[0] - nw[0], 1e-9),
                         (h - 2 * pad) / Math.max(se[1] - nw[1], 1e-9));
    var z = Math.max(0, Math.min(maxZoom, Math.floor(Math.log(scale) / Math.LN2)));
    var k = Math.pow(2, z);
    return {z: z, centre: [(nw[0] + se[0]) / 2 * k, (nw[1] + se[1]) / 2 * k]};
  }

  function svgPath(d, attrs) {
    var path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    path.setAttribute('stroke-linejoin', 'round');  // as Leaflet draws
    path.setAttribute('stroke-linecap', 'round');
    Object.keys(attrs).forEach(function (k) { path.setAttribute(k, attrs[k]); });
    return path;
  }

  // A circle of radius r as a path, as Leaflet draws a circle marker.
  function dot(xy, r) {
    return 'M' + (xy[0] - r).toFixed(1) + ',' + xy[1].toFixed(1) + 'a' + r + ',' + r +
      ' 0 1,0 ' + 2 * r + ',0a' + r + ',' + r + ' 0 1,0 ' + -2 * r + ',0';
  }

  function previewXY(lat, lon) {
    var p = pixel(lat, lon, preview.z);
    return [p[0] - preview.x0, p[1] - preview.y0];
  }

  function previewTiles(box, m, w, h, explain) {
    var n = Math.pow(2, preview.z), failed = false;
    function fail() {
      this.style.visibility = 'hidden';  // no broken-image edge across the map
      if (!failed) { failed = true; explain(); }
    }
    for (var ty = Math.floor(preview.y0 / TILE); ty * TILE < preview.y0 + h; ty++) {
      for (var tx = Math.floor(preview.x0 / TILE); tx * TILE < preview.x0 + w; tx++) {
        if (ty < 0 || ty >= n) continue;
        var img = document.createElement('img');
        img.alt = '';
        img.width = img.height = TILE;
        img.style.left = Math.round(tx * TILE - preview.x0) + 'px';
        img.style.top = Math.round(ty * TILE - preview.y0) + 'px';
        img.onerror = fail;
        img.src = m.tiles.replace('{s}', 'a').replace('{r}', '').replace('{z}', preview.z)
          .replace('{x}', ((tx % n) + n) % n).replace('{y}', ty);
        box.appendChild(img);
      }
    }
  }

  function drawPreview(own) {
    var el = $('patrol-map'), m = el && el.dataset, note = $('patrol-map-note');
    if (!el || map || preview || !el.clientWidth) return;
    var w = el.clientWidth, h = el.clientHeight;
    var placed = sources.filter(function (s) { return s.lat !== null; });
    var rings = own && own.length && boundary ? boundary : [];
    var points = rings.length
      ? [].concat.apply([], rings).map(function (p) { return [p[1], p[0]]; })
      : placed.map(function (s) { return [s.lat, s.lon]; });
    var v = previewView(points, rings.length ? 10 : 20, rings.length ? 18 : 16, w, h);
    var box = document.createElement('div');
    box.className = 'map-preview';
    box.setAttribute('role', 'button');
    box.tabIndex = 0;
    preview = {box: box, z: v.z, x0: v.centre[0] - w / 2, y0: v.centre[1] - h / 2, w: w, h: h, me: null};
    function explain() { if (note && !note.textContent) note.textContent = m.labelNoTiles || ''; }
    if (m.tiles) previewTiles(box, m, w, h, explain); else explain();
    var svg = preview.svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('width', w);
    svg.setAttribute('height', h);
    svg.setAttribute('aria-hidden', 'true');
    if (rings.length) {
      svg.appendChild(svgPath(rings.map(function (ring) {
        return 'M' + ring.map(function (p) {
          return previewXY(p[1], p[0]).map(function (c) { return c.toFixed(1); }).join(',');
        }).join('L') + 'Z';
      }).join(''), {'class': 'patrol-boundary', fill: '#0b6e4f', 'fill-opacity': '0.05',
                   'fill-rule': 'evenodd', stroke: '#0b6e4f', 'stroke-width': '2'}));
    }
    placed.forEach(function (s) {
      svg.appendChild(svgPath(dot(previewXY(s.lat, s.lon), 6),
        {fill: '#0b6e4f', 'fill-opacity': '0.2', stroke: '#0b6e4f', 'stroke-width': '3'}));
    });
    box.appendChild(svg);
    [['map-preview-hint', m.labelOpen], ['map-preview-credit', m.attribution]].forEach(function (part) {
      if (!part[1]) return;
      var span = document.createElement('span');
      span.className = part[0];
      span.textContent = part[1];
      box.appendChild(span);
    });
    ['pointerdown', 'keydown', 'wheel', 'click'].forEach(function (type) {
      box.addEventListener(type, openMap, {passive: true});
    });
    el.appendChild(box);
    previewMe();
  }

  function previewMe() {
    if (!preview || !position) return;
    var path = dot(previewXY(position.lat, position.lon), 7);
    if (!preview.me) {
      preview.me = preview.svg.appendChild(svgPath(path, {'class': 'patrol-me', fill: '#c62828',
        'fill-opacity': '0.6', stroke: '#c62828', 'stroke-width': '3'}));
    }
    preview.me.setAttribute('d', path);
  }

  // The first touch of the map: Leaflet takes the preview's place (from the service worker's
  // cache after the first visit; offline and never cached, the preview stays). Of the keys,
  // those that would act on a map: Tab passes over it without loading anything.
  var MAP_KEYS = /^(Enter| |Spacebar|Arrow\w+|\+|-|=)$/;
  function openMap(event) {
    if (event && event.type === 'keydown' && !MAP_KEYS.test(event.key)) return;
    if (map || opening) return;
    opening = Promise.all([loadLeaflet(), boundaryLoaded]).then(function (r) {
      drawMap(r[1]);
    }, function () { opening = null; });
  }

  // The grid's own shape: kept for the far-away warning, and drawn on the map.
  function loadBoundary() {
    return fetch(d.geojsonUrl, {credentials: 'same-origin', headers: {Accept: 'application/geo+json'}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        var own = data.features.filter(function (f) { return f.properties.focus; });
        if (!own.length) return null;
        boundary = [];
        own.forEach(function (f) {
          var g = f.geometry, polygons = g.type === 'MultiPolygon' ? g.coordinates : [g.coordinates];
          polygons.forEach(function (rings) { boundary.push.apply(boundary, rings); });
        });
        showFar();
        return own;
      })
      .catch(function () { return null; /* offline: the sources still place the patrol */ });
  }

  function loadSources() {
    return fetch(d.sourcesUrl, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) { sources = data.sources; })
      .catch(function () { sources = sources || []; });
  }

  function kick() {
    if (navigator.onLine) Q.sync();
    if (navigator.serviceWorker && navigator.serviceWorker.ready) {
      navigator.serviceWorker.ready.then(function (reg) {
        if (reg.sync) return reg.sync.register('gridpatrol-sync');
      }).catch(function () { /* Background Sync is optional */ });
    }
  }

  // A phone turned on its side: the preview is drawn again for the map's new size.
  window.addEventListener('resize', function () {
    var el = $('patrol-map');
    if (!preview || !el || (preview.w === el.clientWidth && preview.h === el.clientHeight)) return;
    preview.box.remove();
    preview = null;
    boundaryLoaded.then(drawPreview);
  });

  window.addEventListener('gridpatrol:queue', showQueue);
  window.addEventListener('online', kick);
  window.addEventListener('offline', function () { Q.changed(); });
  $('sync-now').addEventListener('click', function () { Q.sync(); });
  $('start-patrol').addEventListener('click', start);
  $('end-patrol').addEventListener('click', end);
  $('report-problem').addEventListener('click', function () { openProblem(null); });
  $('problem-form').addEventListener('submit', saveProblem);

  // The grid's boundary is fetched alongside the sources, not after them: the map waits on it.
  var boundaryLoaded = loadBoundary();
  Promise.all([Q.get(KEY.patrol), Q.get(KEY.visited), Q.get(KEY.route), loadSources()])
    .then(function (r) {
      patrol = r[0];
      visited = r[1] || visited;
      // Points kept before a reload belong to an earlier app start: their elapsed time means
      // nothing now, so they go with -1 and the server places them by the device clock.
      var restored = (r[2] || []).map(function (p) { return [p[0], -1, p[2], p[3], p[4]]; });
      if (patrol && restored.length) {
        Q.set(KEY.route, []).then(function () {
          return Q.add('patrol.route', {patrol: patrol.client_id, points: restored});
        });
      }
      render();
      renderSources();
      // The rest in tasks of their own, the map last: the list is drawn first, and no single
      // task blocks the phone for long.
      setTimeout(function () {
        showFar();
        Q.changed();
        kick();
        boundaryLoaded.then(function (own) { setTimeout(function () { drawPreview(own); }, 0); });
      }, 0);
    });
  if (navigator.geolocation) {
    navigator.geolocation.watchPosition(onPosition, function () {
      $('position').textContent = d.labelNoFix;
    }, {enableHighAccuracy: true, maximumAge: 10000, timeout: 30000});
  }
})();
