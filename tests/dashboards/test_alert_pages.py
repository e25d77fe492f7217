"""The alert inbox and the rules page: who may open them, filters, htmx acknowledge/resolve, rule editing."""

import pytest
from django.utils import timezone

from accounts.roles import Role
from dashboards.models import Alert, AlertKind, AlertRule
from tests.dashboards.alert_builders import make_team

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def make_alert(team=None, n: int = 1, kind: str = AlertKind.OPERATION_STALLED, **fields) -> Alert:
    now = timezone.now()
    return Alert.objects.create(kind=kind, subject_type="operation", subject_id=str(n), subject_label=f"WO-{n} #10",
                                dedupe_key=f"{kind}:operation:{n}", message=f"消息 {n}", team=team,
                                first_seen_at=now, last_seen_at=now, **fields)  # fmt: skip


@pytest.fixture
def teams(db, users):
    return make_team("CY1", "冲压一班", "leader_cy", "13811110001"), make_team("PG1", "抛光一班", "leader_pg", "1")


@pytest.mark.parametrize(
    ("role", "inbox", "rules"),
    [
        (None, 403, 403),
        (Role.OPERATOR, 403, 403),
        (Role.SALES, 403, 403),
        (Role.FINANCE, 403, 403),
        (Role.TEAM_LEADER, 200, 200),
        (Role.PRODUCTION_MANAGER, 200, 200),
        (Role.IT_ADMIN, 200, 200),
    ],
)
def test_who_may_open_the_pages(client, users, role, inbox, rules):
    client.force_login(users[role])
    assert client.get("/alerts/").status_code == inbox
    assert client.get("/alerts/rules/").status_code == rules


def test_anonymous_visitors_go_to_the_login_page(client):
    for url in ("/alerts/", "/alerts/rules/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_inbox_shows_a_team_leader_only_their_teams_unresolved_alerts(client, teams):
    stamping, polishing = teams
    make_alert(stamping, 1)
    make_alert(polishing, 2)
    make_alert(stamping, 3, state=Alert.State.RESOLVED, resolved_at=timezone.now())
    client.force_login(stamping.leader)
    page = client.get("/alerts/").content.decode()
    assert "消息 1" in page and "消息 2" not in page and "消息 3" not in page
    assert "消息 3" in client.get("/alerts/", {"state": "resolved"}).content.decode()
    assert 'href="/alerts/"' in page  # the navigation link


def test_the_inbox_filters_by_kind_and_team(client, users, teams):
    stamping, polishing = teams
    make_alert(stamping, 1)
    make_alert(polishing, 2, kind=AlertKind.LOW_DAILY_COMPLETION)
    client.force_login(users[Role.PRODUCTION_MANAGER])
    by_kind = client.get("/alerts/", {"kind": "low_daily_completion"}).content.decode()
    assert "消息 2" in by_kind and "消息 1" not in by_kind
    by_team = client.get("/alerts/", {"team": stamping.pk}).content.decode()
    assert "消息 1" in by_team and "消息 2" not in by_team


def test_acknowledge_and_resolve_by_htmx_swap_the_row(client, teams):
    stamping, _ = teams
    alert = make_alert(stamping)
    client.force_login(stamping.leader)
    row = client.post(f"/alerts/{alert.pk}/acknowledge/", **HTMX)
    assert row.status_code == 200
    html = row.content.decode()
    assert html.startswith(f'<tr id="alert-{alert.pk}"') and 'data-state="acknowledged"' in html
    conflict = client.post(f"/alerts/{alert.pk}/acknowledge/", **HTMX)
    assert conflict.status_code == 409 and conflict.content.decode()
    resolved = client.post(f"/alerts/{alert.pk}/resolve/", {"note": "修好了"}, **HTMX)
    assert 'data-state="resolved"' in resolved.content.decode()
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED and alert.resolved_by == stamping.leader


def test_without_htmx_the_buttons_post_and_come_back_to_the_inbox(client, teams):
    stamping, _ = teams
    alert = make_alert(stamping)
    client.force_login(stamping.leader)
    response = client.post(f"/alerts/{alert.pk}/resolve/")
    assert response.status_code == 302 and response["Location"] == "/alerts/"
    again = client.post(f"/alerts/{alert.pk}/resolve/", follow=True)
    assert again.status_code == 200  # the refusal is shown as a message on the inbox


def test_another_teams_alert_is_not_found(client, users, teams):
    stamping, polishing = teams
    theirs = make_alert(polishing)
    client.force_login(stamping.leader)
    assert client.post(f"/alerts/{theirs.pk}/acknowledge/", **HTMX).status_code == 404
    client.force_login(users[Role.SALES])
    assert client.post(f"/alerts/{theirs.pk}/acknowledge/").status_code == 403


def test_the_production_manager_edits_a_rule_on_the_rules_page(client, users):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    page = client.get("/alerts/rules/").content.decode()
    assert 'name="low_daily_completion-check_hour"' in page
    response = client.post(
        "/alerts/rules/low_daily_completion/",
        {"low_daily_completion-enabled": "on", "low_daily_completion-threshold": "65",
         "low_daily_completion-check_hour": "16", "low_daily_completion-escalate_after_days": "3",
         "low_daily_completion-channels": ["sms", "dingtalk", "email"]},
    )  # fmt: skip
    assert response.status_code == 302
    rule = AlertRule.objects.get(kind=AlertKind.LOW_DAILY_COMPLETION)
    assert (str(rule.threshold), rule.check_hour, rule.escalate_after_days) == ("65.00", 16, 3)
    assert rule.channels == ["sms", "dingtalk", "email"] and rule.enabled


def test_a_bad_value_on_the_rules_page_is_shown_and_nothing_changes(client, users):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    response = client.post(
        "/alerts/rules/low_daily_completion/",
        {"low_daily_completion-threshold": "150", "low_daily_completion-check_hour": "17",
         "low_daily_completion-escalate_after_days": "2"},
    )  # fmt: skip
    assert response.status_code == 400
    assert AlertRule.objects.get(kind=AlertKind.LOW_DAILY_COMPLETION).threshold == 60


def test_a_team_leader_reads_the_rules_but_cannot_change_them(client, users):
    client.force_login(users[Role.TEAM_LEADER])
    page = client.get("/alerts/rules/").content.decode()
    assert "disabled" in page
    response = client.post("/alerts/rules/operation_stalled/", {"operation_stalled-threshold": "5"})
    assert response.status_code == 403
    assert AlertRule.objects.get(kind=AlertKind.OPERATION_STALLED).threshold == 2


def test_the_inbox_runs_a_constant_number_of_queries(client, users, teams, django_assert_max_num_queries):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    for n in range(3):
        make_alert(teams[n % 2], n, acknowledged_by=teams[0].leader, state=Alert.State.ACKNOWLEDGED)
    with django_assert_max_num_queries(20) as small:
        assert client.get("/alerts/").status_code == 200
    for n in range(3, 60):
        make_alert(teams[n % 2], n, acknowledged_by=teams[0].leader, state=Alert.State.ACKNOWLEDGED)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get("/alerts/").status_code == 200
