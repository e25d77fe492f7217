"""A DingTalk custom group robot: `POST /dingtalk/robot/send?access_token=…&timestamp=…&sign=…`.

Checks what DingTalk checks: the access token, the "加签" signature and its 1-hour timestamp window, an optional
keyword, and 20 messages a minute per robot (going over throttles the robot for 10 minutes, as the doc says).
Errors are HTTP 200 with a non-zero errcode, as DingTalk answers them.
"""

import base64
import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from integrations.simulators.server import SimRequest, SimResponse

SIGN_WINDOW_MS = 3600 * 1000


def _error(errcode: int, errmsg: str) -> SimResponse:
    return SimResponse.json({"errcode": errcode, "errmsg": errmsg})


class DingTalkSimulator:
    """One group robot with the given access token and (optional) signing secret."""

    prefix = "/dingtalk"
    faults_apply = False

    def __init__(
        self,
        credentials: dict[str, str],
        *,
        clock: Callable[[], float] = time.time,
        per_minute: int = 20,
        penalty_seconds: float = 600,
        keywords: list[str] | None = None,
    ):
        self.access_token = credentials["access_token"]
        self.secret = credentials.get("secret") or ""
        self.clock = clock
        self.per_minute = per_minute
        self.penalty_seconds = penalty_seconds
        self.keywords = keywords or []
        self.received: list[dict[str, Any]] = []
        self._accepted_at: deque[float] = deque()
        self._throttled_until = 0.0
        self._lock = threading.Lock()

    def throttled(self) -> SimResponse:
        """DingTalk's over-limit answer."""
        return _error(130101, "send too fast, exceed 20 times per minute")

    def handle(self, request: SimRequest) -> SimResponse:
        """Check the token, signature, content and rate; record the message if all pass."""
        if request.path.rstrip("/") != "/robot/send":
            return SimResponse.json({"errcode": 404, "errmsg": "not found"}, 404)
        if request.method != "POST":
            return SimResponse(405, b"Method Not Allowed", {"Content-Type": "text/plain", "Allow": "POST"})
        if request.query.get("access_token") != self.access_token:
            return _error(300001, "token is not exist")
        if self.secret and not self._signature_ok(request.query):
            return _error(310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
        try:
            message = request.json()
        except ValueError:
            message = None
        # Unconfirmed: the errcode DingTalk gives a body it cannot read; 40035 is what clients report seeing.
        if not isinstance(message, dict) or not self._content(message):
            return _error(40035, "缺少参数 json")
        if self.keywords and not any(word in self._content(message) for word in self.keywords):
            return _error(310000, "keywords not in content")
        with self._lock:
            now = self.clock()
            if now < self._throttled_until:
                return self.throttled()
            while self._accepted_at and self._accepted_at[0] <= now - 60:
                self._accepted_at.popleft()
            if len(self._accepted_at) >= self.per_minute:
                self._throttled_until = now + self.penalty_seconds
                return self.throttled()
            self._accepted_at.append(now)
            self.received.append(message)
        return _error(0, "ok")

    def _signature_ok(self, query: dict[str, str]) -> bool:
        timestamp, given = query.get("timestamp", ""), query.get("sign", "")
        if not timestamp.isdigit() or not given:
            return False
        if abs(self.clock() * 1000 - int(timestamp)) > SIGN_WINDOW_MS:
            return False
        # The query was already URL-decoded, so compare with the plain base64 value.
        mac = hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256)
        return hmac.compare_digest(base64.b64encode(mac.digest()).decode(), given)

    @staticmethod
    def _content(message: dict[str, Any]) -> str:
        """The text a message shows, or "" when its type or required fields are missing."""
        kind = message.get("msgtype")
        body = message.get(kind) if isinstance(kind, str) else None
        if not isinstance(body, dict):
            return ""
        if kind == "text":
            return str(body.get("content") or "")
        if kind == "markdown":
            if not body.get("title") or not body.get("text"):
                return ""
            return f"{body['title']}\n{body['text']}"
        if kind in {"link", "actionCard"}:
            return f"{body.get('title', '')}\n{body.get('text', '')}".strip()
        if kind == "feedCard":
            return "\n".join(str(link.get("title", "")) for link in body.get("links", []) if isinstance(link, dict))
        return ""
