"""Review rules enforced by the services themselves, whatever page or API calls them."""

import pytest
from django.contrib.auth.models import Permission

from accounts.errors import ApplicationError
from accounts.models import AuditEvent
from accounts.roles import Role
from integrations import services
from orders.models import OrderIssue, SalesOrder
from tests.integrations.builders import make_account, make_order, unmapped

pytestmark = pytest.mark.django_db
Code = OrderIssue.Code


def grant(user, codename: str) -> None:
    user.user_permissions.add(Permission.objects.get(codename=codename))


def test_only_a_buyer_note_can_be_acknowledged(users):
    order = make_order(make_account(), lines=[("HX-SET-4", 1, "48.00")], issues=[unmapped("HX-SET-4")])
    with pytest.raises(ApplicationError) as error:
        services.review_acknowledge_issue(issue=order.issues.get(), by=users[Role.CUSTOMER_SERVICE])
    assert error.value.code == "not_informational"
    with pytest.raises(ApplicationError):
        services.review_approve(order=order, by=users[Role.CUSTOMER_SERVICE])
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.NEEDS_REVIEW


def test_force_approve_needs_both_the_review_and_the_force_permission(users, make_item):
    it_admin = users[Role.IT_ADMIN]  # holds force-approve, not review
    hinge = make_item("FG-HINGE-4")
    order = make_order(make_account(), items={"FG-HINGE-4": hinge}, issues=[(Code.BUYER_NOTE, {"note": "发顺丰"})])
    with pytest.raises(ApplicationError) as error:
        services.review_force_approve(order=order, by=it_admin, reason="客户电话确认")
    assert error.value.code == "permission_denied"
    lead = users[Role.CUSTOMER_SERVICE]
    grant(lead, "force_approve_salesorder")
    lead = type(lead).objects.get(pk=lead.pk)  # permissions are cached per instance
    services.review_force_approve(order=order, by=lead, reason="客户电话确认")
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.CONFIRMED
    event = AuditEvent.objects.get(verb="order.force_approve")
    assert event.changes == {"reason": "客户电话确认", "issues": [Code.BUYER_NOTE]}


def test_a_change_after_confirmation_is_closed_with_how_it_was_handled(users):
    order = make_order(
        make_account(),
        status=SalesOrder.Status.CONFIRMED,
        issues=[(Code.CHANGED_AFTER_CONFIRMATION, {"changes": "cancelled"})],
    )
    issue = order.issues.get()
    with pytest.raises(ApplicationError):
        services.review_resolve_change(issue=issue, by=users[Role.CUSTOMER_SERVICE], resolution="")
    with pytest.raises(ApplicationError):
        services.review_resolve_change(issue=issue, by=users[Role.SALES], resolution="已在ERP取消")
    services.review_resolve_change(issue=issue, by=users[Role.CUSTOMER_SERVICE], resolution="已在ERP取消")
    issue.refresh_from_db()
    assert not issue.is_open and issue.resolution == "已在ERP取消"
    assert issue.resolved_by == users[Role.CUSTOMER_SERVICE]


def test_an_invalid_receiver_edit_is_a_clear_error_and_changes_nothing(users):
    order = make_order(make_account(), issues=[(Code.BUYER_NOTE, {"note": "x"})])
    with pytest.raises(ApplicationError):
        services.review_update_receiver(order=order, by=users[Role.CUSTOMER_SERVICE], receiver_name="王" * 300)
    order.refresh_from_db()
    assert len(order.receiver_name) < 300
