#!/usr/bin/env python
"""Dashboards at factory scale: server time and queries of the Gantt, order progress and KPI pages.

Builds a factory of N work orders × 8 operations (default 5,000 × 8 = 40,000 operations, planned over six weeks
around now: the past ones done, the current ones running, a tenth of the past ones behind plan) with their report
events and sales orders, in a scratch PostgreSQL database it creates and drops. Then it times each page in-process
through Django's test client (the whole request: middleware, permission checks, queries and template), as the
median of several runs after a warm-up, and counts its queries.

Prints one JSON line: operations, events, gantt_factory_ms (whole factory, week view), gantt_workshop_ms (one
workshop), gantt_work_center_ms (rows by work centre, whole factory week), gantt_export_ms (the week's Excel),
order_progress_ms, kpi_ms (the page "analytics:kpis", its cached aggregates cleared before every request),
machine_load_ms (machine load, downtime Pareto and OEE of the current week, whole factory), max_queries,
values_fetch_ms (a bare .values() of all the operation rows), ratio_to_values (factory Gantt over that fetch).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loopline .venv/bin/python bench/gantt.py --work-orders 5000
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OPERATIONS = 8
WORKSHOPS = 3
CENTRES_PER_WORKSHOP = 8
STEP_HOURS = 2
SPAN_DAYS = 42
RUNS = 5
BATCH = 5000
FIGURES = ("gantt_factory_ms", "gantt_workshop_ms", "gantt_work_center_ms", "gantt_export_ms", "order_progress_ms",
           "kpi_ms", "machine_load_ms")  # fmt: skip


def build(work_orders: int) -> dict:
    """The factory, its plan and what the floor reported, written in bulk."""
    from django.utils import timezone

    from accounts.models import Team
    from accounts.roles import Role
    from accounts.services import user_create
    from integrations.models import ChannelAccount
    from orders.models import OrderLine, SalesOrder
    from production.models import (
        Item,
        Operation,
        ReportEvent,
        WorkCenter,
        WorkOrder,
        WorkOrderOperation,
        Workshop,
    )

    now = timezone.now()
    operator = user_create(username="bench-operator", roles=[Role.OPERATOR], password=None, by=None)
    manager = user_create(username="bench-manager", roles=[Role.PRODUCTION_MANAGER], password=None, by=None)
    sales = user_create(username="bench-sales", roles=[Role.SALES], password=None, by=None)
    operations = [Operation.objects.create(code=f"OP{n}", name=f"工序{n}") for n in range(OPERATIONS)]
    centres: list[list[WorkCenter]] = []
    for w in range(WORKSHOPS):
        workshop = Workshop.objects.create(code=f"W{w}", name=f"车间{w}")
        team = Team.objects.create(code=f"T{w}", name=f"班组{w}")
        centres.append(
            [
                WorkCenter.objects.create(code=f"W{w}-{c:02d}", name=f"机台{c}", workshop=workshop, team=team)
                for c in range(CENTRES_PER_WORKSHOP)
            ]
        )
    items = [
        Item.objects.create(code=f"FG-{n}", name=f"成品{n}", kind=Item.Kind.FINISHED, category=f"类别{n % 5}")
        for n in range(20)
    ]
    account = ChannelAccount.objects.create(kind="taobao", name="bench", code="BENCH", base_url="http://127.0.0.1:9/")
    orders = SalesOrder.objects.bulk_create(
        [
            SalesOrder(
                number=f"BENCH-{n:07d}",
                channel_account=account,
                external_id=str(n),
                external_number=str(n),
                status=SalesOrder.Status.IN_PRODUCTION,
                buyer=f"buyer{n % 300}",
                promised_date=(now + timedelta(days=-14 + n * SPAN_DAYS / (work_orders / 2))).date(),
                payload={},
                payload_hash=str(n),
            )
            for n in range(work_orders // 2)
        ],
        batch_size=BATCH,
    )
    lines = OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order, line_no=k + 1, external_sku=f"SKU-{(n * 2 + k) % 20}", item=items[(n * 2 + k) % 20],
                qty=Decimal(100), item_qty=Decimal(100), unit_price=Decimal("9.90"),
            )
            for n, order in enumerate(orders)
            for k in range(2)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    step = timedelta(hours=STEP_HOURS)
    first_start = now - timedelta(days=SPAN_DAYS / 2)
    gap = timedelta(days=SPAN_DAYS) / work_orders
    plans = []
    wo_rows = []
    for n in range(work_orders):
        start = first_start + gap * n
        end = start + step * OPERATIONS
        behind = n % 10 == 0  # a tenth is behind plan: what should be done is not
        status = WorkOrder.Status.PLANNED
        if start < now:
            status = WorkOrder.Status.COMPLETED if end < now and not behind else WorkOrder.Status.IN_PROGRESS
        due = (end + timedelta(days=-1 if n % 7 == 0 else 2)).date()
        line = lines[n] if n < len(lines) else None
        wo_rows.append(
            WorkOrder(
                number=f"WO-B-{n:07d}", item=items[n % 20], qty=Decimal(100), status=status, order_line=line,
                due_date=due, planned_start=start, planned_end=end,
            )
        )  # fmt: skip
        plans.append((start, behind))
    created = WorkOrder.objects.bulk_create(wo_rows, batch_size=BATCH)
    ops = []
    for (start, behind), work_order in zip(plans, created, strict=True):
        workshop = centres[work_order.pk % WORKSHOPS]
        for k in range(OPERATIONS):
            p_start, p_end = start + step * k, start + step * (k + 1)
            fields = {"status": WorkOrderOperation.Status.PENDING}
            if p_start < now and not (behind and k >= 2):
                if p_end < now:
                    fields = {"status": "done", "actual_start": p_start, "actual_end": p_end, "good_qty": Decimal(100),
                              "labour_minutes": Decimal(STEP_HOURS * 60), "last_event_at": p_end}  # fmt: skip
                else:
                    fields = {"status": "running", "actual_start": p_start, "running_since": p_start,
                              "good_qty": Decimal(30), "last_event_at": p_start}  # fmt: skip
            ops.append(
                WorkOrderOperation(
                    work_order=work_order, sequence=(k + 1) * 10, operation=operations[k],
                    work_center=workshop[k % CENTRES_PER_WORKSHOP], std_minutes_per_unit=Decimal("1.2"),
                    planned_start=p_start, planned_end=p_end, code=f"LLOP-B{work_order.pk:07d}{k}", **fields,
                )
            )  # fmt: skip
    created_ops = WorkOrderOperation.objects.bulk_create(ops, batch_size=BATCH)
    events = []
    for op in created_ops:
        if op.actual_start:
            events.append(ReportEvent(operation=op, operator=operator, action="start", at=op.actual_start,
                                      client_uuid=uuid.uuid4()))  # fmt: skip
        if op.actual_end:
            events.append(ReportEvent(operation=op, operator=operator, action="complete", at=op.actual_end,
                                      good_qty=Decimal(100), client_uuid=uuid.uuid4()))  # fmt: skip
        elif op.actual_start:
            events.append(ReportEvent(operation=op, operator=operator, action="report", at=now,
                                      good_qty=Decimal(30), client_uuid=uuid.uuid4()))  # fmt: skip
    ReportEvent.objects.bulk_create(events, batch_size=BATCH)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"operations": len(created_ops), "events": len(events), "manager": manager, "sales": sales}


def timed(client, path: str, params: dict | None = None, before=None) -> tuple[float, int, int]:
    """Median server time in ms, the query count and the status of GET path; `before` runs ahead of each request
    (the KPI page clears its cached aggregates there, so its figure is the uncached one)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    before = before or (lambda: None)
    before()
    response = client.get(path, params or {})  # warm-up: connections, templates, translations
    before()
    with CaptureQueriesContext(connection) as captured:
        client.get(path, params or {})
    # Counted now: the next request starts by emptying the connection's query log.
    count = len(captured)
    times = []
    for _ in range(RUNS):
        before()
        started = time.perf_counter()
        response = client.get(path, params or {})
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1), count, response.status_code


