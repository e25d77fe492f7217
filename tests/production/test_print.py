"""Printable travellers, work-centre labels and badges: who may print them, what they show, and their cost."""

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import segno
from django.conf import settings
from django.db import connection
from django.shortcuts import resolve_url
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, User
from accounts.roles import ROLE_PERMISSIONS, Role
from accounts.services import team_create
from orders.models import OrderLine, SalesOrder
from production.models import WorkCenter, WorkOrder, Workshop
from tests.conftest import make_user
from tests.integrations.builders import make_account
from tests.production.floor_builders import make_work_order, steps

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonymous"
PRINCIPALS = [ANONYMOUS, None, *Role]  # None: a signed-in user with no role


def page(client, url: str, **params) -> str:
    """The page in English, so the tests do not depend on the Chinese catalogue."""
    response = client.get(url, params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def svg_of(data: str) -> str:
    """The path segno draws for `data`: the page's QR code must be exactly this one."""
    return re.search(r' d="([^"]+)"', segno.make_qr(data, error="m").svg_inline()).group(1)


@pytest.fixture
def printer(client, users):
    """A signed-in production manager, who may print travellers and labels."""
    client.force_login(users[Role.PRODUCTION_MANAGER])
    return client


# --- Who may print what --------------------------------------------------------------------------------------

PAGES = [
    ("print:traveller", ["WO-T-0001"], "production.view_workorder"),
    ("print:travellers", [], "production.view_workorder"),
    ("print:work-center-labels", [], "production.view_workcenter"),
    ("print:badges", [], "accounts.change_user"),
]


def is_allowed(principal, needs: str) -> bool:
    """What accounts.roles grants: the single source of truth the matrix is derived from."""
    return principal not in (ANONYMOUS, None) and needs in ROLE_PERMISSIONS[principal]


def test_only_it_admins_may_print_badges_and_managers_with_view_user_may_not():
    assert is_allowed(Role.IT_ADMIN, "accounts.change_user")
    assert "accounts.view_user" in ROLE_PERMISSIONS[Role.PRODUCTION_MANAGER]
    assert not is_allowed(Role.PRODUCTION_MANAGER, "accounts.change_user")
    assert is_allowed(Role.OPERATOR, "production.view_workorder")
    assert not is_allowed(Role.SALES, "production.view_workcenter")


@pytest.mark.parametrize(("name", "args", "needs"), PAGES, ids=[name for name, _args, _needs in PAGES])
def test_it_opens_each_print_page_exactly_to_the_roles_granted_its_permission(client, users, name, args, needs):
    make_work_order()
    url = reverse(name, args=args) + ("?numbers=WO-T-0001" if name == "print:travellers" else "")
    wrong = []
    for principal in PRINCIPALS:
        client.logout()
        if principal != ANONYMOUS:
            client.force_login(users[principal])
        response = client.get(url)
        if principal == ANONYMOUS:
            ok = response.status_code == 302 and response["Location"].startswith(resolve_url(settings.LOGIN_URL))
        else:
            ok = response.status_code == (200 if is_allowed(principal, needs) else 403)
        if not ok:
            wrong.append((str(principal), response.status_code))
    assert wrong == [], f"{url} needs {needs}"


# --- Travellers ----------------------------------------------------------------------------------------------


def test_the_traveller_shows_the_work_order_and_a_qr_code_of_each_operations_scan_code(printer):
    work_order = make_work_order(number="WO-T-0001", qty="120")
    work_order.due_date = date(2031, 3, 15)
    work_order.planned_start = datetime(2031, 3, 10, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    work_order.save()
    work_order.item.specification = "SUS304 2.0mm"
    work_order.item.save()

    body = page(printer, reverse("print:traveller", args=["WO-T-0001"]))

    for text in ("WO-T-0001", "SF-WO-T-0001", "合页片", "SUS304 2.0mm", "120", "2031-03-15", "2031-03-10 08:00"):
        assert text in body
    assert "Printed at" in body and "Scan to report" in body
    for step in steps(work_order):
        assert step.code in body
        assert svg_of(step.code) in body
    assert body.count("<svg") == 3
    assert body.index("下料") < body.index("冲压") < body.index("抛光")


def test_the_traveller_names_the_sales_order_and_the_parent_work_order(printer):
    parent = make_work_order(number="WO-T-0009")
    child = make_work_order(number="WO-T-0002")
    order = SalesOrder.objects.create(number="SO-2031-0001", channel_account=make_account(), external_id="tb-1")
    line = OrderLine.objects.create(order=order, line_no=1, external_sku="SKU-1", qty=Decimal(1))
    WorkOrder.objects.filter(pk=child.pk).update(parent=parent, order_line=line)

    body = page(printer, reverse("print:traveller", args=["WO-T-0002"]))

    assert "SO-2031-0001" in body
    assert "WO-T-0009" in body


@pytest.mark.parametrize(("kind", "label"), [(WorkOrder.Kind.TRIAL, "Trial run"), (WorkOrder.Kind.REWORK, "Rework")])
def test_rework_and_trial_travellers_are_marked_in_big_letters(client, users, kind, label):
    source = steps(make_work_order(number="WO-T-0001"))[1]
    work_order = make_work_order(number="WO-T-0002", kind=WorkOrder.Kind.NORMAL)
    rework_of = source if kind == WorkOrder.Kind.REWORK else None
    WorkOrder.objects.filter(pk=work_order.pk).update(kind=kind, rework_of=rework_of)
    client.force_login(users[Role.TEAM_LEADER])

    body = page(client, reverse("print:traveller", args=["WO-T-0002"]))

    assert re.search(rf'class="kind-flag kind-{kind}">\s*{label}\s*<', body)
    if kind == WorkOrder.Kind.REWORK:
        assert "WO-T-0001 #20 冲压" in body


def test_a_normal_traveller_carries_no_kind_flag(printer):
    make_work_order()
    assert "kind-flag" not in page(printer, reverse("print:traveller", args=["WO-T-0001"]))


def test_several_travellers_print_in_the_order_asked_one_per_page(printer):
    for number in ("WO-T-0001", "WO-T-0002", "WO-T-0003"):
        make_work_order(number=number)

    body = page(printer, reverse("print:travellers"), numbers="WO-T-0003,WO-T-0001, WO-T-0404")

    assert body.count('class="sheet traveller"') == 2
    assert body.index('aria-label="WO-T-0003"') < body.index('aria-label="WO-T-0001"')
    assert "WO-T-0002" not in body
    assert "WO-T-0404" in body  # named among the numbers not found


def test_it_answers_404_for_travellers_of_unknown_work_orders(printer):
    assert printer.get(reverse("print:traveller", args=["WO-NOPE"])).status_code == 404
    assert printer.get(reverse("print:travellers"), {"numbers": "WO-NOPE"}).status_code == 404
    assert printer.get(reverse("print:travellers")).status_code == 404


def add_operations(work_order: WorkOrder, count: int) -> None:
    """More steps on a work order, at new work centres, so a long routing costs no more queries than a short one."""
    first = steps(work_order)[0]
    for n in range(count):
        work_center = WorkCenter.objects.create(
            code=f"EX-{work_order.pk}-{n}", name=f"机台{n}", workshop=first.work_center.workshop
        )
        work_order.operations.create(
            sequence=100 + n, operation=first.operation, work_center=work_center, std_minutes_per_unit=Decimal(1)
        )


def test_travellers_cost_a_constant_number_of_queries(printer, django_assert_max_num_queries):
    make_work_order(number="WO-T-0001")
    with CaptureQueriesContext(connection) as small:
        page(printer, reverse("print:travellers"), numbers="WO-T-0001")

    numbers = [f"WO-T-{n:04d}" for n in range(2, 8)]
    for number in numbers:
        add_operations(make_work_order(number=number), 6)
    with django_assert_max_num_queries(len(small.captured_queries)):
        body = page(printer, reverse("print:travellers"), numbers=",".join(["WO-T-0001", *numbers]))
    assert body.count('class="sheet traveller"') == 7


# --- Work-centre labels --------------------------------------------------------------------------------------


def make_work_centers(count: int, start: int = 0, workshop_code: str = "CY", active: bool = True) -> None:
    workshop, _ = Workshop.objects.get_or_create(code=workshop_code, defaults={"name": f"{workshop_code}车间"})
    for n in range(start, start + count):
        WorkCenter.objects.create(code=f"{workshop_code}-{n:02d}", name=f"冲床{n}", workshop=workshop, active=active)


def test_labels_show_a_qr_code_code_and_name_of_every_active_work_centre(printer):
    make_work_centers(2)
    make_work_centers(1, start=50, active=False)

    body = page(printer, reverse("print:work-center-labels"))

    assert body.count('class="label"') == 2
    for code, name in (("CY-00", "冲床0"), ("CY-01", "冲床1")):
        assert code in body and name in body
        assert svg_of(code) in body
    assert "CY-50" not in body


def test_labels_fill_a4_sheets_of_24_and_filter_by_workshop(printer):
    make_work_centers(25)
    make_work_centers(3, workshop_code="JG")

    everything = page(printer, reverse("print:work-center-labels"))
    machining = page(printer, reverse("print:work-center-labels"), workshop="JG")

    assert everything.count('class="label"') == 28
    assert everything.count('class="sheet label-sheet"') == 2
    assert machining.count('class="label"') == 3
    assert "CY-00" not in machining


def test_labels_cost_a_constant_number_of_queries(printer, django_assert_max_num_queries):
    make_work_centers(2)
    with CaptureQueriesContext(connection) as small:
        page(printer, reverse("print:work-center-labels"))
    make_work_centers(40, start=10, workshop_code="JG")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert page(printer, reverse("print:work-center-labels")).count('class="label"') == 42


# --- Badges --------------------------------------------------------------------------------------------------


@pytest.fixture
def it_admin(client, users):
    client.force_login(users[Role.IT_ADMIN])
    return client


def test_badges_carry_the_operators_qr_code_but_never_the_code_as_text(it_admin, users):
    team = team_create(code="CY1", name="冲压一班", leader=None)
    operator = make_user(Role.OPERATOR, "op-li", last_name="李", first_name="强", employee_number="E1001", team=team)

    body = page(it_admin, reverse("print:badges"))

    assert "李强" in body and "E1001" in body and "冲压一班" in body
    assert svg_of(operator.badge_code) in body
    assert operator.badge_code not in body
    assert svg_of(users[Role.OPERATOR].badge_code) in body
    assert body.count('class="badge"') == User.objects.filter(badge_code__isnull=False, is_active=True).count()


def test_badges_can_be_printed_for_chosen_users_only(it_admin, users):
    chosen = make_user(Role.OPERATOR, "op-wang", employee_number="E2002")
    make_user(Role.OPERATOR, "op-zhao", employee_number="E3003")

    body = page(it_admin, reverse("print:badges"), users=f"{chosen.pk},x")

    assert body.count('class="badge"') == 1
    assert "E2002" in body and "E3003" not in body


def test_badges_skip_inactive_users_and_users_without_a_badge(it_admin, users):
    gone = make_user(Role.OPERATOR, "op-gone", employee_number="E4004")
    User.objects.filter(pk=gone.pk).update(is_active=False)

    body = page(it_admin, reverse("print:badges"), users=f"{gone.pk},{users[Role.SALES].pk}")

    assert 'class="badge"' not in body


def test_printing_badges_is_audited_and_never_cached(it_admin, users):
    response = it_admin.get(reverse("print:badges"), {"users": str(users[Role.OPERATOR].pk)})

    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(verb="user.badges_print")
    assert event.actor == users[Role.IT_ADMIN]
    assert event.changes == {"users": [users[Role.OPERATOR].username]}


# --- The page itself -----------------------------------------------------------------------------------------


def test_print_pages_load_nothing_from_outside_and_hide_the_print_button_on_paper(printer, users, client):
    make_work_order()
    body = page(printer, reverse("print:traveller", args=["WO-T-0001"]))

    assert re.findall(r"""(?:src|href)=["'](?:https?:)?//""", body) == []
    assert "/static/css/print.css" in body
    assert re.search(r'class="print-toolbar no-print">\s*<button type="button" class="print-button" data-print>', body)
    css = (Path(settings.BASE_DIR) / "static" / "css" / "print.css").read_text()
    assert re.search(r"@page\s*{\s*size:\s*A4", css)
    assert re.search(r"@media print\s*{.*?\.no-print\s*{\s*display:\s*none", css, re.S)


def test_the_traveller_speaks_the_users_language(printer):
    make_work_order()
    url = reverse("print:traveller", args=["WO-T-0001"])
    chinese = printer.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<html lang="zh-hans">' in chinese
    assert "工序" in chinese  # the Operation column, from the catalogue
