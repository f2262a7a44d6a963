"""Where photo files live, behind a small interface: a local directory now, object storage later.

Keys are relative, slash-separated paths such as "originals/ab/cd/<sha256>.jpg" (`photo_keys`).
"""

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

PHOTO_KINDS: Final = frozenset({"originals", "display", "thumbs"})
_SHA256_HEX_DIGITS: Final = 64
_HEX: Final = frozenset("0123456789abcdef")
_FILE_MODE: Final = 0o644  # readable by a web server serving the files directly


@runtime_checkable
class PhotoStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing what was there; atomic and idempotent."""

    def get(self, key: str) -> bytes:
        """The bytes under `key`; KeyError if there are none."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove `key`; nothing happens if it is absent."""


def photo_keys(sha256: str, kind: str, extension: str) -> str:
    """The key of a photo file: "<kind>/<sha[:2]>/<sha[2:4]>/<sha256>.<ext>"."""
    if kind not in PHOTO_KINDS:
        raise ValueError(f"unknown photo kind {kind!r}; expected one of {sorted(PHOTO_KINDS)}")
    sha = sha256.lower()
    if len(sha) != _SHA256_HEX_DIGITS or not set(sha) <= _HEX:
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    ext = extension.lower().lstrip(".")
    if not ext.isalnum() or not ext.isascii():
        raise ValueError(f"bad file extension {extension!r}")
    return f"{kind}/{sha[:2]}/{sha[2:4]}/{sha}.{ext}"


_EXTENSIONS: Final = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}


@dataclass(frozen=True)
class StoredPhoto:
    original_key: str
    display_key: str
    thumb_key: str
    content_type: str  # of the original


def put_photo(
    store: "PhotoStore",
    sha256: str,
    image_format: str,
    original: bytes,
    display: bytes,
    thumb: bytes,
) -> StoredPhoto:
    """Store a processed photo's original (as received), display image and thumbnail under
    content-addressed keys. Files go first, before any row: a cut connection leaves at worst an
    unreferenced file, never a row pointing at nothing."""
    ext = _EXTENSIONS[image_format]
    keys = (
        photo_keys(sha256, "originals", ext),
        photo_keys(sha256, "display", "jpg"),
        photo_keys(sha256, "thumbs", "jpg"),
    )
    for key, blob in zip(keys, (original, display, thumb), strict=True):
        store.put(key, blob)
    return StoredPhoto(*keys, content_type=f"image/{'jpeg' if ext == 'jpg' else ext}")


def key_parts(key: str) -> list[str]:
    """The parts of a storage key; ValueError for one that could reach outside the store: an
    absolute path, a "..", "." or empty part, a backslash or a NUL. Every store checks keys the
    same way, so a key that works on one works on all."""
    parts = key.split("/")
    if (
        key.startswith("/")
        or "\\" in key
        or "\x00" in key
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ValueError(f"invalid storage key {key!r}: not a relative path inside the store")
    return parts


class LocalStore:
    """Files under a root directory (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key_parts(key))

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            os.fchmod(fd, _FILE_MODE)  # mkstemp makes it private
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise KeyError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()
