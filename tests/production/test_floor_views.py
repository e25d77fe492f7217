"""The operators' tablet page and its endpoints, through the Django test client: who may use them, what a press
does, how refusals look, and a constant number of queries for the card."""

import json
import re
import uuid
from decimal import Decimal
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from accounts.roles import Role
from production.floor import report_event_record
from production.models import Downtime, ReportEvent, WorkOrder, WorkOrderOperation
from tests.conftest import make_user
from tests.production.floor_builders import make_work_order, steps

pytestmark = pytest.mark.django_db

ALLOWED = {Role.OPERATOR, Role.TEAM_LEADER}
ROLES = [*Role, None]
EN = {"Accept-Language": "en"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def operator(users):
    return users[Role.OPERATOR]


@pytest.fixture
def first_step(db):
    return steps(make_work_order())[0]


def post_press(client, operation, action, headers=None, **fields):
    fields.setdefault("client_uuid", str(uuid.uuid4()))
    body = {"operation_code": operation.code, "action": action, **fields}
    return client.post(reverse("floor:press"), json.dumps(body), content_type="application/json", headers=headers)


def post_downtime(client, operation, action, **fields):
    body = {
        "work_center_code": operation.work_center.code,
        "operation_code": operation.code,
        "action": action,
        "client_uuid": str(uuid.uuid4()),
        **fields,
    }
    return client.post(reverse("floor:downtime"), json.dumps(body), content_type="application/json")


def record(operation, operator, action, **fields):
    """A press through the service, to set the scene."""
    return report_event_record(
        operation_code=operation.code, operator=operator, action=action, client_uuid=uuid.uuid4(), **fields
    )


def jpeg(size=(8, 8)) -> SimpleUploadedFile:
    buffer = BytesIO()
    Image.new("RGB", size, "red").save(buffer, "JPEG")
    return SimpleUploadedFile("mould.jpg", buffer.getvalue(), content_type="image/jpeg")


def button(html: str, action: str) -> str:
    match = re.search(rf"<button[^>]*data-action=\"{action}\"[^>]*>", html)
    assert match, f"no {action} button"
    return match.group(0)


def totals(operation: WorkOrderOperation) -> tuple:
    operation.refresh_from_db()
    return operation.status, operation.good_qty, operation.scrap_qty, operation.rework_qty


class TestPermissions:
    @pytest.mark.parametrize("role", ROLES)
    def test_only_operators_and_team_leaders_open_the_page_card_scan_and_queue(self, client, users, first_step, role):
        client.force_login(users[role])
        expected = 200 if role in ALLOWED else 403
        assert client.get(reverse("floor:page")).status_code == expected
        assert client.get(reverse("floor:card", args=[first_step.code])).status_code == expected
        assert client.get(reverse("floor:scan"), {"code": first_step.code}).status_code == expected
        assert client.get(reverse("floor:work-center", args=[first_step.work_center.code])).status_code == expected

    @pytest.mark.parametrize("role", ROLES)
    def test_only_operators_and_team_leaders_may_press(self, client, users, first_step, role):
        client.force_login(users[role])
        response = post_press(client, first_step, "start")
        assert response.status_code == (200 if role in ALLOWED else 403)
        assert ReportEvent.objects.count() == (1 if role in ALLOWED else 0)

    @pytest.mark.parametrize("role", ROLES)
    def test_only_operators_and_team_leaders_may_report_downtime(self, client, users, first_step, role):
        client.force_login(users[role])
        response = post_downtime(client, first_step, "start", reason="mould_damaged")
        assert response.status_code == (200 if role in ALLOWED else 403)
        assert Downtime.objects.count() == (1 if role in ALLOWED else 0)

    def test_an_anonymous_tablet_is_sent_to_the_badge_sign_in_and_comes_back_to_the_floor(self, client, first_step):
        login = reverse("accounts:tablet-login")
        page = client.get(reverse("floor:page"))
        assert page.status_code == 302 and page["Location"] == f"{login}?next=/floor/"
        card = client.get(reverse("floor:card", args=[first_step.code]))
        assert card["Location"] == f"{login}?next=/floor/%3Fcode%3D{first_step.code}"
        scan = client.get(reverse("floor:scan"), {"code": first_step.code})
        assert scan["Location"] == f"{login}?next=/floor/%3Fcode%3D{first_step.code}"
        for response in (post_press(client, first_step, "start"), post_downtime(client, first_step, "start")):
            assert response.status_code == 302 and response["Location"] == f"{login}?next=/floor/"
        assert not ReportEvent.objects.exists() and not Downtime.objects.exists()

    def test_a_press_without_the_csrf_token_is_refused(self, operator, first_step):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(operator)
        assert post_press(client, first_step, "start").status_code == 403
        assert not ReportEvent.objects.exists()


class TestPage:
    def test_the_page_shows_the_operator_a_switch_button_and_a_focused_scan_field(self, client):
        operator = make_user(
            Role.OPERATOR, username="op.wang", employee_number="10001", last_name="王", first_name="伟"
        )
        client.force_login(operator)
        html = client.get(reverse("floor:page")).content.decode()
        assert 'id="floor-operator-name">王伟<' in html
        assert f'action="{reverse("accounts:switch-operator")}"' in html
        assert re.search(r'<input[^>]*id="floor-code"[^>]*autofocus', html)
        assert re.search(r'<button[^>]*id="floor-camera"[^>]*hidden', html)  # shown by JS where BarcodeDetector exists
        assert 'capture="environment"' in html and 'accept="image/*"' in html
        assert "floor-card" not in html

    def test_the_page_with_a_code_opens_that_operation(self, client, operator, first_step):
        client.force_login(operator)
        html = client.get(reverse("floor:page"), {"code": first_step.code.lower()}).content.decode()
        assert f'data-code="{first_step.code}"' in html
        assert "WO-T-0001" in html

    def test_the_page_loads_only_local_assets(self, client, operator):
        client.force_login(operator)
        html = client.get(reverse("floor:page")).content.decode()
        assert not re.search(r'(src|href)="(https?:)?//', html)
        assert "/static/js/floor.js" in html and "/static/css/floor.css" in html


class TestCard:
    def test_the_card_shows_the_order_item_target_previous_step_and_what_is_left(self, client, operator):
        first, second, _third = steps(make_work_order(qty="100"))
        record(first, operator, "start")
        record(first, operator, "report", good_qty=40)
        record(second, operator, "start")
        record(second, operator, "report", good_qty=10, scrap_qty=2, reason="dimension")
        client.force_login(operator)
        response = client.get(reverse("floor:card", args=[second.code]), headers=EN)
        html = response.content.decode()
        assert response.status_code == 200
        assert "WO-T-0001" in html and "SF-WO-T-0001" in html and "合页片" in html
        assert re.search(r'data-field="target">100 ', html)
        assert "Delivered by 下料" in html and 'data-field="available">40<' in html
        assert 'data-field="good">10<' in html and 'data-field="scrap">2<' in html
        assert 'data-field="left">28<' in html  # 40 delivered − 10 good − 2 scrap
        assert "Out of tolerance" in html  # the latest presses name the scrap reason

    def test_rework_and_trial_orders_are_marked_on_the_card(self, client, operator):
        trial = steps(make_work_order(number="WO-T-0002", kind=WorkOrder.Kind.TRIAL))[0]
        source = steps(make_work_order(number="WO-T-0003"))[1]
        rework_order = WorkOrder.objects.create(
            number="WO-R-0001", item=source.work_order.item, qty=2, kind=WorkOrder.Kind.REWORK, rework_of=source
        )
        rework = WorkOrderOperation.objects.create(
            work_order=rework_order,
            sequence=10,
            operation=source.operation,
            work_center=source.work_center,
            std_minutes_per_unit=1,
            code="LLOP-R0001",
        )
        client.force_login(operator)
        html = client.get(reverse("floor:card", args=[trial.code]), headers=EN).content.decode()
        assert '<span class="floor-kind trial" data-field="kind">Trial run</span>' in html and "kind-trial" in html
        html = client.get(reverse("floor:card", args=[rework.code]), headers=EN).content.decode()
        assert '<span class="floor-kind rework" data-field="kind">Rework</span>' in html and "kind-rework" in html
        html = client.get(reverse("floor:card", args=[source.code]), headers=EN).content.decode()
        assert 'data-field="kind"' not in html

    def test_only_the_buttons_the_status_allows_are_enabled(self, client, operator, first_step):
        client.force_login(operator)
        url = reverse("floor:card", args=[first_step.code])
        html = client.get(url).content.decode()
        assert "disabled" not in button(html, "start")
        for action in ("pause", "resume", "report", "complete"):
            assert "disabled" in button(html, action)
        post_press(client, first_step, "start")
        html = client.get(url).content.decode()
        for action in ("pause", "report", "complete"):
            assert "disabled" not in button(html, action)
        for action in ("start", "resume"):
            assert "disabled" in button(html, action)

    def test_scanning_a_work_centre_lists_its_operations_to_open_with_one_tap(self, client, operator):
        make_work_order(number="WO-T-0001")
        make_work_order(number="WO-T-0002")
        client.force_login(operator)
        html = client.get(reverse("floor:scan"), {"code": "cy-02"}).content.decode()
        assert 'data-work-center="CY-02"' in html
        assert html.count("data-open-code=") == 2
        assert 'data-open-code="LLOP-00012"' in html and 'data-open-code="LLOP-00022"' in html

    def test_an_unknown_code_answers_404_with_a_note(self, client, operator):
        client.force_login(operator)
        for code in ("LLOP-NOPE", "NOWHERE"):
            response = client.get(reverse("floor:scan"), {"code": code}, headers=EN)
            assert response.status_code == 404
            assert f"No operation or work centre has the code {code}." in response.content.decode()
        assert client.get(reverse("floor:card", args=["LLOP-NOPE"])).status_code == 404
        assert client.get(reverse("floor:work-center", args=["NOWHERE"])).status_code == 404

    def test_the_card_needs_the_same_number_of_queries_however_long_its_history(self, client, operator):
        short, long = steps(make_work_order("WO-T-0001"))[:2], steps(make_work_order("WO-T-0002"))[:2]
        for (first, second), reports in ((short, 1), (long, 30)):
            record(first, operator, "start")
            record(first, operator, "report", good_qty=reports)
            record(second, operator, "start")
            for _n in range(reports):
                record(second, operator, "report", good_qty=1)
        client.force_login(operator)
        counts = []
        for _first, step in (short, long):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse("floor:card", args=[step.code])).status_code == 200
            counts.append(len(queries))
        assert counts[0] == counts[1]
        assert counts[0] <= 8, counts  # session, user, 2 × permissions, operation, previous step, events, downtime


