"""Operators: the people answering in the console."""

from __future__ import annotations

from typing import Any

from limits import parse as parse_limit
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy.exc import IntegrityError

from ..errors import Invalid, RateLimited, Unauthorized
from ..locales import LANGUAGES
from ..security import Signer
from ..store import operators as store
from ..store.db import Database
from ..store.operators import Operator
from ..store.writer import GroupWriter, Tx
from . import fields

MIN_PASSWORD = 8


async def create_operator(
    writer: GroupWriter, signer: Signer, email: Any, password: Any, *, name: Any = None, role: str = "admin"
) -> Operator:
    clean_email = fields.email(email, required=True)
    assert clean_email is not None
    clean_email = clean_email.lower()
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise Invalid(field="password", min=MIN_PASSWORD)
    if len(password) > 1024:
        raise Invalid(field="password", min=MIN_PASSWORD)
    clean_name = fields.text(name, "name", max_chars=200, required=False) or clean_email.split("@")[0]
    if role not in ("admin", "agent"):
        raise Invalid(field="role")
    password_hash = signer.hash_password(password)

    def job(tx: Tx) -> Operator:
        if store.get_operator_by_email(tx.conn, clean_email):
            raise Invalid("exists", field="email")
        return store.insert_operator(
            tx.conn, email=clean_email, name=clean_name, password_hash=password_hash, role=role
        )

    try:
        return await writer.run(job)
    except IntegrityError:
        raise Invalid("exists", field="email") from None


async def authenticate(db: Database, signer: Signer, email: Any, password: Any) -> Operator | None:
    """The operator whose email and password these are, or None (same work either way)."""
    if not isinstance(email, str) or not isinstance(password, str) or len(password) > 1024 or len(email) > 254:
        signer.verify_password(None, "")
        return None
    operator = await db.read(lambda conn: store.get_operator_by_email(conn, email.strip().lower()))
    ok = signer.verify_password(operator.password_hash if operator else None, password)
    return operator if ok else None


async def operator_by_id(db: Database, operator_id: int) -> Operator | None:
    return await db.read(lambda conn: store.get_operator(conn, operator_id))


async def login(
    db: Database, signer: Signer, limiter: MovingWindowRateLimiter, email: Any, password: Any, *,
    ip: str | None, attempts_per_minute: int,
) -> Operator:
    """Check a console login; failed attempts are counted per email and per IP address."""
    per_email = parse_limit(f"{attempts_per_minute}/minute")
    per_ip = parse_limit(f"{attempts_per_minute * 4}/minute")
    email_key = ("login-email", str(email).strip().lower()[:254])
    ip_key = ("login-ip", ip or "unknown")
    if not await limiter.test(per_email, *email_key) or not await limiter.test(per_ip, *ip_key):
        raise RateLimited()
    operator = await authenticate(db, signer, email, password)
    if operator is None:
        await limiter.hit(per_email, *email_key)
        await limiter.hit(per_ip, *ip_key)
        raise Unauthorized("login_failed")
    return operator


async def set_language(writer: GroupWriter, operator_id: int, language: Any) -> str:
    """Remember the console language an operator chose (one of LANGUAGES)."""
    if language not in LANGUAGES:
        raise Invalid(field="language")

    def job(tx: Tx) -> None:
        store.update_language(tx.conn, operator_id, language)

    await writer.run(job)
    return str(language)


async def set_password(writer: GroupWriter, signer: Signer, email: str, password: str) -> Operator | None:
    """Give an existing operator a new password (ends their other sessions)."""
    if not isinstance(password, str) or not (MIN_PASSWORD <= len(password) <= 1024):
        raise Invalid(field="password", min=MIN_PASSWORD)
    password_hash = signer.hash_password(password)

    def job(tx: Tx) -> Operator | None:
        operator = store.get_operator_by_email(tx.conn, email.strip().lower())
        if operator is not None:
            store.update_password_hash(tx.conn, operator.id, password_hash)
        return operator

    return await writer.run(job)
