"""Floor reporting rules: the state machine, quantity flow, idempotent presses, labour time and downtime."""

import threading
import uuid
from datetime import timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from PIL import Image

from accounts.roles import Role
from production.floor import FloorError, downtime_end, downtime_start, report_event_record
from production.models import Downtime, ReportEvent, WorkOrder, WorkOrderOperation
from tests.production.floor_builders import make_work_order, steps

D = Decimal
Status = WorkOrderOperation.Status


def press(operation, operator, action, **kwargs):
    kwargs.setdefault("client_uuid", uuid.uuid4())
    return report_event_record(operation_code=operation.code, operator=operator, action=action, **kwargs)


@pytest.fixture
def operator(users):
    return users[Role.OPERATOR]


@pytest.mark.django_db
class TestStateMachine:
    def test_an_operation_goes_through_start_pause_resume_report_complete(self, operator):
        first = steps(make_work_order())[0]
        assert press(first, operator, "start").status == Status.RUNNING
        assert press(first, operator, "pause", reason="break").status == Status.PAUSED
        assert press(first, operator, "resume").status == Status.RUNNING
        assert press(first, operator, "report", good_qty=40).good_qty == "40"
        done = press(first, operator, "complete", good_qty=60, scrap_qty=2, reason="dimension")
        assert (done.status, done.good_qty, done.scrap_qty) == (Status.DONE, "100", "2")
        first.refresh_from_db()
        assert first.actual_start and first.actual_end and first.actual_end >= first.actual_start

    @pytest.mark.parametrize(
        ("setup", "action", "fragment"),
        [([], "complete", "Not started"), ([], "pause", "Not started"), (["start"], "start", "Running"),
         (["start", "pause"], "complete", "Paused"), (["start", "pause"], "report", "Paused"),
         (["start", "complete"], "start", "Done"), (["start"], "resume", "Running")],
    )  # fmt: skip
    def test_a_transition_that_is_not_allowed_is_refused_with_the_reason(self, operator, setup, action, fragment):
        first = steps(make_work_order())[0]
        for step in setup:
            press(first, operator, step, reason="break" if step == "pause" else "")
        before = ReportEvent.objects.count()
        with pytest.raises(FloorError) as error, translation_en():
            press(first, operator, action, reason="break" if action == "pause" else "")
        assert error.value.code == "transition_not_allowed"
        assert fragment in error.value.message
        assert ReportEvent.objects.count() == before

    def test_the_work_order_is_in_progress_at_the_first_start_and_completed_with_its_last_step(self, operator):
        work_order = make_work_order(qty="5")
        for step in steps(work_order):
            press(step, operator, "start")
            press(step, operator, "complete", good_qty=5)
            work_order.refresh_from_db()
        assert work_order.status == WorkOrder.Status.COMPLETED
        with pytest.raises(FloorError) as error:
            press(steps(work_order)[0], operator, "report", good_qty=1)
        assert error.value.code == "work_order_closed"


@pytest.mark.django_db
class TestQuantityFlow:
    def test_a_step_cannot_report_more_than_the_previous_step_delivered(self, operator):
        first, second, _third = steps(make_work_order())
        press(first, operator, "start")
        press(first, operator, "report", good_qty=30, scrap_qty=1, reason="dimension")
        press(second, operator, "start")
        press(second, operator, "report", good_qty=25)
        with pytest.raises(FloorError) as error, translation_en():
            press(second, operator, "report", good_qty=4, scrap_qty=2, reason="surface")
        assert error.value.code == "qty_exceeds_input"
        assert "30" in error.value.message and "at most 5" in error.value.message
        second.refresh_from_db()
        assert second.good_qty == D(25)

    def test_the_first_step_may_exceed_the_order_by_the_allowed_overrun_only(self, operator, settings):
        settings.LOOPLINE_FIRST_STEP_OVERRUN_PCT = 5
        first = steps(make_work_order(qty="100"))[0]
        press(first, operator, "start")
        press(first, operator, "report", good_qty=105)
        with pytest.raises(FloorError):
            press(first, operator, "report", good_qty=1)

    @pytest.mark.parametrize(("good", "code"), [("-1", "qty_negative"), ("abc", "qty_invalid"), ("NaN", "qty_invalid"),
                                                ("1.5", "qty_invalid"), ("1e12", "qty_invalid")])  # fmt: skip
    def test_bad_quantities_are_refused_and_change_nothing(self, operator, good, code):
        first = steps(make_work_order())[0]
        press(first, operator, "start")
        with pytest.raises(FloorError) as error:
            press(first, operator, "report", good_qty=good)
        assert error.value.code == code
        first.refresh_from_db()
        assert first.good_qty == 0

    def test_scrap_needs_a_reason_and_a_pause_too(self, operator):
        first = steps(make_work_order())[0]
        press(first, operator, "start")
        with pytest.raises(FloorError):
            press(first, operator, "report", scrap_qty=1)
        with pytest.raises(FloorError):
            press(first, operator, "pause")


