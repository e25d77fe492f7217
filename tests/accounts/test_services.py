"""Operator sign-in by badge and PIN, lockout, and the audit trail written by services."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from accounts import services
from accounts.context import current_ip
from accounts.errors import ApplicationError, LoginFailed, LoginLockedOut
from accounts.models import AuditEvent, User
from accounts.roles import Role
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> User:
    return make_user(
        Role.OPERATOR, username="op1", employee_number="E1001", pin="2468", last_name="王", first_name="芳"
    )


def test_an_operator_gets_a_badge_code_and_a_hashed_pin(operator):
    assert operator.badge_code.startswith("LLB-") and len(operator.badge_code) == 20
    assert operator.pin_hash and "2468" not in operator.pin_hash
    assert operator.check_pin("2468")


def test_it_signs_in_an_operator_by_badge(operator):
    assert services.operator_login_by_badge(badge_code=f"  {operator.badge_code.lower()} ") == operator


def test_it_rejects_an_unknown_or_inactive_badge(operator):
    with pytest.raises(LoginFailed):
        services.operator_login_by_badge(badge_code="LLB-0000000000000000")
    User.objects.filter(pk=operator.pk).update(is_active=False)
    with pytest.raises(LoginFailed):
        services.operator_login_by_badge(badge_code=operator.badge_code)


def test_it_signs_in_by_employee_number_and_pin(operator):
    assert services.operator_login_by_pin(employee_number="E1001", pin="2468") == operator


def test_it_rejects_a_wrong_pin_and_counts_the_failure(operator):
    with pytest.raises(LoginFailed):
        services.operator_login_by_pin(employee_number="E1001", pin="1111")
    operator.refresh_from_db()
    assert operator.failed_pin_attempts == 1
    assert AuditEvent.objects.filter(verb="login.pin_failed", object_id=str(operator.pk)).count() == 1


def test_repeated_wrong_pins_lock_the_operator_out_even_with_the_right_pin(operator, settings):
    settings.PIN_MAX_FAILURES = 3
    for _ in range(2):
        with pytest.raises(LoginFailed):
            services.operator_login_by_pin(employee_number="E1001", pin="0000")
    with pytest.raises(LoginLockedOut):
        services.operator_login_by_pin(employee_number="E1001", pin="0000")
    with pytest.raises(LoginLockedOut):
        services.operator_login_by_pin(employee_number="E1001", pin="2468")
    operator.refresh_from_db()
    assert operator.pin_locked_until > timezone.now() + timedelta(minutes=settings.PIN_LOCKOUT_MINUTES - 1)


def test_the_lockout_ends_after_its_time(operator):
    User.objects.filter(pk=operator.pk).update(pin_locked_until=timezone.now() - timedelta(seconds=1))
    assert services.operator_login_by_pin(employee_number="E1001", pin="2468") == operator


def test_a_new_pin_lifts_the_lockout(operator):
    User.objects.filter(pk=operator.pk).update(pin_locked_until=timezone.now() + timedelta(minutes=10))
    operator.refresh_from_db()
    services.user_set_pin(user=operator, pin="97531", by=None)
    assert services.operator_login_by_pin(employee_number="E1001", pin="97531") == operator


@pytest.mark.parametrize("pin", ["12", "123456789", "12a4", ""])
def test_it_refuses_a_pin_that_is_not_4_to_8_digits(operator, pin):
    with pytest.raises(ApplicationError) as error:
        services.user_set_pin(user=operator, pin=pin, by=None)
    assert error.value.code == "pin_invalid"
    operator.refresh_from_db()
    assert operator.check_pin("2468")


def test_a_new_badge_replaces_the_old_one(operator):
    old = operator.badge_code
    services.user_new_badge(user=operator, by=None)
    with pytest.raises(LoginFailed):
        services.operator_login_by_badge(badge_code=old)
    assert services.operator_login_by_badge(badge_code=operator.badge_code) == operator


def test_a_service_write_leaves_an_audit_event_with_actor_object_changes_and_ip(users):
    token = current_ip.set("10.20.30.40")
    try:
        team = services.team_create(code="T1", name="冲压一班", leader=users[Role.TEAM_LEADER], by=users[Role.IT_ADMIN])
    finally:
        current_ip.reset(token)
    event = AuditEvent.objects.get(verb="team.create")
    assert event.actor == users[Role.IT_ADMIN]
    assert event.actor_label == "it_admin"
    assert event.content_type == ContentType.objects.get_for_model(team)
    assert event.object_id == str(team.pk)
    assert event.object_repr == "T1 冲压一班"
    assert event.changes == {"code": "T1", "name": "冲压一班", "leader": str(users[Role.TEAM_LEADER].pk)}
    assert event.ip == "10.20.30.40"


def test_a_failed_write_leaves_no_audit_event(users):
    services.team_create(code="T1", name="冲压一班", by=None)
    before = AuditEvent.objects.count()
    with pytest.raises(Exception):  # noqa: B017 - full_clean raises ValidationError for the duplicate code
        services.team_create(code="T1", name="重复", by=None)
    assert AuditEvent.objects.count() == before


def test_roles_decide_admin_access(users):
    user = users[Role.SALES]
    services.user_set_roles(user=user, roles=[Role.IT_ADMIN], by=users[Role.IT_ADMIN])
    user.refresh_from_db()
    assert user.is_staff
    services.user_set_roles(user=user, roles=[Role.SALES], by=users[Role.IT_ADMIN])
    user.refresh_from_db()
    assert not user.is_staff
