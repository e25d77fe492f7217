"""Object-level scoping: a warehouse keeper sees and changes only the stock of the warehouses assigned to them
(django-guardian, set in the admin), and a team leader corrects only the reports and downtime of their team.
Everything out of scope answers 404, as if it did not exist; every change is audited."""

import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, Team
from accounts.roles import Role
from production.floor import downtime_start, report_event_record
from production.models import Item, ReportCorrection, ReportEvent, StockLevel, Warehouse, WorkCenter
from production.stock import keepers_of, warehouse_set_keepers
from tests.conftest import make_user
from tests.production.floor_builders import make_work_order, steps

API = "/api/v1"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def stock(users) -> dict[str, StockLevel]:
    item = Item.objects.create(code="FG-1", name="合页", kind=Item.Kind.FINISHED, unit="PCS")
    mine = Warehouse.objects.create(code="WH-CP", name="成品仓")
    other = Warehouse.objects.create(code="WH-YL", name="原料仓")
    warehouse_set_keepers(warehouse=mine, keepers=[users[Role.WAREHOUSE_KEEPER]], by=users[Role.IT_ADMIN])
    return {
        "mine": StockLevel.objects.create(warehouse=mine, item=item, qty_on_hand=Decimal(40)),
        "other": StockLevel.objects.create(warehouse=other, item=item, qty_on_hand=Decimal(7)),
    }


def test_a_keeper_lists_only_the_stock_of_their_warehouse(users, stock):
    body = signed_in(users[Role.WAREHOUSE_KEEPER]).get(f"{API}/stock-levels/").json()
    assert [row["warehouse"] for row in body["results"]] == ["WH-CP"]


def test_another_warehouses_stock_is_absent_for_a_keeper(users, stock):
    client = signed_in(users[Role.WAREHOUSE_KEEPER])
    other = stock["other"].pk
    assert client.get(f"{API}/stock-levels/{other}/").status_code == 404
    assert client.post(f"{API}/stock-levels/{other}/count/", {"counted": "1"}, "application/json").status_code == 404
    assert client.post(reverse("production:stock-count", args=[other]), {"counted": "1"}).status_code == 404
    assert StockLevel.objects.get(pk=other).qty_on_hand == 7


def test_a_keeper_records_a_count_of_their_stock_and_it_is_audited(users, stock):
    keeper = users[Role.WAREHOUSE_KEEPER]
    answer = signed_in(keeper).post(
        f"{API}/stock-levels/{stock['mine'].pk}/count/", {"counted": "38", "note": "月盘"}, "application/json"
    )
    assert answer.status_code == 200 and Decimal(answer.json()["qty_on_hand"]) == 38
    event = AuditEvent.objects.get(verb="stock_level.count")
    assert event.actor == keeper
    assert event.changes["qty_on_hand"] == ["40.0000", "38.0000"]


def test_an_adjustment_never_takes_stock_below_zero(users, stock):
    client = signed_in(users[Role.WAREHOUSE_KEEPER])
    url = f"{API}/stock-levels/{stock['mine'].pk}/adjust/"
    refused = client.post(url, {"delta": "-41", "reason": "领料出库"}, "application/json")
    assert refused.status_code == 400 and refused.json()["code"] == "stock_negative"
    done = client.post(url, {"delta": "-15", "reason": "领料出库"}, "application/json")
    assert done.status_code == 200 and Decimal(done.json()["qty_on_hand"]) == 25
    assert AuditEvent.objects.filter(verb="stock_level.adjust", actor=users[Role.WAREHOUSE_KEEPER]).count() == 1


def test_the_stock_page_shows_a_keeper_only_their_warehouse(users, stock):
    html = signed_in(users[Role.WAREHOUSE_KEEPER]).get(reverse("production:stock-list")).content.decode()
    assert "WH-CP" in html and "WH-YL" not in html


def test_a_keeper_without_a_warehouse_gets_no_stock_at_all(users, stock):
    newcomer = make_user(Role.WAREHOUSE_KEEPER, "keeper2")
    client = signed_in(newcomer)
    assert client.get(f"{API}/stock-levels/").status_code == 403
    assert client.get(reverse("production:stock-list")).status_code == 403


def test_it_assigns_keepers_per_warehouse_in_the_admin(users, stock):
    newcomer = make_user(Role.WAREHOUSE_KEEPER, "keeper2")
    other = stock["other"].warehouse
    form = {"code": other.code, "name": other.name, "address": "", "erp_code": "", "active": "on",
            "keepers": [newcomer.pk]}  # fmt: skip
    answer = signed_in(users[Role.IT_ADMIN]).post(reverse("admin:production_warehouse_change", args=[other.pk]), form)
    assert answer.status_code == 302
    assert keepers_of(other) == [newcomer]
    body = signed_in(newcomer).get(f"{API}/stock-levels/").json()
    assert [row["warehouse"] for row in body["results"]] == ["WH-YL"]
    assert AuditEvent.objects.filter(verb="warehouse.keepers_set", actor=users[Role.IT_ADMIN]).count() == 2


# --- Team leaders' corrections -------------------------------------------------------------------------------


