"""What a failed VK API call means for delivery: wait, retry, give up, or stop writing to the person."""

from __future__ import annotations

import requests
from vk_api.exceptions import ApiError, ApiHttpError, VkApiError

from .base import SendError

TOO_MANY_REQUESTS = 6
TRANSIENT = frozenset({1, 10})  # unknown error, internal server error
RATE_LIMITED = frozenset({TOO_MANY_REQUESTS, 9})  # too many requests a second, flood control
# 900 the person blacklisted the community, 901 no permission to write (never wrote / disallowed),
# 902 their privacy settings forbid it.
UNREACHABLE = frozenset({900, 901, 902})

# What a VK call can raise besides our own bugs. ValueError: a 200 answer that is not JSON;
# KeyError: an upload answer without the fields vk_api reads.
CALL_ERRORS = (VkApiError, requests.RequestException, ValueError, KeyError)


def send_error(exc: BaseException, method: str) -> SendError:
    if isinstance(exc, ApiError):
        message = f"VK {method}: [{exc.code}] {exc.error.get('error_msg', '')}"
        if exc.code in RATE_LIMITED:
            return SendError(message, retry_after=1.0)
        if exc.code in UNREACHABLE:
            return SendError(message, unreachable=True)
        if exc.code in TRANSIENT:
            return SendError(message)
        return SendError(message, permanent=True)  # 5 auth failed, 7 no permission, 100 bad parameter...
    if isinstance(exc, ApiHttpError):
        status = exc.response.status_code
        return SendError(f"VK {method}: HTTP {status}", permanent=status < 500 and status != 429)
    if isinstance(exc, requests.Timeout):
        return SendError(f"VK {method}: time-out")
    if isinstance(exc, requests.RequestException):
        return SendError(f"VK {method}: connection failed ({type(exc).__name__})")
    return SendError(f"VK {method}: unexpected answer ({exc!r})")
