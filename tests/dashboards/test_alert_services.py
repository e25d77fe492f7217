"""People acting on alerts (acknowledge, resolve, who may), rule changes, and alert messages through a real robot
that answers with its rate-limit code."""

import time
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from dashboards.alert_selectors import alerts_for_user
from dashboards.models import Alert, AlertKind, AlertRule
from dashboards.services import (
    AlertError,
    AlertNotFound,
    AlertStateError,
    alert_acknowledge,
    alert_resolve,
    alert_rule_update,
    alerts_evaluate,
)
from integrations.models import Notification, NotifyChannel
from integrations.notify import dingtalk
from integrations.notify.services import MAX_ATTEMPTS, deliver_due_notifications, notify_channel_save
from integrations.simulators import credentials
from integrations.simulators.dingtalk import DingTalkSimulator
from integrations.simulators.server import SimulatorApp, start_server
from production.floor import report_event_record
from tests.conftest import make_user
from tests.dashboards.alert_builders import make_team, steps, team_work_order

pytestmark = pytest.mark.django_db


def make_alert(team=None, key: str = "operation_stalled:operation:1", **fields) -> Alert:
    now = timezone.now()
    return Alert.objects.create(
        kind=fields.pop("kind", AlertKind.OPERATION_STALLED),
        subject_type=fields.pop("subject_type", "operation"),
        subject_id=key.rsplit(":", 1)[-1],
        subject_label=fields.pop("subject_label", "WO-1 #10 下料"),
        dedupe_key=key,
        message="WO-1 #10 下料 2.5 小时无报工",
        team=team,
        first_seen_at=now,
        last_seen_at=now,
        **fields,
    )


@pytest.fixture
def cast(db, users):
    stamping = make_team("CY1", "冲压一班", "leader_cy", "13811110001")
    polishing = make_team("PG1", "抛光一班", "leader_pg", "13811110002")
    return SimpleNamespace(
        stamping=stamping,
        polishing=polishing,
        leader=stamping.leader,
        other_leader=polishing.leader,
        manager=users[Role.PRODUCTION_MANAGER],
        it=users[Role.IT_ADMIN],
        sales=users[Role.SALES],
        operator=users[Role.OPERATOR],
        nobody=users[None],
    )


def test_the_team_leader_acknowledges_then_resolves_with_who_and_when_audited(cast):
    alert = make_alert(cast.stamping)
    acknowledged = alert_acknowledge(alert_id=alert.pk, by=cast.leader, note="换模中")
    assert acknowledged.state == Alert.State.ACKNOWLEDGED
    assert acknowledged.acknowledged_by == cast.leader and acknowledged.acknowledged_at is not None
    resolved = alert_resolve(alert_id=alert.pk, by=cast.leader, note="模具已修好")
    assert resolved.state == Alert.State.RESOLVED and resolved.resolved_by == cast.leader
    assert resolved.note == "模具已修好"
    verbs = list(AuditEvent.objects.filter(verb__startswith="alert.").order_by("at", "id").values_list("verb", "actor"))
    assert verbs == [("alert.acknowledge", cast.leader.pk), ("alert.resolve", cast.leader.pk)]


def test_an_open_alert_can_be_resolved_without_acknowledging_first(cast):
    alert = make_alert(cast.stamping)
    assert alert_resolve(alert_id=alert.pk, by=cast.manager).state == Alert.State.RESOLVED


def test_a_wrong_state_is_a_clear_conflict(cast):
    alert = make_alert(cast.stamping)
    alert_acknowledge(alert_id=alert.pk, by=cast.leader)
    with pytest.raises(AlertStateError) as twice:
        alert_acknowledge(alert_id=alert.pk, by=cast.leader)
    assert twice.value.status == 409 and twice.value.code == "alert_state"
    alert_resolve(alert_id=alert.pk, by=cast.leader)
    with pytest.raises(AlertStateError):
        alert_resolve(alert_id=alert.pk, by=cast.leader)
    with pytest.raises(AlertStateError):
        alert_acknowledge(alert_id=alert.pk, by=cast.leader)


