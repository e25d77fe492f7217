from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import connection, transaction

from accounts.models import AuditEvent, User
from accounts.roles import Role
from accounts.services import operator_login_by_badge, operator_login_by_pin
from production.demo import DEEPEST_BOM_ITEM, demo_logins
from production.models import BomLine, Item, RoutingStep, StockLevel, Warehouse, WorkCenter, Workshop
from production.selectors import bom_explode, operation_resolve

pytestmark = pytest.mark.django_db

MADE = [Item.Kind.FINISHED, Item.Kind.SEMI]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module", autouse=True)
def seeded(django_db_setup, django_db_blocker):
    """Seed once for the module (it takes seconds) and roll it back afterwards; each test runs in a savepoint."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed()
        transaction.set_rollback(True)


def row_counts() -> dict[str, int]:
    """Rows of every model with a table (an app being written may not have its migration yet)."""
    tables = set(connection.introspection.table_names())
    models = [model for model in apps.get_models(include_auto_created=True) if model._meta.db_table in tables]
    return {model._meta.label: model.objects.count() for model in models}


def test_it_creates_a_whole_demo_factory():
    assert 190 <= Item.objects.count() <= 230
    for kind in Item.Kind:
        assert Item.objects.filter(kind=kind).count() >= 30, kind
    assert Workshop.objects.count() == 3
    assert WorkCenter.objects.count() == 12
    assert not WorkCenter.objects.filter(team__isnull=True).exists()
    assert Warehouse.objects.count() >= 3
    assert StockLevel.objects.count() >= 150
    for role in Role:
        assert User.objects.filter(groups__name=role.value).exists(), role


def test_it_gives_every_made_item_a_routing_and_only_made_items_a_bom():
    assert not Item.objects.filter(kind__in=MADE, routing_steps__isnull=True).exists()
    assert not Item.objects.filter(kind=Item.Kind.FINISHED, bom_lines__isnull=True).exists()
    assert not BomLine.objects.exclude(parent__kind__in=MADE).exists()
    sequences = set(RoutingStep.objects.values_list("sequence", flat=True))
    assert all(sequence % 10 == 0 for sequence in sequences)


def test_it_teaches_the_regional_spellings_of_operations():
    assert operation_resolve("细磨").name == "精磨"
    assert operation_resolve("攻牙").name == "攻丝"


def test_it_explodes_the_door_lock_bom_six_levels_deep():
    explosion = bom_explode(item=Item.objects.get(code=DEEPEST_BOM_ITEM), qty=Decimal(100))

    assert explosion.depth == 6
    [coil] = [row for row in explosion.rows if row.level == 6]
    assert coil.path == ("FG-3001", "SF-7101", "SF-6101", "SF-4101", "SF-2101", "SF-1001", "RM-2003")
    # 100 locks → 100 lock bodies → 100.5 plated cases (0.5 % scrap) → 101.505 machined (1 %)
    # → 103.027575 stamped (1.5 %) → × 0.25 strips × 1.02 = 26.272031625 strips → × 1.628 kg × 1.01 of coil.
    assert coil.qty == Decimal("43.198576160355")


def test_it_changes_nothing_when_run_twice():
    counts = row_counts()
    assert counts["production.BomLine"] > 0 and counts["accounts.User_groups"] > 0
    audit_events = AuditEvent.objects.count()
    secrets = set(User.objects.values_list("username", "password", "pin_hash", "badge_code"))

    out = seed()

    assert row_counts() == counts
    assert AuditEvent.objects.count() == audit_events
    assert set(User.objects.values_list("username", "password", "pin_hash", "badge_code")) == secrets
    assert "nothing changed" in out


def test_it_lets_every_demo_login_sign_in():
    for login in demo_logins():
        user = authenticate(username=login.username, password=login.password)
        assert user is not None, login.username
        assert user.groups.filter(name=login.role.value).exists()


def test_it_lets_operators_sign_in_by_pin_and_badge():
    operators = [login for login in demo_logins() if login.role == Role.OPERATOR]

    assert len(operators) >= 3
    for login in operators:
        user = operator_login_by_pin(employee_number=login.employee_number, pin=login.pin)
        assert user.username == login.username
        assert user.team is not None
        assert operator_login_by_badge(badge_code=login.badge_code) == user


def test_it_prints_the_demo_logins(seeded):
    out = seeded

    for login in demo_logins():
        assert login.username in out
    operator = next(login for login in demo_logins() if login.role == Role.OPERATOR)
    assert operator.employee_number in out
    assert operator.pin in out
    assert operator.badge_code in out
    assert "loopline-demo" in out
