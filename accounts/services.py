"""Writes for accounts: the audit trail every write path calls, users and roles, and operator sign-in."""

import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.context import current_api_key, current_ip
from accounts.errors import ApplicationError, LoginFailed, LoginLockedOut
from accounts.models import (
    API_KEY_PREFIX_LENGTH,
    ApiKey,
    AuditEvent,
    Team,
    User,
    api_key_digest,
    new_badge_code,
)
from accounts.roles import STAFF_ROLES, Role
from accounts.user_cache import user_auth_changed


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, models.Model):
        return str(value.pk)
    return str(value)


def audit_record(
    *,
    actor: User | None,
    verb: str,
    obj: models.Model | None = None,
    changes: dict | None = None,
    ip: str | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Record that `actor` did `verb` to `obj`; called by every service that writes."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    key = current_api_key.get()
    if key is not None and (actor is None or actor.pk != key.user_id):
        key = None  # the request's key is not who acted here (e.g. a service recording another user's change)
    label = actor_label or (key.label if key else None) or (actor.get_username() if actor is not None else "system")
    return AuditEvent.objects.create(
        actor=actor,
        api_key_id=key.key_id if key else None,
        actor_label=label[:150],
        verb=verb,
        content_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        changes=_jsonable(changes or {}),
        ip=ip or current_ip.get(),
    )


def model_changes(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The current value of each named field, for an audit record."""
    return {name: _jsonable(getattr(instance, name)) for name in fields}


@transaction.atomic
def user_create(
    *,
    username: str,
    roles: Iterable[str] = (),
    password: str | None = None,
    pin: str | None = None,
    by: User | None = None,
    **fields: Any,
) -> User:
    """Create a user with roles; operators get a badge code so they can sign in on a tablet."""
    roles = [Role(role) for role in roles]
    user = User(username=username, **fields)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    if pin:
        _validate_pin(pin)
        user.set_pin(pin)
    if Role.OPERATOR in roles and not user.badge_code:
        user.badge_code = new_badge_code()
    user.is_staff = user.is_staff or any(role in STAFF_ROLES for role in roles)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set(Group.objects.filter(name__in=[role.value for role in roles]))
    audit_record(actor=by, verb="user.create", obj=user, changes={"roles": [r.value for r in roles]})
    return user


@transaction.atomic
def user_set_roles(*, user: User, roles: Iterable[str], by: User | None) -> User:
    """Replace a user's roles; admin-site access follows the roles."""
    roles = [Role(role) for role in roles]
    user.groups.set(Group.objects.filter(name__in=[role.value for role in roles]))
    user.is_staff = user.is_superuser or any(role in STAFF_ROLES for role in roles)
    user.save(update_fields=["is_staff"])
    audit_record(actor=by, verb="user.set_roles", obj=user, changes={"roles": [r.value for r in roles]})
    return user


def _validate_pin(pin: str) -> None:
    if not (pin.isdigit() and 4 <= len(pin) <= 8):
        raise ApplicationError(_("A PIN is 4 to 8 digits."), code="pin_invalid")


@transaction.atomic
def user_set_pin(*, user: User, pin: str, by: User | None) -> User:
    """Set an operator's tablet PIN (stored hashed) and lift any lockout."""
    _validate_pin(pin)
    user.set_pin(pin)
    user.failed_pin_attempts = 0
    user.pin_locked_until = None
    user.save(update_fields=["pin_hash", "failed_pin_attempts", "pin_locked_until"])
    audit_record(actor=by, verb="user.set_pin", obj=user)
    return user


@transaction.atomic
def user_unlock_sign_in(*, user: User, by: User | None) -> User:
    """Lift a user's lockouts: wrong passwords at the office sign-in (django-axes) and wrong PINs on a tablet."""
    from axes.utils import reset as axes_reset

    removed = axes_reset(username=user.get_username())
    user.failed_pin_attempts = 0
    user.pin_locked_until = None
    user.save(update_fields=["failed_pin_attempts", "pin_locked_until"])
    audit_record(actor=by, verb="user.unlock_sign_in", obj=user, changes={"password_failures_cleared": removed})
    return user


@transaction.atomic
def user_new_badge(*, user: User, by: User | None) -> User:
    """Issue a new badge code (the old badge stops working), e.g. after a badge is lost."""
    user.badge_code = new_badge_code()
    user.save(update_fields=["badge_code"])
    audit_record(actor=by, verb="user.new_badge", obj=user)
    return user


@transaction.atomic
def user_set_language(*, user: User, language: str) -> User:
    """Remember the language a user chose, so it follows them to any device."""
    user.preferred_language = User.Language(language)
    user.save(update_fields=["preferred_language"])
    audit_record(actor=user, verb="user.set_language", obj=user, changes={"preferred_language": language})
    return user


def operator_login_by_badge(*, badge_code: str) -> User:
    """The operator whose badge was scanned; unknown or inactive badges are refused."""
    code = badge_code.strip().upper()
    user = User.objects.filter(badge_code=code, is_active=True).first() if code else None
    if user is None:
        audit_record(actor=None, verb="login.badge_failed", changes={"badge_code_suffix": code[-4:]})
        raise LoginFailed()
    audit_record(actor=user, verb="login.badge", obj=user)
    return user


def operator_login_by_pin(*, employee_number: str, pin: str) -> User:
    """The operator with this employee number and PIN; repeated wrong PINs lock the operator out for a while."""
    now = timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(employee_number=employee_number.strip(), is_active=True).first()
        if user is None or not user.has_pin:
            audit_record(actor=None, verb="login.pin_failed", changes={"employee_number": employee_number[:32]})
            outcome: ApplicationError | None = LoginFailed()
        elif user.pin_locked_until and user.pin_locked_until > now:
            outcome = _locked_out(user.pin_locked_until)
        elif not user.check_pin(pin):
            user.failed_pin_attempts += 1
            if user.failed_pin_attempts >= settings.PIN_MAX_FAILURES:
                user.pin_locked_until = now + timedelta(minutes=settings.PIN_LOCKOUT_MINUTES)
                user.failed_pin_attempts = 0
                outcome = _locked_out(user.pin_locked_until)
                audit_record(actor=None, verb="login.pin_locked", obj=user)
            else:
                outcome = LoginFailed()
                audit_record(actor=None, verb="login.pin_failed", obj=user)
            user.save(update_fields=["failed_pin_attempts", "pin_locked_until"])
        else:
            user.failed_pin_attempts = 0
            user.pin_locked_until = None
            user.save(update_fields=["failed_pin_attempts", "pin_locked_until"])
            audit_record(actor=user, verb="login.pin", obj=user)
            outcome = None
    # Raised after the transaction so the failure count is committed, not rolled back with the error.
    if outcome is not None:
        raise outcome
    return user


def _locked_out(until) -> LoginLockedOut:
    local = timezone.localtime(until)
    return LoginLockedOut(_("Too many wrong PINs; try again after %(time)s.") % {"time": f"{local:%H:%M}"})


@transaction.atomic
def team_create(*, code: str, name: str, leader: User | None = None, by: User | None = None) -> Team:
    """Create a shift team."""
    team = Team(code=code, name=name, leader=leader)
    team.full_clean()
    team.save()
    audit_record(actor=by, verb="team.create", obj=team, changes=model_changes(team, ["code", "name", "leader"]))
    return team


# --- API keys -----------------------------------------------------------------------------------------

API_KEY_TOUCH_SECONDS = 60


@transaction.atomic
def api_key_create(*, name: str, role: str, by: User | None) -> tuple[ApiKey, str]:
    """Create a key for another system; returns the key row and the key itself, which is never stored or shown
    again. The key acts through a service user holding `role`, who cannot sign in with a password."""
    role = Role(role)
    name = name.strip()
    if not name:
        raise ApplicationError(_("An API key needs a name."), code="api_key_name")
    if ApiKey.objects.filter(name=name).exists():
        raise ApplicationError(_("An API key with this name already exists."), code="api_key_name")
    prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
    raw_key = f"ll_{prefix}_{secrets.token_urlsafe(32)}"
    user = User(username=f"api-key.{prefix}", first_name=name[:150], is_staff=False)
    user.set_unusable_password()
    user.save()
    user.groups.set(Group.objects.filter(name=role.value))
    key = ApiKey.objects.create(
        name=name, role=role.value, prefix=prefix, key_hash=api_key_digest(raw_key), user=user, created_by=by
    )
    audit_record(actor=by, verb="api_key.create", obj=key, changes={"name": name, "role": role.value})
    return key, raw_key


@transaction.atomic
def api_key_revoke(*, key: ApiKey, by: User | None) -> ApiKey:
    """Revoke a key: every later request with it is refused with 401. Revoking twice changes nothing."""
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.revoked_by = by
    key.save(update_fields=["revoked_at", "revoked_by"])
    # The service user goes inactive too, so nothing else can act as it.
    User.objects.filter(pk=key.user_id).update(is_active=False)
    user_auth_changed([key.user_id])  # an update sends no signal
    audit_record(actor=by, verb="api_key.revoke", obj=key)
    return key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, with its service user; None for an unknown or revoked key."""
    key = ApiKey.objects.select_related("user").filter(key_hash=api_key_digest(raw_key.strip())).first()
    if key is None or key.revoked_at is not None or not key.user.is_active:
        return None
    now = timezone.now()
    # Last use is kept to the minute: a write on every request would cost more than it tells.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() >= API_KEY_TOUCH_SECONDS:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
