"""Secrets at rest (TOTP secrets, exchange keys): AES-256-GCM with a per-value random nonce.

The associated data binds a ciphertext to its purpose and owner, so a value
copied into another user's row, or into another column, does not decrypt.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.gateway.errors import EncryptionUnavailable

NONCE_BYTES = 12


class DecryptionFailed(EncryptionUnavailable):
    """Wrong key, tampered value, or a value that belongs to another owner or purpose."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the encryption key must be 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def seal(self, plaintext: str, *, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def open(self, sealed: bytes, *, context: str) -> str:
        try:
            nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
            return self._aead.decrypt(nonce, ciphertext, context.encode()).decode()
        except (InvalidTag, ValueError):
            raise DecryptionFailed(f"cannot decrypt a value for {context.split(':')[0]}") from None
