"""Alert rules on a frozen clock: stalls, daily completion and its escalation, orders at risk, failing syncs and
dead ERP pushes; one unresolved alert per subject, notified once per level, resolved when the condition clears."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from accounts.roles import Role
from dashboards.models import Alert, AlertKind, AlertRule, TeamAlertChannel
from dashboards.services import alert_rule_update, alerts_evaluate
from integrations.models import Notification, SyncRun
from orders.models import ErpPush, SalesOrder
from production.floor import report_event_record
from production.models import WorkOrderOperation
from tests.conftest import make_user
from tests.dashboards.alert_builders import at, make_team, plan, production_channels, steps, team_work_order
from tests.integrations.builders import make_account, make_order, make_run

pytestmark = pytest.mark.django_db

Kind = AlertKind


@pytest.fixture
def floor(db):
    """Two teams with leaders, a production manager and an operator; production and IT channels."""
    stamping = make_team("CY1", "冲压一班", "leader_cy", "13811110001")
    polishing = make_team("PG1", "抛光一班", "leader_pg", "13811110002")
    manager = make_user(Role.PRODUCTION_MANAGER, username="pm", phone="13700137000")
    operator = make_user(Role.OPERATOR, username="op1")
    channels = production_channels()
    return type("Floor", (), {"stamping": stamping, "polishing": polishing, "manager": manager,
                              "operator": operator, "channels": channels})  # fmt: skip


def press(operation, operator, action: str, **quantities) -> None:
    report_event_record(
        operation_code=operation.code, operator=operator, action=action, client_uuid=uuid.uuid4(), **quantities
    )


def alerts(kind: str):
    return Alert.objects.filter(kind=kind)


def sent_to(alert: Alert) -> list[tuple[str, list[str]]]:
    """(channel kind, mentioned mobiles) of the notifications queued for the alert's subject line."""
    rows = Notification.objects.filter(subject__contains=alert.subject_label).select_related("channel")
    return sorted((row.channel.kind, row.mention) for row in rows)


# --- Stalled operations ------------------------------------------------------------------------------------


def test_an_operation_stalls_after_2_hours_without_a_report_and_not_before(floor, time_machine):
    first = steps(team_work_order(floor.stamping, "WO-A-0001"))[0]
    time_machine.move_to(at(2, 8), tick=False)
    press(first, floor.operator, "start")

    time_machine.move_to(at(2, 9, 59), tick=False)
    alerts_evaluate()
    assert not alerts(Kind.OPERATION_STALLED).exists()

    time_machine.move_to(at(2, 10, 1), tick=False)
    alerts_evaluate()
    alert = alerts(Kind.OPERATION_STALLED).get()
    assert alert.state == Alert.State.OPEN and alert.team == floor.stamping
    assert alert.subject_label == "WO-A-0001 #10 下料"
    assert "2.0" in alert.message and alert.first_seen_at == at(2, 10, 1)
    # SMS + DingTalk by default, the team leader @-mentioned.
    assert sent_to(alert) == [("dingtalk", ["13811110001"]), ("sms", ["13811110001"])]


def test_a_paused_operation_stalls_too_and_a_done_one_never(floor, time_machine):
    paused, done = steps(team_work_order(floor.stamping, "WO-A-0001"))[:2]
    time_machine.move_to(at(2, 8), tick=False)
    press(paused, floor.operator, "start")
    press(paused, floor.operator, "report", good_qty=50)
    press(done, floor.operator, "start")
    press(done, floor.operator, "report", good_qty=40)
    press(done, floor.operator, "complete")
    press(paused, floor.operator, "pause", reason="material")

    time_machine.move_to(at(2, 12), tick=False)
    alerts_evaluate()
    [alert] = alerts(Kind.OPERATION_STALLED)
    assert alert.subject_id == str(paused.pk)
    with translation.override("zh-hans"):
        assert str(WorkOrderOperation.Status.PAUSED.label) in alert.message


