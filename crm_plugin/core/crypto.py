"""Encryption of bot tokens and secrets at rest (Fernet: AES-128-CBC with HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from .errors import PluginStartupError


class SecretBox:
    def __init__(self, key_material: str) -> None:
        if not key_material:
            raise PluginStartupError(
                "crm_plugin: no key to encrypt bot tokens; set SECRET_KEY or CRM_PLUGIN_SECRET_KEY in the app config"
            )
        # Derive a dedicated key so the app's SECRET_KEY itself never encrypts anything of ours.
        digest = hashlib.sha256(b"crm_plugin/credentials\0" + key_material.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise PluginStartupError(
                "crm_plugin: stored bot credentials cannot be decrypted; the secret key changed, "
                "restore it or enter the bot tokens again in the admin"
            ) from None


def mask(secret: str | None) -> str:
    """What a page may show of a secret: its last four characters."""
    if not secret:
        return ""
    return "•" * 8 + secret[-4:] if len(secret) > 8 else "•" * 8
