"""The one error type of the notification protocols, and how HTTP failures become it.

Robot webhook URLs carry their credential (DingTalk's access_token, WeCom's key), so nothing here ever puts a URL,
a request or a secret into an error message: the outbox stores these messages and shows them to IT.
"""

import contextlib
from collections.abc import Iterable
from typing import Any

import requests


class NotifyError(Exception):
    """Sending a notification failed; `transient` errors are worth retrying later, others are not."""

    def __init__(
        self, message: str, *, code: str = "NOTIFY_ERROR", transient: bool = False, retry_after: float | None = None
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.transient = transient
        self.retry_after = retry_after


def http_request(
    session: requests.Session | None, method: str, url: str, *, service: str, timeout: float, **kwargs: Any
) -> requests.Response:
    """One HTTP exchange; timeouts and connection failures become transient NotifyErrors."""
    session = session or requests.Session()
    try:
        return session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        # `from None`: requests' own message quotes the URL, and with it the robot's token.
        raise NotifyError(f"{service}: no answer within {timeout}s", code="TIMEOUT", transient=True) from None
    except requests.RequestException as exc:
        raise NotifyError(
            f"{service}: connection failed ({exc.__class__.__name__})", code="CONNECTION", transient=True
        ) from None


def raise_for_http_status(response: requests.Response, *, service: str) -> None:
    """429 and 5xx are transient (honouring Retry-After); any other 4xx is permanent."""
    status = response.status_code
    if status < 400:
        return
    retry_after = None
    with contextlib.suppress(ValueError):
        retry_after = max(0.0, float(response.headers.get("Retry-After", "")))
    if status == 429 or status >= 500:
        raise NotifyError(f"{service}: HTTP {status}", code=f"HTTP_{status}", transient=True, retry_after=retry_after)
    raise NotifyError(f"{service}: request refused (HTTP {status})", code=f"HTTP_{status}")


def json_body(response: requests.Response, *, service: str) -> dict[str, Any]:
    """The JSON object of a reply; anything else (a proxy's HTML page, a cut body) is a transient error."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise NotifyError(f"{service}: the reply is not a JSON object", code="GARBLED", transient=True)
    return data


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value blotted out: a last guard before an error is stored or shown."""
    for secret in secrets:
        # Short values (a "1", an empty string) would blot out ordinary words and protect nothing.
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return text
