"""One object for equal values that many long-lived holders keep at once.

Every open visitor socket keeps its site (a dataclass of ~35 fields, its strings, tuples
and dicts: ~3 KiB). Thousands of sockets of one site need not keep thousands of equal
copies (memory per idle socket, issue 20). Each socket still reads its site when it
connects, as before; the object it keeps is the one already in use when that is equal
to what it read, so nothing is staler than it would have been.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar
from weakref import WeakValueDictionary

T = TypeVar("T")


class InUse(Generic[T]):
    def __init__(self) -> None:
        # Weak: an object no socket holds any more goes, and its entry with it.
        self._live: WeakValueDictionary[Any, Any] = WeakValueDictionary()

    def share(self, key: Any, value: T) -> T:
        """``value``, or an equal one already in use under ``key``."""
        held = self._live.get(key)
        if held is not None and held == value:
            return held  # type: ignore[no-any-return]
        self._live[key] = value
        return value
