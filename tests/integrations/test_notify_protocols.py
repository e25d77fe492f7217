"""DingTalk, WeCom and Aliyun SMS clients over real HTTP against our simulators, plus e-mail through Django."""

import socket
import time
from types import SimpleNamespace

import pytest
import requests
from django.core import mail

from integrations.notify import aliyun_sms, dingtalk, email, wecom
from integrations.notify.errors import NotifyError
from integrations.simulators import credentials
from integrations.simulators.aliyun_sms import AliyunSmsSimulator
from integrations.simulators.dingtalk import DingTalkSimulator
from integrations.simulators.server import SimulatorApp, start_server
from integrations.simulators.wecom import WecomSimulator

DING_TOKEN = credentials.DINGTALK["access_token"]
DING_SECRET = credentials.DINGTALK["secret"]
WECOM_KEY = credentials.WECOM["key"]
SMS_ID = credentials.ALIYUN_SMS["access_key_id"]
SMS_SECRET = credentials.ALIYUN_SMS["access_key_secret"]


class Clock:
    """The simulators' clock: real time plus an offset a test can move forward."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def server():
    # One server for the module (stopping one takes half a second); each test gets fresh simulators.
    app = SimulatorApp([])
    server, base = start_server(app)
    yield app, base
    server.shutdown()
    server.server_close()


@pytest.fixture
def sims(server, clock):
    app, base = server
    ding = DingTalkSimulator(credentials.DINGTALK, clock=clock)
    wecom_robot = WecomSimulator(credentials.WECOM, clock=clock)
    sms = AliyunSmsSimulator(credentials.ALIYUN_SMS, clock=clock)
    app.handlers = [ding, wecom_robot, sms]
    return SimpleNamespace(
        ding=ding,
        wecom=wecom_robot,
        sms=sms,
        base=base,
        ding_url=f"{base}/dingtalk/robot/send?access_token={DING_TOKEN}",
        wecom_url=f"{base}/wecom/cgi-bin/webhook/send?key={WECOM_KEY}",
        sms_endpoint=f"{base}/aliyun-sms/",
    )


def closed_port_url(path: str) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def sms_send(sims, **overrides) -> str:
    arguments = {
        "endpoint": sims.sms_endpoint,
        "access_key_id": SMS_ID,
        "access_key_secret": SMS_SECRET,
        "phone_numbers": ["13800138000"],
        "sign_name": "乐普林",
        "template_code": "SMS_100000001",
        "template_param": {"subject": "工序停滞", "detail": "WO-1 粗磨 2 小时无报工"},
        **overrides,
    }
    return aliyun_sms.send(**arguments)


# --- DingTalk ---------------------------------------------------------------------------------------


def test_it_signs_dingtalk_requests_with_the_documented_formula():
    # Known answer computed outside Python:
    #   printf '1700000000000\nSECsim…0001' | openssl dgst -sha256 -hmac 'SECsim…0001' -binary | base64
    #   → BJNCS5Z/MMAaPb0QNF/uKFQql+oU1p8mwJTS8ft6HSw=, then URL-encoded by hand.
    assert dingtalk.sign(DING_SECRET, 1700000000000) == "BJNCS5Z%2FMMAaPb0QNF%2FuKFQql%2BoU1p8mwJTS8ft6HSw%3D"
    assert dingtalk.sign("SECtest", 1577836800000) == "drlICLmsjUfpSZSa7%2BmhIyTLZHQVqxb4vc20sB3aqQU%3D"
    assert (
        dingtalk.signed_url("https://oapi.dingtalk.com/robot/send?access_token=t", DING_SECRET, 1700000000000)
        == "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000"
        "&sign=BJNCS5Z%2FMMAaPb0QNF%2FuKFQql%2BoU1p8mwJTS8ft6HSw%3D"
    )
    assert dingtalk.signed_url("https://x/robot/send?access_token=t", None) == "https://x/robot/send?access_token=t"


def test_it_sends_a_signed_markdown_message_to_a_dingtalk_robot(sims):
    dingtalk.send(
        url=sims.ding_url,
        secret=DING_SECRET,
        title="工序停滞",
        text="#### WO-1\n> 粗磨 2 小时无报工",
        at_mobiles=["13800138000"],
    )
    [message] = sims.ding.received
    assert message["msgtype"] == "markdown"
    assert message["markdown"]["title"] == "工序停滞"
    assert message["markdown"]["text"].startswith("#### WO-1\n> 粗磨 2 小时无报工")
    # DingTalk highlights an @ only when the text itself names the mobile.
    assert "@13800138000" in message["markdown"]["text"]
    assert message["at"] == {"atMobiles": ["13800138000"], "isAtAll": False}


def test_a_wrong_dingtalk_secret_is_a_permanent_error_that_does_not_show_the_secret(sims):
    wrong = "SECwrong0000000000000000000000000000000000000009"
    with pytest.raises(NotifyError) as caught:
        dingtalk.send(url=sims.ding_url, secret=wrong, title="t", text="x")
    error = caught.value
    assert not error.transient
    assert error.code == "DINGTALK_310000"
    assert "sign not match" in str(error)
    assert wrong not in str(error) and DING_SECRET not in str(error) and DING_TOKEN not in str(error)
    assert sims.ding.received == []


def test_an_unsigned_message_to_a_signing_dingtalk_robot_is_refused(sims):
    with pytest.raises(NotifyError) as caught:
        dingtalk.send(url=sims.ding_url, secret=None, title="t", text="x")
    assert caught.value.code == "DINGTALK_310000" and not caught.value.transient


def test_an_unknown_dingtalk_token_is_a_permanent_error(sims):
    url = f"{sims.base}/dingtalk/robot/send?access_token=not-a-token"
    with pytest.raises(NotifyError) as caught:
        dingtalk.send(url=url, secret=DING_SECRET, title="t", text="x")
    assert caught.value.code == "DINGTALK_300001" and not caught.value.transient
    assert "not-a-token" not in str(caught.value)


def test_a_dingtalk_signature_older_than_an_hour_is_refused(sims, clock):
    clock.offset = 3601
    with pytest.raises(NotifyError) as caught:
        dingtalk.send(url=sims.ding_url, secret=DING_SECRET, title="t", text="x")
    assert caught.value.code == "DINGTALK_310000"


def test_the_21st_dingtalk_message_in_a_minute_is_a_transient_130101(sims, clock):
    for n in range(20):
        dingtalk.send(url=sims.ding_url, secret=DING_SECRET, title=f"m{n}", text="x")
    with pytest.raises(NotifyError) as caught:
        dingtalk.send(url=sims.ding_url, secret=DING_SECRET, title="m20", text="x")
    error = caught.value
    assert error.transient and error.retry_after == 60
    assert error.code == "DINGTALK_130101" and "send too fast" in str(error)
    # Going over the limit throttles the robot for 10 minutes, not just until the minute is over.
    clock.offset = 61
    with pytest.raises(NotifyError):
        dingtalk.send(url=sims.ding_url, secret=DING_SECRET, title="m20", text="x")
    clock.offset = 661
    dingtalk.send(url=sims.ding_url, secret=DING_SECRET, title="m20", text="x")
    assert len(sims.ding.received) == 21


def test_an_unreachable_dingtalk_robot_is_a_transient_error_that_does_not_show_the_url():
    url = closed_port_url(f"/robot/send?access_token={DING_TOKEN}")
    with pytest.raises(NotifyError) as caught:
        dingtalk.send(url=url, secret=DING_SECRET, title="t", text="x", timeout=2)
    assert caught.value.transient and caught.value.code == "CONNECTION"
    assert DING_TOKEN not in str(caught.value) and caught.value.__cause__ is None


# --- WeCom ------------------------------------------------------------------------------------------


def test_it_sends_markdown_to_a_wecom_robot(sims):
    wecom.send(url=sims.wecom_url, title="新订单待审核", text="> TB1-0001 SKU 未映射")
    assert sims.wecom.received == [
        {"msgtype": "markdown", "markdown": {"content": "### 新订单待审核\n> TB1-0001 SKU 未映射"}}
    ]


def test_it_sends_a_wecom_text_message_when_someone_is_to_be_mentioned(sims):
    # mentioned_mobile_list does nothing in a markdown message, so a mention switches to text.
    wecom.send(url=sims.wecom_url, title="工序停滞", text="WO-1 粗磨", mentioned_mobiles=["13800138000"])
    [message] = sims.wecom.received
    assert message == {
        "msgtype": "text",
        "text": {"content": "工序停滞\nWO-1 粗磨", "mentioned_mobile_list": ["13800138000"]},
    }


def test_a_wrong_wecom_key_is_a_permanent_error_that_does_not_show_the_key(sims):
    url = f"{sims.base}/wecom/cgi-bin/webhook/send?key=00000000-0000-0000-0000-000000000000"
    with pytest.raises(NotifyError) as caught:
        wecom.send(url=url, title="t", text="x")
    assert caught.value.code == "WECOM_93000" and not caught.value.transient
    assert "00000000-0000-0000-0000-000000000000" not in str(caught.value)


def test_the_21st_wecom_message_in_a_minute_is_a_transient_45009(sims, clock):
    for n in range(20):
        wecom.send(url=sims.wecom_url, title=f"m{n}", text="x")
    with pytest.raises(NotifyError) as caught:
        wecom.send(url=sims.wecom_url, title="m20", text="x")
    assert caught.value.transient and caught.value.retry_after == 60 and caught.value.code == "WECOM_45009"
    clock.offset = 61  # a sliding window: a minute later there is room again
    wecom.send(url=sims.wecom_url, title="m20", text="x")
    assert len(sims.wecom.received) == 21


def test_it_cuts_text_on_a_utf8_character_boundary():
    assert wecom.truncate_utf8("aé测", 6) == "aé测"  # 1 + 2 + 3 bytes: fits
    assert wecom.truncate_utf8("aé测x", 6) == "aé…"  # "…" is 3 bytes
    assert wecom.truncate_utf8("aé测x", 5) == "a…"  # the cut went through "é": it goes whole
    assert len(wecom.truncate_utf8("测" * 2000, 4096).encode()) <= 4096


def test_long_wecom_markdown_is_cut_to_4096_bytes_and_accepted(sims):
    wecom.send(url=sims.wecom_url, title="日报", text="测试数据" * 1000)  # 12,000 bytes
    content = sims.wecom.received[0]["markdown"]["content"]
    assert content.startswith("### 日报\n测试数据")
    assert content.endswith("…")
    assert 4090 <= len(content.encode("utf-8")) <= 4096


def test_a_long_wecom_text_with_mentions_is_cut_to_2048_bytes_and_accepted(sims):
    wecom.send(url=sims.wecom_url, title="日报", text="测" * 1000, mentioned_mobiles=["13800138000"])
    content = sims.wecom.received[0]["text"]["content"]
    assert content.endswith("…") and len(content.encode("utf-8")) <= 2048


def test_the_wecom_simulator_refuses_markdown_over_4096_bytes(sims):
    answer = requests.post(
        sims.wecom_url, json={"msgtype": "markdown", "markdown": {"content": "测" * 1366}}, timeout=5
    )
    assert answer.status_code == 200 and answer.json()["errcode"] == 40058


# --- Aliyun SMS -------------------------------------------------------------------------------------

# The worked example of Aliyun's SMS signature documentation (HTTP GET, AccessKeySecret "testSecret").
VENDOR_EXAMPLE = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
VENDOR_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001"
    "%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4"
    "%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode"
    "%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp"
    "%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25"
)


def test_it_signs_aliyun_requests_like_the_vendors_worked_example():
    assert aliyun_sms.string_to_sign(VENDOR_EXAMPLE, "GET") == VENDOR_STRING_TO_SIGN
    assert aliyun_sms.signature(VENDOR_EXAMPLE, "testSecret", "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert aliyun_sms.signature({**VENDOR_EXAMPLE, "Signature": "ignored"}, "testSecret", "GET") == (
        "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    )


def test_it_percent_encodes_the_rfc3986_way():
    assert aliyun_sms.percent_encode("a b*c~d/e+f") == "a%20b%2Ac~d%2Fe%2Bf"
    assert aliyun_sms.percent_encode("测") == "%E6%B5%8B"


def test_it_sends_an_sms_and_returns_the_biz_id(sims):
    biz_id = sms_send(sims, phone_numbers=["13800138000", "+8613900139000"])
    [message] = sims.sms.received
    assert biz_id == message["BizId"] and biz_id.endswith("^0")
    assert message["PhoneNumbers"] == ["13800138000", "13900139000"]
    assert message["SignName"] == "乐普林" and message["TemplateCode"] == "SMS_100000001"
    assert message["TemplateParam"] == {"subject": "工序停滞", "detail": "WO-1 粗磨 2 小时无报工"}


def test_a_wrong_aliyun_secret_is_refused_as_signature_does_not_match(sims):
    with pytest.raises(NotifyError) as caught:
        sms_send(sims, access_key_secret="not-the-secret-at-all")
    assert caught.value.code == "SignatureDoesNotMatch" and not caught.value.transient
    assert "not-the-secret-at-all" not in str(caught.value) and SMS_SECRET not in str(caught.value)
    assert sims.sms.received == []


def test_an_unknown_aliyun_access_key_is_refused(sims):
    with pytest.raises(NotifyError) as caught:
        sms_send(sims, access_key_id="LTAIunknown")
    assert caught.value.code == "InvalidAccessKeyId.NotFound"


def test_a_second_sms_to_a_number_within_a_minute_is_flow_controlled_and_transient(sims, clock):
    sms_send(sims)
    with pytest.raises(NotifyError) as caught:
        sms_send(sims)
    assert caught.value.code == "isv.BUSINESS_LIMIT_CONTROL" and caught.value.transient
    assert caught.value.retry_after == 60
    clock.offset = 61
    sms_send(sims)
    assert len(sims.sms.received) == 2


def test_an_illegal_phone_number_is_a_permanent_error(sims):
    with pytest.raises(NotifyError) as caught:
        sms_send(sims, phone_numbers=["12345"])
    assert caught.value.code == "isv.MOBILE_NUMBER_ILLEGAL" and not caught.value.transient


def test_long_template_values_are_cut_to_35_characters(sims):
    sms_send(sims, template_param={"subject": "停滞", "detail": "工序" * 30, "qty": 12})
    params = sims.sms.received[0]["TemplateParam"]
    assert params["detail"] == "工序" * 17 + "…" and len(params["detail"]) == 35
    assert params["qty"] == "12"


def _signed_params(**overrides) -> dict[str, str]:
    params = {
        "Action": "SendSms",
        "Version": "2017-05-25",
        "Format": "JSON",
        "RegionId": "cn-hangzhou",
        "AccessKeyId": SMS_ID,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": "3f1c7a52-4e0b-4f34-9d57-0c8a61c1f9aa",
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "PhoneNumbers": "13800138000",
        "SignName": "乐普林",
        "TemplateCode": "SMS_100000001",
        "TemplateParam": '{"subject":"x"}',
        **overrides,
    }
    params["Signature"] = aliyun_sms.signature(params, SMS_SECRET, "GET")
    return params


def test_the_aliyun_simulator_refuses_a_replayed_signature_nonce(sims):
    params = _signed_params()
    first = requests.get(sims.sms_endpoint, params=params, timeout=5)
    assert first.json()["Code"] == "OK"
    replay = requests.get(sims.sms_endpoint, params=params, timeout=5)
    assert replay.status_code == 400 and replay.json()["Code"] == "SignatureNonceUsed"


def test_the_aliyun_simulator_refuses_a_stale_timestamp_and_bad_template_json(sims):
    stale = _signed_params(Timestamp="2017-07-12T02:42:19Z")
    answer = requests.get(sims.sms_endpoint, params=stale, timeout=5)
    assert answer.status_code == 400 and answer.json()["Code"] == "InvalidTimeStamp.Expired"
    bad_json = _signed_params(SignatureNonce="0b6f8d1e-0000-4000-8000-000000000001", TemplateParam='{"n": 1}')
    answer = requests.get(sims.sms_endpoint, params=bad_json, timeout=5)
    assert answer.status_code == 200 and answer.json()["Code"] == "isv.INVALID_JSON_PARAM"


# --- E-mail -----------------------------------------------------------------------------------------


def test_it_sends_email_through_django():
    email.send(recipients=["leader@example.com", "pm@example.com"], subject="日完成率\n低于 60%", body="二车间 52%")
    [message] = mail.outbox
    assert message.to == ["leader@example.com", "pm@example.com"]
    assert message.subject == "日完成率 低于 60%"
    assert message.body == "二车间 52%"


def test_email_without_recipients_is_a_permanent_error():
    with pytest.raises(NotifyError) as caught:
        email.send(recipients=[], subject="s", body="b")
    assert not caught.value.transient
