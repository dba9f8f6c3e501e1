"""How a stored phone number (E.164) is shown to people: international format, spaces only."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers.phonemetadata import NumberFormat

# libphonenumber groups Kazakh mobiles 3-3-4, borrowed from the shared +7 plan; people in
# Kazakhstan write them 3-3-2-2, as Russia's own numbers are written.
_KZ_MOBILE = [NumberFormat(pattern=r"(\d{3})(\d{3})(\d{2})(\d{2})", format=r"\1 \2 \3 \4")]


@lru_cache(maxsize=4096)  # a pure function on the console's frame path: parsing costs ~80 µs
def display(e164: str) -> str:
    """'+77011234567' -> '+7 701 123 45 67'; what cannot be parsed is shown as stored."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if (
        phonenumbers.region_code_for_number(number) == "KZ"
        and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    ):
        return phonenumbers.format_by_pattern(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL, _KZ_MOBILE)
    # International notation (ITU-T E.123) separates groups with spaces, not the
    # national hyphens libphonenumber keeps ('+1 415-555-2671').
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL).replace("-", " ")
