"""Password policy: long enough, and not one of the passwords attackers try first."""

from __future__ import annotations

from functools import lru_cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 10
MAX_LENGTH = 1024


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # The 30,000 most common passwords from leaked password lists, as shipped with zxcvbn.
    return frozenset(FREQUENCY_LISTS["passwords"])


def password_weakness(password: str, *, email: str | None = None) -> str | None:
    """Why the password is too weak to accept, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) <= 2:
        return "This password is too common; choose another."
    if email and lowered == email.lower():
        return "The password must not be your email address."
    return None
