"""Where the front-end files are: inside the package when installed from a wheel,
beside it in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def asset_root() -> Path:
    bundled = _PACKAGE / "_assets"
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent


def asset_path(*parts: str) -> Path:
    return asset_root().joinpath(*parts)
