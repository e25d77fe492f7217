"""The alerts API: who sees which alerts, acknowledge and resolve with clear refusals, and the rules."""

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from dashboards.models import Alert, AlertKind, AlertRule
from tests.dashboards.alert_builders import make_team

pytestmark = pytest.mark.django_db


def make_alert(team=None, n: int = 1, kind: str = AlertKind.OPERATION_STALLED, **fields) -> Alert:
    now = timezone.now()
    return Alert.objects.create(kind=kind, subject_type="operation", subject_id=str(n), subject_label=f"WO-{n} #10",
                                dedupe_key=f"{kind}:operation:{n}", message="2.5 小时无报工", team=team,
                                first_seen_at=now, last_seen_at=now, **fields)  # fmt: skip


@pytest.fixture
def teams(db, users):
    return make_team("CY1", "冲压一班", "leader_cy", "13811110001"), make_team("PG1", "抛光一班", "leader_pg", "1")


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (None, 403),
        (Role.OPERATOR, 403),
        (Role.SALES, 403),
        (Role.CUSTOMER_SERVICE, 403),
        (Role.PRODUCTION_MANAGER, 200),
        (Role.IT_ADMIN, 200),
        (Role.TEAM_LEADER, 200),
    ],
)
def test_who_may_list_alerts(client, users, role, expected):
    client.force_login(users[role])
    assert client.get("/api/v1/alerts/").status_code == expected


def test_anonymous_callers_are_refused(client):
    assert client.get("/api/v1/alerts/").status_code == 403
    assert client.get("/api/v1/alert-rules/").status_code == 403


def test_a_team_leader_lists_only_their_teams_alerts_and_cannot_touch_others(client, teams):
    stamping, polishing = teams
    mine = make_alert(stamping, 1)
    theirs = make_alert(polishing, 2)
    client.force_login(stamping.leader)
    body = client.get("/api/v1/alerts/").json()
    assert [row["id"] for row in body["results"]] == [mine.pk]
    assert body["results"][0]["team"] == "CY1" and body["results"][0]["state"] == "open"
    assert client.get(f"/api/v1/alerts/{theirs.pk}/").status_code == 404
    refused = client.post(f"/api/v1/alerts/{theirs.pk}/acknowledge/", {}, content_type="application/json")
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.state == Alert.State.OPEN


def test_acknowledge_then_resolve_then_a_clear_409(client, teams):
    stamping, _ = teams
    alert = make_alert(stamping)
    client.force_login(stamping.leader)
    done = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {"note": "换模中"}, content_type="application/json")
    assert done.status_code == 200
    assert done.json()["state"] == "acknowledged" and done.json()["acknowledged_by"] == "leader_cy"
    again = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {}, content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "alert_state"
    resolved = client.post(f"/api/v1/alerts/{alert.pk}/resolve/", {"note": "好了"}, content_type="application/json")
    assert resolved.status_code == 200 and resolved.json()["resolved_by"] == "leader_cy"
    assert resolved.json()["note"] == "好了"
    twice = client.post(f"/api/v1/alerts/{alert.pk}/resolve/", {}, content_type="application/json")
    assert twice.status_code == 409 and twice.json()["code"] == "alert_state"
    assert AuditEvent.objects.filter(verb__in=["alert.acknowledge", "alert.resolve"]).count() == 2


def test_it_sees_but_sales_may_not_act(client, users, teams):
    alert = make_alert(teams[0])
    client.force_login(users[Role.IT_ADMIN])
    assert client.get(f"/api/v1/alerts/{alert.pk}/").status_code == 200
    client.force_login(users[Role.SALES])
    assert client.post(f"/api/v1/alerts/{alert.pk}/resolve/", {}, content_type="application/json").status_code == 403


def test_filters_by_state_kind_and_team(client, users, teams):
    stamping, polishing = teams
    make_alert(stamping, 1)
    make_alert(polishing, 2, kind=AlertKind.LOW_DAILY_COMPLETION)
    now = timezone.now()
    make_alert(stamping, 3, state=Alert.State.RESOLVED, resolved_at=now)
    client.force_login(users[Role.PRODUCTION_MANAGER])

    def ids(**params):
        return sorted(row["subject_id"] for row in client.get("/api/v1/alerts/", params).json()["results"])

    assert ids() == ["1", "2", "3"]
    assert ids(unresolved="true") == ["1", "2"]
    assert ids(state="resolved") == ["3"]
    assert ids(kind="low_daily_completion") == ["2"]
    assert ids(team="CY1") == ["1", "3"]
    assert client.get("/api/v1/alerts/", {"state": "bogus"}).status_code == 400


def test_the_alert_list_runs_a_constant_number_of_queries(client, users, teams, django_assert_max_num_queries):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    for n in range(3):
        make_alert(teams[n % 2], n)
    with django_assert_max_num_queries(8) as small:
        assert client.get("/api/v1/alerts/").status_code == 200
    for n in range(3, 60):
        make_alert(teams[n % 2], n)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(client.get("/api/v1/alerts/").json()["results"]) == 50


def test_the_production_manager_changes_a_rule_and_others_may_only_read(client, users):
    client.force_login(users[Role.TEAM_LEADER])
    assert client.get("/api/v1/alert-rules/").status_code == 200
    url = "/api/v1/alert-rules/operation_stalled/"
    refused = client.patch(url, {"threshold": "3"}, content_type="application/json")
    assert refused.status_code == 403

    client.force_login(users[Role.PRODUCTION_MANAGER])
    response = client.patch(
        "/api/v1/alert-rules/low_daily_completion/",
        {"threshold": "70", "check_hour": 16, "channels": ["sms", "wecom"]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["threshold"] == "70.00" and response.json()["channels"] == ["sms", "wecom"]
    assert response.json()["updated_by"] == Role.PRODUCTION_MANAGER.value
    rule = AlertRule.objects.get(kind=AlertKind.LOW_DAILY_COMPLETION)
    assert rule.check_hour == 16


def test_a_bad_rule_value_answers_400_with_the_field(client, users):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    response = client.patch("/api/v1/alert-rules/low_daily_completion/", {"threshold": "150"},
                            content_type="application/json")  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "threshold" in response.json()["fields"]
    assert client.get("/api/v1/alert-rules/nonsense/").status_code == 404
    assert client.put("/api/v1/alert-rules/operation_stalled/", {}, content_type="application/json").status_code == 405
