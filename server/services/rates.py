"""Rate limits as the rules see them: a named limit per key, refused with RateLimited.

The name is public: it is the ``limit`` member of the rate_limited error (docs/realtime.md).
"""

from __future__ import annotations

from ..errors import RateLimited
from ..throttle import Throttle


async def check_per_minute(
    throttle: Throttle, name: str, key: str, *, per_minute: int, field: str | None = None, reason: str | None = None
) -> None:
    verdict = await throttle.hit(name, key, per_minute, 60.0)
    if not verdict.allowed:
        raise RateLimited(field=field, reason=reason, limit=name, retry_after=verdict.retry_after, max=per_minute)