def test_re_evaluating_an_open_alert_updates_it_and_notifies_nobody_again(floor, time_machine):
    first = steps(team_work_order(floor.stamping, "WO-A-0001"))[0]
    time_machine.move_to(at(2, 8), tick=False)
    press(first, floor.operator, "start")
    time_machine.move_to(at(2, 10, 5), tick=False)
    alerts_evaluate()
    queued = Notification.objects.count()
    assert queued == 2

    for minute in (10, 15, 20, 40):
        time_machine.move_to(at(2, 11, minute), tick=False)
        alerts_evaluate()
    alert = alerts(Kind.OPERATION_STALLED).get()
    assert Notification.objects.count() == queued
    assert alert.last_seen_at == at(2, 11, 40) and alert.first_seen_at == at(2, 10, 5)
    assert "3.7" in alert.message  # the message follows the facts
    assert alert.notifications_sent == 2


def test_an_acknowledged_alert_is_not_notified_again_either(floor, time_machine):
    first = steps(team_work_order(floor.stamping, "WO-A-0001"))[0]
    time_machine.move_to(at(2, 8), tick=False)
    press(first, floor.operator, "start")
    time_machine.move_to(at(2, 10, 5), tick=False)
    alerts_evaluate()
    Alert.objects.update(state=Alert.State.ACKNOWLEDGED)
    time_machine.move_to(at(2, 11), tick=False)
    alerts_evaluate()
    assert alerts(Kind.OPERATION_STALLED).get().state == Alert.State.ACKNOWLEDGED
    assert Notification.objects.count() == 2


def test_a_stall_alert_resolves_itself_with_the_next_report(floor, time_machine):
    first = steps(team_work_order(floor.stamping, "WO-A-0001"))[0]
    time_machine.move_to(at(2, 8), tick=False)
    press(first, floor.operator, "start")
    time_machine.move_to(at(2, 10, 5), tick=False)
    alerts_evaluate()
    time_machine.move_to(at(2, 10, 20), tick=False)
    press(first, floor.operator, "report", good_qty=10)
    time_machine.move_to(at(2, 10, 25), tick=False)
    alerts_evaluate()

    alert = alerts(Kind.OPERATION_STALLED).get()
    assert alert.state == Alert.State.RESOLVED and alert.resolved_at == at(2, 10, 25)
    assert alert.resolved_by is None and alert.note == "cleared"

    # Quiet for another two hours: a new alert, and a new message.
    time_machine.move_to(at(2, 12, 30), tick=False)
    alerts_evaluate()
    assert alerts(Kind.OPERATION_STALLED).filter(state=Alert.State.OPEN).count() == 1
    assert alerts(Kind.OPERATION_STALLED).count() == 2
    assert Notification.objects.count() == 4


def test_the_stall_hours_follow_the_rule(floor, time_machine):
    alert_rule_update(rule=AlertRule.objects.get(kind=Kind.OPERATION_STALLED), by=floor.manager, threshold="0.5")
    first = steps(team_work_order(floor.stamping, "WO-A-0001"))[0]
    time_machine.move_to(at(2, 8), tick=False)
    press(first, floor.operator, "start")
    time_machine.move_to(at(2, 8, 29), tick=False)
    alerts_evaluate()
    assert not Alert.objects.exists()
    time_machine.move_to(at(2, 8, 31), tick=False)
    alerts_evaluate()
    assert alerts(Kind.OPERATION_STALLED).count() == 1


def test_a_disabled_rule_raises_nothing(floor, time_machine):
    alert_rule_update(rule=AlertRule.objects.get(kind=Kind.OPERATION_STALLED), by=floor.manager, enabled=False)
    first = steps(team_work_order(floor.stamping, "WO-A-0001"))[0]
    time_machine.move_to(at(2, 8), tick=False)
    press(first, floor.operator, "start")
    time_machine.move_to(at(2, 14), tick=False)
    alerts_evaluate()
    assert not Alert.objects.exists()


# --- Daily completion and escalation -----------------------------------------------------------------------


