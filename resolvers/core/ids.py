"""Opaque Relay global IDs: base64url of "<Type>:<uuid>". Decoding them is schema/core/ids.py's."""

from __future__ import annotations

import binascii
import uuid

# base64url's alphabet from base64's (base64.urlsafe_b64encode, without its two extra calls: every
# node of a page encodes its ID).
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def encode_id(type_name: str, pk: uuid.UUID) -> str:
    encoded = binascii.b2a_base64(f"{type_name}:{pk.hex}".encode(), newline=False)
    return encoded.translate(_URLSAFE).decode().rstrip("=")
