"""Static files addressed by content: `asset_url` adds a hash, so they can be cached for a year
and the service worker's version changes whenever any file of the app shell does."""

import hashlib
import os
from functools import cache

from flask import current_app, url_for

# The app shell the service worker precaches (besides the pages it renders).
SHELL_FILES = (
    "css/app.css",
    "js/app.js",
    "js/map.js",
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


def asset_url(filename: str) -> str:
    return url_for("static", filename=filename, v=_file_hash(current_app.static_folder, filename))


def shell_version(*extra: str) -> str:
    """One hash over every shell file and `extra` (templates' texts), for cache names."""
    digest = hashlib.sha256()
    for name in SHELL_FILES:
        digest.update(_file_hash(current_app.static_folder, name).encode())
    for text in extra:
        digest.update(text.encode())
    return digest.hexdigest()[:12]
