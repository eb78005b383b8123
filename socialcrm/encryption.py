"""Encryption at rest for small secrets, under the keys in settings.CHANNEL_SECRETS_KEYS.

Fernet (AES-128-CBC with an HMAC-SHA256, from `cryptography`) through MultiFernet: the first key
encrypts, every key decrypts, so a new key can go in front while data written under the old one is
re-encrypted (`manage.py rotate_channel_secrets`). A token that no key opens, or that was altered,
raises cryptography.fernet.InvalidToken.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt", "reencrypt"]


def encrypt(plaintext: bytes) -> str:
    """`plaintext` as one Fernet token (ASCII text), under the first configured key."""
    return _keys().encrypt(plaintext).decode()


def decrypt(token: str) -> bytes:
    """What `encrypt` was given, if any configured key opens `token`; else InvalidToken."""
    return _keys().decrypt(token.encode())


def reencrypt(token: str) -> str:
    """`token` encrypted anew under the first configured key (its plaintext is never returned); else InvalidToken."""
    return _keys().rotate(token.encode()).decode()


def _keys() -> MultiFernet:
    # Built on each call (it is cheap), so a changed setting (tests, rotation) takes effect at once.
    return MultiFernet([Fernet(key) for key in settings.CHANNEL_SECRETS_KEYS])
