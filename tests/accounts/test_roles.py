"""Every role exists as a group holding exactly the permissions of the role table."""

import pytest
from django.contrib.auth.models import Group

from accounts.roles import ROLE_PERMISSIONS, Role


@pytest.mark.django_db
def test_every_role_is_a_group():
    assert set(Group.objects.values_list("name", flat=True)) >= {role.value for role in Role}


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_each_role_holds_the_permissions_of_the_role_table(role):
    group = Group.objects.get(name=role.value)
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
    assert granted == set(ROLE_PERMISSIONS[role])


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.OPERATOR, "production.view_routingstep", True),
        (Role.OPERATOR, "production.change_item", False),
        (Role.SALES, "production.view_item", True),
        (Role.SALES, "production.add_bomline", False),
        (Role.PRODUCTION_MANAGER, "production.add_bomline", True),
        (Role.PRODUCTION_MANAGER, "accounts.add_user", False),
        # Keepers get stock warehouse by warehouse (django-guardian), never all of it through their role.
        (Role.WAREHOUSE_KEEPER, "production.change_stocklevel", False),
        (Role.WAREHOUSE_KEEPER, "production.view_stocklevel", False),
        (Role.WAREHOUSE_KEEPER, "production.change_item", False),
        (Role.FINANCE, "production.view_stocklevel", True),
        (Role.FINANCE, "production.change_stocklevel", False),
        (Role.IT_ADMIN, "accounts.add_user", True),
        (Role.IT_ADMIN, "accounts.change_auditevent", False),
        (Role.CUSTOMER_SERVICE, "production.view_item", True),
        (Role.TEAM_LEADER, "production.change_routingstep", False),
    ],
)
def test_a_user_gets_exactly_what_their_role_allows(users, role, permission, allowed):
    assert users[role].has_perm(permission) is allowed


def test_only_admin_roles_reach_the_admin_site(users):
    staff = {role for role, user in users.items() if user.is_staff}
    assert staff == {Role.IT_ADMIN, Role.PRODUCTION_MANAGER}
