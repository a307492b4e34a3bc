"""Reading Relay global IDs: the one place a global ID from a client is decoded (base64url of
"<Type>:<uuid>", as resolvers/core/ids.py encodes it). The API's types and the staff command line call
it; the rules below them take keys."""

from __future__ import annotations

import base64
import binascii
import uuid

from resolvers.core.errors import BadUserInput


def decode_global_id(global_id: str) -> tuple[str, uuid.UUID]:
    """The type name and key of a global ID; BAD_USER_INPUT when it is not one of ours."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        type_name, _, key = raw.partition(":")
        if not type_name.isalpha():
            raise ValueError(type_name)
        return type_name, uuid.UUID(hex=key)
    except (ValueError, UnicodeError, binascii.Error):
        raise BadUserInput(f"Invalid ID: {global_id[:100]!r}.") from None


def decode_id(global_id: str, type_name: str) -> uuid.UUID | None:
    """The key of a global ID of the given type; None for a well-formed ID of another type."""
    decoded_type, pk = decode_global_id(global_id)
    return pk if decoded_type == type_name else None