class TestPress:
    def test_a_press_changes_the_operation_and_answers_with_the_result_and_the_card(self, client, operator, first_step):
        client.force_login(operator)
        assert post_press(client, first_step, "start").status_code == 200
        response = post_press(client, first_step, "report", good_qty="10", scrap_qty=1, reason="dimension")
        body = response.json()
        assert response.status_code == 200 and body["ok"] is True
        assert body["result"]["good_qty"] == "10" and body["result"]["scrap_qty"] == "1"
        assert body["result"]["status"] == "running" and body["result"]["duplicate"] is False
        assert body["message"]
        assert f'data-code="{first_step.code}"' in body["card_html"] and 'data-field="good">10<' in body["card_html"]
        assert totals(first_step) == ("running", Decimal(10), Decimal(1), Decimal(0))
        event = ReportEvent.objects.get(action="report")
        assert event.operator == operator and event.reason == "dimension"

    def test_the_same_press_sent_again_gets_the_first_answer_and_counts_once(self, client, operator, first_step):
        client.force_login(operator)
        post_press(client, first_step, "start")
        press_id = str(uuid.uuid4())
        first = post_press(client, first_step, "report", good_qty=5, client_uuid=press_id).json()
        again = post_press(client, first_step, "report", good_qty=5, client_uuid=press_id).json()
        assert again["result"] == {**first["result"], "duplicate": True}
        assert totals(first_step)[1] == Decimal(5)
        assert ReportEvent.objects.filter(client_uuid=press_id).count() == 1

    def test_the_device_clock_is_kept_with_the_press(self, client, operator, first_step):
        client.force_login(operator)
        post_press(client, first_step, "start", client_at="2026-03-02T01:02:03.000Z")
        assert ReportEvent.objects.get().client_at.isoformat() == "2026-03-02T01:02:03+00:00"

    def test_a_photo_goes_with_the_press_as_multipart(self, client, operator, first_step):
        client.force_login(operator)
        post_press(client, first_step, "start")
        fields = {"operation_code": first_step.code, "action": "pause", "reason": "machine"}
        response = client.post(reverse("floor:press"), {**fields, "client_uuid": str(uuid.uuid4()), "photo": jpeg()})
        assert response.status_code == 200 and response.json()["result"]["status"] == "paused"
        assert ReportEvent.objects.get(action="pause").photo.name.endswith(".jpg")

    @pytest.mark.parametrize(
        ("fields", "code", "message"),
        [
            ({"client_uuid": "not-a-uuid"}, "bad_uuid", "The press has no valid id; reload the page and press again."),
            ({"good_qty": "-3"}, "qty_negative", "Good quantity cannot be negative."),
            ({"good_qty": "many"}, "qty_invalid", "Good quantity must be a number."),
            ({"operation_code": "LLOP-NOPE"}, "unknown_code", "No operation has the code LLOP-NOPE."),
            ({"action": "explode"}, "action_invalid", "Unknown action."),
            ({"scrap_qty": "1"}, "reason_required", "Choose the reason for the scrap."),
        ],
    )
    def test_a_bad_press_is_refused_with_the_reason_and_changes_nothing(
        self, client, operator, first_step, fields, code, message
    ):
        client.force_login(operator)
        post_press(client, first_step, "start")
        before = (totals(first_step), ReportEvent.objects.count())
        body = {"operation_code": first_step.code, "action": "report", "client_uuid": str(uuid.uuid4()), **fields}
        response = client.post(reverse("floor:press"), json.dumps(body), content_type="application/json", headers=EN)
        assert response.status_code == 400
        answer = response.json()
        assert answer["ok"] is False and answer["error"]["code"] == code
        assert answer["message"] == answer["error"]["message"] == message
        assert (totals(first_step), ReportEvent.objects.count()) == before

    def test_more_than_the_previous_step_delivered_is_refused_with_the_maximum(self, client, operator):
        first, second, _third = steps(make_work_order())
        client.force_login(operator)
        post_press(client, first, "start")
        post_press(client, first, "report", good_qty=8)
        post_press(client, second, "start")
        response = post_press(client, second, "report", headers=EN, good_qty=9)
        answer = response.json()
        assert response.status_code == 400 and answer["error"]["code"] == "qty_exceeds_input"
        assert answer["error"]["extra"] == {"max_qty": "8"}
        assert "at most 8 more" in answer["message"]
        assert f'data-code="{second.code}"' in answer["card_html"]  # the card comes back, unchanged
        assert totals(second)[1] == 0

    def test_a_photo_over_the_size_limit_is_refused_and_changes_nothing(self, client, operator, first_step, settings):
        client.force_login(operator)
        post_press(client, first_step, "start")
        settings.LOOPLINE_PHOTO_MAX_BYTES = 100
        fields = {"operation_code": first_step.code, "action": "pause", "reason": "machine"}
        response = client.post(
            reverse("floor:press"), {**fields, "client_uuid": str(uuid.uuid4()), "photo": jpeg((64, 64))}, headers=EN
        )
        assert response.status_code == 400 and response.json()["error"]["code"] == "photo_too_large"
        assert response.json()["message"] == "The photo is too large (at most 0 MB)."
        assert totals(first_step)[0] == "running" and ReportEvent.objects.count() == 1

    def test_a_body_that_is_not_a_json_object_is_refused(self, client, operator, first_step):
        client.force_login(operator)
        for body in ("{not json", "[1, 2]"):
            response = client.post(reverse("floor:press"), body, content_type="application/json")
            assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
        assert not ReportEvent.objects.exists()

    def test_the_press_endpoint_takes_posts_only(self, client, operator):
        client.force_login(operator)
        assert client.get(reverse("floor:press")).status_code == 405