def test_daily_completion_below_60_percent_alerts_the_team_leader_at_the_check_hour_and_not_before(floor, time_machine):
    ops = steps(team_work_order(floor.stamping, "WO-A-0001"))
    plan(ops[0], end=at(2, 11), good="30")
    plan(ops[1], end=at(2, 15), good="50")  # 80 good of 200 planned: 40 %
    plan(ops[2], end=at(2, 18), good="0")  # after the check hour: not part of today's judged plan

    time_machine.move_to(at(2, 16, 59), tick=False)
    alerts_evaluate()
    assert not alerts(Kind.LOW_DAILY_COMPLETION).exists()

    time_machine.move_to(at(2, 17), tick=False)
    alerts_evaluate()
    team_alert = alerts(Kind.LOW_DAILY_COMPLETION).get(subject_type=Alert.SubjectType.TEAM)
    assert team_alert.team == floor.stamping and team_alert.escalation_level == 0
    assert team_alert.data["completion_pct"] == "40.0" and team_alert.data["planned_qty"] == "200.000"
    assert team_alert.breach_days == 1
    assert sent_to(team_alert) == [("dingtalk", ["13811110001"]), ("sms", ["13811110001"])]
    # The workshop is judged too; it has no leader, so it goes to the production manager.
    workshop_alert = alerts(Kind.LOW_DAILY_COMPLETION).get(subject_type=Alert.SubjectType.WORKSHOP)
    assert workshop_alert.team is None and workshop_alert.data["completion_pct"] == "40.0"


def test_completion_at_or_above_the_threshold_raises_nothing(floor, time_machine):
    ops = steps(team_work_order(floor.stamping, "WO-A-0001"))
    plan(ops[0], end=at(2, 11), good="60")
    plan(ops[1], end=at(2, 15), good="100")  # over-reporting one step never makes up for another: 160/200
    time_machine.move_to(at(2, 17, 5), tick=False)
    alerts_evaluate()
    assert not alerts(Kind.LOW_DAILY_COMPLETION).exists()


def test_escalation_reaches_the_production_manager_on_day_2_not_on_day_1(floor, time_machine):
    ops = steps(team_work_order(floor.stamping, "WO-A-0001"))
    plan(ops[0], end=at(2, 12), good="40")
    plan(ops[1], end=at(3, 12), good="50")

    for hour in (17, 20, 23):  # judged again and again on day 1: still one day
        time_machine.move_to(at(2, hour), tick=False)
        alerts_evaluate()
    alert = alerts(Kind.LOW_DAILY_COMPLETION).get(subject_type=Alert.SubjectType.TEAM)
    assert alert.escalation_level == 0 and alert.breach_days == 1 and alert.level == Alert.Level.WARNING

    time_machine.move_to(at(3, 9), tick=False)  # day 2 before the check hour: not judged yet
    alerts_evaluate()
    alert.refresh_from_db()
    assert alert.escalation_level == 0 and alert.state == Alert.State.OPEN

    time_machine.move_to(at(3, 17), tick=False)
    alerts_evaluate()
    alert.refresh_from_db()
    assert alert.escalation_level == 1 and alert.breach_days == 2 and alert.level == Alert.Level.CRITICAL
    assert alert.data["completion_pct"] == "50.0"
    escalations = Notification.objects.filter(subject__contains="冲压一班").order_by("pk")[2:]
    assert sorted((n.channel.kind, n.mention) for n in escalations) == [
        ("dingtalk", ["13811110001", "13700137000"]),
        ("sms", ["13811110001", "13700137000"]),
    ]
    assert alert.notifications_sent == 4

    time_machine.move_to(at(3, 18), tick=False)
    alerts_evaluate()
    assert Notification.objects.filter(subject__contains="冲压一班").count() == 4


