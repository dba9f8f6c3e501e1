"""Signing and hashing: visitor tokens, operator sessions, CSRF tokens, passwords."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .errors import InvalidToken, RateLimited

T = TypeVar("T")


@dataclass(frozen=True)
class VisitorClaim:
    visitor_id: str
    site_id: int
    generation: int = 0  # must equal the visitor row's token_generation (tokens before it had none: 0)


class Signer:
    """Everything signed with the app's secret key; one salt per purpose."""

    def __init__(
        self, secret_key: str, *, visitor_token_days: int, session_days: int = 14, password_threads: int = 2,
        password_queue: int = 32,
    ) -> None:
        self._visitors = URLSafeTimedSerializer(secret_key, salt="frontdesk.visitor")
        self._sessions = URLSafeTimedSerializer(secret_key, salt="frontdesk.session")
        self._csrf = URLSafeTimedSerializer(secret_key, salt="frontdesk.csrf")
        self._forms = URLSafeTimedSerializer(secret_key, salt="frontdesk.form")
        self._replies = secret_key.encode()  # keys the HMAC of reply addresses (reply+<conversation>.<mac>@…)
        self.visitor_max_age = visitor_token_days * 86400
        self.session_max_age = session_days * 86400
        self.passwords = PasswordHasher()  # argon2id with the library's current parameters
        self._dummy_hash: str | None = None  # made on first use: ~0.15 s of CPU every command paid
        self._dummy_lock = threading.Lock()
        # argon2 takes tens of ms of CPU (the C code releases the GIL): it runs in a few
        # threads of its own so a burst of logins queues there and never stalls chat,
        # and a queue longer than ``password_queue`` is refused rather than grown.
        self._password_pool = ThreadPoolExecutor(password_threads, thread_name_prefix="frontdesk-passwords")
        self._password_queue = password_queue
        self._password_waiting = 0

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
    # The cookie carries a random session token; the database keeps only its hash
    # (store/operators.py), so a session ends when its row goes, on every node at once.
    @staticmethod
    def new_session_token() -> str:
        return secrets.token_urlsafe(32)

    @staticmethod
    def session_token_hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def session_cookie(self, token: str) -> str:
        return self._sessions.dumps({"t": token})

    def read_session_cookie(self, value: str | None) -> str | None:
        """The session token in a cookie we signed, or None."""
        if not value or len(value) > 512:
            return None
        try:
            data = self._sessions.loads(value, max_age=self.session_max_age)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("t"), str) or len(data["t"]) > 128:
            return None
        return data["t"]

    # CSRF (double submit: a signed random cookie, echoed in each form) ------------
    def new_csrf_secret(self) -> str:
        return self._csrf.dumps(secrets.token_urlsafe(16))

    # Forms (the contact form) ------------------------------------------------
    def form_ticket(self, site_id: int) -> str:
        """Issued with the form: its signed time says how long the form was open when sent."""
        return self._forms.dumps(site_id)

    def form_ticket_age(self, ticket: object, *, site_id: int, max_age: float) -> float | None:
        """Seconds since ``ticket`` was issued for this site; None if forged, foreign or older than max_age."""
        if not isinstance(ticket, str) or len(ticket) > 200:
            return None
        try:
            signed_site, issued = self._forms.loads(ticket, max_age=int(max_age), return_timestamp=True)
        except (BadSignature, SignatureExpired):
            return None
        if signed_site != site_id:
            return None
        return max(0.0, time.time() - issued.timestamp())

    # Reply addresses ----------------------------------------------------------
    def reply_mac(self, conversation_id: str) -> str:
        """The signature in a reply address: 16 hex digits of an HMAC of the conversation id."""
        return hmac.new(self._replies, b"reply:" + conversation_id.encode(), hashlib.sha256).hexdigest()[:16]

    def reply_mac_matches(self, conversation_id: str, mac: str) -> bool:
        return hmac.compare_digest(self.reply_mac(conversation_id), mac.lower())

    def csrf_matches(self, cookie: str | None, submitted: object) -> bool:
        if not cookie or not isinstance(submitted, str):
            return False
        try:
            self._csrf.loads(cookie, max_age=self.session_max_age)
        except (BadSignature, SignatureExpired):
            return False
        return hmac.compare_digest(cookie, submitted)

    # Passwords ------------------------------------------------------------------
    async def hash_password(self, password: str) -> str:
        return await self._in_password_pool(self.passwords.hash, password)

    async def verify_password(self, password_hash: str | None, password: str) -> bool:
        """Constant work whether or not the account exists. RateLimited if the pool's queue is full."""
        return await self._in_password_pool(self._verify, password_hash, password)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self.passwords.verify(password_hash or self._dummy(), password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        """A hash to verify against when the account does not exist (the same work either
        way). ``warm_up`` makes it ahead of the first login, in the password threads."""
        with self._dummy_lock:  # a login during the warm-up waits for it, not makes another
            if self._dummy_hash is None:
                self._dummy_hash = self.passwords.hash(secrets.token_hex(16))
            return self._dummy_hash

    def warm_up(self) -> None:
        """Serving: make the dummy hash now, off the event loop, so the first login for an
        unknown account takes no longer than one for a known account."""
        self._password_pool.submit(self._dummy)

    async def _in_password_pool(self, fn: Callable[..., T], *args: Any) -> T:
        if self._password_waiting >= self._password_queue:
            raise RateLimited()
        self._password_waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._password_pool, fn, *args)
        finally:
            self._password_waiting -= 1

    def close(self) -> None:
        self._password_pool.shutdown(wait=False, cancel_futures=True)
