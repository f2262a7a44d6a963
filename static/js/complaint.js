/* The complaint form's map: tap to mark the place, or use the phone's location. */
(function () {
  'use strict';
  var el = document.getElementById('complaint-map');
  var lat = document.getElementById('lat'), lon = document.getElementById('lon');
  if (!el || !lat || !lon) return;
  var map = null, marker = null;
  function mark(la, lo) {
    lat.value = la.toFixed(6);
    lon.value = lo.toFixed(6);
    if (!map) return;
    if (!marker) marker = L.circleMarker([la, lo], {radius: 8, color: '#c62828'}).addTo(map);
    marker.setLatLng([la, lo]);
  }
  if (window.L) {
    map = L.map(el).setView([44.0, 87.3], 8);
    GridTiles.add(map, el, document.getElementById('complaint-map-note'));
    map.on('click', function (e) { mark(e.latlng.lat, e.latlng.lng); });
    if (lat.value && lon.value) mark(Number(lat.value), Number(lon.value));
  }
  var button = document.getElementById('use-location');
  if (button && navigator.geolocation) {
    button.addEventListener('click', function () {
      navigator.geolocation.getCurrentPosition(function (p) {
        mark(p.coords.latitude, p.coords.longitude);
        if (map) map.setView([p.coords.latitude, p.coords.longitude], 15);
      }, function () {}, {enableHighAccuracy: true, timeout: 20000});
    });
  }
})();
