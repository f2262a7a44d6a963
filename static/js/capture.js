/* Photos taken in the field, read and kept for the offline queue (queue.js): the original's
   facts (its SHA-256, EXIF position and time, exif.js), then shrunk on the phone before it is
   stored (the server re-encodes anyway). Used by the patrol page and the alert page. */
(function (global) {
  'use strict';

  var PHOTO_MAX_PX = 1600;

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join('');
  }

  function shrink(file) {
    return createImageBitmap(file).then(function (bitmap) {  // applies the EXIF orientation
      var scale = Math.min(1, PHOTO_MAX_PX / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement('canvas');
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return new Promise(function (resolve) { canvas.toBlob(resolve, 'image/jpeg', 0.85); });
    });
  }

  // `fix` is the phone's position when the photo was attached: {lat, lon, accuracy}.
  function prepare(file, fix) {
    return file.arrayBuffer().then(function (buffer) {
      var facts = global.GridExif ? global.GridExif.read(buffer) : {};
      return Promise.all([crypto.subtle.digest('SHA-256', buffer), shrink(file)])
        .then(function (r) {
          return {blob: r[1], sha256: hex(r[0]), exif_lat: facts.lat, exif_lon: facts.lon,
                  exif_taken_at: facts.takenAt, lat: fix.lat, lon: fix.lon,
                  accuracy: fix.accuracy};
        });
    });
  }

  // Queue each file as a photo of the record `parentId` (a client id) of kind `parentKind`.
  function attach(files, parentKind, parentId, fix) {
    var chain = Promise.resolve();
    Array.prototype.forEach.call(files || [], function (file) {
      chain = chain.then(function () { return prepare(file, fix || {}); }).then(function (photo) {
        photo.parent_kind = parentKind;
        photo.parent_client_id = parentId;
        return global.GridQueue.addPhoto(photo);
      });
    });
    return chain;
  }

  global.GridCapture = {attach: attach};
})(window);
