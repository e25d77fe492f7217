"""Aliyun SMS `SendSms` (dysmsapi 2017-05-25, RPC signature v1) at `/aliyun-sms/`, GET or POST.

Checks what the Aliyun gateway and SMS service check: the AccessKeyId, the HMAC-SHA1 signature (recomputed
here independently of our client), the Timestamp within 15 minutes, a SignatureNonce used only once, the phone
numbers, the TemplateParam JSON, and flow control per number and template (1 a minute, the 3rd-party figure).
Gateway errors are HTTP 4xx with a JSON body; business errors are HTTP 200 with a non-OK Code, as Aliyun does.
"""

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from integrations.simulators.server import SimRequest, SimResponse

REQUIRED = [
    "Action",
    "Version",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "Signature",
    "PhoneNumbers",
    "SignName",
    "TemplateCode",
]
TIMESTAMP_SKEW_SECONDS = 15 * 60
MOBILE = re.compile(r"^1[3-9]\d{9}$")
PARAM_MAX_CHARS = 35  # unconfirmed platform rule, mirrored by the client's truncation


def _encode(value: str) -> str:
    # RFC 3986: unreserved characters stay, everything else (space, *, /, non-ASCII bytes) is %XX.
    return quote(value.encode("utf-8"), safe="~-._")


class AliyunSmsSimulator:
    """The SendSms action for one AccessKey pair."""

    prefix = "/aliyun-sms"
    faults_apply = False

    def __init__(
        self,
        credentials: dict[str, str],
        *,
        clock: Callable[[], float] = time.time,
        per_number_per_minute: int = 1,
    ):
        self.access_key_id = credentials["access_key_id"]
        self.access_key_secret = credentials["access_key_secret"]
        self.clock = clock
        self.per_number_per_minute = per_number_per_minute
        self.received: list[dict[str, Any]] = []
        self._nonces: dict[str, float] = {}
        self._sent_at: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def throttled(self) -> SimResponse:
        """Aliyun's API-level throttle answer."""
        return self._gateway_error(400, "Throttling.User", "Request was denied due to user flow control.")

    def handle(self, request: SimRequest) -> SimResponse:
        """Authenticate the request, validate the message, apply flow control and record it."""
        if request.path not in ("", "/"):
            return self._gateway_error(404, "InvalidAction.NotFound", "Specified api is not found.")
        if request.method not in ("GET", "POST"):
            return SimResponse(405, b"Method Not Allowed", {"Content-Type": "text/plain"})
        params = request.form
        for name in REQUIRED:
            if not params.get(name):
                return self._gateway_error(400, "MissingParameter", f"{name} is mandatory for this action.")
        if params["Action"] != "SendSms" or params["Version"] != "2017-05-25":
            return self._gateway_error(404, "InvalidAction.NotFound", "Specified api is not found.")
        if params["AccessKeyId"] != self.access_key_id:
            return self._gateway_error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return self._gateway_error(400, "InvalidParameter", "The specified signature method is not supported.")
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return self._gateway_error(
                400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."
            )
        now = self.clock()
        if abs(now - stamp) > TIMESTAMP_SKEW_SECONDS:
            return self._gateway_error(
                400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
            )
        string_to_sign = self._string_to_sign(request.method, params)
        expected = base64.b64encode(
            hmac.new(f"{self.access_key_secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        if not hmac.compare_digest(expected, params["Signature"]):
            return self._gateway_error(
                400,
                "SignatureDoesNotMatch",
                f"Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}",
            )
        with self._lock:
            # Remember nonces as long as a request carrying them could still pass the timestamp check.
            self._nonces = {n: at for n, at in self._nonces.items() if at > now - 2 * TIMESTAMP_SKEW_SECONDS}
            if params["SignatureNonce"] in self._nonces:
                return self._gateway_error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self._nonces[params["SignatureNonce"]] = now
        return self._send_sms(params, now)

    def _send_sms(self, params: dict[str, str], now: float) -> SimResponse:
        numbers = [self._national(number) for number in params["PhoneNumbers"].split(",")]
        if len(numbers) > 1000 or not all(MOBILE.match(number) for number in numbers):
            return self._business_error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        try:
            template_param = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            template_param = None
        if not isinstance(template_param, dict) or not all(isinstance(v, str) for v in template_param.values()):
            return self._business_error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if any(len(value) > PARAM_MAX_CHARS for value in template_param.values()):
            # Unconfirmed code name for an over-long variable.
            return self._business_error("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        template = params["TemplateCode"]
        with self._lock:
            recent = {
                number: [at for at in self._sent_at.get((number, template), []) if at > now - 60] for number in numbers
            }
            if any(len(times) >= self.per_number_per_minute for times in recent.values()):
                return self._business_error(
                    "isv.BUSINESS_LIMIT_CONTROL", f"触发分钟级流控Permits:{self.per_number_per_minute}"
                )
            for number, times in recent.items():
                self._sent_at[(number, template)] = [*times, now]
            biz_id = f"{900619746936 + len(self.received)}^0"
            self.received.append(
                {
                    "PhoneNumbers": numbers,
                    "SignName": params["SignName"],
                    "TemplateCode": template,
                    "TemplateParam": template_param,
                    "BizId": biz_id,
                }
            )
        return SimResponse.json(
            {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": str(uuid.uuid4()).upper()}
        )

    @staticmethod
    def _string_to_sign(method: str, params: dict[str, str]) -> str:
        pairs = sorted((_encode(k), _encode(v)) for k, v in params.items() if k != "Signature")
        canonical = "&".join(f"{k}={v}" for k, v in pairs)
        return f"{method}&{_encode('/')}&{_encode(canonical)}"

    @staticmethod
    def _national(number: str) -> str:
        number = number.strip()
        for prefix in ("+86", "0086", "86"):
            if number.startswith(prefix) and len(number) == len(prefix) + 11:
                return number[len(prefix) :]
        return number

    @staticmethod
    def _gateway_error(status: int, code: str, message: str) -> SimResponse:
        body = {
            "RequestId": str(uuid.uuid4()).upper(),
            "HostId": "dysmsapi.aliyuncs.com",
            "Code": code,
            "Message": message,
        }
        return SimResponse.json(body, status)

    @staticmethod
    def _business_error(code: str, message: str) -> SimResponse:
        return SimResponse.json({"Code": code, "Message": message, "RequestId": str(uuid.uuid4()).upper()})
