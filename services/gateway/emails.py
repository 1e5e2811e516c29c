"""E-mail addresses as the gateway keeps them: one spelling per address.

An address is NFKC-normalised, then lower-cased, before it is stored or looked up, so a
look-alike (full-width letters, a ligature, another case) of an existing address is the same
address and registering it is `409 email_taken`. Registration also refuses what is not an
address (email-validator's syntax rules: no `<script>`, no space, a dotted domain).
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email


def normalised_email(text: str) -> str:
    """The stored spelling: NFKC first (U+210C, a black-letter H, becomes `H`), then lower case
    (as before)."""
    return unicodedata.normalize("NFKC", text.strip()).lower()


def checked_email(text: str) -> str:
    """The stored spelling of a valid address; `ValueError` (a 422) for anything else.
    Only syntax is checked: no DNS look-up, so registration never waits on the network."""
    email = normalised_email(text)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("must be an e-mail address like ada@example.com") from None
    return email
