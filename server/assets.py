"""Where the front-end files are (inside the package when installed from a wheel, beside it
in a source checkout), and how they go out: each read once, named by its content's hash,
and compressed once with gzip and brotli.

Nothing is compressed per request: a file is built the first time it is asked for (off the
event loop) and kept until it changes on disk (in a source checkout, an edit is seen at the
next request). See docs/architecture.md, "Caching the widget".
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path, PurePosixPath

import brotli

_PACKAGE = Path(__file__).resolve().parent

# What is worth compressing (images and fonts already are).
_TEXT = {".js", ".mjs", ".css", ".json", ".html", ".svg", ".txt", ".map", ".xml"}
_TYPES = {
    ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".json": "application/json", ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8", ".map": "application/json", ".webp": "image/webp",
}
# A hashed name: "panel.0123456789.js" is "panel.js" as its content was when hashed.
HASH_CHARS = 10
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{%d})(?P<ext>\.[A-Za-z0-9]+)$" % HASH_CHARS)


def asset_root() -> Path:
    bundled = _PACKAGE / "_assets"
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent


def asset_path(*parts: str) -> Path:
    return asset_root().joinpath(*parts)


@dataclass(frozen=True)
class Built:
    """One file as it is served: its bytes raw and compressed, its version and validators."""

    raw: bytes
    gzip: bytes | None  # None: not worth it (not text, or no smaller)
    br: bytes | None
    version: str  # the first HASH_CHARS hex digits of the content's SHA-256
    media_type: str
    last_modified: str  # an HTTP date
    stamp: tuple[int, int]  # (mtime_ns, size) of the file it was built from: is it still current?

    def body(self, accept_encoding: str) -> tuple[bytes, str | None]:
        """The smallest representation the client accepts, and its Content-Encoding."""
        accepted = accepted_encodings(accept_encoding)
        if self.br is not None and "br" in accepted:
            return self.br, "br"
        if self.gzip is not None and "gzip" in accepted:
            return self.gzip, "gzip"
        return self.raw, None


def accepted_encodings(header: str) -> set[str]:
    """Codings in an Accept-Encoding header that are not refused with q=0."""
    codings = set()
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        q = params.strip()
        if q.startswith("q="):
            try:
                if float(q[2:]) <= 0:
                    continue
            except ValueError:
                continue
        codings.add(name.strip())
    return codings


def build(data: bytes, name: str, stamp: tuple[int, int] = (0, 0), mtime: float | None = None) -> Built:
    """Hash and compress ``data`` (CPU work: call it off the event loop)."""
    suffix = PurePosixPath(name).suffix.lower()
    gz = br = None
    if suffix in _TEXT:
        gz = gzip.compress(data, compresslevel=9, mtime=0)
        br = brotli.compress(data, quality=11, mode=brotli.MODE_TEXT)
        gz = gz if len(gz) < len(data) else None
        br = br if len(br) < len(data) and (gz is None or len(br) <= len(gz)) else None
    return Built(
        raw=data, gzip=gz, br=br, version=hashlib.sha256(data).hexdigest()[:HASH_CHARS],
        media_type=_TYPES.get(suffix, "application/octet-stream"),
        last_modified=formatdate(mtime if mtime is not None else stamp[0] / 1e9, usegmt=True), stamp=stamp,
    )


def hashed_name(name: str, version: str) -> str:
    """"i18n/en.json" + version -> "i18n/en.<version>.json"."""
    path = PurePosixPath(name)
    return str(path.with_name(f"{path.stem}.{version}{path.suffix}")) if path.suffix else f"{name}.{version}"


def split_hashed(name: str) -> tuple[str, str | None]:
    """"panel.0123456789.js" -> ("panel.js", "0123456789"); an unhashed name -> (name, None)."""
    path = PurePosixPath(name)
    match = _HASHED.match(path.name)
    if not match:
        return name, None
    return str(path.with_name(match["stem"] + match["ext"])), match["hash"]


class Assets:
    """The front-end files under ``root`` (embed.js, widget/, static/), built on first use.

    Held by the app (app.state.assets), never at module level. Safe to call from threads:
    two threads building the same file at once both get the same result.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._built: dict[str, Built] = {}
        self._made: dict[str, Built] = {}  # pages written from files (the panel's), by content hash
        self._lock = threading.Lock()

    def locate(self, name: str) -> Path | None:
        """The file ``name`` (relative, "/"-separated) under the root, if it is one: no
        "..", no hidden files, nothing outside the root."""
        parts = PurePosixPath(name).parts
        if not parts or any(p in ("", ".", "..") or p.startswith(".") or "\\" in p for p in parts):
            return None
        path = self.root.joinpath(*parts)
        try:
            resolved = path.resolve()
            if not resolved.is_relative_to(self.root) or not resolved.is_file():
                return None
        except (OSError, ValueError):  # ValueError: a NUL in the name
            return None
        return resolved

    def cached(self, name: str) -> Built | None:
        """The built file if it is still what is on disk (a stat, no reading)."""
        built = self._built.get(name)
        if built is None:
            return None
        path = self.locate(name)
        if path is None:
            return None
        st = path.stat()
        return built if built.stamp == (st.st_mtime_ns, st.st_size) else None

    def get(self, name: str) -> Built | None:
        """``name`` built (reads, hashes and compresses when it is new or changed: CPU work,
        call it off the event loop unless ``cached`` had it)."""
        path = self.locate(name)
        if path is None:
            return None
        built = self.cached(name)
        if built is not None:
            return built
        st = path.stat()
        built = build(path.read_bytes(), name, (st.st_mtime_ns, st.st_size), st.st_mtime)
        with self._lock:
            self._built[name] = built
        return built

    def made(self, data: bytes, name: str, stamp: tuple[int, int]) -> Built:
        """``data`` (a page written from our files) built once per distinct content."""
        key = hashlib.sha256(data).hexdigest()
        built = self._made.get(key)
        if built is None:
            built = build(data, name, stamp)
            with self._lock:
                if len(self._made) > 64:  # old versions of a page edited in a source checkout
                    self._made.clear()
                self._made[key] = built
        return built

    def url(self, name: str) -> str:
        """The immutable URL of ``name`` ("widget/panel.js" -> "/widget/panel.<hash>.js"); the
        plain URL when there is no such file (then the request is answered 404 as before)."""
        built = self.get(name)
        return "/" + (hashed_name(name, built.version) if built else name)

    def names(self, folder: str) -> list[str]:
        """Every servable file under ``folder``, relative to the root, sorted."""
        base = self.root / folder
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in filenames:
                if not filename.startswith("."):
                    found.append(Path(dirpath, filename).relative_to(self.root).as_posix())
        return sorted(found)
