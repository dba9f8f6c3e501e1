"""Untrusted JSON, parsed in one place for HTTP bodies and websocket frames.

Two things ``json.loads`` lets through that nothing after it can handle are refused here:

* nesting deeper than MAX_DEPTH: the parser recurses, and 20,000 levels raised
  RecursionError (a 500, a killed socket). What we accept is at most a few levels deep.
* strings with lone surrogates (``"\\ud800"`` is valid JSON but not text): they cannot be
  encoded as UTF-8, so storing, signing or sending them back failed far from the input.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import BadFrame, Invalid

MAX_DEPTH = 16
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_text(value: str) -> bool:
    """True if ``value`` can be encoded as UTF-8 (no lone surrogates)."""
    return _SURROGATE.search(value) is None


def loads(raw: str | bytes, *, root: str) -> Any:
    """The JSON value of ``raw``; BadFrame if it is not JSON or nested too deeply, Invalid
    naming the field (``page.url``; ``root`` for the top level) if a string is not text."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadFrame() from None
    value = parse(raw)
    check(value, raw, root=root)
    return value


def parse(raw: str) -> Any:
    """Only the syntax (and the parser's own depth): BadFrame if it is not JSON."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise BadFrame(reason="depth", max=MAX_DEPTH) from None
    except ValueError:
        raise BadFrame() from None


def check(value: Any, raw: str, *, root: str) -> None:
    """Depth and text of the value ``parse(raw)`` gave."""
    # Only a \u escape can make a surrogate (the text itself was decoded as UTF-8), and
    # depth needs at least that many brackets: most frames skip the walk.
    if "\\u" in raw or raw.count("[") + raw.count("{") > MAX_DEPTH:
        _check(value, root)


def _check(value: Any, root: str) -> None:
    """Depth and text of every string, iteratively (recursion is what we are avoiding)."""
    stack: list[tuple[Any, str | None, int]] = [(value, None, 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if not is_text(item):
                raise Invalid(field=path or root, reason="not_text")
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise BadFrame(reason="depth", max=MAX_DEPTH)
            if isinstance(item, dict):
                for key, child in item.items():
                    if not is_text(key):
                        raise Invalid(field=path or root, reason="not_text")
                    stack.append((child, f"{path}.{key}" if path else key, depth + 1))
            else:
                for index, child in enumerate(item):
                    stack.append((child, f"{path}.{index}" if path else str(index), depth + 1))
