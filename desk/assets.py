"""Static files addressed by content: `asset_url` adds a hash, so they can be cached for a year
and the service worker's version changes whenever any file of the app shell does."""

import hashlib
import os
from functools import cache

from flask import current_app, request, url_for

# The app shell the service worker precaches (besides the pages it renders).
SHELL_FILES = (
    "css/app.css",
    "js/app.js",
    "js/map.js",
    "js/queue.js",
    "js/exif.js",
    "js/capture.js",
    "js/patrol.js",
    "js/alert.js",
    "js/push.js",
    "vendor/htmx-2.0.11/htmx.min.js",
    "vendor/leaflet-1.9.4/leaflet.js",
    "vendor/leaflet-1.9.4/leaflet.css",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/icon-maskable-512.png",
)


@cache
def _file_hash(static_folder: str, filename: str) -> str:
    with open(os.path.join(static_folder, filename), "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:12]


_urls: dict[tuple, str] = {}


def asset_url(filename: str) -> str:
    """The file's URL with its content hash; built once per file (and script root)."""
    key = (request.script_root, filename)
    url = _urls.get(key)
    if url is None:
        folder = current_app.static_folder
        url = _urls[key] = url_for("static", filename=filename, v=_file_hash(folder, filename))
    return url


def link(endpoint: str, **values) -> str:
    """url_for(endpoint, **values) for a relative link, built once and kept: pages link to the
    same routes (and the same few grids) over and over. Bounded by the number of routes times
    the grids, and cleared if it ever grows past that."""
    key = (request.script_root, endpoint, *sorted(values.items()))
    url = _urls.get(key)
    if url is None:
        if len(_urls) > 50_000:
            _urls.clear()
        url = _urls[key] = url_for(endpoint, **values)
    return url


def shell_version(*extra: str) -> str:
    """One hash over every shell file and `extra` (templates' texts), for cache names."""
    digest = hashlib.sha256()
    for name in SHELL_FILES:
        digest.update(_file_hash(current_app.static_folder, name).encode())
    for text in extra:
        digest.update(text.encode())
    return digest.hexdigest()[:12]