def test_a_team_leader_sees_and_acts_on_only_their_own_teams_alerts(cast):
    mine = make_alert(cast.stamping, key="k:1")
    theirs = make_alert(cast.polishing, key="k:2")
    untied = make_alert(None, key="k:3", kind=AlertKind.SYNC_FAILING)
    assert list(alerts_for_user(cast.leader)) == [mine]
    with pytest.raises(AlertNotFound) as refused:
        alert_acknowledge(alert_id=theirs.pk, by=cast.leader)
    assert refused.value.status == 404
    with pytest.raises(AlertNotFound):
        alert_resolve(alert_id=untied.pk, by=cast.leader)
    theirs.refresh_from_db()
    assert theirs.state == Alert.State.OPEN
    assert not AuditEvent.objects.filter(verb__startswith="alert.").exists()


def test_managers_and_it_see_every_alert_and_others_none(cast):
    make_alert(cast.stamping, key="k:1")
    make_alert(cast.polishing, key="k:2")
    assert alerts_for_user(cast.manager).count() == 2
    assert alerts_for_user(cast.it).count() == 2
    for person in (cast.sales, cast.operator, cast.nobody):
        assert alerts_for_user(person).count() == 0
    with pytest.raises(AlertNotFound):
        alert_acknowledge(alert_id=Alert.objects.first().pk, by=cast.operator)


def test_the_production_manager_changes_a_rule_audited(cast):
    rule = AlertRule.objects.get(kind=AlertKind.LOW_DAILY_COMPLETION)
    alert_rule_update(rule=rule, by=cast.manager, threshold="70", check_hour=16, escalate_after_days=3,
                      channels=["sms", "dingtalk", "wecom"])  # fmt: skip
    rule.refresh_from_db()
    assert (str(rule.threshold), rule.check_hour, rule.escalate_after_days) == ("70.00", 16, 3)
    assert rule.channels == ["sms", "dingtalk", "wecom"] and rule.updated_by == cast.manager
    event = AuditEvent.objects.get(verb="alert_rule.update")
    assert event.actor == cast.manager and event.changes["check_hour"] == [17, 16]


@pytest.mark.parametrize(
    ("kind", "values", "field"),
    [
        (AlertKind.LOW_DAILY_COMPLETION, {"threshold": "120"}, "threshold"),
        (AlertKind.OPERATION_STALLED, {"threshold": "0"}, "threshold"),
        (AlertKind.OPERATION_STALLED, {"threshold": "abc"}, "threshold"),
        (AlertKind.SYNC_FAILING, {"threshold": "2.5"}, "threshold"),
        (AlertKind.LOW_DAILY_COMPLETION, {"check_hour": "24"}, "check_hour"),
        (AlertKind.LOW_DAILY_COMPLETION, {"escalate_after_days": "0"}, "escalate_after_days"),
        (AlertKind.OPERATION_STALLED, {"channels": ["fax"]}, "channels"),
    ],
)
def test_a_bad_rule_value_is_refused_and_nothing_changes(cast, kind, values, field):
    rule = AlertRule.objects.get(kind=kind)
    before = (rule.threshold, rule.check_hour, rule.escalate_after_days, rule.channels)
    with pytest.raises(AlertError) as refused:
        alert_rule_update(rule=rule, by=cast.manager, **values)
    assert field in refused.value.extra["fields"]
    rule.refresh_from_db()
    assert (rule.threshold, rule.check_hour, rule.escalate_after_days, rule.channels) == before
    assert not AuditEvent.objects.filter(verb="alert_rule.update").exists()


# --- Through a real robot ------------------------------------------------------------------------------------


