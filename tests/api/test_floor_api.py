"""The shop-floor endpoints of /api/v1/ for scanners and other systems: work orders, operations by scan code,
presses (report events) and downtime, with their permission matrix."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import AuditEvent, User
from accounts.roles import ROLE_PERMISSIONS, Role
from production.floor import downtime_end, downtime_start, report_event_record
from production.floor_api import PressResultSerializer
from production.models import Downtime, ReportEvent, WorkCenter, WorkOrder, WorkOrderOperation
from tests.production.floor_builders import make_work_order, steps

pytestmark = pytest.mark.django_db

API = "/api/v1"
D = Decimal


def api_client(user: User | None = None) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def press_body(operation_code: str, action: str, **fields) -> dict:
    return {"operation_code": operation_code, "action": action, "client_uuid": str(uuid.uuid4()), **fields}


def picture(size: tuple[int, int] = (8, 8), image_format: str = "PNG") -> SimpleUploadedFile:
    buffer = BytesIO()
    Image.new("RGB", size, "red").save(buffer, image_format)
    return SimpleUploadedFile(f"damage.{image_format.lower()}", buffer.getvalue(), f"image/{image_format.lower()}")


def floor_state() -> tuple:
    """Everything a press or a downtime report could change."""
    totals = WorkOrderOperation.objects.aggregate(Sum("good_qty"), Sum("scrap_qty"), Sum("rework_qty"))
    statuses = tuple(WorkOrderOperation.objects.order_by("pk").values_list("status", flat=True))
    return (
        ReportEvent.objects.count(),
        Downtime.objects.count(),
        Downtime.objects.filter(ended_at__isnull=True).count(),
        tuple(totals.values()),
        statuses,
        tuple(WorkOrder.objects.order_by("pk").values_list("status", flat=True)),
    )


@pytest.fixture
def operator(users) -> User:
    return users[Role.OPERATOR]


@dataclass
class Floor:
    """One work order of three steps (LLOP-00011, -12, -13 at CY-01, -02, -03), CY-02 stopped."""

    work_order: WorkOrder
    first: WorkOrderOperation
    second: WorkOrderOperation
    third: WorkOrderOperation
    downtime: Downtime


@pytest.fixture
def floor(users) -> Floor:
    work_order = make_work_order(number="WO-T-0001", qty="100")
    first, second, third = steps(work_order)
    downtime = downtime_start(
        work_center_code="CY-02", reason="mould_damaged", operator=users[Role.OPERATOR], client_uuid=uuid.uuid4()
    )
    return Floor(work_order, first, second, third, downtime)


# --- The permission matrix -----------------------------------------------------------------------------------

ANONYMOUS = "anonymous"
NEVER = "nobody (not an endpoint)"
PRINCIPALS = [ANONYMOUS, None, *Role]  # None: a signed-in user with no role
START = "11111111-1111-4111-8111-111111111111"


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    needs: str  # a permission from accounts.roles, or NEVER
    body: dict | None = None
    success: int = 200


MATRIX = [
    Case("get", "/work-orders/", "production.view_workorder"),
    Case("get", "/work-orders/WO-T-0001/", "production.view_workorder"),
    Case("post", "/work-orders/", NEVER, {"number": "WO-X", "qty": "1"}),
    Case("delete", "/work-orders/WO-T-0001/", NEVER),
    Case("get", "/work-order-operations/LLOP-00011/", "production.view_workorderoperation"),
    Case("patch", "/work-order-operations/LLOP-00011/", NEVER, {"good_qty": "5"}),
    Case("get", "/report-events/", "production.view_reportevent"),
    Case(
        "post",
        "/report-events/",
        "production.add_reportevent",
        {"operation_code": "LLOP-00011", "action": "start", "client_uuid": START},
        201,
    ),
    Case("get", "/downtimes/", "production.view_downtime"),
    Case(
        "post",
        "/downtimes/",
        "production.add_downtime",
        {"work_center_code": "CY-01", "reason": "machine_fault", "client_uuid": START},
        201,
    ),
    Case("post", "/downtimes/end/", "production.change_downtime", {"work_center_code": "CY-02", "client_uuid": START}),
]


def is_allowed(principal, needs: str) -> bool:
    """What accounts.roles grants: the single source of truth the matrix is derived from."""
    if principal in (ANONYMOUS, None) or needs == NEVER:
        return False
    return needs in ROLE_PERMISSIONS[principal]


def test_it_derives_the_floor_grants_from_the_role_table():
    assert is_allowed(Role.OPERATOR, "production.add_reportevent")
    assert is_allowed(Role.TEAM_LEADER, "production.change_downtime")
    assert not is_allowed(Role.PRODUCTION_MANAGER, "production.add_reportevent")
    assert is_allowed(Role.PRODUCTION_MANAGER, "production.add_downtime")
    assert is_allowed(Role.SALES, "production.view_workorder")
    assert not is_allowed(Role.SALES, "production.view_reportevent")
    assert not is_allowed(Role.IT_ADMIN, "production.add_reportevent")


@pytest.mark.parametrize("case", MATRIX, ids=lambda case: f"{case.method} {case.url}")
def test_it_allows_exactly_what_each_role_is_granted(case, users, floor):
    url = API + case.url
    wrong = []
    for principal in PRINCIPALS:
        client = api_client(None if principal == ANONYMOUS else users[principal])
        # Each principal's request runs in a rolled-back block, so every one meets the same floor.
        with transaction.atomic():
            before = floor_state()
            response = getattr(client, case.method)(url, case.body, format="json")
            wrote = floor_state() != before
            transaction.set_rollback(True)
        if is_allowed(principal, case.needs):
            ok = response.status_code == case.success and (case.method == "get") != wrote
        elif principal == ANONYMOUS:
            ok = response.status_code in (401, 403) and not wrote
        else:
            allowed_codes = (403, 405) if case.needs == NEVER else (403,)
            ok = response.status_code in allowed_codes and not wrote
        if not ok:
            wrong.append((str(principal), response.status_code, response.content[:200]))
    assert wrong == [], f"{case.method.upper()} {url} needs {case.needs}"


def test_it_answers_every_refusal_with_the_common_error_body(users, floor):
    response = api_client(users[Role.SALES]).post(
        f"{API}/report-events/", press_body("LLOP-00011", "start"), format="json"
    )
    assert response.status_code == 403
    assert set(response.json()) == {"code", "detail"}
    assert response.json()["code"] == "permission_denied"


def test_a_press_on_an_operation_the_user_may_not_see_is_refused_as_unknown(users, floor):
    presser = users[None]
    presser.user_permissions.add(Permission.objects.get(codename="add_reportevent"))
    before = floor_state()

    response = api_client(User.objects.get(pk=presser.pk)).post(
        f"{API}/report-events/", press_body("LLOP-00011", "start"), format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_code"
    assert floor_state() == before


# --- Presses -------------------------------------------------------------------------------------------------


def test_a_scanner_starts_reports_and_completes_an_operation_then_reads_the_totals(operator, floor):
    client = api_client(operator)
    code = floor.first.code

    started = client.post(f"{API}/report-events/", press_body(code, "start"), format="json")
    reported = client.post(
        f"{API}/report-events/",
        press_body(code, "report", good_qty="10", scrap_qty="1", reason="dimension", note="毛刺"),
        format="json",
    )
    completed = client.post(f"{API}/report-events/", press_body(code, "complete"), format="json")

    assert [started.status_code, reported.status_code, completed.status_code] == [201, 201, 201]
    assert started.json()["work_order_status"] == "in_progress"
    assert reported.json()["good_qty"] == "10" and reported.json()["scrap_qty"] == "1"
    assert completed.json()["status"] == "done" and completed.json()["duplicate"] is False

    operation = client.get(f"{API}/work-order-operations/{code}/").json()
    assert operation["status"] == "done"
    assert (D(operation["good_qty"]), D(operation["scrap_qty"]), D(operation["rework_qty"])) == (10, 1, 0)
    assert operation["work_order"] == "WO-T-0001" and operation["work_center"] == "CY-01"
    assert operation["actual_start"] and operation["actual_end"]

    work_order = client.get(f"{API}/work-orders/WO-T-0001/").json()
    assert work_order["status"] == "in_progress"
    assert [step["code"] for step in work_order["operations"]] == ["LLOP-00011", "LLOP-00012", "LLOP-00013"]
    assert [step["status"] for step in work_order["operations"]] == ["done", "pending", "pending"]
    assert D(work_order["operations"][0]["good_qty"]) == 10
    assert D(work_order["operations"][0]["scrap_qty"]) == 1

    events = client.get(f"{API}/report-events/", {"operation": code}).json()["results"]
    assert [event["action"] for event in events] == ["complete", "report", "start"]
    assert events[1]["operator"] == operator.username and events[1]["note"] == "毛刺"


def test_a_replayed_press_answers_200_with_the_first_answer_and_counts_once(operator, floor):
    client = api_client(operator)
    client.post(f"{API}/report-events/", press_body(floor.first.code, "start"), format="json")
    body = press_body(floor.first.code, "report", good_qty="10")

    first = client.post(f"{API}/report-events/", body, format="json")
    again = client.post(f"{API}/report-events/", body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert {**first.json(), "duplicate": True} == again.json()
    assert set(first.json()) == set(PressResultSerializer().fields)  # the answer the schema documents
    assert ReportEvent.objects.filter(client_uuid=body["client_uuid"]).count() == 1
    floor.first.refresh_from_db()
    assert floor.first.good_qty == 10


def start(client: APIClient, code: str) -> None:
    assert client.post(f"{API}/report-events/", press_body(code, "start"), format="json").status_code == 201


@pytest.mark.parametrize(
    ("change", "code", "field", "message"),
    [
        ({"client_uuid": "not-a-uuid"}, "invalid", "client_uuid", "Must be a valid UUID."),
        ({"client_uuid": ""}, "invalid", "client_uuid", "Must be a valid UUID."),
        ({"good_qty": "-1"}, "invalid", "good_qty", "greater than or equal to 0"),
        ({"good_qty": "ten"}, "invalid", "good_qty", "A valid number is required."),
        ({"action": "explode"}, "invalid", "action", "is not a valid choice"),
        ({"operation_code": "LLOP-NOPE"}, "unknown_code", None, "No operation has the code LLOP-NOPE."),
        ({"good_qty": "2000000"}, "qty_invalid", None, "Good quantity is too large."),
        ({"good_qty": "1.5"}, "qty_invalid", None, "Pieces are counted in whole numbers."),
        ({"scrap_qty": "1"}, "reason_required", None, "Choose the reason for the scrap."),
    ],
)
def test_it_refuses_a_bad_press_with_the_reason_and_changes_nothing(operator, floor, change, code, field, message):
    client = api_client(operator)
    start(client, floor.first.code)
    before = floor_state()

    response = client.post(
        f"{API}/report-events/", {**press_body(floor.first.code, "report", good_qty="1"), **change}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert message in (" ".join(body["fields"][field]) if field else body["detail"])
    assert floor_state() == before


def test_it_refuses_a_pause_without_a_reason(operator, floor):
    client = api_client(operator)
    start(client, floor.first.code)
    response = client.post(f"{API}/report-events/", press_body(floor.first.code, "pause"), format="json")
    assert response.status_code == 400
    assert response.json() == {"code": "reason_required", "detail": "Choose why the operation is paused."}


def test_a_press_the_operations_state_does_not_allow_answers_409(operator, floor):
    before = floor_state()
    response = api_client(operator).post(
        f"{API}/report-events/", press_body(floor.first.code, "complete"), format="json"
    )
    assert response.status_code == 409
    assert response.json() == {
        "code": "transition_not_allowed",
        "detail": "Cannot Complete: the operation is Not started.",
    }
    assert floor_state() == before


def test_more_than_the_previous_step_delivered_answers_409_with_what_is_left(operator, floor):
    client = api_client(operator)
    start(client, floor.first.code)
    client.post(f"{API}/report-events/", press_body(floor.first.code, "report", good_qty="30"), format="json")
    start(client, floor.second.code)
    before = floor_state()

    response = client.post(
        f"{API}/report-events/", press_body(floor.second.code, "report", good_qty="31"), format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "qty_exceeds_input"
    assert body["max_qty"] == "30"
    assert "at most 30 more" in body["detail"]
    assert floor_state() == before


def test_a_press_carries_a_photo_as_multipart(operator, floor, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = api_client(operator)
    start(client, floor.first.code)
    body = press_body(floor.first.code, "pause", reason="machine", note="模具崩角")

    response = client.post(f"{API}/report-events/", {**body, "photo": picture()}, format="multipart")

    assert response.status_code == 201, response.content
    event = ReportEvent.objects.get(client_uuid=body["client_uuid"])
    assert event.photo.name.endswith(".png")
    listed = client.get(f"{API}/report-events/", {"action": "pause"}).json()["results"]
    assert listed[0]["photo"].endswith(event.photo.name.rsplit("/", 1)[-1])


@pytest.mark.parametrize(
    ("photo", "code", "message"),
    [
        (lambda: picture(size=(400, 400), image_format="BMP"), "photo_too_large", "The photo is too large"),
        (
            lambda: SimpleUploadedFile("x.jpg", b"not a picture at all", "image/jpeg"),
            "photo_invalid",
            "not a picture",
        ),
    ],
)
def test_it_refuses_an_oversized_or_fake_photo_and_changes_nothing(
    operator, floor, settings, tmp_path, photo, code, message
):
    settings.MEDIA_ROOT = tmp_path
    settings.LOOPLINE_PHOTO_MAX_BYTES = 100_000
    client = api_client(operator)
    start(client, floor.first.code)
    before = floor_state()

    body = {**press_body(floor.first.code, "pause", reason="machine"), "photo": photo()}
    response = client.post(f"{API}/report-events/", body, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert message in response.json()["detail"]
    assert floor_state() == before
    assert list(tmp_path.iterdir()) == []


def test_the_error_detail_follows_the_requests_language(operator, floor):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(operator)
    response = client.post(f"{API}/report-events/", press_body("LLOP-NOPE", "start"), format="json")
    assert response.status_code == 400
    assert "LLOP-NOPE" in response.json()["detail"]
    assert "No operation" not in response.json()["detail"]


# --- Reading work orders, operations and presses -------------------------------------------------------------


def test_it_filters_and_searches_work_orders(users):
    make_work_order(number="WO-T-0001")
    trial = make_work_order(number="WO-T-0002", kind=WorkOrder.Kind.TRIAL)
    done = make_work_order(number="WO-T-0003")
    today = timezone.localdate()
    WorkOrder.objects.filter(pk=trial.pk).update(due_date=today + timedelta(days=3))
    WorkOrder.objects.filter(pk=done.pk).update(status=WorkOrder.Status.COMPLETED, due_date=today + timedelta(days=9))
    client = api_client(users[Role.SALES])

    def numbers(**params) -> list[str]:
        response = client.get(f"{API}/work-orders/", params)
        assert response.status_code == 200, response.content
        return [row["number"] for row in response.json()["results"]]

    assert numbers() == ["WO-T-0003", "WO-T-0002", "WO-T-0001"]
    assert numbers(kind="trial") == ["WO-T-0002"]
    assert numbers(status="completed") == ["WO-T-0003"]
    assert numbers(item="SF-WO-T-0001") == ["WO-T-0001"]
    assert numbers(due_date_after=str(today), due_date_before=str(today + timedelta(days=5))) == ["WO-T-0002"]
    assert numbers(search="0003") == ["WO-T-0003"]


def test_it_pages_work_orders_by_cursor(users):
    for n in range(1, 6):
        make_work_order(number=f"WO-T-{n:04d}")
    client = api_client(users[Role.SALES])

    seen, url = [], f"{API}/work-orders/?page_size=2"
    while url:
        page = client.get(url).json()
        assert "count" not in page
        seen += [row["number"] for row in page["results"]]
        url = page["next"]

    assert seen == [f"WO-T-{n:04d}" for n in range(5, 0, -1)]


def test_a_work_order_shows_its_kind_item_and_steps(users):
    make_work_order(number="WO-T-0001", qty="120")
    body = api_client(users[Role.TEAM_LEADER]).get(f"{API}/work-orders/WO-T-0001/").json()

    assert body["kind"] == "normal" and body["status"] == "planned"
    assert (body["item"], body["item_name"], body["unit"], D(body["qty"])) == ("SF-WO-T-0001", "合页片", "PCS", 120)
    assert body["sales_order"] is None and body["parent"] is None
    first = body["operations"][0]
    assert (first["sequence"], first["operation"], first["operation_name"], first["work_center"]) == (
        10,
        "OP-BL",
        "下料",
        "CY-01",
    )
    assert D(first["std_minutes_per_unit"]) == D("0.5")


def test_it_answers_404_for_an_unknown_work_order_or_scan_code(users):
    client = api_client(users[Role.OPERATOR])
    for url in ("/work-orders/WO-NOPE/", "/work-order-operations/LLOP-NOPE/"):
        response = client.get(API + url)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_it_filters_report_events_by_operation_operator_action_and_time(users, floor):
    lead = users[Role.TEAM_LEADER]
    operator = users[Role.OPERATOR]
    early = timezone.now() - timedelta(hours=3)
    for who, code, action, at in [
        (operator, floor.first.code, "start", early),
        (operator, floor.first.code, "report", early + timedelta(minutes=5)),
        (lead, floor.first.code, "complete", early + timedelta(hours=2)),
    ]:
        extra = {"good_qty": 100} if action == "report" else {}
        report_event_record(operation_code=code, operator=who, action=action, client_uuid=uuid.uuid4(), now=at, **extra)
    client = api_client(lead)

    def actions(**params) -> list[str]:
        response = client.get(f"{API}/report-events/", params)
        assert response.status_code == 200, response.content
        return [row["action"] for row in response.json()["results"]]

    assert actions() == ["complete", "report", "start"]
    assert actions(operator=lead.username) == ["complete"]
    assert actions(action="report") == ["report"]
    assert actions(operation=floor.second.code) == []
    assert actions(work_order="WO-T-0001", at_before=(early + timedelta(hours=1)).isoformat()) == ["report", "start"]
    assert actions(at_after=(early + timedelta(minutes=1)).isoformat()) == ["complete", "report"]


# --- Downtime ------------------------------------------------------------------------------------------------


def test_a_work_centre_stops_and_runs_again_through_the_api(operator, floor):
    client = api_client(operator)
    stop = {
        "work_center_code": "CY-01",
        "reason": "mould_damaged",
        "client_uuid": str(uuid.uuid4()),
        "note": "模具崩角",
    }

    opened = client.post(f"{API}/downtimes/", stop, format="json")
    repeated = client.post(f"{API}/downtimes/", stop, format="json")
    second_tablet = client.post(f"{API}/downtimes/", {**stop, "client_uuid": str(uuid.uuid4())}, format="json")

    assert (opened.status_code, repeated.status_code, second_tablet.status_code) == (201, 200, 200)
    assert opened.json()["id"] == repeated.json()["id"] == second_tablet.json()["id"]
    assert opened.json()["open"] is True and opened.json()["reason"] == "mould_damaged"
    assert opened.json()["reported_by"] == operator.username
    assert Downtime.objects.filter(work_center__code="CY-01").count() == 1

    end = {"work_center_code": "CY-01", "client_uuid": str(uuid.uuid4())}
    ended = client.post(f"{API}/downtimes/end/", end, format="json")
    ended_again = client.post(f"{API}/downtimes/end/", end, format="json")
    not_stopped = client.post(f"{API}/downtimes/end/", {**end, "client_uuid": str(uuid.uuid4())}, format="json")

    assert (ended.status_code, ended_again.status_code) == (200, 200)
    assert ended.json()["open"] is False and ended.json()["ended_by"] == operator.username
    assert ended.json() == ended_again.json()
    assert not_stopped.status_code == 409
    assert not_stopped.json() == {"code": "not_stopped", "detail": "This work centre is not stopped."}


def test_who_stopped_and_restarted_a_work_centre_and_from_where_is_in_the_audit_trail(operator, floor):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="10.9.8.7")
    client.force_login(operator)

    stop = client.post(f"{API}/downtimes/", {"work_center_code": "CY-01", "reason": "machine_fault",
                                             "client_uuid": str(uuid.uuid4())}, format="json")  # fmt: skip
    run = client.post(
        f"{API}/downtimes/end/", {"work_center_code": "CY-01", "client_uuid": str(uuid.uuid4())}, format="json"
    )

    assert (stop.status_code, run.status_code) == (201, 200)
    trail = AuditEvent.objects.filter(verb__startswith="downtime.", object_id=str(stop.json()["id"])).order_by("id")
    assert [(event.verb, event.actor, event.ip) for event in trail] == [
        ("downtime.start", operator, "10.9.8.7"),
        ("downtime.end", operator, "10.9.8.7"),
    ]


def test_a_downtime_report_carries_a_photo_as_multipart(operator, floor, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    body = {"work_center_code": "CY-01", "reason": "mould_damaged", "client_uuid": str(uuid.uuid4())}

    response = api_client(operator).post(f"{API}/downtimes/", {**body, "photo": picture()}, format="multipart")

    assert response.status_code == 201, response.content
    downtime = Downtime.objects.get(client_uuid=body["client_uuid"])
    assert downtime.photo.name.endswith(".jpg")
    assert response.json()["photo"].endswith(downtime.photo.name.rsplit("/", 1)[-1])


@pytest.mark.parametrize(
    ("change", "code", "status"),
    [
        ({"work_center_code": "NOPE-1"}, "unknown_code", 400),
        ({"reason": "bored"}, "invalid", 400),
        ({"client_uuid": "123"}, "invalid", 400),
    ],
)
def test_it_refuses_a_bad_downtime_report_and_records_nothing(operator, floor, change, code, status):
    before = floor_state()
    body = {"work_center_code": "CY-01", "reason": "machine_fault", "client_uuid": str(uuid.uuid4()), **change}
    response = api_client(operator).post(f"{API}/downtimes/", body, format="json")
    assert response.status_code == status
    assert response.json()["code"] == code
    assert floor_state() == before


def test_it_filters_downtime_by_work_centre_open_and_start(users, floor):
    operator = users[Role.OPERATOR]
    long_ago = timezone.now() - timedelta(days=10)
    downtime_start(work_center_code="CY-03", reason="power", operator=operator, client_uuid=uuid.uuid4(), now=long_ago)
    downtime_end(work_center_code="CY-03", operator=operator, client_uuid=uuid.uuid4(), now=long_ago)
    client = api_client(users[Role.PRODUCTION_MANAGER])

    def centres(**params) -> list[str]:
        response = client.get(f"{API}/downtimes/", params)
        assert response.status_code == 200, response.content
        return [row["work_center"] for row in response.json()["results"]]

    assert centres() == ["CY-02", "CY-03"]
    assert centres(open="true") == ["CY-02"]
    assert centres(open="false") == ["CY-03"]
    assert centres(work_center="CY-03") == ["CY-03"]
    assert centres(reason="power") == ["CY-03"]
    assert centres(started_at_after=(timezone.now() - timedelta(days=1)).isoformat()) == ["CY-02"]


# --- Cost ----------------------------------------------------------------------------------------------------


def add_floor(size: int, start: int, operator: User) -> None:
    """`size` more work orders, each with presses on its first step and a finished stop at a new work centre."""
    for n in range(start, start + size):
        work_order = make_work_order(number=f"WO-Q-{n:04d}")
        first = steps(work_order)[0]
        for action, extra in (("start", {}), ("report", {"good_qty": 5, "scrap_qty": 1, "reason": "surface"})):
            report_event_record(
                operation_code=first.code, operator=operator, action=action, client_uuid=uuid.uuid4(), **extra
            )
        center = WorkCenter.objects.create(code=f"Q-{n}", name=f"机台{n}", workshop=first.work_center.workshop)
        downtime_start(work_center_code=center.code, reason="power", operator=operator, client_uuid=uuid.uuid4())
        downtime_end(work_center_code=center.code, operator=operator, client_uuid=uuid.uuid4())


@pytest.mark.parametrize("url", ["/work-orders/", "/report-events/", "/downtimes/", "/work-orders/WO-Q-0000/"])
def test_it_lists_with_a_constant_number_of_queries(users, url, django_assert_max_num_queries):
    operator = users[Role.OPERATOR]
    client = api_client(users[Role.TEAM_LEADER])
    add_floor(2, 0, operator)
    with CaptureQueriesContext(connection) as small:
        assert client.get(API + url).status_code == 200

    add_floor(20, 100, operator)
    WorkOrderOperation.objects.create(
        work_order=WorkOrder.objects.get(number="WO-Q-0000"),
        sequence=99,
        operation=steps(WorkOrder.objects.get(number="WO-Q-0000"))[0].operation,
        work_center=WorkCenter.objects.get(code="Q-100"),
        std_minutes_per_unit=D(1),
    )
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(API + url)
    assert response.status_code == 200
    body = response.json()
    assert len(body.get("results", body.get("operations", []))) >= 4


def test_a_press_and_its_replay_each_take_a_handful_of_queries(operator, floor):
    """The whole request, sign-in check included: the floor's hottest path stays cheap as the code changes."""
    client = api_client(operator)
    client.post(f"{API}/report-events/", press_body(floor.first.code, "start"), format="json")
    body = press_body(floor.first.code, "report", good_qty="1")

    with CaptureQueriesContext(connection) as press:
        assert client.post(f"{API}/report-events/", body, format="json").status_code == 201
    with CaptureQueriesContext(connection) as replay:
        assert client.post(f"{API}/report-events/", body, format="json").status_code == 200

    # the user, their permissions, and one statement for the press (here within the test's savepoint);
    # other databases take the portable path: lock the operation, then write
    limit = 5 if connection.vendor == "postgresql" else 8
    assert len(press.captured_queries) <= limit
    assert len(replay.captured_queries) <= limit