@pytest.mark.django_db
class TestPresses:
    def test_a_repeated_press_is_answered_with_the_first_result_and_counted_once(self, operator):
        first = steps(make_work_order())[0]
        press(first, operator, "start")
        same = uuid.uuid4()
        answer = press(first, operator, "report", good_qty=10, client_uuid=same)
        replay = press(first, operator, "report", good_qty=10, client_uuid=str(same))
        assert replay.duplicate and not answer.duplicate
        assert replay.good_qty == answer.good_qty == "10"
        first.refresh_from_db()
        assert first.good_qty == D(10)
        assert ReportEvent.objects.filter(client_uuid=same).count() == 1

    @pytest.mark.parametrize("bad", ["", "not-a-uuid", None, "1234"])
    def test_a_press_without_a_valid_uuid_is_refused(self, operator, bad):
        first = steps(make_work_order())[0]
        with pytest.raises(FloorError) as error:
            report_event_record(operation_code=first.code, operator=operator, action="start", client_uuid=bad)
        assert error.value.code == "bad_uuid"
        assert not ReportEvent.objects.exists()

    def test_an_unknown_code_is_refused(self, operator):
        with pytest.raises(FloorError) as error:
            report_event_record(operation_code="LLOP-NOPE", operator=operator, action="start", client_uuid=uuid.uuid4())
        assert error.value.code == "unknown_code"

    def test_labour_minutes_count_running_time_only(self, operator):
        first = steps(make_work_order())[0]
        t0 = timezone.now()
        press(first, operator, "start", now=t0)
        press(first, operator, "pause", reason="break", now=t0 + timedelta(minutes=30))
        press(first, operator, "resume", now=t0 + timedelta(minutes=45))
        result = press(first, operator, "complete", good_qty=100, now=t0 + timedelta(minutes=75))
        assert D(result.labour_minutes) == D("60.00")

    def test_a_photo_is_checked_by_content_and_size(self, operator, settings):
        first = steps(make_work_order())[0]
        press(first, operator, "start")
        buffer = BytesIO()
        Image.new("RGB", (8, 8), "red").save(buffer, "JPEG")
        good = SimpleUploadedFile("mould.jpg", buffer.getvalue(), content_type="image/jpeg")
        press(first, operator, "pause", reason="machine", photo=good)
        assert ReportEvent.objects.get(action="pause").photo.name.endswith(".jpg")
        fake = SimpleUploadedFile("mould.jpg", b"#!/bin/sh\nrm -rf /", content_type="image/jpeg")
        with pytest.raises(FloorError) as error:
            press(first, operator, "resume", photo=fake)
        assert error.value.code == "photo_invalid"
        settings.LOOPLINE_PHOTO_MAX_BYTES = 100
        with pytest.raises(FloorError) as error:
            press(first, operator, "resume", photo=good)
        assert error.value.code == "photo_too_large"