def test_a_good_day_resolves_the_alert_and_the_streak_starts_again(floor, time_machine):
    ops = steps(team_work_order(floor.stamping, "WO-A-0001"))
    plan(ops[0], end=at(2, 12), good="40")
    plan(ops[1], end=at(3, 12), good="90")
    plan(ops[2], end=at(4, 12), good="10")
    time_machine.move_to(at(2, 17), tick=False)
    alerts_evaluate()
    time_machine.move_to(at(3, 17), tick=False)
    alerts_evaluate()
    first = alerts(Kind.LOW_DAILY_COMPLETION).get(subject_type=Alert.SubjectType.TEAM)
    assert first.state == Alert.State.RESOLVED and first.escalation_level == 0

    time_machine.move_to(at(4, 17), tick=False)
    alerts_evaluate()
    second = alerts(Kind.LOW_DAILY_COMPLETION).exclude(state=Alert.State.RESOLVED).get(subject_type="team")
    assert second.pk != first.pk and second.breach_days == 1 and second.escalation_level == 0


def test_a_day_without_planned_work_neither_breaks_nor_extends_the_streak(floor, time_machine):
    ops = steps(team_work_order(floor.stamping, "WO-A-0001"))
    plan(ops[0], end=at(6, 12), good="40")  # Friday
    plan(ops[1], end=at(9, 12), good="40")  # Monday
    for day in (6, 7, 8):
        time_machine.move_to(at(day, 17, 30), tick=False)
        alerts_evaluate()
    alert = alerts(Kind.LOW_DAILY_COMPLETION).get(subject_type=Alert.SubjectType.TEAM)
    assert alert.state == Alert.State.OPEN and alert.breach_days == 1

    time_machine.move_to(at(9, 17, 30), tick=False)
    alerts_evaluate()
    alert.refresh_from_db()
    assert alert.breach_days == 2 and alert.escalation_level == 1


def test_each_team_is_judged_on_its_own(floor, time_machine):
    plan(steps(team_work_order(floor.stamping, "WO-A-0001"))[0], end=at(2, 12), good="30")
    plan(steps(team_work_order(floor.polishing, "WO-B-0001", workshop="PG"))[0], end=at(2, 12), good="95")
    time_machine.move_to(at(2, 17), tick=False)
    alerts_evaluate()
    teams = alerts(Kind.LOW_DAILY_COMPLETION).filter(subject_type="team")
    assert [alert.team for alert in teams] == [floor.stamping]


def test_the_check_hour_and_threshold_follow_the_rule(floor, time_machine):
    rule = AlertRule.objects.get(kind=Kind.LOW_DAILY_COMPLETION)
    alert_rule_update(rule=rule, by=floor.manager, threshold="80", check_hour=14)
    plan(steps(team_work_order(floor.stamping, "WO-A-0001"))[0], end=at(2, 12), good="70")
    time_machine.move_to(at(2, 13, 59), tick=False)
    alerts_evaluate()
    assert not alerts(Kind.LOW_DAILY_COMPLETION).exists()
    time_machine.move_to(at(2, 14), tick=False)
    alerts_evaluate()
    assert alerts(Kind.LOW_DAILY_COMPLETION).filter(subject_type="team").count() == 1


# --- Orders, syncs and the ERP -------------------------------------------------------------------------------


def test_an_order_projected_to_finish_too_late_is_at_risk_until_replanned(floor, time_machine):
    order = make_order(make_account(), status=SalesOrder.Status.IN_PRODUCTION, promised_date=at(5, 0).date())
    work_order = team_work_order(floor.stamping, "WO-A-0001")
    work_order.order_line = order.lines.get()
    work_order.save(update_fields=["order_line"])
    ops = steps(work_order)
    plan(ops[0], end=at(3, 12))
    last = plan(ops[2], end=at(5, 10))  # finishes on the promised day: no day left to ship

    time_machine.move_to(at(2, 9), tick=False)
    alerts_evaluate()
    alert = alerts(Kind.ORDER_AT_RISK).get()
    assert alert.subject_label == order.number and alert.data["promised_date"] == "2026-11-05"
    assert [kind for kind, _mention in sent_to(alert)] == ["dingtalk", "sms"]
    assert sent_to(alert)[0][1] == ["13700137000"]  # no team: the production manager

    plan(last, end=at(4, 10))
    time_machine.move_to(at(2, 9, 5), tick=False)
    alerts_evaluate()
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_a_confirmed_order_not_released_close_to_its_promised_date_is_at_risk(floor, time_machine):
    account = make_account()
    soon = make_order(account, status=SalesOrder.Status.CONFIRMED, promised_date=at(3, 0).date())
    make_order(account, status=SalesOrder.Status.CONFIRMED, promised_date=at(20, 0).date())
    time_machine.move_to(at(2, 9), tick=False)
    alerts_evaluate()
    assert [alert.subject_label for alert in alerts(Kind.ORDER_AT_RISK)] == [soon.number]


