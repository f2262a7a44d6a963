/* Read what the server needs from a JPEG's EXIF block before the photo is shrunk on the phone
   (a canvas drops EXIF): orientation, GPS position and DateTimeOriginal. Never throws. */
(function (global) {
  'use strict';

  function read(buffer) {
    try {
      var view = new DataView(buffer);
      if (view.byteLength < 4 || view.getUint16(0) !== 0xFFD8) return {};
      var offset = 2;
      while (offset + 4 <= view.byteLength) {
        var marker = view.getUint16(offset);
        if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) break;
        var size = view.getUint16(offset + 2);
        if (marker === 0xFFE1 && offset + 10 <= view.byteLength &&
            view.getUint32(offset + 4) === 0x45786966) {  // "Exif"
          return tiff(view, offset + 10);
        }
        offset += 2 + size;
      }
    } catch (e) { /* a damaged EXIF block is as good as none */ }
    return {};
  }

  function tiff(view, start) {
    var little = view.getUint16(start) === 0x4949;
    function u16(o) { return view.getUint16(o, little); }
    function u32(o) { return view.getUint32(o, little); }
    function ascii(count, valueAt) {
      var at = count > 4 ? start + u32(valueAt) : valueAt, s = '';
      for (var i = 0; i < count - 1; i++) s += String.fromCharCode(view.getUint8(at + i));
      return s;
    }
    function rationals(count, valueAt) {
      var at = start + u32(valueAt), out = [];
      for (var i = 0; i < count; i++) {
        var den = u32(at + 8 * i + 4);
        out.push(den ? u32(at + 8 * i) / den : NaN);
      }
      return out;
    }
    function each(ifd, fn) {
      var n = u16(ifd);
      for (var i = 0; i < n; i++) {
        var e = ifd + 2 + 12 * i;
        fn(u16(e), u32(e + 4), e + 8);
      }
    }
    var out = {}, exifAt = null, gpsAt = null;
    each(start + u32(start + 4), function (tag, count, at) {
      if (tag === 0x0112) out.orientation = u16(at);
      else if (tag === 0x8769) exifAt = start + u32(at);
      else if (tag === 0x8825) gpsAt = start + u32(at);
    });
    if (exifAt) {
      each(exifAt, function (tag, count, at) {
        if (tag === 0x9003) out.takenAt = isoTime(ascii(count, at));  // DateTimeOriginal
      });
    }
    if (gpsAt) {
      var gps = {};
      each(gpsAt, function (tag, count, at) {
        if (tag === 1 || tag === 3) gps[tag] = ascii(count, at);
        else if (tag === 2 || tag === 4) gps[tag] = rationals(count, at);
      });
      var lat = degrees(gps[2], gps[1], 'S'), lon = degrees(gps[4], gps[3], 'W');
      if (lat !== null && lon !== null && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
        out.lat = lat;
        out.lon = lon;
      }
    }
    return out;
  }

  function degrees(parts, ref, negative) {
    if (!parts || parts.length < 3 || parts.some(isNaN)) return null;
    var value = parts[0] + parts[1] / 60 + parts[2] / 3600;
    return ref === negative ? -value : value;
  }

  function isoTime(text) {  // "2026:11:22 19:30:05" -> "2026-11-22T19:30:05"
    var m = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})/.exec(text || '');
    return m ? m[1] + '-' + m[2] + '-' + m[3] + 'T' + m[4] + ':' + m[5] + ':' + m[6] : null;
  }

  global.GridExif = {read: read};
})(typeof self !== 'undefined' ? self : this);
