"""Every change IT can make in the admin leaves an AuditEvent, as the same change made anywhere else does."""

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.test import RequestFactory

from accounts.admin import AuditedAdmin
from accounts.models import AuditEvent
from accounts.roles import Role

pytestmark = pytest.mark.django_db


def writes_unaudited(model_admin: admin.ModelAdmin, request) -> list[str]:
    """The kinds of write this admin allows without going through an audited path: AuditedAdmin, or its own
    save_model / delete_model handing the change to a service (every service that writes records an AuditEvent)."""
    if isinstance(model_admin, AuditedAdmin):
        return []
    kind = type(model_admin)
    missing = []
    saves = model_admin.has_add_permission(request) or model_admin.has_change_permission(request)
    if saves and kind.save_model is admin.ModelAdmin.save_model:
        missing.append("save")
    if model_admin.has_delete_permission(request) and (
        kind.delete_model is admin.ModelAdmin.delete_model or kind.delete_queryset is admin.ModelAdmin.delete_queryset
    ):
        missing.append("delete")
    return missing


def test_every_admin_write_goes_through_an_audited_path(users):
    request = RequestFactory().get("/admin/")
    request.user = users[Role.IT_ADMIN]
    request.user.is_superuser = True  # whatever any role could be given

    unaudited = {
        f"{model._meta.label}: {', '.join(kinds)}"
        for model, model_admin in admin.site._registry.items()
        if (kinds := writes_unaudited(model_admin, request))
    }

    assert unaudited == set()


def test_lifting_a_sign_in_lockout_in_the_admin_is_in_the_audit_trail(client, users):
    attempt = AccessAttempt.objects.create(
        username="sales", ip_address="10.0.0.9", user_agent="x", failures_since_start=5
    )
    client.force_login(users[Role.IT_ADMIN])

    answer = client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    assert answer.status_code == 302 and not AccessAttempt.objects.exists()
    lifted = AuditEvent.objects.get(verb="admin.accessattempt.delete")
    assert (lifted.actor, lifted.object_id, lifted.ip) == (users[Role.IT_ADMIN], str(attempt.pk), "127.0.0.1")
