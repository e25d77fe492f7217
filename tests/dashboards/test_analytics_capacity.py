"""The monthly capacity analysis workbook: asked for on the page, built in the background (by the task run here,
and by a real Celery worker process), its progress polled by htmx, then downloaded with its sheets."""

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from openpyxl import load_workbook

from accounts.roles import Role
from dashboards import capacity_workbook as excel
from dashboards.tasks import generate_capacity_workbook
from production.models.execution import DowntimeReason
from tests.dashboards.analytics_builders import at, downtime, operation, report, work_center, workshop

ROOT = Path(__file__).resolve().parent.parent.parent
CELERY = Path(sys.executable).with_name("celery")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def build_month(users) -> None:
    operator = users[Role.OPERATOR]
    a = work_center("A-CNC", "8", workshop("JG"))
    b = work_center("B-PRESS", "4", workshop("JG"))
    op = operation(a, at(23, 8), at(23, 16), std="0.5")  # a full day on A
    operation(b, at(24, 8), at(24, 14))  # 4 h on B on the 24th (its whole capacity)
    operation(b, at(25, 8), at(25, 10))
    report(op, at(23, 12), operator, good="90", scrap="10")
    downtime(a, DowntimeReason.MOULD_DAMAGED, at(23, 9), at(23, 10), operator)
    downtime(b, DowntimeReason.POWER, at(24, 9), at(24, 9, 30), operator)


def ask(client, month: str = "2026-11", workshop_code: str = "") -> dict:
    response = client.post(reverse("analytics:capacity"), {"month": month, "workshop": workshop_code})
    assert response.status_code == 302
    job_id = response["Location"].split("job=")[1]
    return excel.capacity_job_get(job_id)


@pytest.mark.django_db
def test_the_workbook_is_queued_shown_with_progress_and_downloaded_once_built(
    client, users, django_capture_on_commit_callbacks
):
    cache.clear()
    build_month(users)
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.PRODUCTION_MANAGER])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = ask(client, workshop_code="JG")
    assert len(callbacks) == 1 and job["status"] == "queued" and job["month"] == "2026-11-01"

    page = client.get(reverse("analytics:capacity"), {"job": job["id"]}).content.decode()
    assert 'hx-trigger="every 1s"' in page and "Waiting for a worker" in page and "htmx" in page
    assert client.get(reverse("analytics:capacity-download", args=[job["id"]])).status_code == 404

    assert generate_capacity_workbook.apply(args=[job["id"]]).get() == "done"

    status = client.get(reverse("analytics:capacity-status", args=[job["id"]])).content.decode()
    assert "hx-trigger" not in status and "Download the workbook" in status
    response = client.get(reverse("analytics:capacity-download", args=[job["id"]]))
    assert response.status_code == 200 and 'filename="capacity-2026-11.xlsx"' in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert book.sheetnames == ["Summary", "Load per work centre per day", "OEE", "Downtime Pareto"]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    # November: A 30 days × 8 h, B 30 × 4 h = 360 h of capacity; 8 + 4 + 2 = 14 h planned.
    assert summary["Capacity (h)"] == 360 and summary["Planned (h)"] == 14
    assert summary["Work centres"] == 2 and summary["Workshop"] == "JG 机加工车间"
    assert summary["Largest downtime reason"] == "Mould damaged"
    load_rows = list(book["Load per work centre per day"].iter_rows(min_row=2, values_only=True))
    assert len(load_rows) == 2 * 30
    full_day = next(row for row in load_rows if row[2] == "B-PRESS" and row[0].day == 24)
    assert full_day[4:8] == (4, 4, 1, False)
    assert [row[0] for row in book["Downtime Pareto"].iter_rows(min_row=2, values_only=True)] == [
        "Mould damaged",
        "Power or air supply",
    ]
    oee = {row[1]: row for row in book["OEE"].iter_rows(min_row=2, values_only=True)}
    assert oee["A-CNC"][7:9] == (90, 10) and oee["A-CNC"][11] == pytest.approx(0.9)


@pytest.mark.django_db
def test_a_running_job_shows_its_progress_and_keeps_polling(client, users):
    client.force_login(users[Role.TEAM_LEADER])
    with_job = ask(client)
    cache.set(f"analytics:capacity-job:{with_job['id']}", {**with_job, "status": "running", "progress": 60}, 60)
    status = client.get(reverse("analytics:capacity-status", args=[with_job["id"]])).content.decode()
    assert 'value="60"' in status and 'hx-trigger="every 1s"' in status


@pytest.mark.django_db
def test_someone_elses_or_an_unknown_job_is_not_found(client, users):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    job = ask(client)
    client.force_login(users[Role.IT_ADMIN])
    assert client.get(reverse("analytics:capacity-status", args=[job["id"]])).status_code == 404
    assert client.get(reverse("analytics:capacity-download", args=[job["id"]])).status_code == 404
    assert client.get(reverse("analytics:capacity"), {"job": job["id"]}).status_code == 404
    assert client.get(reverse("analytics:capacity-status", args=["not-a-job"])).status_code == 404
    assert client.get(reverse("analytics:capacity-status", args=[str(uuid.uuid4())])).status_code == 404


@pytest.mark.django_db
def test_a_month_that_is_not_a_month_is_refused(client, users):
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.PRODUCTION_MANAGER])
    response = client.post(reverse("analytics:capacity"), {"month": "November"})
    assert response.status_code == 400 and "Month" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "status"), [(Role.OPERATOR, 403), (Role.FINANCE, 403), (Role.SALES, 403)])
def test_only_those_who_see_machine_load_may_ask_for_the_workbook(client, users, role, status):
    client.force_login(users[role])
    assert client.get(reverse("analytics:capacity")).status_code == status
    assert client.post(reverse("analytics:capacity"), {"month": "2026-11"}).status_code == status


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_process_builds_the_workbook_the_page_polls_for(client, users, media):
    """The task goes through the broker to a separate `celery worker`, which reads the same database and cache."""
    if connection.vendor != "postgresql":
        pytest.skip("a second process reading the test database needs PostgreSQL (CI runs this)")
    cache.clear()
    build_month(users)
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.PRODUCTION_MANAGER])
    with_job = ask(client)
    # A queue of this test's own, so the worker takes nothing else waiting in the shared broker.
    queue = f"capacity-test-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "LOOPLINE_MEDIA_ROOT": str(media),
    }
    worker = subprocess.Popen(
        [str(CELERY), "-A", "config", "worker", "-Q", queue, "--concurrency", "1", "--pool", "solo",
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        generate_capacity_workbook.apply_async(args=[with_job["id"]], queue=queue)
        deadline, status = time.monotonic() + 60, ""
        while time.monotonic() < deadline and "Download the workbook" not in status:
            time.sleep(0.5)
            status = client.get(reverse("analytics:capacity-status", args=[with_job["id"]])).content.decode()
        assert "Download the workbook" in status, "the worker did not build it within 60 s"
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert "generate_capacity_workbook" in output and "Traceback" not in output
    response = client.get(reverse("analytics:capacity-download", args=[with_job["id"]]))
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert len(book.sheetnames) == 4
