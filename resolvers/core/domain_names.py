"""Domain names and hostnames in the one form they are stored and compared in: IDNA A-labels, lower case."""

from __future__ import annotations

import idna

MAX_NAME_LENGTH = 253
# Bounds the work spent on hostile input; a valid name is never longer, even before IDNA mapping.
_MAX_INPUT_LENGTH = 4 * MAX_NAME_LENGTH


def normalise_domain_name(value: str) -> str | None:
    """`value` in its IDNA (punycode) lower-case form without a trailing dot, e.g. `Müller.AT` →
    `xn--mller-kva.at`; None when it is not a name of at least two labels under an alphabetic TLD."""
    candidate = value.strip()
    if candidate.endswith("."):
        candidate = candidate[:-1]
    if not candidate or len(candidate) > _MAX_INPUT_LENGTH:
        return None
    try:
        # UTS 46 maps case and full-width letters before the IDNA 2008 checks:
        # label lengths, hyphens, and characters no registry accepts (`_`, spaces, symbols).
        encoded = idna.encode(candidate, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None
    labels = encoded.split(".")
    if len(labels) < 2 or len(encoded) > MAX_NAME_LENGTH:
        return None
    tld = labels[-1]
    # Rules out IP addresses (`192.0.2.1`), which pass IDNA as four numeric labels.
    if not (tld.isalpha() or tld.startswith("xn--")):
        return None
    return encoded


def normalise_hostname(value: str) -> str | None:
    """A nameserver's hostname as registries take it (`NS1.Example.com.` → `ns1.example.com`),
    or None when it is not one. Registries want nameservers under a real TLD, in A-label form,
    exactly the rules of a domain name."""
    return normalise_domain_name(value)


def search_form(term: str) -> str:
    """A search term in the form names are stored in, so `Müller` finds `xn--mller-kva.at`.

    Non-ASCII parts are converted label by label, so they match whole labels only; a part that
    is not a valid label stays as typed (lower case) and simply matches nothing.
    """
    parts = []
    for part in term.strip().lower().split("."):
        if part.isascii():
            parts.append(part)
            continue
        try:
            parts.append(idna.encode(part, uts46=True).decode("ascii"))
        except (idna.IDNAError, UnicodeError):
            parts.append(part)
    return ".".join(parts)