class Clock:
    """The simulator's clock: real time plus an offset the test moves along with the `now` it passes."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def robot():
    clock = Clock()
    simulator = DingTalkSimulator(credentials.DINGTALK, clock=clock)
    app = SimulatorApp([simulator])
    server, base = start_server(app)
    yield SimpleNamespace(
        simulator=simulator,
        clock=clock,
        url=f"{base}/dingtalk/robot/send?access_token={credentials.DINGTALK['access_token']}",
    )
    server.shutdown()
    server.server_close()


def test_an_alert_to_a_robot_answering_its_rate_limit_code_is_retried_later_not_dropped(cast, robot):
    notify_channel_save(
        channel=NotifyChannel(
            name="车间钉钉群",
            kind=NotifyChannel.Kind.DINGTALK,
            audience=NotifyChannel.Audience.PRODUCTION,
            url=robot.url,
        ),
        secrets={"secret": credentials.DINGTALK["secret"]},
        by=None,
    )
    # Another system shares the robot and has used up its 20 messages this minute.
    for n in range(20):
        dingtalk.send(url=robot.url, secret=credentials.DINGTALK["secret"], title=f"other {n}", text="x")
    first = steps(team_work_order(cast.stamping, "WO-A-0001"))[0]
    now = timezone.now()
    report_event_record(operation_code=first.code, operator=cast.operator, action="start",
                        client_uuid=uuid.uuid4(), now=now - timedelta(hours=3))  # fmt: skip
    alerts_evaluate(now=now)
    [notification] = Notification.objects.all()

    now = timezone.now()
    assert deliver_due_notifications(now=now) == {"sent": 0, "deferred": 1, "failed": 0}
    notification.refresh_from_db()
    assert notification.status == Notification.Status.PENDING and "130101" in notification.last_error

    # The robot stays throttled for 10 minutes; the outbox keeps trying with back-off until it gets through.
    for _ in range(MAX_ATTEMPTS - 1):
        robot.clock.offset = (notification.next_attempt_at - now).total_seconds()
        deliver_due_notifications(now=notification.next_attempt_at)
        notification.refresh_from_db()
        if notification.status != Notification.Status.PENDING:
            break
    assert notification.status == Notification.Status.SENT and notification.attempts > 2
    delivered = [m for m in robot.simulator.received if m["markdown"]["title"] == notification.subject]
    assert len(delivered) == 1
    assert "WO-A-0001" in delivered[0]["markdown"]["text"] and "@13811110001" in delivered[0]["markdown"]["text"]
    # Re-evaluating the still-open alert sends nothing more.
    alerts_evaluate(now=now + timedelta(minutes=30))
    assert Notification.objects.count() == 1


def test_a_team_leader_without_a_phone_still_gets_the_team_alert_through_the_groups(cast, robot):
    cast.leader.phone = ""
    cast.leader.save(update_fields=["phone"])
    make_user(Role.PRODUCTION_MANAGER, username="pm2", phone="13700137000")
    notify_channel_save(
        channel=NotifyChannel(
            name="群", kind=NotifyChannel.Kind.DINGTALK, audience=NotifyChannel.Audience.PRODUCTION, url=robot.url
        ),
        secrets={"secret": credentials.DINGTALK["secret"]},
        by=None,
    )
    first = steps(team_work_order(cast.stamping, "WO-A-0001"))[0]
    now = timezone.now()
    report_event_record(operation_code=first.code, operator=cast.operator, action="start",
                        client_uuid=uuid.uuid4(), now=now - timedelta(hours=3))  # fmt: skip
    alerts_evaluate(now=now)
    [notification] = Notification.objects.all()
    assert notification.mention == []  # the leader is in the group; nobody else is woken for day-one alerts


def test_the_demo_channels_carry_a_floor_alert_by_sms_and_dingtalk(cast):
    from integrations.demo import seed_intake_demo

    seed_intake_demo(simulator_url="http://127.0.0.1:9")
    first = steps(team_work_order(cast.stamping, "WO-A-0001"))[0]
    now = timezone.now()
    report_event_record(operation_code=first.code, operator=cast.operator, action="start",
                        client_uuid=uuid.uuid4(), now=now - timedelta(hours=3))  # fmt: skip
    alerts_evaluate(now=now)
    kinds = sorted(Notification.objects.values_list("channel__kind", "channel__audience"))
    assert kinds == [("dingtalk", "production"), ("sms", "production")]
