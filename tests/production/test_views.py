"""Item pages and the admin site's master data, as the roles see them."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.roles import Role
from production.models import BomLine, Item
from production.services import bom_line_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def hinge(make_item):
    fg = make_item("FG-HINGE", kind=Item.Kind.FINISHED, name="不锈钢合页")
    leaf = make_item("SF-LEAF", name="合页片")
    steel = make_item("RM-304", kind=Item.Kind.RAW, name="SUS304 不锈钢板", unit="KG")
    bom_line_add(parent=fg, child=leaf, qty_per=Decimal("2"), by=None)
    bom_line_add(parent=leaf, child=steel, qty_per=Decimal("0.05"), scrap_pct=Decimal("4"), by=None)
    return fg


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 403), (Role.SALES, 200), (Role.OPERATOR, 200), (Role.FINANCE, 200), (Role.IT_ADMIN, 200)],
)
def test_item_pages_open_for_roles_that_may_view_items(client, users, hinge, role, status):
    client.force_login(users[role])
    assert client.get(reverse("production:item-list")).status_code == status
    assert client.get(reverse("production:item-detail", args=["FG-HINGE"])).status_code == status


def test_the_item_list_searches_by_code_and_name(client, users, hinge):
    client.force_login(users[Role.SALES])
    body = client.get(reverse("production:item-list"), {"q": "合页"}).content.decode()
    assert "FG-HINGE" in body and "SF-LEAF" in body and "RM-304" not in body


def test_the_item_page_explodes_the_bom_for_the_quantity_asked(client, users, hinge):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    body = client.get(reverse("production:item-detail", args=["FG-HINGE"]), {"qty": "100"}).content.decode()
    # 100 hinges × 2 leaves = 200; × 0.05 kg × 1.04 = 10.4 kg of steel.
    assert "200" in body
    assert "10.4" in body


def test_a_bad_quantity_falls_back_to_one(client, users, hinge):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    response = client.get(reverse("production:item-detail", args=["FG-HINGE"]), {"qty": "-3"})
    assert response.status_code == 200
    assert response.context["qty"] == 1


def test_the_admin_refuses_a_bom_line_that_closes_a_loop(client, users, hinge):
    client.force_login(users[Role.IT_ADMIN])
    steel = Item.objects.get(code="RM-304")
    steel.kind = Item.Kind.SEMI
    steel.save()
    response = client.post(
        reverse("admin:production_bomline_add"),
        {"parent": steel.pk, "child": hinge.pk, "sequence": 10, "qty_per": "1", "scrap_pct": "0"},
    )
    assert response.status_code == 200
    assert "RM-304" in response.content.decode()
    assert not BomLine.objects.filter(parent=steel).exists()


def test_an_admin_change_is_audited(client, users, hinge):
    client.force_login(users[Role.IT_ADMIN])
    response = client.post(
        reverse("admin:production_item_change", args=[hinge.pk]),
        {
            "code": "FG-HINGE",
            "name": "不锈钢合页 4 寸",
            "specification": "",
            "category": "",
            "unit": "PCS",
            "kind": "finished",
            "active": "on",
            "bom_lines-TOTAL_FORMS": "0",
            "bom_lines-INITIAL_FORMS": "0",
            "routing_steps-TOTAL_FORMS": "0",
            "routing_steps-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(verb="admin.item.update")
    assert event.actor == users[Role.IT_ADMIN]
    assert event.changes == {"name": "不锈钢合页 4 寸"}


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:accounts_user_changelist",
        "admin:accounts_team_changelist",
        "admin:accounts_auditevent_changelist",
        "admin:production_item_changelist",
        "admin:production_bomline_changelist",
        "admin:production_warehouse_changelist",
        "admin:production_stocklevel_changelist",
        "admin:production_workshop_changelist",
        "admin:production_workcenter_changelist",
        "admin:production_operation_changelist",
        "admin:production_routingstep_changelist",
    ],
)
def test_it_admins_manage_every_table_in_the_admin_with_search(client, users, hinge, url_name):
    client.force_login(users[Role.IT_ADMIN])
    assert client.get(reverse(url_name), {"q": "合页"}).status_code == 200


def test_the_audit_trail_cannot_be_edited_in_the_admin(client, users, hinge):
    client.force_login(users[Role.IT_ADMIN])
    event = AuditEvent.objects.first()
    response = client.post(reverse("admin:accounts_auditevent_change", args=[event.pk]), {"verb": "forged"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.verb != "forged"


def test_roles_outside_it_and_production_cannot_open_the_admin(client, users):
    client.force_login(users[Role.SALES])
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
