"""Secrets at rest.

Bot credentials are sealed with Fernet (AES-128-CBC with HMAC-SHA256). The key is derived from
``CRM_PLUGIN_SECRET_KEY`` (or the app's ``SECRET_KEY``); keys used before go into ``CRM_PLUGIN_OLD_SECRET_KEYS``
and still open what they sealed (Fernet's MultiFernet), while everything sealed from now on uses the current
key. A token no key opens raises ``UnreadableCredentials``: the bot's tokens must be typed again.

Webhook secrets are not sealed but hashed: the plugin only ever compares them with what the platform sends
(Telegram's ``X-Telegram-Bot-Api-Secret-Token``, the ``secret`` of a VK Callback event), so a SHA-256 digest
compared in constant time is enough. It needs no key (a key change leaves every webhook working, and a
migration can convert stored values), and the column alone cannot forge a request. The secret itself is a
32-byte random value, so its digest cannot be guessed back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import PluginStartupError

WEBHOOK_DIGEST_PREFIX = "sha256:"


class UnreadableCredentials(PluginStartupError):
    """Stored credentials no configured key opens: the secret key changed and the old one is not in
    CRM_PLUGIN_OLD_SECRET_KEYS. (A PluginStartupError for callers written before key rotation.)"""


def _fernet(key_material: str) -> Fernet:
    # Derive a dedicated key so the app's SECRET_KEY itself never encrypts anything of ours.
    digest = hashlib.sha256(b"crm_plugin/credentials\0" + key_material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def parse_old_keys(value: str | None) -> list[str]:
    """CRM_PLUGIN_OLD_SECRET_KEYS: comma-separated keys, blanks ignored."""
    return [key.strip() for key in (value or "").split(",") if key.strip()]


class SecretBox:
    def __init__(self, key_material: str, old_keys: Iterable[str] = ()) -> None:
        if not key_material:
            raise PluginStartupError(
                "crm_plugin: no key to encrypt bot tokens; set SECRET_KEY or CRM_PLUGIN_SECRET_KEY in the app config"
            )
        self._current = _fernet(key_material)
        old = [_fernet(key) for key in dict.fromkeys(old_keys) if key and key != key_material]
        self._fernet = MultiFernet([self._current, *old])  # the first encrypts; each one decrypts

    def seal(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError, TypeError, AttributeError):
            raise UnreadableCredentials(
                "crm_plugin: stored bot credentials cannot be decrypted; the secret key changed: put the old key "
                "into CRM_PLUGIN_OLD_SECRET_KEYS, or type the bot's tokens again in the admin"
            ) from None

    def is_current(self, token: str) -> bool:
        """Whether ``token`` was sealed with the current key (False: an old key, or none opens it)."""
        try:
            self._current.decrypt(token.encode())
        except (InvalidToken, ValueError, TypeError, AttributeError):
            return False
        return True

    def reseal(self, token: str) -> str:
        """``token`` sealed again with the current key; UnreadableCredentials when no key opens it."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError, AttributeError):
            self.open(token)  # raises UnreadableCredentials with the one message
            raise


def webhook_secret_digest(secret: str) -> str:
    """What is stored of a webhook secret: ``sha256:<hex>``."""
    return WEBHOOK_DIGEST_PREFIX + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def is_webhook_secret_digest(value: str) -> bool:
    rest = value.removeprefix(WEBHOOK_DIGEST_PREFIX)
    return rest != value and len(rest) == 64 and all(c in "0123456789abcdef" for c in rest)


def webhook_secret_matches(given: object, expected: str | None) -> bool:
    """Whether ``given`` (what a request carries) is the webhook secret; ``expected`` is the stored digest
    (or, for a channel built by hand, the secret itself). Compared in constant time."""
    if not isinstance(given, str) or not given or not expected:
        return False
    wanted = expected if is_webhook_secret_digest(expected) else webhook_secret_digest(expected)
    return hmac.compare_digest(webhook_secret_digest(given).encode(), wanted.encode())


def mask(secret: str | None) -> str:
    """What a page may show of a secret: its last four characters."""
    if not secret:
        return ""
    return "•" * 8 + secret[-4:] if len(secret) > 8 else "•" * 8
