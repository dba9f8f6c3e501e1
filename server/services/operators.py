"""Operators: the people answering in the console; logins, throttling and sessions.

Throttling (counted *before* the password is checked, so concurrent guesses cannot all
slip through between a test and a count): with N = FRONTDESK_LOGIN_ATTEMPTS_PER_MINUTE,
N attempts a minute for one email from one client address, 4N from one address over
all emails, and 10N for one email over all addresses. An attacker is slowed at their
own address while the operator, from theirs, can still log in; only an attack from
many addresses at once can use up the looser per-email budget. A right password clears
its (email, address) count.

Sessions live in the database (``operator_sessions``), not in the cookie: logout,
a password, role or active change deletes the rows, and every node sees it at the next
request. The callers announce it on the hub so open console sockets close at once.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, Iterable

from limits import parse as parse_limit
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy.exc import IntegrityError

from ..errors import Invalid, NotFound, RateLimited, Unauthorized
from ..locales import LANGUAGES
from ..security import Signer
from ..store import operators as store
from ..store import sites as site_store
from ..store.db import Database, utcnow
from ..store.operators import Operator, Session
from ..store.writer import GroupWriter, Tx
from . import fields

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
ROLES = ("admin", "agent")


def _check_password(password: Any) -> None:
    if not isinstance(password, str) or not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
        raise Invalid(field="password", min=MIN_PASSWORD)


def _check_role(role: Any) -> None:
    if role not in ROLES:
        raise Invalid(field="role")


def _clean_email(email: Any) -> str:
    return str(email).strip().lower()[:254]


# Who a change is about: an email (the CLI) or an operator id (the console).
Who = str | int


def _find(conn: Any, who: Who) -> Operator | None:
    if isinstance(who, int):
        return store.get_operator(conn, who)
    return store.get_operator_by_email(conn, _clean_email(who))


MAX_SITES = 500


def check_site_keys(site_keys: Iterable[Any] | None) -> tuple[str, ...] | None:
    """Site keys an operator is limited to; None or empty: every site."""
    if site_keys is None:
        return None
    keys = tuple(dict.fromkeys(k.strip() if isinstance(k, str) else k for k in site_keys))
    keys = tuple(k for k in keys if k != "")
    if len(keys) > MAX_SITES or any(not isinstance(k, str) or len(k) > 64 for k in keys):
        raise Invalid(field="sites")
    return keys or None


def _site_ids(conn: Any, keys: tuple[str, ...] | None) -> frozenset[int] | None:
    if not keys:
        return None
    ids = set()
    for key in keys:
        site = site_store.get_site_by_key(conn, key)
        if site is None:
            raise Invalid("unknown", field="sites", site_key=key)
        ids.add(site.id)
    return frozenset(ids)


def new_password() -> str:
    """A password an admin can hand over once (16 URL-safe characters, ~96 bits)."""
    return secrets.token_urlsafe(12)


async def create_operator(
    writer: GroupWriter, signer: Signer, email: Any, password: Any, *, name: Any = None, role: str = "admin",
    site_keys: Iterable[Any] | None = None,
) -> Operator:
    """A new operator; ``site_keys`` limits them to those sites (None or empty: every site)."""
    clean_email = fields.email(email, required=True)
    assert clean_email is not None
    clean_email = clean_email.lower()
    _check_password(password)
    clean_name = fields.text(name, "name", max_chars=200, required=False) or clean_email.split("@")[0]
    _check_role(role)
    keys = check_site_keys(site_keys)
    password_hash = await signer.hash_password(password)

    def job(tx: Tx) -> Operator:
        if store.get_operator_by_email(tx.conn, clean_email):
            raise Invalid("exists", field="email")
        site_ids = _site_ids(tx.conn, keys)
        operator = store.insert_operator(
            tx.conn, email=clean_email, name=clean_name, password_hash=password_hash, role=role
        )
        store.set_operator_sites(tx.conn, operator.id, site_ids)
        return store.get_operator(tx.conn, operator.id)  # type: ignore[return-value]

    try:
        return await writer.run(job)
    except IntegrityError:
        raise Invalid("exists", field="email") from None


async def authenticate(db: Database, signer: Signer, email: Any, password: Any) -> Operator | None:
    """The operator whose email and password these are, or None (same work either way)."""
    if not isinstance(email, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD or len(email) > 254:
        await signer.verify_password(None, "")
        return None
    operator = await db.read(lambda conn: store.get_operator_by_email(conn, email.strip().lower()))
    ok = await signer.verify_password(operator.password_hash if operator else None, password)
    return operator if ok else None


async def login(
    db: Database, writer: GroupWriter, signer: Signer, limiter: MovingWindowRateLimiter, email: Any, password: Any,
    *, ip: str | None, attempts_per_minute: int,
) -> tuple[Operator, str]:
    """Check a console login and open a session; returns the operator and the session token."""
    clean = _clean_email(email)
    address = ip or "unknown"
    per_pair = parse_limit(f"{attempts_per_minute}/minute")
    per_ip = parse_limit(f"{attempts_per_minute * 4}/minute")
    per_email = parse_limit(f"{attempts_per_minute * 10}/minute")
    pair_key = ("login-email-ip", clean, address)
    # hit() tests and counts in one step (one Redis script when scaled out). The address
    # first, then the pair: a refused attempt from one address never reaches the
    # per-email count, so one attacker cannot use up the operator's budget.
    for limit, key in ((per_ip, ("login-ip", address)), (per_pair, pair_key), (per_email, ("login-email", clean))):
        if not await limiter.hit(limit, *key):
            raise RateLimited()
    operator = await authenticate(db, signer, email, password)
    if operator is None:
        raise Unauthorized("login_failed")
    if not operator.active:
        raise Unauthorized("deactivated")
    await limiter.clear(per_pair, *pair_key)
    token = signer.new_session_token()
    token_hash = signer.session_token_hash(token)
    expires_at = utcnow() + timedelta(seconds=signer.session_max_age)
    await writer.run(lambda tx: store.insert_session(tx.conn, operator.id, token_hash, expires_at))
    return operator, token


async def session_for(db: Database, signer: Signer, cookie: str | None) -> Session | None:
    """The live session a session cookie names (one indexed read), or None."""
    token = signer.read_session_cookie(cookie)
    if token is None:
        return None
    token_hash = signer.session_token_hash(token)
    return await db.read(lambda conn: store.find_session(conn, token_hash))


async def session_alive(db: Database, session_id: int) -> bool:
    return await db.read(lambda conn: store.session_alive(conn, session_id))


async def logout(writer: GroupWriter, signer: Signer, cookie: str | None) -> Session | None:
    """End the session of this cookie; returns it (None if it was not live)."""
    token = signer.read_session_cookie(cookie)
    if token is None:
        return None
    token_hash = signer.session_token_hash(token)
    return await writer.run(lambda tx: store.delete_session(tx.conn, token_hash))


async def operator_by_id(db: Database, operator_id: int) -> Operator | None:
    return await db.read(lambda conn: store.get_operator(conn, operator_id))


async def _change(
    writer: GroupWriter, who: Who, values: dict[str, Any], *, site_keys: tuple[str, ...] | None | bool = False,
) -> tuple[Operator, bool]:
    """Set ``values`` (and, unless ``site_keys`` is False, the sites) on the operator;
    a real change ends their sessions. Never leaves the team without an active admin.

    Returns the operator as it was and whether anything changed."""

    def job(tx: Tx) -> tuple[Operator, bool]:
        operator = _find(tx.conn, who)
        if operator is None:
            raise NotFound(field="email" if isinstance(who, str) else "operator")
        changed = any(getattr(operator, name) != value for name, value in values.items())
        if site_keys is not False:
            site_ids = _site_ids(tx.conn, site_keys)  # type: ignore[arg-type]
            if site_ids != operator.site_ids:
                store.set_operator_sites(tx.conn, operator.id, site_ids)
                changed = True
        if changed:
            if values:
                store.update_operator(tx.conn, operator.id, **values)
            was_admin = operator.is_admin and operator.active
            if was_admin and store.count_active_admins(tx.conn) == 0:
                # Demoting or deactivating the last admin would lock everyone out of settings.
                raise Invalid("last_admin", field="role" if "role" in values else "active")
            store.delete_sessions(tx.conn, operator.id)
        return operator, changed

    return await writer.run(job)


async def set_language(writer: GroupWriter, operator_id: int, language: Any) -> str:
    """Remember the console language an operator chose (one of LANGUAGES)."""
    if language not in LANGUAGES:
        raise Invalid(field="language")

    def job(tx: Tx) -> None:
        store.update_language(tx.conn, operator_id, language)

    await writer.run(job)
    return str(language)


async def set_password(writer: GroupWriter, signer: Signer, who: Who, password: str) -> Operator | None:
    """Give an existing operator a new password, ending all their sessions; None if no such operator.

    The same password again changes nothing (no new hash, sessions stay): restarting the
    demo with its password must not sign everyone out."""
    _check_password(password)
    operator = await writer.run(lambda tx: _find(tx.conn, who))
    if operator is None:
        return None
    if await signer.verify_password(operator.password_hash, password):
        return operator
    password_hash = await signer.hash_password(password)
    return (await _change(writer, operator.id, {"password_hash": password_hash}))[0]


async def set_role(writer: GroupWriter, who: Who, role: str) -> tuple[Operator, bool]:
    """Change an operator's role (ends their sessions if it changed)."""
    _check_role(role)
    return await _change(writer, who, {"role": role})


