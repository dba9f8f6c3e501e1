"""Domain errors, raised by services and turned into responses by the web layer.

    FrontdeskError            code, message key, optional field, HTTP status
    ├── Invalid               a field is missing, of the wrong type or malformed (400)
    ├── TooLarge              a body, frame or field is over its limit (413)
    ├── BadFrame              a websocket frame is not JSON or has an unknown type (400)
    ├── InvalidToken          a forged, expired or foreign visitor token (401)
    ├── Unauthorized          not logged in (401)
    ├── Forbidden             origin not allowed, CSRF failed (403)
    ├── NotFound              no such object, or not yours (404)
    └── RateLimited           too many attempts (429)

Messages are catalogue keys (``error.<code>``, ``error.<code>.<field>`` or
``error.<code>.<field>.<detail>``, most specific first) so the web
layer can say them in the caller's language.
"""

from __future__ import annotations

from typing import Any


class FrontdeskError(Exception):
    code = "error"
    status = 400

    def __init__(
        self, code: str | None = None, *, field: str | None = None, detail: str | None = None, **params: Any
    ) -> None:
        self.code = code or self.code
        self.field = field
        self.detail = detail  # which rule the field broke, for a more precise message
        self.params = params
        super().__init__(f"{self.code}{' (' + field + ')' if field else ''}")

    @property
    def message_keys(self) -> list[str]:
        keys = [f"error.{self.code}.{self.field}.{self.detail}"] if self.field and self.detail else []
        keys += [f"error.{self.code}.{self.field}"] if self.field else []
        return keys + [f"error.{self.code}"]


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


class RateLimited(FrontdeskError):
    code = "rate_limited"
    status = 429
