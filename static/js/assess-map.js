/* The prefecture's desktop map (templates/assess/index.html): the level-2 grids' boundaries
   from the grid map's GeoJSON (the level-1 grid and its children), each filled in its grade's
   colour. The grades come from the ranking table on the page (tr[data-county]), so the map and
   the table cannot disagree; a click on a grid opens its month. Usable with no tile server. */
(function () {
  'use strict';
  var el = document.getElementById('assess-map');
  if (!el || !window.L) return;
  var d = el.dataset;
  var note = document.getElementById('assess-map-note');

  var ranked = {};
  document.querySelectorAll('#ranking tr[data-county]').forEach(function (tr) {
    var link = tr.querySelector('a.county-link');
    ranked[tr.dataset.county] = {
      css: tr.dataset.grade,
      label: tr.dataset.mapLabel,
      url: link ? link.href : null
    };
  });

  var map = L.map(el, {zoomSnap: 0.5, scrollWheelZoom: false});
  GridTiles.add(map, el, note, {maxZoom: +d.maxZoom || 18});
  map.setView([44.0, 88.5], 6);

  function style(feature) {
    // The colour is the CSS's (.assess-area.grade-a ... in static/css/app.css).
    return {className: 'assess-area grade-' + ranked[String(feature.id)].css, weight: 1.5,
      fillOpacity: 0.45};
  }

  function each(feature, layer) {
    var row = ranked[String(feature.id)];
    layer.bindTooltip(GridText.element(row.label), {sticky: true});
    if (row.url) {
      layer.on('click', function () { window.location.assign(row.url); });
    }
  }

  fetch(d.geojson, {credentials: 'same-origin', headers: {'Accept': 'application/geo+json'}})
    .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(function (data) {
      var shown = data.features.filter(function (f) { return ranked[String(f.id)]; });
      var layer = L.geoJSON(shown, {style: style, onEachFeature: each}).addTo(map);
      var bounds = layer.getBounds();
      if (bounds.isValid()) map.fitBounds(bounds, {padding: [8, 8], animate: false});
      el.dataset.loaded = String(shown.length);
    })
    .catch(function () { if (note) note.textContent = d.labelFailed; });
})();
