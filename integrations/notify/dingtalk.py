"""DingTalk custom group robot (自定义机器人) webhook: `POST /robot/send?access_token=…`, markdown messages.

Speaks the robot webhook of open.dingtalk.com as of 2024/2025, with the "加签" signature (timestamp in ms,
HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret, base64, then URL-encoded). No ORM here.
"""

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

import requests

from integrations.notify.errors import NotifyError, http_request, json_body, raise_for_http_status

SERVICE = "DingTalk"

# Too fast (20 messages a minute per robot) and the organisation-wide webhook quota: both pass with time.
TRANSIENT_ERRCODES = {130101, 90030}


def sign(secret: str, timestamp_ms: int) -> str:
    """The URL-encoded `sign` parameter for a timestamp, as DingTalk's own Python snippet computes it."""
    string_to_sign = f"{timestamp_ms}\n{secret}"
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(url: str, secret: str | None, timestamp_ms: int | None = None) -> str:
    """The webhook URL with `timestamp` and `sign` appended when the robot has a signing secret."""
    if not secret:
        return url
    timestamp_ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={sign(secret, timestamp_ms)}"


def markdown_payload(*, title: str, text: str, at_mobiles: list[str]) -> dict:
    """A markdown message; DingTalk only highlights an @ when the text itself contains "@mobile"."""
    missing = [mobile for mobile in at_mobiles if f"@{mobile}" not in text]
    if missing:
        text = f"{text}\n\n" + " ".join(f"@{mobile}" for mobile in missing)
    return {
        "msgtype": "markdown",
        "markdown": {"title": title, "text": text},
        "at": {"atMobiles": list(at_mobiles), "isAtAll": False},
    }


def send(
    *,
    url: str,
    secret: str | None,
    title: str,
    text: str,
    at_mobiles: list[str] = [],  # noqa: B006 - never mutated
    session: requests.Session | None = None,
    timeout: float = 10,
) -> None:
    """Post one markdown message to a group robot; raises NotifyError (never quoting the URL or secret)."""
    payload = markdown_payload(title=title, text=text, at_mobiles=at_mobiles)
    response = http_request(session, "POST", signed_url(url, secret), service=SERVICE, timeout=timeout, json=payload)
    raise_for_http_status(response, service=SERVICE)
    data = json_body(response, service=SERVICE)
    # Errors come back as HTTP 200 with a non-zero errcode.
    try:
        errcode = int(data.get("errcode", -1))
    except (TypeError, ValueError):
        errcode = -1
    if errcode == 0:
        return
    errmsg = str(data.get("errmsg", ""))[:200]
    if errcode in TRANSIENT_ERRCODES:
        # The doc says an over-limit robot is throttled for 10 minutes; the outbox's growing backoff covers that.
        raise NotifyError(
            f"{SERVICE} throttled the robot: errcode {errcode} {errmsg}",
            code=f"DINGTALK_{errcode}",
            transient=True,
            retry_after=60,
        )
    # 310000 (sign not match / keywords not in content / ip not in whitelist), 300001 (token), 400102 (disabled).
    raise NotifyError(f"{SERVICE} refused the message: errcode {errcode} {errmsg}", code=f"DINGTALK_{errcode}")