def values_fetch_ms() -> float:
    from production.models import WorkOrderOperation

    fields = ["id", "work_order_id", "sequence", "status", "work_center_id", "planned_start", "planned_end",
              "actual_start", "actual_end", "good_qty", "scrap_qty", "rework_qty"]  # fmt: skip
    list(WorkOrderOperation.objects.values(*fields))
    times = []
    for _ in range(3):
        started = time.perf_counter()
        list(WorkOrderOperation.objects.values(*fields))
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def run(work_orders: int) -> dict:
    from bench.scratch import scratch_database

    with scratch_database("gantt", DJANGO_ALLOWED_HOSTS="testserver"):
        from django.conf import settings

        # The manifest needs collectstatic; the pages' timings do not depend on how static URLs are spelled.
        settings.STORAGES = {**settings.STORAGES, "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # fmt: skip
        from django.test import Client
        from django.urls import NoReverseMatch, reverse

        started = time.perf_counter()
        factory = build(work_orders)
        build_s = round(time.perf_counter() - started, 1)
        manager, sales = Client(), Client()
        manager.force_login(factory["manager"])
        sales.force_login(factory["sales"])
        figures = {}
        gantt = reverse("dashboards:gantt")
        pages = {
            "gantt_factory": (manager, gantt, {"zoom": "week"}),
            "gantt_workshop": (manager, gantt, {"zoom": "week", "workshop": "W1"}),
            "gantt_work_center": (manager, gantt, {"zoom": "week", "group": "work_center"}),
            "gantt_export": (manager, reverse("dashboards:gantt-export"), {"zoom": "week"}),
            "order_progress": (sales, reverse("dashboards:order-progress"), {}),
        }
        kpi_url = None
        try:
            kpi_url = reverse("analytics:kpis")
            pages["kpi"] = (manager, kpi_url, {})
            pages["machine_load"] = (manager, reverse("analytics:load"), {})
        except NoReverseMatch:
            figures["kpi_ms"] = None
        from django.utils import timezone

        from dashboards.analytics import kpis_forget

        uncached = {"kpi": lambda: kpis_forget(now=timezone.now())}
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            client, path, params = pages[os.environ["BENCH_PROFILE"]]
            client.get(path, params)
            profiler = cProfile.Profile()
            profiler.enable()
            client.get(path, params)
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
        queries, statuses = {}, {}
        for name, (client, path, params) in pages.items():
            ms, count, status = timed(client, path, params, uncached.get(name))
            figures[f"{name}_ms"] = ms
            queries[name] = count
            statuses[name] = status
        baseline = values_fetch_ms()
        page_queries = {name: count for name, count in queries.items() if name != "gantt_export"}
        return {
            "operations": factory["operations"],
            "events": factory["events"],
            "work_orders": work_orders,
            **{key: figures.get(key) for key in FIGURES},
            "max_queries": max(page_queries.values()),
            "queries": queries,
            "statuses": statuses,
            "values_fetch_ms": baseline,
            "ratio_to_values": round(figures["gantt_factory_ms"] / baseline, 3),
            "kpi_url": kpi_url,
            "build_s": build_s,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-orders", type=int, default=5000)
    args = parser.parse_args()
    print(json.dumps(run(args.work_orders)))


if __name__ == "__main__":
    main()