def test_three_failed_syncs_in_a_row_alert_it_and_a_good_run_resolves_it(floor, time_machine):
    time_machine.move_to(at(2, 9), tick=False)
    account = make_account()
    make_run(account, status=SyncRun.Status.SUCCEEDED, started_at=at(2, 8))
    error = [{"code": "isv.invalid-session", "message": "Invalid session"}]
    make_run(account, status=SyncRun.Status.FAILED, started_at=at(2, 8, 15), errors=error)
    make_run(account, status=SyncRun.Status.FAILED, started_at=at(2, 8, 30), errors=error)
    make_run(account, status=SyncRun.Status.FAILED, trigger=SyncRun.Trigger.TEST, started_at=at(2, 8, 35))
    make_run(account, status=SyncRun.Status.SKIPPED, started_at=at(2, 8, 40))
    alerts_evaluate()
    assert not alerts(Kind.SYNC_FAILING).exists()  # two in a row; tests and skipped runs do not count

    make_run(account, status=SyncRun.Status.FAILED, started_at=at(2, 8, 45), errors=error)
    alerts_evaluate()
    alert = alerts(Kind.SYNC_FAILING).get()
    assert "isv.invalid-session" in alert.message and alert.team is None
    # To IT, on the rule's channels (DingTalk and e-mail by default; IT has a DingTalk robot).
    assert [(row.channel.name, row.mention) for row in Notification.objects.all()] == [("IT 钉钉群", [])]

    make_run(account, status=SyncRun.Status.SUCCEEDED, started_at=at(2, 9))
    time_machine.move_to(at(2, 9, 5), tick=False)
    alerts_evaluate()
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED and alert.note == "cleared"


def test_dead_erp_pushes_alert_it_until_retried(floor, time_machine):
    time_machine.move_to(at(2, 9), tick=False)
    order = make_order(make_account(), status=SalesOrder.Status.CONFIRMED)
    push = ErpPush.objects.create(order=order, status=ErpPush.Status.DEAD, last_error_code="MATERIAL")
    alerts_evaluate()
    alert = alerts(Kind.ERP_PUSH_DEAD).get()
    assert order.number in alert.message and alert.data["count"] == 1

    push.status = ErpPush.Status.DONE
    push.save()
    alerts_evaluate()
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_one_unresolved_alert_per_dedupe_key_is_a_database_rule(floor):
    from django.db import IntegrityError, transaction

    now = timezone.now()
    fields = {"kind": Kind.OPERATION_STALLED, "subject_type": "operation", "subject_id": "1", "subject_label": "x",
              "dedupe_key": "operation_stalled:operation:1", "message": "m", "first_seen_at": now,
              "last_seen_at": now}  # fmt: skip
    Alert.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(**fields)
    Alert.objects.update(state=Alert.State.RESOLVED, resolved_at=now)
    Alert.objects.create(**fields)  # a resolved one does not block a new one
    assert Alert.objects.count() == 2


def test_the_rules_come_with_their_defaults():
    rules = {rule.kind: rule for rule in AlertRule.objects.all()}
    assert rules[Kind.OPERATION_STALLED].threshold == Decimal("2")
    completion = rules[Kind.LOW_DAILY_COMPLETION]
    assert (completion.threshold, completion.check_hour, completion.escalate_after_days) == (Decimal("60"), 17, 2)
    assert rules[Kind.SYNC_FAILING].threshold == Decimal("3")
    assert rules[Kind.OPERATION_STALLED].channels == ["sms", "dingtalk"]


