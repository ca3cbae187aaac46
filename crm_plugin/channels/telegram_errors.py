"""What a failed Bot API call means for delivery: wait, retry, give up, or stop writing to the person."""

from __future__ import annotations

import re

import requests
from telebot.apihelper import ApiException, ApiHTTPException, ApiInvalidJSONException, ApiTelegramException

from .base import SendError

_RETRY_AFTER_TEXT = re.compile(r"retry after (\d+)", re.IGNORECASE)

# Everything a Bot API call can raise besides our own bugs. KeyError: a JSON answer without "ok".
CALL_ERRORS = (ApiException, requests.RequestException, KeyError)


def send_error(exc: BaseException, method: str) -> SendError:
    if isinstance(exc, ApiTelegramException):
        return _from_telegram(exc, method)
    if isinstance(exc, ApiHTTPException):
        status = exc.result.status_code
        transient = status >= 500 or status == 429
        return SendError(f"Telegram {method}: HTTP {status}", permanent=not transient)
    if isinstance(exc, ApiInvalidJSONException):
        return SendError(f"Telegram {method}: the answer is not JSON")
    if isinstance(exc, requests.Timeout):
        return SendError(f"Telegram {method}: time-out")
    if isinstance(exc, requests.RequestException):
        return SendError(f"Telegram {method}: connection failed ({type(exc).__name__})")
    return SendError(f"Telegram {method}: unexpected answer ({exc!r})")


def _from_telegram(exc: ApiTelegramException, method: str) -> SendError:
    code, description = exc.error_code, str(exc.description)
    message = f"Telegram {method}: {code} {description}"
    if code == 429:
        return SendError(message, retry_after=retry_after(exc))
    if code == 403:
        # "bot was blocked by the user", "user is deactivated", "bot was kicked from the group chat",
        # "bot can't initiate conversation with a user": nobody to write to any more.
        return SendError(message, unreachable=True)
    if isinstance(code, int) and code >= 500:
        return SendError(message)
    return SendError(message, permanent=True)  # 400 chat not found, 401 bad token, 409 conflict...


def retry_after(exc: ApiTelegramException) -> float:
    parameters = exc.result_json.get("parameters") or {}
    value = parameters.get("retry_after")
    if isinstance(value, (int, float)) and value > 0:
        return float(value)
    match = _RETRY_AFTER_TEXT.search(str(exc.description))
    return float(match.group(1)) if match else 1.0
