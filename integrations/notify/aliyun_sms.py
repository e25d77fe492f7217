"""Aliyun SMS `SendSms` (dysmsapi, API version 2017-05-25), RPC style with signature version 1.0 (HMAC-SHA1).

Signing per help.aliyun.com/document_detail/154849 (and the SMS doc's worked example, used in our tests):
sort the parameters, percent-encode names and values RFC 3986 style, StringToSign =
METHOD&%2F&percentEncode(canonical query), Signature = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).
No ORM here. The API is not idempotent: a timeout may have sent the message, and a retry may send it twice.
"""

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import requests

from integrations.notify.errors import NotifyError, http_request, json_body, raise_for_http_status

SERVICE = "Aliyun SMS"
DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
MAX_PHONE_NUMBERS = 1000

# Unconfirmed: a template variable is commonly limited to 35 characters (the platform's rule for notification
# templates as widely reported, not in the retrieved docs); longer values are cut so the message still goes out.
TEMPLATE_PARAM_MAX_CHARS = 35

# Flow control passes with time: per number per minute/hour, and the daily quota.
RETRY_AFTER = {"isv.BUSINESS_LIMIT_CONTROL": 60, "isv.DAY_LIMIT_CONTROL": 3600}


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun wants it: only A-Z a-z 0-9 - _ . ~ stay; space is %20 and * is %2A."""
    return quote(value, safe="-_.~")


def string_to_sign(params: dict[str, str], method: str = "POST") -> str:
    """METHOD&%2F&percentEncode(sorted, encoded k=v pairs joined by &), without the Signature parameter."""
    canonical = "&".join(
        f"{percent_encode(name)}={percent_encode(value)}"
        for name, value in sorted(params.items())
        if name != "Signature"
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def signature(params: dict[str, str], access_key_secret: str, method: str = "POST") -> str:
    """base64(HMAC-SHA1(key = secret + "&", StringToSign)), not yet URL-encoded."""
    key = (access_key_secret + "&").encode("utf-8")
    digest = hmac.new(key, string_to_sign(params, method).encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def template_values(template_param: dict[str, str]) -> dict[str, str]:
    """Template variables as strings (Aliyun accepts nothing else), each cut to the length limit."""
    values = {}
    for name, value in template_param.items():
        text = " ".join(str(value).split())  # newlines and runs of spaces read badly in an SMS
        if len(text) > TEMPLATE_PARAM_MAX_CHARS:
            text = text[: TEMPLATE_PARAM_MAX_CHARS - 1] + "…"
        values[str(name)] = text
    return values


def send(
    *,
    endpoint: str,
    access_key_id: str,
    access_key_secret: str,
    phone_numbers: list[str],
    sign_name: str,
    template_code: str,
    template_param: dict[str, str],
    session: requests.Session | None = None,
    timeout: float = 10,
) -> str:
    """Send one templated SMS to up to 1000 numbers; returns Aliyun's BizId or raises NotifyError."""
    if not phone_numbers:
        raise NotifyError(f"{SERVICE}: no phone numbers to send to", code="NO_RECIPIENTS")
    if len(phone_numbers) > MAX_PHONE_NUMBERS:
        raise NotifyError(f"{SERVICE}: at most {MAX_PHONE_NUMBERS} numbers per message", code="TOO_MANY_RECIPIENTS")
    params = {
        "Action": "SendSms",
        "Version": "2017-05-25",
        "Format": "JSON",
        "RegionId": "cn-hangzhou",
        "AccessKeyId": access_key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": str(uuid.uuid4()),
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "PhoneNumbers": ",".join(phone_numbers),
        "SignName": sign_name,
        "TemplateCode": template_code,
        "TemplateParam": json.dumps(template_values(template_param), ensure_ascii=False, separators=(",", ":")),
    }
    params["Signature"] = signature(params, access_key_secret, "POST")
    response = http_request(
        session, "POST", endpoint or DEFAULT_ENDPOINT, service=SERVICE, timeout=timeout, data=params
    )
    # Gateway errors (a bad signature, an old timestamp) come as HTTP 4xx with the same JSON body, so read it first.
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or "Code" not in data:
        raise_for_http_status(response, service=SERVICE)
        data = json_body(response, service=SERVICE)
    code = str(data.get("Code", ""))
    if code == "OK":
        return str(data.get("BizId", ""))
    message = str(data.get("Message", ""))[:300]
    if code in RETRY_AFTER:
        raise NotifyError(
            f"{SERVICE} flow control: {code} {message}", code=code, transient=True, retry_after=RETRY_AFTER[code]
        )
    if response.status_code >= 500 or code in {"isp.SYSTEM_ERROR", "ServiceUnavailable", "Throttling.User"}:
        raise NotifyError(f"{SERVICE} is unavailable: {code} {message}", code=code or "HTTP_ERROR", transient=True)
    raise NotifyError(f"{SERVICE} refused the message: {code} {message}", code=code or "UNKNOWN")
