"""Tokens, sessions, CSRF and passwords."""

from __future__ import annotations

import time

import pytest

from server.errors import InvalidToken
from server.security import Signer


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer("unit-test-key", visitor_token_days=30)


def test_visitor_token_round_trip(signer: Signer) -> None:
    token = signer.visitor_token("v1", 7)
    claim = signer.read_visitor_token(token, site_id=7)
    assert (claim.visitor_id, claim.site_id) == ("v1", 7)


def test_expired_token_is_refused(signer: Signer, monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: now - 31 * 86400)
    old = signer.visitor_token("v1", 7)
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: now)
    with pytest.raises(InvalidToken):
        signer.read_visitor_token(old, site_id=7)


@pytest.mark.parametrize("token", ["", "abc", None, 5, "x" * 1000])
def test_malformed_tokens_are_refused(signer: Signer, token: object) -> None:
    with pytest.raises(InvalidToken):
        signer.read_visitor_token(token, site_id=7)


def test_token_of_another_site_or_key_is_refused(signer: Signer) -> None:
    token = signer.visitor_token("v1", 7)
    with pytest.raises(InvalidToken):
        signer.read_visitor_token(token, site_id=8)
    with pytest.raises(InvalidToken):
        Signer("another-key", visitor_token_days=30).read_visitor_token(token, site_id=7)
    # A session cookie is not a visitor token, even though both are signed with one key.
    with pytest.raises(InvalidToken):
        signer.read_visitor_token(signer.session_cookie(signer.new_session_token()), site_id=7)


def test_session_cookies_carry_a_signed_token(signer: Signer) -> None:
    token = signer.new_session_token()
    assert signer.read_session_cookie(signer.session_cookie(token)) == token
    assert signer.read_session_cookie(Signer("another-key", visitor_token_days=30).session_cookie(token)) is None
    assert signer.read_session_cookie(signer.visitor_token("v1", 7)) is None
    assert signer.read_session_cookie("forged") is None


async def test_passwords_are_argon2id(signer: Signer) -> None:
    stored = await signer.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert await signer.verify_password(stored, "correct horse battery")
    assert not await signer.verify_password(stored, "wrong")
    assert not await signer.verify_password(None, "anything")


async def test_an_unknown_account_is_checked_against_a_hash_made_once_in_the_password_threads() -> None:
    """No hash is made at start (every command paid ~0.15 s for one); serving warms it up in
    the password threads, so a login for an unknown account does as much work as any."""
    import threading

    from argon2 import PasswordHasher

    made_in: list[int] = []

    class Watched(PasswordHasher):
        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            made_in.append(threading.get_ident())
            return super().hash(password, salt=salt)

    signer = Signer("unit-test-key", visitor_token_days=30)
    signer.passwords = Watched()
    try:
        assert made_in == []
        signer.warm_up()
        assert not await signer.verify_password(None, "anything")
        assert not await signer.verify_password(None, "anything else")
        assert len(made_in) == 1 and made_in[0] != threading.get_ident()
    finally:
        signer.close()


def test_csrf_tokens_must_match_a_signed_cookie(signer: Signer) -> None:
    cookie = signer.new_csrf_secret()
    assert signer.csrf_matches(cookie, cookie)
    assert not signer.csrf_matches(cookie, signer.new_csrf_secret())
    assert not signer.csrf_matches("forged", "forged")
    assert not signer.csrf_matches(None, cookie)
