/* The grid map: boundaries from the GeoJSON endpoint, usable with no tile server. */
(function () {
  'use strict';
  var el = document.getElementById('map');
  if (!el || !window.L) return;
  var d = el.dataset;
  var map = L.map(el, {zoomSnap: 0.5});
  var note = document.getElementById('map-note');
  var title = document.getElementById('map-title');
  GridTiles.add(map, el, note, {maxZoom: +d.maxZoom || 18});
  var colours = {1: '#0b6e4f', 2: '#1565c0', 3: '#6a1b9a', 4: '#ef6c00'};
  var current = d.geojson;
  var layer = null;
  var fitted = false;

  function style(feature) {
    var p = feature.properties;
    var colour = p.kind === 'key' ? '#c62828' : (colours[p.level] || '#333');
    return {
      color: colour, weight: p.focus ? 3 : 1.5, fillOpacity: p.focus ? 0.03 : 0.12,
      dashArray: p.source === 'synthetic' ? '4 3' : null
    };
  }

  function popup(feature) {
    var p = feature.properties;
    var box = document.createElement('div');
    var name = document.createElement('strong');
    name.textContent = p.name;
    box.appendChild(name);
    if (p.source === 'synthetic') {
      var s = document.createElement('div');
      s.className = 'muted';
      s.textContent = d.labelSynthetic;
      box.appendChild(s);
    }
    var open = document.createElement('a');
    open.href = p.url;
    open.textContent = d.labelOpen;
    box.appendChild(document.createElement('br'));
    box.appendChild(open);
    if (p.children_url && !p.focus) {
      var more = document.createElement('button');
      more.type = 'button';
      more.textContent = d.labelChildren;
      more.addEventListener('click', function () {
        current = p.children_url;
        fitted = false;
        if (title) title.textContent = p.name;
        load();
      });
      box.appendChild(document.createTextNode(' '));
      box.appendChild(more);
    }
    return box;
  }

  function load() {
    var zoom = fitted ? Math.round(map.getZoom()) : '';
    var url = current + (zoom !== '' ? '?z=' + zoom : '');
    fetch(url, {credentials: 'same-origin', headers: {'Accept': 'application/geo+json'}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        if (layer) map.removeLayer(layer);
        layer = L.geoJSON(data, {
          style: style,
          onEachFeature: function (feature, lyr) { lyr.bindPopup(function () { return popup(feature); }); }
        }).addTo(map);
        if (!fitted) {
          var focus = data.features.filter(function (f) { return f.properties.focus; });
          var bounds = L.geoJSON(focus.length ? focus : data).getBounds();
          if (bounds.isValid()) map.fitBounds(bounds, {padding: [10, 10], animate: false});
          fitted = true;
        }
        el.dataset.loaded = String(data.features.length);
      })
      .catch(function () { if (note) note.textContent = d.labelFailed; });
  }

  var timer = null;
  map.on('zoomend', function () {
    if (!fitted) return;
    clearTimeout(timer);
    timer = setTimeout(load, 300);
  });
  map.setView([44.0, 88.5], 6);
  load();
})();