def test_an_evaluation_already_running_is_not_started_twice(floor):
    from django.core.cache import cache

    from dashboards.services import EVALUATE_LOCK

    cache.set(EVALUATE_LOCK, "someone", 60)
    try:
        assert alerts_evaluate() is None
    finally:
        cache.delete(EVALUATE_LOCK)
    assert alerts_evaluate() is not None


def test_old_reports_do_not_count_towards_now(floor, time_machine):
    # A sanity check of the frozen clock itself: the rules read the time from timezone.now().
    time_machine.move_to(at(2, 8), tick=False)
    assert timezone.now() == at(2, 8)
    assert timezone.now() + timedelta(hours=2) == at(2, 10)


def test_an_erp_pull_failing_three_times_in_a_row_alerts_it_per_kind(floor, time_machine):
    from integrations.models import ErpConnection

    time_machine.move_to(at(2, 9), tick=False)
    connection = ErpConnection.objects.create(name="K3", server_url="http://127.0.0.1:9/K3Cloud/", acct_id="1",
                                              username="u")  # fmt: skip

    def run(kind: str, minute: int, status: str = SyncRun.Status.FAILED) -> None:
        made = SyncRun.objects.create(erp_connection=connection, kind=kind, status=status,
                                      errors=[{"code": "500", "message": "K/3 down"}])  # fmt: skip
        SyncRun.objects.filter(pk=made.pk).update(started_at=at(2, 8, minute))

    for minute in (10, 20, 30):
        run(SyncRun.Kind.ERP_STOCK, minute)
    run(SyncRun.Kind.ERP_MATERIALS, 11)
    run(SyncRun.Kind.ERP_MATERIALS, 21, SyncRun.Status.SUCCEEDED)
    run(SyncRun.Kind.ERP_MATERIALS, 31)
    alerts_evaluate()
    [alert] = alerts(Kind.SYNC_FAILING)
    assert alert.subject_type == Alert.SubjectType.ERP_SYNC and alert.subject_id == f"{connection.pk}:erp_stock"
    assert alert.subject_label.startswith("K3") and "K/3 down" in alert.message


def test_a_team_with_its_own_channels_gets_its_alerts_there_and_escalations_also_reach_the_shared_ones(
    floor, time_machine
):
    from integrations.models import NotifyChannel
    from integrations.notify.services import notify_channel_save

    leader_sms = notify_channel_save(
        channel=NotifyChannel(name="冲压一班班组长短信", kind="sms", audience="production",
                              url="http://127.0.0.1:9/aliyun-sms/", recipients="13811110001",
                              sms_sign_name="乐普林", sms_template_code="SMS_100000001"),
        secrets={"access_key_id": "LTAI-test-000001", "access_key_secret": "secret-test-000001"},
        by=None,
    )  # fmt: skip
    TeamAlertChannel.objects.create(team=floor.stamping, channel=leader_sms)
    ops = steps(team_work_order(floor.stamping, "WO-A-0001"))
    plan(ops[0], end=at(2, 12), good="40")
    plan(ops[1], end=at(3, 12), good="40")

    time_machine.move_to(at(2, 17), tick=False)
    alerts_evaluate()
    alert = alerts(Kind.LOW_DAILY_COMPLETION).get(subject_type="team")
    # Day 1: only the team's own SMS, to its leader; the shared production channels stay quiet.
    assert sent_to(alert) == [("sms", ["13811110001"])]
    assert Notification.objects.get(subject__contains="冲压一班").channel == leader_sms

    time_machine.move_to(at(3, 17), tick=False)
    alerts_evaluate()
    day_two = Notification.objects.filter(subject__contains="冲压一班").order_by("pk")[1:]
    assert sorted((n.channel.name, n.mention) for n in day_two) == [
        ("冲压一班班组长短信", ["13811110001"]),
        ("班组长短信", ["13700137000"]),
        ("车间钉钉群", ["13700137000"]),
    ]
