"""Domain errors, raised by services and turned into responses by the web layer.

    FrontdeskError            code, message key, optional field, HTTP status
    ├── Invalid               a field is missing, of the wrong type or malformed (400)
    ├── TooLarge              a body, frame or field is over its limit (413)
    ├── BadFrame              a websocket frame is not JSON or has an unknown type (400)
    ├── InvalidToken          a forged, expired or foreign visitor token (401)
    ├── Unauthorized          not logged in (401)
    ├── Forbidden             origin not allowed, CSRF failed (403)
    ├── NotFound              no such object, or not yours (404)
    ├── MethodNotAllowed      an API path exists but not for this HTTP method (405)
    ├── RateLimited           too many attempts (429)
    └── InternalError         a fault of ours, said as JSON on the API (500)

Messages are catalogue keys, most specific first: ``error.<code>.<field>.<reason>``,
``error.<code>.<reason>``, ``error.<code>.<field>``, then ``error.<code>``, so the web layer
can say them in the caller's language; ``{field}`` and the params fill their placeholders.
"""

from __future__ import annotations

import math
from typing import Any


class FrontdeskError(Exception):
    code = "error"
    status = 400

    def __init__(
        self, code: str | None = None, *, field: str | None = None, reason: str | None = None, **params: Any
    ) -> None:
        self.code = code or self.code
        self.field = field
        self.reason = reason  # which rule was broken, for a more precise message (e.g. "not_text")
        self.params = params
        super().__init__(f"{self.code}{' (' + field + ')' if field else ''}")

    @property
    def message_keys(self) -> list[str]:
        keys = [f"error.{self.code}.{self.field}.{self.reason}"] if self.field and self.reason else []
        keys += [f"error.{self.code}.{self.reason}"] if self.reason else []
        keys += [f"error.{self.code}.{self.field}"] if self.field else []
        return keys + [f"error.{self.code}"]

    @property
    def message_params(self) -> dict[str, Any]:
        return {"field": self.field or "", **self.params}

    def extra(self) -> dict[str, Any]:
        """Members the error's JSON carries besides code, message and field."""
        return {}


class Invalid(FrontdeskError):
    code = "invalid"
    status = 400


class TooLarge(FrontdeskError):
    code = "too_large"
    status = 413


class BadFrame(FrontdeskError):
    code = "bad_frame"
    status = 400


class InvalidToken(FrontdeskError):
    code = "invalid_token"
    status = 401


class Unauthorized(FrontdeskError):
    code = "unauthorized"
    status = 401


class Forbidden(FrontdeskError):
    code = "origin_not_allowed"
    status = 403


class NotFound(FrontdeskError):
    code = "not_found"
    status = 404


class MethodNotAllowed(FrontdeskError):
    code = "method_not_allowed"
    status = 405


class InternalError(FrontdeskError):
    code = "internal"
    status = 500


class RateLimited(FrontdeskError):
    """Carries which limit was hit and when to try again (also in the error's JSON)."""

    code = "rate_limited"
    status = 429

    def __init__(
        self, code: str | None = None, *, limit: str | None = None, retry_after: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(code, **kwargs)
        self.limit = limit
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))

    def extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.limit:
            extra["limit"] = self.limit
        if self.retry_after is not None:
            extra["retry_after"] = self.retry_after
        return extra