@pytest.mark.django_db
def test_downtime_opens_once_per_work_centre_and_ends_once(operator):
    step = steps(make_work_order())[0]
    code = step.work_center.code
    first = downtime_start(work_center_code=code, reason="mould_damaged", operator=operator, client_uuid=uuid.uuid4())
    again = downtime_start(work_center_code=code, reason="machine_fault", operator=operator, client_uuid=uuid.uuid4())
    assert again.pk == first.pk
    end_press = uuid.uuid4()
    ended = downtime_end(work_center_code=code, operator=operator, client_uuid=end_press)
    assert downtime_end(work_center_code=code, operator=operator, client_uuid=end_press).pk == ended.pk
    assert Downtime.objects.get().ended_at is not None
    with pytest.raises(FloorError):
        downtime_end(work_center_code=code, operator=operator, client_uuid=uuid.uuid4())
    with pytest.raises(FloorError):
        downtime_start(work_center_code=code, reason="nap", operator=operator, client_uuid=uuid.uuid4())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tablets_reporting_at_once_lose_no_update(users):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (CI runs this)")
    operator = users[Role.OPERATOR]
    first = steps(make_work_order(qty="1000"))[0]
    press(first, operator, "start")
    errors = []

    def tablet():
        try:
            for _ in range(25):
                press(first, operator, "report", good_qty=1)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tablet) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    first.refresh_from_db()
    assert first.good_qty == D(100)
    assert ReportEvent.objects.filter(action="report").count() == 100


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_press_sent_twice_at_once_counts_once(users):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (CI runs this)")
    operator = users[Role.OPERATOR]
    first = steps(make_work_order())[0]
    press(first, operator, "start")
    same = uuid.uuid4()
    answers = []

    def tablet():
        answers.append(press(first, operator, "report", good_qty=7, client_uuid=same))
        connection.close()

    threads = [threading.Thread(target=tablet) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first.refresh_from_db()
    assert first.good_qty == D(7)
    assert {answer.good_qty for answer in answers} == {"7"}
    assert sum(not answer.duplicate for answer in answers) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_tablets_racing_for_the_last_pieces_never_report_more_than_arrived(users):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (CI runs this)")
    operator = users[Role.OPERATOR]
    first, second, _third = steps(make_work_order(qty="1000"))
    press(first, operator, "start")
    press(first, operator, "report", good_qty=60)
    press(second, operator, "start")
    refusals, errors = [], []

    def tablet():
        try:
            for _ in range(20):
                try:
                    press(second, operator, "report", good_qty=1)
                except FloorError as exc:
                    refusals.append(exc.code)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tablet) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    second.refresh_from_db()
    assert second.good_qty == D(60)  # what the first step delivered, though 80 were pressed
    assert refusals == ["qty_exceeds_input"] * 20
    assert ReportEvent.objects.filter(operation=second, action="report").count() == 60


@pytest.mark.django_db
def test_a_fraction_is_reported_for_an_item_not_counted_in_pieces(operator):
    first = steps(make_work_order(unit="KG"))[0]
    press(first, operator, "start")

    answer = press(first, operator, "report", good_qty="2.5", scrap_qty="0.25", reason="dimension")

    assert (answer.good_qty, answer.scrap_qty, answer.status) == ("2.5", "0.25", "running")
    first.refresh_from_db()
    assert (first.good_qty, first.scrap_qty) == (D("2.5"), D("0.25"))


@pytest.mark.django_db
def test_a_report_inside_a_callers_transaction_keeps_that_transaction_usable(operator):
    from django.db import transaction

    first = steps(make_work_order())[0]
    press(first, operator, "start")
    same = uuid.uuid4()
    with transaction.atomic():
        press(first, operator, "report", good_qty=3, client_uuid=same)
        again = press(first, operator, "report", good_qty=3, client_uuid=same)
        assert WorkOrderOperation.objects.get(pk=first.pk).good_qty == 3
    assert again.duplicate and again.good_qty == "3"


def translation_en():
    from django.utils import translation

    return translation.override("en")


@pytest.mark.django_db
def test_trial_runs_are_kept_out_of_standard_time_statistics(operator):
    from production.floor_selectors import labour_statistics

    t0 = timezone.now()
    for number, kind in (("WO-T-0101", "normal"), ("WO-T-0102", "trial")):
        first = steps(make_work_order(number=number, qty="10", kind=kind))[0]
        press(first, operator, "start", now=t0)
        press(first, operator, "complete", good_qty=10, now=t0 + timedelta(minutes=8))
    rows = {
        row.work_center_code: row
        for row in labour_statistics(start=t0 - timedelta(hours=1), end=t0 + timedelta(hours=1))
    }
    blanking = rows["CY-01"]
    assert blanking.good_qty == D(10)  # the trial's 10 are not counted
    assert blanking.labour_minutes == D(8)
    assert blanking.standard_minutes == D(5)  # 10 × 0.5 min
    assert blanking.efficiency_pct == D("62.5")