class TestDowntime:
    def test_a_work_centre_stops_and_runs_again_from_the_card(self, client, operator, first_step):
        client.force_login(operator)
        response = post_downtime(client, first_step, "start", reason="mould_damaged")
        body = response.json()
        assert response.status_code == 200 and body["downtime"]["open"] is True
        assert 'data-down="1"' in body["card_html"]
        downtime = Downtime.objects.get()
        assert (downtime.work_center, downtime.reason, downtime.reported_by) == (
            first_step.work_center,
            "mould_damaged",
            operator,
        )
        body = post_downtime(client, first_step, "end").json()
        assert body["downtime"]["open"] is False and 'data-down=""' in body["card_html"]
        downtime.refresh_from_db()
        assert downtime.ended_at is not None and downtime.ended_by == operator

    def test_a_downtime_without_a_reason_is_refused(self, client, operator, first_step):
        client.force_login(operator)
        response = post_downtime(client, first_step, "start", reason="")
        assert response.status_code == 400 and response.json()["error"]["code"] == "reason_required"
        assert not Downtime.objects.exists()

    def test_ending_a_downtime_that_is_not_open_is_refused(self, client, operator, first_step):
        client.force_login(operator)
        response = post_downtime(client, first_step, "end")
        assert response.status_code == 400 and response.json()["error"]["code"] == "not_stopped"

    def test_the_same_downtime_press_sent_again_opens_one_downtime(self, client, operator, first_step):
        client.force_login(operator)
        press_id = str(uuid.uuid4())
        first = post_downtime(client, first_step, "start", reason="power", client_uuid=press_id).json()
        again = post_downtime(client, first_step, "start", reason="power", client_uuid=press_id).json()
        assert first["downtime"] == again["downtime"]
        assert Downtime.objects.count() == 1
