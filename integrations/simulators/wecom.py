"""A WeCom (企业微信) group robot: `POST /wecom/cgi-bin/webhook/send?key=…`.

Checks what WeCom checks: the key, the message type, content sizes (text ≤ 2048 bytes, markdown ≤ 4096 bytes
of UTF-8) and 20 messages a minute per robot over a sliding window. Errors are HTTP 200 with a non-zero errcode.
"""

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from integrations.simulators.server import SimRequest, SimResponse

CONTENT_LIMITS = {"text": 2048, "markdown": 4096}
OTHER_TYPES = {"image", "news", "file", "voice", "template_card", "markdown_v2"}


def _error(errcode: int, errmsg: str) -> SimResponse:
    # WeCom appends a hint and a lookup link to every errmsg.
    if errcode:
        errmsg = f"{errmsg}, more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
    return SimResponse.json({"errcode": errcode, "errmsg": errmsg})


class WecomSimulator:
    """One group robot with the given webhook key."""

    prefix = "/wecom"
    faults_apply = False

    def __init__(self, credentials: dict[str, str], *, clock: Callable[[], float] = time.time, per_minute: int = 20):
        self.key = credentials["key"]
        self.clock = clock
        self.per_minute = per_minute
        self.received: list[dict[str, Any]] = []
        self._accepted_at: deque[float] = deque()
        self._lock = threading.Lock()

    def throttled(self) -> SimResponse:
        """WeCom's over-limit answer."""
        return _error(45009, "api freq out of limit")

    def handle(self, request: SimRequest) -> SimResponse:
        """Check the key, the message and the rate; record the message if all pass."""
        if request.path.rstrip("/") != "/cgi-bin/webhook/send":
            return SimResponse.json({"errcode": 404, "errmsg": "not found"}, 404)
        if request.method != "POST":
            return SimResponse(405, b"Method Not Allowed", {"Content-Type": "text/plain", "Allow": "POST"})
        if request.query.get("key") != self.key:
            return _error(93000, "invalid webhook url")
        try:
            message = request.json()
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return _error(40008, "invalid message type")
        kind = message.get("msgtype")
        if kind not in CONTENT_LIMITS and kind not in OTHER_TYPES:
            return _error(40008, "invalid message type")
        if kind in CONTENT_LIMITS:
            body = message.get(kind)
            content = body.get("content") if isinstance(body, dict) else None
            if not isinstance(content, str) or not content.strip():
                return _error(44004, "text content is empty")
            limit = CONTENT_LIMITS[kind]
            if len(content.encode("utf-8")) > limit:
                # Unconfirmed errcode for an over-long content; 40058 is what clients report seeing.
                return _error(40058, f"{kind}.content exceed max length {limit}")
        with self._lock:
            now = self.clock()
            while self._accepted_at and self._accepted_at[0] <= now - 60:
                self._accepted_at.popleft()
            if len(self._accepted_at) >= self.per_minute:
                return self.throttled()
            self._accepted_at.append(now)
            self.received.append(message)
        return _error(0, "ok")
