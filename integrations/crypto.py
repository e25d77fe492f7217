"""Encryption at rest for channel, ERP and robot secrets (Fernet; several keys allow rotation)."""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> MultiFernet:
    keys = list(settings.LOOPLINE_ENCRYPTION_KEYS)
    if not keys:
        # Development default: derived from SECRET_KEY, so a demo needs no extra set-up.
        keys = [base64.urlsafe_b64encode(hashlib.sha256(b"loopline-secrets:" + settings.SECRET_KEY.encode()).digest())]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("LOOPLINE_ENCRYPTION_KEYS must be Fernet keys (url-safe base64, 32 bytes)") from exc


def encrypt_json(value: dict) -> str:
    """Encrypt a small dict of secrets with the newest key."""
    return _fernet().encrypt(json.dumps(value, ensure_ascii=False).encode()).decode()


def decrypt_json(token: str) -> dict:
    """Decrypt with any configured key; a token no key opens is an error, never silently empty."""
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ImproperlyConfigured("A stored secret cannot be decrypted with LOOPLINE_ENCRYPTION_KEYS") from exc


def rotate(token: str) -> str:
    """Re-encrypt a token with the newest key (after adding a key in front of LOOPLINE_ENCRYPTION_KEYS)."""
    return _fernet().rotate(token.encode()).decode()