async def set_active(writer: GroupWriter, who: Who, active: bool) -> tuple[Operator, bool]:
    """Deactivate (ends their sessions; they cannot log in) or reactivate an operator."""
    return await _change(writer, who, {"active": active})


async def set_sites(writer: GroupWriter, who: Who, site_keys: Iterable[Any] | None) -> tuple[Operator, bool]:
    """Limit an operator to these sites (None or empty: every site); a change ends their
    sessions, so every open console re-reads what it may show."""
    return await _change(writer, who, {}, site_keys=check_site_keys(site_keys))


async def set_access(writer: GroupWriter, who: Who, role: Any, site_keys: Iterable[Any] | None) -> tuple[Operator, bool]:
    """Role and sites in one change (the console's form): both or neither."""
    _check_role(role)
    return await _change(writer, who, {"role": role}, site_keys=check_site_keys(site_keys))


async def list_operators(db: Database) -> list[Operator]:
    return await db.read(store.list_operators)


async def end_sessions(writer: GroupWriter, who: Who) -> tuple[Operator, int]:
    """Sign an operator out everywhere (a lost laptop); returns how many sessions ended."""

    def job(tx: Tx) -> tuple[Operator, int]:
        operator = _find(tx.conn, who)
        if operator is None:
            raise NotFound(field="email" if isinstance(who, str) else "operator")
        return operator, store.delete_sessions(tx.conn, operator.id)

    return await writer.run(job)
