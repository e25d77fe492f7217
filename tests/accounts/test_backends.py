"""Permissions of a signed-in user, from their roles and their own grants, as every request checks them."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.roles import Role

pytestmark = pytest.mark.django_db


def test_a_users_own_and_role_permissions_are_read_in_one_query(users):
    operator = users[Role.OPERATOR]
    operator.user_permissions.add(Permission.objects.get(codename="view_team"))
    fresh = User.objects.get(pk=operator.pk)

    with CaptureQueriesContext(connection) as queries:
        perms = fresh.get_all_permissions()
        allowed = (fresh.has_perm("production.add_reportevent"), fresh.has_perm("accounts.view_team"))

    assert len(queries.captured_queries) == 1
    assert allowed == (True, True)  # one through the operator role's group, one granted to the user
    assert {"production.add_reportevent", "accounts.view_team"} <= perms
    assert not fresh.has_perm("production.delete_workorder")


def test_an_inactive_user_has_no_permission_and_a_superuser_has_all(users):
    clerk = users[Role.OPERATOR]
    clerk.is_active = False
    clerk.save()
    boss = User.objects.create_superuser("boss", password="x-Loopline-2026")

    assert User.objects.get(pk=clerk.pk).get_all_permissions() == set()
    assert User.objects.get(pk=boss.pk).has_perm("production.delete_workorder")
    assert User.objects.get(pk=boss.pk).get_all_permissions() == {
        f"{app_label}.{codename}"
        for app_label, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
