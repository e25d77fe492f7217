"""The notification outbox: one row per channel, delivery within each robot's limit, retries, failures, set-up."""

import socket
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from integrations.models import Notification, NotifyChannel
from integrations.notify import wecom
from integrations.notify.services import deliver_due_notifications, notify, notify_channel_save
from integrations.simulators import credentials
from integrations.simulators.aliyun_sms import AliyunSmsSimulator
from integrations.simulators.dingtalk import DingTalkSimulator
from integrations.simulators.server import SimulatorApp, start_server
from integrations.simulators.wecom import WecomSimulator

pytestmark = pytest.mark.django_db

PRODUCTION = NotifyChannel.Audience.PRODUCTION


class Clock:
    """The simulators' clock: real time plus an offset a test moves along with the `now` it passes."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="module")
def server():
    app = SimulatorApp([])
    server, base = start_server(app)
    yield app, base
    server.shutdown()
    server.server_close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


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
        ding_url=f"{base}/dingtalk/robot/send?access_token={credentials.DINGTALK['access_token']}",
        wecom_url=f"{base}/wecom/cgi-bin/webhook/send?key={credentials.WECOM['key']}",
    )


def make_channel(name: str, kind: str, *, secrets: dict | None = None, audience=PRODUCTION, **fields) -> NotifyChannel:
    channel = NotifyChannel(name=name, kind=kind, audience=audience, **fields)
    return notify_channel_save(channel=channel, secrets=secrets, by=None)


def dingtalk_channel(sims, name="车间钉钉群", **fields) -> NotifyChannel:
    secrets = fields.pop("secrets", {"secret": credentials.DINGTALK["secret"]})
    return make_channel(name, NotifyChannel.Kind.DINGTALK, url=sims.ding_url, secrets=secrets, **fields)


def wecom_channel(sims, name="车间企业微信群", **fields) -> NotifyChannel:
    return make_channel(name, NotifyChannel.Kind.WECOM, url=sims.wecom_url, **fields)


def sms_channel(sims, name="班组长短信", **fields) -> NotifyChannel:
    return make_channel(
        name,
        NotifyChannel.Kind.SMS,
        url=f"{sims.base}/aliyun-sms/",
        recipients="13800138000, 13900139000",
        sms_sign_name="乐普林",
        sms_template_code="SMS_100000001",
        secrets=credentials.ALIYUN_SMS,
        **fields,
    )


def email_channel(name="生产经理邮件", **fields) -> NotifyChannel:
    return make_channel(name, NotifyChannel.Kind.EMAIL, recipients="pm@example.com，leader@example.com", **fields)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_notify_queues_one_pending_notification_per_enabled_channel_of_the_audience(
    sims, django_capture_on_commit_callbacks
):
    ding = dingtalk_channel(sims)
    mail_channel = email_channel()
    dingtalk_channel(sims, name="停用的群", enabled=False)
    wecom_channel(sims, name="IT 群", audience=NotifyChannel.Audience.IT)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = notify(
            audience=PRODUCTION, subject="工序停滞", body="WO-1 粗磨 2 小时无报工", mention_mobiles=["138"]
        )
    assert {n.channel for n in created} == {ding, mail_channel}
    rows = Notification.objects.filter(pk__in=[n.pk for n in created])
    assert rows.count() == 2
    for row in rows:
        assert row.status == Notification.Status.PENDING and row.attempts == 0
        assert before <= row.next_attempt_at <= timezone.now()
        assert row.mention == ["138"]
    assert len(callbacks) == 1  # delivery is enqueued once, after commit


def test_notify_without_channels_queues_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert notify(audience=PRODUCTION, subject="s", body="b") == []
    assert callbacks == []


def test_it_delivers_each_notification_exactly_once_through_its_channel(sims):
    dingtalk_channel(sims)
    wecom_channel(sims)
    sms_channel(sims)
    email_channel()
    notify(audience=PRODUCTION, subject="日完成率低于 60%", body="二车间 52%", mention_mobiles=["13800138000"])
    now = timezone.now()
    assert deliver_due_notifications(now=now) == {"sent": 4, "deferred": 0, "failed": 0}
    assert deliver_due_notifications(now=now + timedelta(minutes=5)) == {"sent": 0, "deferred": 0, "failed": 0}

    [ding_message] = sims.ding.received
    assert ding_message["markdown"]["title"] == "日完成率低于 60%"
    assert ding_message["at"]["atMobiles"] == ["13800138000"]
    [wecom_message] = sims.wecom.received
    assert wecom_message["text"]["mentioned_mobile_list"] == ["13800138000"]
    [sms_message] = sims.sms.received
    assert sms_message["PhoneNumbers"] == ["13800138000", "13900139000"]
    assert sms_message["TemplateParam"] == {"subject": "日完成率低于 60%", "detail": "二车间 52%"}
    [email_message] = mail.outbox
    assert email_message.to == ["pm@example.com", "leader@example.com"]
    assert email_message.subject == "日完成率低于 60%"
    for row in Notification.objects.all():
        assert row.status == Notification.Status.SENT and row.attempts == 1
        assert now <= row.sent_at < now + timedelta(seconds=5)


def test_25_messages_to_one_robot_send_20_now_and_the_other_5_a_minute_later(sims, clock):
    channel = dingtalk_channel(sims)
    for n in range(25):
        notify(audience=PRODUCTION, subject=f"消息 {n:02d}", body="x")
    now = timezone.now()

    assert deliver_due_notifications(now=now) == {"sent": 20, "deferred": 5, "failed": 0}
    waiting = Notification.objects.filter(channel=channel, status=Notification.Status.PENDING)
    assert waiting.count() == 5
    assert all(row.next_attempt_at > now and row.attempts == 0 for row in waiting)
    assert len(sims.ding.received) == 20
    # Not due yet: a second run in the same minute sends nothing and the robot is never over its limit.
    assert deliver_due_notifications(now=now + timedelta(seconds=30)) == {"sent": 0, "deferred": 0, "failed": 0}

    clock.offset = 61
    assert deliver_due_notifications(now=now + timedelta(seconds=61)) == {"sent": 5, "deferred": 0, "failed": 0}
    titles = [message["markdown"]["title"] for message in sims.ding.received]
    assert sorted(titles) == [f"消息 {n:02d}" for n in range(25)]  # none dropped, none twice
    assert Notification.objects.filter(status=Notification.Status.SENT, attempts=1).count() == 25


def test_a_robot_throttled_by_another_sender_is_retried_later_not_dropped(sims, clock):
    wecom_channel(sims)
    for n in range(20):  # another system shares the robot and has used up its minute
        wecom.send(url=sims.wecom_url, title=f"other {n}", text="x")
    [notification] = notify(audience=PRODUCTION, subject="新订单待审核", body="3 单")
    now = timezone.now()

    assert deliver_due_notifications(now=now) == {"sent": 0, "deferred": 1, "failed": 0}
    notification.refresh_from_db()
    assert notification.status == Notification.Status.PENDING and notification.attempts == 1
    assert notification.next_attempt_at >= now + timedelta(seconds=60)
    assert "45009" in notification.last_error

    clock.offset = 61
    assert deliver_due_notifications(now=notification.next_attempt_at) == {"sent": 1, "deferred": 0, "failed": 0}
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT and notification.attempts == 2
    assert notification.last_error == ""
    assert sims.wecom.received[-1]["markdown"]["content"].startswith("### 新订单待审核")


def test_a_throttled_robot_is_not_called_again_in_the_same_run(sims):
    channel = wecom_channel(sims, per_minute_limit=30)  # set above the robot's real limit by mistake
    for n in range(25):
        notify(audience=PRODUCTION, subject=f"m{n}", body="x")
    counts = deliver_due_notifications(now=timezone.now())
    assert counts == {"sent": 20, "deferred": 5, "failed": 0}
    # Only the 21st reached the robot and counts an attempt; the other four waited without calling it.
    attempted = Notification.objects.filter(channel=channel, status=Notification.Status.PENDING, attempts=1)
    assert attempted.count() == 1
    assert len(sims.wecom.received) == 20


def test_a_permanent_error_marks_the_notification_failed_with_a_clear_error(sims):
    wrong_secret = "SECwrong0000000000000000000000000000000000000009"
    dingtalk_channel(sims, secrets={"secret": wrong_secret})
    [notification] = notify(audience=PRODUCTION, subject="s", body="b")

    assert deliver_due_notifications() == {"sent": 0, "deferred": 0, "failed": 1}
    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED and notification.attempts == 1
    assert notification.next_attempt_at is None
    assert "310000" in notification.last_error and "sign not match" in notification.last_error
    assert wrong_secret not in notification.last_error
    assert credentials.DINGTALK["access_token"] not in notification.last_error
    assert sims.ding.received == []


def test_a_notification_fails_after_eight_transient_errors(sims):
    token = credentials.DINGTALK["access_token"]
    make_channel(
        "断网的群",
        NotifyChannel.Kind.DINGTALK,
        url=f"http://127.0.0.1:{closed_port()}/robot/send?access_token={token}",
        secrets={"secret": credentials.DINGTALK["secret"]},
    )
    [notification] = notify(audience=PRODUCTION, subject="s", body="b")
    now = timezone.now()
    delays = []
    for _ in range(7):
        assert deliver_due_notifications(now=now) == {"sent": 0, "deferred": 1, "failed": 0}
        notification.refresh_from_db()
        delays.append(round((notification.next_attempt_at - now).total_seconds()))
        now = notification.next_attempt_at
    assert delays == [30, 60, 120, 240, 480, 960, 1920]  # growing backoff
    assert deliver_due_notifications(now=now) == {"sent": 0, "deferred": 0, "failed": 1}
    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED and notification.attempts == 8
    assert "connection failed" in notification.last_error and token not in notification.last_error


def test_a_disabled_channels_waiting_notifications_fail_instead_of_sending(sims):
    channel = dingtalk_channel(sims)
    notify(audience=PRODUCTION, subject="s", body="b")
    channel.enabled = False
    notify_channel_save(channel=channel, secrets=None, by=None)
    assert deliver_due_notifications() == {"sent": 0, "deferred": 0, "failed": 1}
    assert sims.ding.received == []


def test_email_goes_to_the_mail_outbox():
    email_channel()
    notify(audience=PRODUCTION, subject="停机超过 2 小时", body="CNC-03 换模")
    assert deliver_due_notifications() == {"sent": 1, "deferred": 0, "failed": 0}
    [message] = mail.outbox
    assert message.subject == "停机超过 2 小时" and message.body == "CNC-03 换模"


def test_channel_secrets_are_encrypted_and_kept_out_of_the_audit_trail(sims, users):
    admin = users[Role.IT_ADMIN]
    secret = credentials.DINGTALK["secret"]
    token = credentials.DINGTALK["access_token"]
    channel = NotifyChannel(name="钉钉", kind=NotifyChannel.Kind.DINGTALK, audience=PRODUCTION, url=sims.ding_url)
    notify_channel_save(channel=channel, secrets={"secret": secret}, by=admin)

    channel.refresh_from_db()
    assert channel.get_secrets() == {"secret": secret}
    assert secret not in channel.secret_encrypted
    event = AuditEvent.objects.get(verb="notify_channel.create")
    assert event.actor == admin and event.object_id == str(channel.pk)
    assert event.changes["secrets_set"] == ["secret"]
    assert secret not in str(event.changes) and token not in str(event.changes)

    channel.per_minute_limit = 10
    notify_channel_save(channel=channel, secrets=None, by=admin)  # None keeps the stored secret
    channel.refresh_from_db()
    assert channel.get_secrets() == {"secret": secret}
    update = AuditEvent.objects.get(verb="notify_channel.update")
    assert "secrets_set" not in update.changes and update.changes["per_minute_limit"] == 10


def test_an_sms_channel_without_its_access_keys_is_refused(sims):
    channel = NotifyChannel(
        name="短信",
        kind=NotifyChannel.Kind.SMS,
        audience=PRODUCTION,
        recipients="13800138000",
        sms_sign_name="乐普林",
        sms_template_code="SMS_1",
    )
    with pytest.raises(ValidationError):
        notify_channel_save(channel=channel, secrets={"access_key_id": "LTAI"}, by=None)
    assert not NotifyChannel.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_send_a_notification_twice_nor_over_the_limit(sims):
    if connection.vendor != "postgresql":
        pytest.skip("threads sharing a database need PostgreSQL (CI runs this)")
    channel = wecom_channel(sims)
    now = timezone.now()
    # Rows made directly: notify() would enqueue the real Celery task on commit in a transactional test.
    Notification.objects.bulk_create(
        Notification(channel=channel, subject=f"m{n:02d}", body="x", next_attempt_at=now) for n in range(25)
    )
    results = []

    def worker():
        try:
            results.append(deliver_due_notifications(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result["sent"] for result in results) == 20
    contents = [message["markdown"]["content"] for message in sims.wecom.received]
    assert len(contents) == len(set(contents)) == 20
    assert Notification.objects.filter(status=Notification.Status.PENDING, attempts=0).count() == 5