@pytest.fixture
def floor(users) -> dict:
    """A work order at team A's work centres (led by the team-leader user) with 10 good reported on step 1."""
    team_a = Team.objects.create(code="A", name="冲压一班", leader=users[Role.TEAM_LEADER])
    work_order = make_work_order()
    WorkCenter.objects.update(team=team_a)
    first = steps(work_order)[0]
    operator = users[Role.OPERATOR]
    for action, good in (("start", 0), ("report", 10)):
        result = report_event_record(
            operation_code=first.code, operator=operator, action=action, client_uuid=uuid.uuid4(), good_qty=good
        )
    downtime = downtime_start(
        work_center_code="CY-02", reason="machine_fault", operator=operator, client_uuid=uuid.uuid4()
    )
    other_leader = make_user(Role.TEAM_LEADER, "leader_b")
    Team.objects.create(code="B", name="冲压二班", leader=other_leader)
    return {"event": ReportEvent.objects.get(pk=result.event_id), "step": first, "downtime": downtime,
            "other_leader": other_leader}  # fmt: skip


def correct(user, event: ReportEvent, good: str, reason: str = "多报了两件"):
    body = {"good_qty": good, "scrap_qty": "0", "rework_qty": "0", "reason": reason}
    return signed_in(user).post(f"{API}/report-events/{event.pk}/correct/", body, "application/json")


def test_a_team_leader_corrects_a_press_of_their_team_and_the_totals_follow(users, floor):
    answer = correct(users[Role.TEAM_LEADER], floor["event"], "8")
    assert answer.status_code == 200, answer.content
    assert Decimal(answer.json()["good_delta"]) == -2 and Decimal(answer.json()["good_qty"]) == 8
    floor["step"].refresh_from_db()
    assert floor["step"].good_qty == 8
    floor["event"].refresh_from_db()
    assert floor["event"].good_qty == 10  # the press itself is never edited
    assert ReportCorrection.objects.get().by == users[Role.TEAM_LEADER]
    assert AuditEvent.objects.get(verb="report_event.correct").changes["good_qty"] == ["10.000", "8.000"]


def test_a_leader_of_another_team_cannot_even_see_the_press(users, floor):
    assert correct(floor["other_leader"], floor["event"], "8").status_code == 404
    floor["step"].refresh_from_db()
    assert floor["step"].good_qty == 10 and not ReportCorrection.objects.exists()


def test_the_production_manager_corrects_any_team_and_operators_none(users, floor):
    assert correct(users[Role.PRODUCTION_MANAGER], floor["event"], "9").status_code == 200
    assert correct(users[Role.OPERATOR], floor["event"], "9").status_code == 403


def test_a_correction_cannot_report_more_than_the_step_received(users, floor):
    answer = correct(users[Role.TEAM_LEADER], floor["event"], "106")
    assert answer.status_code == 409 and answer.json()["code"] == "qty_exceeds_input"


def test_a_team_leader_corrects_the_reason_of_their_teams_downtime_and_only_theirs(users, floor):
    url = f"{API}/downtimes/{floor['downtime'].pk}/correct/"
    body = {"reason": "mould_damaged", "note": "模具崩角"}
    assert signed_in(floor["other_leader"]).post(url, body, "application/json").status_code == 404
    answer = signed_in(users[Role.TEAM_LEADER]).post(url, body, "application/json")
    assert answer.status_code == 200 and answer.json()["reason"] == "mould_damaged"
    audit = AuditEvent.objects.get(verb="downtime.correct")
    assert audit.actor == users[Role.TEAM_LEADER] and audit.changes["reason"] == ["machine_fault", "mould_damaged"]


def test_a_downtime_cannot_be_moved_back_beyond_a_month(users, floor):
    url = f"{API}/downtimes/{floor['downtime'].pk}/correct/"
    leader = signed_in(users[Role.TEAM_LEADER])

    answer = leader.post(url, {"started_at": "0032-09-19T19:20:08+08:00"}, "application/json")

    assert answer.status_code == 400 and "31" in answer.json()["detail"]
    floor["downtime"].refresh_from_db()
    assert floor["downtime"].started_at.year > 2000


def test_the_corrections_page_lists_only_the_leaders_team_and_corrects_from_it(users, floor):
    leader = signed_in(users[Role.TEAM_LEADER])
    page = leader.get(reverse("production:report-list")).content.decode()
    assert f'data-event="{floor["event"].pk}"' in page
    other = signed_in(floor["other_leader"]).get(reverse("production:report-list")).content.decode()
    assert f'data-event="{floor["event"].pk}"' not in other
    url = reverse("production:report-correct", args=[floor["event"].pk])
    form = {"good_qty": "9", "scrap_qty": "0", "rework_qty": "0", "reason": "点错了数量"}
    assert signed_in(floor["other_leader"]).post(url, form).status_code == 404
    assert leader.post(url, form).status_code == 302
    floor["step"].refresh_from_db()
    assert floor["step"].good_qty == 9
    again = leader.get(reverse("production:report-list")).content.decode()
    assert 'value="9"' in again
