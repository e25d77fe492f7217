"""Every operation of /api/schema/, called with generated input by another system holding an API key, over real
HTTP against the live server: no answer is a server error, every answer (status, content type, headers, body)
is what the schema documents, and every write that succeeds is in the audit trail with the key and the address
it came from. A bounded, derandomised run, so CI gives the same verdict each time."""

import uuid
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks as general_checks
from schemathesis.specs.openapi import checks as openapi_checks

from accounts.models import ApiKey, AuditEvent, User
from accounts.roles import Role
from accounts.services import api_key_create
from dashboards.models import Alert, AlertKind
from production.floor import downtime_start, report_event_record
from production.models import ReportEvent
from tests.integrations.builders import make_account, make_order, make_run
from tests.production.floor_builders import make_work_order, steps

EXAMPLES_PER_OPERATION = 5
CHECKS = [
    general_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


def seed(operator: User) -> dict[str, dict[str, str]]:
    """A little of everything, so lists have rows to render; returns real identifiers by resource, which the
    run puts into half of the generated paths so that detail and action operations reach their objects."""
    shop = make_account("TB1")
    order = make_order(shop)
    make_order(shop, status="confirmed")
    run = make_run(shop)
    work_order = make_work_order(number="WO-ST-0001", qty="100")
    first, _second, _third = steps(work_order)
    report_event_record(operation_code=first.code, operator=operator, action="start", client_uuid=uuid.uuid4())
    event = report_event_record(
        operation_code=first.code, operator=operator, action="report", client_uuid=uuid.uuid4(), good_qty=5
    )
    downtime = downtime_start(
        work_center_code="CY-02", reason="machine_fault", operator=operator, client_uuid=uuid.uuid4()
    )
    now = work_order.created_at
    alert = Alert.objects.create(
        kind=AlertKind.OPERATION_STALLED, subject_type="operation", subject_id=str(first.pk),
        subject_label=f"{work_order.number} #10", dedupe_key=f"operation_stalled:operation:{first.pk}",
        message="2.5 小时无报工", first_seen_at=now, last_seen_at=now,
    )  # fmt: skip
    return {
        "sales-orders": {"number": order.number},
        "channel-accounts": {"code": shop.code},
        "sync-runs": {"id": str(run.pk)},
        "work-orders": {"number": work_order.number},
        "work-order-operations": {"code": first.code},
        "report-events": {"id": str(event.event_id)},
        "downtimes": {"id": str(downtime.pk)},
        "alerts": {"id": str(alert.pk)},
        "items": {"code": work_order.item.code},
        "work-centers": {"code": "CY-01"},
    }


def trail(key: ApiKey) -> tuple[int, int]:
    """What the key has left in the audit trail from the live server's address: AuditEvents, and presses (a
    press is its own record: ReportEvent with operator and address)."""
    return (
        AuditEvent.objects.filter(api_key_id=key.pk, actor_id=key.user_id, ip="127.0.0.1").count(),
        ReportEvent.objects.filter(operator_id=key.user_id, ip="127.0.0.1").count(),
    )


@pytest.mark.django_db(transaction=True)
def test_every_operation_answers_as_its_schema_says(live_server, users):
    # The key's user may do everything, so that each operation's success path is reached too: who may do what is
    # the permission matrix's test (tests/test_permission_matrix.py).
    key, raw_key = api_key_create(name="schemathesis", role=Role.IT_ADMIN, by=None)
    User.objects.filter(pk=key.user_id).update(is_superuser=True)
    known = seed(users[Role.OPERATOR])
    auth = {"Authorization": f"Api-Key {raw_key}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/", headers=auth)

    failures: list[str] = []
    unaudited: set[str] = set()  # writes that succeeded and left no trace of who made them, from where
    answered: dict[str, set[int]] = {}  # operation → the statuses it answered
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        resource = urlsplit(operation.path).path.removeprefix("/api/v1/").split("/")[0]

        @given(
            case=operation.as_strategy(),
            real_ids=st.booleans(),
            resource=st.just(resource),
            operation_label=st.just(operation.label),
        )
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case, real_ids: bool, resource: str, operation_label: str) -> None:
            if real_ids and case.path_parameters:
                for name, value in known.get(resource, {}).items():
                    if name in case.path_parameters:
                        case.path_parameters[name] = value
            # A fresh session each time: another system sends its key and no cookies.
            trail_before = trail(key)
            response = case.call_and_validate(
                base_url=live_server.url, session=requests.Session(), headers=auth, checks=CHECKS
            )
            answered.setdefault(operation_label, set()).add(response.status_code)
            if case.method.upper() != "GET" and 200 <= response.status_code < 300 and trail(key) == trail_before:
                unaudited.add(operation_label)

        tested += 1
        try:
            call()
        except Exception as exc:  # a check's failure, with the request that caused it
            failures.append(f"{operation.label}: {exc}")

    assert failures == [], "\n\n".join(failures)
    assert unaudited == set()
    assert tested >= 70
    # Not a run of refusals only: most operations got as far as doing what they are for.
    succeeded = sorted(label for label, statuses in answered.items() if any(200 <= code < 300 for code in statuses))
    assert len(succeeded) >= 40, sorted(set(answered) - set(succeeded))
