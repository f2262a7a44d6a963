/* A form marked data-locate sends where the phone is with its photos, in its hidden lat, lon
   and accuracy fields, as the patrol's queue does: the server flags a photo without a
   position 无定位. The position is asked for when a photo is chosen; a submit with a photo
   waits for the answer, a few seconds at most, and goes without a position when it is
   refused or does not come. */
(function () {
  'use strict';
  if (!navigator.geolocation) return;
  var WAIT_MS = 10000;

  function hasPhoto(form) {
    return Array.prototype.some.call(form.querySelectorAll('input[type=file]'), function (f) {
      return f.files && f.files.length > 0;
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('form[data-locate]'), function (form) {
    var asking = false, answered = false, waiting = [];

    function set(name, value) {
      var field = form.elements[name];
      if (field) field.value = value;
    }
    function done() {
      asking = false;
      answered = true;
      waiting.splice(0).forEach(function (then) { then(); });
    }
    function ask() {
      if (asking) return;
      asking = true;
      navigator.geolocation.getCurrentPosition(function (p) {
        set('lat', p.coords.latitude.toFixed(6));
        set('lon', p.coords.longitude.toFixed(6));
        set('accuracy', String(Math.round(p.coords.accuracy)));
        done();
      }, done, {enableHighAccuracy: true, timeout: WAIT_MS, maximumAge: 60000});
    }

    form.addEventListener('change', function (e) {
      if (e.target.type === 'file' && hasPhoto(form)) ask();  // a new photo: where it was taken
    });
    form.addEventListener('submit', function (e) {
      if (answered || !hasPhoto(form)) return;
      e.preventDefault();
      var sent = false;
      function send() {
        if (sent) return;
        sent = true;
        form.submit();  // the form was valid: submit() skips the checks and this listener
      }
      waiting.push(send);
      window.setTimeout(send, WAIT_MS);
      ask();
    });
  });
})();
