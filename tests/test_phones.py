"""Phone numbers as people read them; stored and dialled as E.164."""

from __future__ import annotations

import pytest

from server.services.phones import display


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+77011234567", "+7 701 123 45 67"),   # Kazakh mobile, written 3-3-2-2 as in Kazakhstan
        ("+77172123456", "+7 7172 12 34 56"),   # Astana landline keeps its area code
        ("+79161234567", "+7 916 123 45 67"),   # Russian mobile, spaces rather than hyphens
        ("+380441234567", "+380 44 123 4567"),  # Kyiv
        ("+14155552671", "+1 415 555 2671"),
        ("not a number", "not a number"),       # shown as stored rather than lost
    ],
)
def test_phone_is_shown_in_international_format(stored: str, shown: str) -> None:
    assert display(stored) == shown
