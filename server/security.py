"""Signing and hashing: visitor tokens, operator sessions, CSRF tokens, passwords."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .errors import InvalidToken


@dataclass(frozen=True)
class VisitorClaim:
    visitor_id: str
    site_id: int
    generation: int = 0  # must equal the visitor row's token_generation (tokens before it had none: 0)


class Signer:
    """Everything signed with the app's secret key; one salt per purpose."""

    def __init__(self, secret_key: str, *, visitor_token_days: int, session_days: int = 14) -> None:
        self._visitors = URLSafeTimedSerializer(secret_key, salt="frontdesk.visitor")
        self._sessions = URLSafeTimedSerializer(secret_key, salt="frontdesk.session")
        self._csrf = URLSafeTimedSerializer(secret_key, salt="frontdesk.csrf")
        self.visitor_max_age = visitor_token_days * 86400
        self.session_max_age = session_days * 86400
        self.passwords = PasswordHasher()  # argon2id with the library's current parameters
        self._dummy_hash = self.passwords.hash(secrets.token_hex(16))

    # Visitors ---------------------------------------------------------------
    def visitor_token(self, visitor_id: str, site_id: int, generation: int = 0) -> str:
        return self._visitors.dumps({"v": visitor_id, "s": site_id, "g": generation})

    def read_visitor_token(self, token: object, *, site_id: int) -> VisitorClaim:
        if not isinstance(token, str) or not token or len(token) > 512:
            raise InvalidToken()
        try:
            data = self._visitors.loads(token, max_age=self.visitor_max_age)
        except (BadSignature, SignatureExpired):
            raise InvalidToken() from None
        if not isinstance(data, dict) or data.get("s") != site_id or not isinstance(data.get("v"), str):
            raise InvalidToken()
        generation = data.get("g", 0)
        if isinstance(generation, bool) or not isinstance(generation, int):
            raise InvalidToken()
        return VisitorClaim(data["v"], site_id, generation)

    # Operator sessions --------------------------------------------------------
    def session_cookie(self, operator_id: int, password_hash: str) -> str:
        # Bound to the password hash: changing the password ends every other session.
        return self._sessions.dumps({"o": operator_id, "p": password_hash[-16:]})

    def read_session_cookie(self, value: str | None) -> tuple[int, str] | None:
        if not value:
            return None
        try:
            data = self._sessions.loads(value, max_age=self.session_max_age)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("o"), int):
            return None
        return data["o"], str(data.get("p", ""))

    # CSRF (double submit: a signed random cookie, echoed in each form) ------------
    def new_csrf_secret(self) -> str:
        return self._csrf.dumps(secrets.token_urlsafe(16))

    def csrf_matches(self, cookie: str | None, submitted: object) -> bool:
        if not cookie or not isinstance(submitted, str):
            return False
        try:
            self._csrf.loads(cookie, max_age=self.session_max_age)
        except (BadSignature, SignatureExpired):
            return False
        return hmac.compare_digest(cookie, submitted)

    # Passwords ------------------------------------------------------------------
    def hash_password(self, password: str) -> str:
        return self.passwords.hash(password)

    def verify_password(self, password_hash: str | None, password: str) -> bool:
        """Constant work whether or not the account exists."""
        try:
            return self.passwords.verify(password_hash or self._dummy_hash, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False
