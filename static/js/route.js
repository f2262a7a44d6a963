/* Draws a patrol's route line (GeoJSON in data-route). */
(function () {
  'use strict';
  var el = document.getElementById('route-map');
  if (!el || !window.L) return;
  var map = L.map(el);
  GridTiles.add(map, el, null);
  if (el.dataset.route) {
    var line = L.geoJSON(JSON.parse(el.dataset.route), {style: {color: '#c62828', weight: 4}}).addTo(map);
    map.fitBounds(line.getBounds(), {padding: [20, 20], animate: false});
    el.dataset.drawn = '1';
  } else {
    map.setView([44.0, 87.3], 9);
  }
})();
