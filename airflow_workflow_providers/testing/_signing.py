"""HMAC signatures for the emulators' expiring download URLs (one random secret per process)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

_SECRET = secrets.token_bytes(32)


def sign(*parts: object) -> str:
    return hmac.new(_SECRET, "|".join(map(str, parts)).encode(), hashlib.sha256).hexdigest()


def verify(signature: str, *parts: object) -> bool:
    return hmac.compare_digest(sign(*parts), signature)
