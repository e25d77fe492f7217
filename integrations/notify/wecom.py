"""WeCom (企业微信) group robot webhook: `POST /cgi-bin/webhook/send?key=…`, markdown or text messages.

Speaks the group-robot API of developer.work.weixin.qq.com (document path 91770) as of 2024/2025. The key in
the URL is the only credential, so the URL never appears in an error. No ORM here.
"""

import requests

from integrations.notify.errors import NotifyError, http_request, json_body, raise_for_http_status

SERVICE = "WeCom"
MARKDOWN_MAX_BYTES = 4096  # unconfirmed in the retrieved doc excerpt; the simulator enforces it too
TEXT_MAX_BYTES = 2048
TRUNCATED_MARKER = "…"

# 45009: "api freq out of limit", the 20-messages-a-minute rule; it passes with time.
TRANSIENT_ERRCODES = {45009}


def truncate_utf8(text: str, max_bytes: int, marker: str = TRUNCATED_MARKER) -> str:
    """`text` cut to at most `max_bytes` of UTF-8 on a character boundary, ending with `marker` when cut."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    room = max_bytes - len(marker.encode("utf-8"))
    # The input was valid UTF-8, so "ignore" can only drop the one character the cut went through.
    return encoded[:room].decode("utf-8", errors="ignore") + marker


def payload(*, title: str, text: str, mentioned_mobiles: list[str]) -> dict:
    """A markdown message, or a text message when someone is to be @-ed (mention lists do not work in markdown)."""
    if mentioned_mobiles:
        content = truncate_utf8(f"{title}\n{text}", TEXT_MAX_BYTES)
        return {
            "msgtype": "text",
            "text": {"content": content, "mentioned_mobile_list": list(mentioned_mobiles)},
        }
    return {"msgtype": "markdown", "markdown": {"content": truncate_utf8(f"### {title}\n{text}", MARKDOWN_MAX_BYTES)}}


def send(
    *,
    url: str,
    title: str,
    text: str,
    mentioned_mobiles: list[str] = [],  # noqa: B006 - never mutated
    session: requests.Session | None = None,
    timeout: float = 10,
) -> None:
    """Post one message to a group robot; raises NotifyError (never quoting the URL and its key)."""
    body = payload(title=title, text=text, mentioned_mobiles=mentioned_mobiles)
    response = http_request(session, "POST", url, service=SERVICE, timeout=timeout, json=body)
    raise_for_http_status(response, service=SERVICE)
    data = json_body(response, service=SERVICE)
    try:
        errcode = int(data.get("errcode", -1))
    except (TypeError, ValueError):
        errcode = -1
    if errcode == 0:
        return
    errmsg = str(data.get("errmsg", ""))[:200]
    if errcode in TRANSIENT_ERRCODES:
        raise NotifyError(
            f"{SERVICE} throttled the robot: errcode {errcode} {errmsg}",
            code=f"WECOM_{errcode}",
            transient=True,
            retry_after=60,
        )
    # 93000 (bad key), 40008 (message type), 44004 (empty content), 40058 (too long): resending will not help.
    raise NotifyError(f"{SERVICE} refused the message: errcode {errcode} {errmsg}", code=f"WECOM_{errcode}")
