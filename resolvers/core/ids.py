"""Opaque Relay global IDs: base64url of "<Type>:<uuid>". Decoding them is schema/core/ids.py's."""

from __future__ import annotations

import base64
import uuid


def encode_id(type_name: str, pk: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk.hex}".encode()).decode().rstrip("=")
