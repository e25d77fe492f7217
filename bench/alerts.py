#!/usr/bin/env python
"""Alert evaluation at factory scale: time and queries of one beat run over N work orders × 8 operations.

Builds the Gantt benchmark's factory (bench/gantt.py: 5,000 work orders × 8 operations planned over six weeks
around now, a tenth behind plan, half tied to sales orders with promised dates) in a scratch PostgreSQL database it
creates and drops, makes 1 % of the running operations quiet for three hours (stalled), adds shops whose last
syncs failed and a production and an IT robot. Then it runs the whole evaluation three times:

- first: opens every alert and queues its notifications (queries grow with the number of new alerts);
- steady: the same conditions again (every alert updated, nothing notified: the beat's usual case);
- each rule alone (steady), to see where the time goes.

Prints one JSON line: work_orders, operations, alerts by kind, notifications, first_ms, first_queries, steady_ms,
steady_queries, rule_ms {kind: ms}, rule_queries {kind: n}, values_fetch_ms (a bare .values() of all operations).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loopline .venv/bin/python bench/alerts.py --work-orders 5000
"""

import argparse
import json
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUNS = 3


def extras() -> dict:
    """Stalls, failing shops and the channels the alerts go to."""
    from django.db.models import F
    from django.utils import timezone

    from integrations.models import ChannelAccount, NotifyChannel, SyncRun
    from integrations.notify.services import notify_channel_save
    from production.models import WorkOrderOperation

    now = timezone.now()
    running = list(WorkOrderOperation.objects.filter(status="running").order_by("pk").values_list("pk", flat=True))
    stalled = running[::100]
    WorkOrderOperation.objects.filter(pk__in=stalled).update(last_event_at=now - timedelta(hours=3))
    # Today's plan of every team half done, so the daily completion rule has teams below 60 %.
    WorkOrderOperation.objects.filter(planned_end__date=now.date(), status="done").update(good_qty=F("good_qty") / 2)
    for n in range(5):
        account = ChannelAccount.objects.create(kind="taobao", name=f"shop{n}", code=f"S{n}",
                                                base_url="http://127.0.0.1:9/")  # fmt: skip
        for k in range(6):
            failed = n < 2 or k < 2
            errors = [{"code": "isp.timeout", "message": "timeout"}] if failed else []
            run = SyncRun.objects.create(account=account, status="failed" if failed else "succeeded", errors=errors)
            SyncRun.objects.filter(pk=run.pk).update(started_at=now - timedelta(minutes=15 * k))
    for audience in ("production", "it"):
        notify_channel_save(
            channel=NotifyChannel(name=f"robot-{audience}", kind="dingtalk", audience=audience,
                                  url="http://127.0.0.1:9/robot/send?access_token=x"),
            secrets=None, by=None,
        )  # fmt: skip
    return {"stalled": len(stalled)}


def measured(call) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        call()
        ms = (time.perf_counter() - started) * 1000
    return round(ms, 1), len(captured)


def run(work_orders: int) -> dict:
    from bench.gantt import build
    from bench.scratch import scratch_database

    with scratch_database("alerts"):
        from django.db import connection, transaction
        from django.utils import timezone

        started = time.perf_counter()
        factory = build(work_orders)
        made = extras()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        build_s = round(time.perf_counter() - started, 1)

        from dashboards.alert_rules import evaluate
        from dashboards.models import Alert, AlertRule
        from dashboards.services import alerts_apply, alerts_evaluate
        from integrations.models import Notification
        from production.models import WorkOrderOperation

        # Every rule judges now: the completion rule's hour set to this hour.
        now = timezone.now()
        AlertRule.objects.filter(kind="low_daily_completion").update(check_hour=timezone.localtime(now).hour)
        # Delivery is the worker's job, not the evaluation's: keep the on-commit enqueue out of the timing.
        with transaction.atomic():
            first_ms, first_queries = measured(lambda: alerts_evaluate(now=now))
        steady = [measured(lambda: alerts_evaluate(now=now + timedelta(minutes=5))) for _ in range(RUNS)]
        rule_ms, rule_queries = {}, {}
        for rule in AlertRule.objects.order_by("kind"):
            runs = [measured(lambda rule=rule: alerts_apply(rule=rule, evaluation=evaluate(rule, now), now=now))
                    for _ in range(RUNS)]  # fmt: skip
            rule_ms[rule.kind] = statistics.median(ms for ms, _ in runs)
            rule_queries[rule.kind] = max(count for _, count in runs)
        fields = ["id", "status", "last_event_at", "actual_start", "planned_end", "good_qty", "work_center_id"]
        list(WorkOrderOperation.objects.values(*fields))
        started = time.perf_counter()
        list(WorkOrderOperation.objects.values(*fields))
        values_ms = round((time.perf_counter() - started) * 1000, 1)
        alerts = {}
        for kind in Alert.objects.values_list("kind", flat=True):
            alerts[kind] = alerts.get(kind, 0) + 1
        return {
            "work_orders": work_orders,
            "operations": factory["operations"],
            "stalled_made": made["stalled"],
            "alerts": alerts,
            "notifications": Notification.objects.count(),
            "first_ms": first_ms,
            "first_queries": first_queries,
            "steady_ms": statistics.median(ms for ms, _ in steady),
            "steady_queries": max(count for _, count in steady),
            "rule_ms": rule_ms,
            "rule_queries": rule_queries,
            "values_fetch_ms": values_ms,
            "build_s": build_s,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-orders", type=int, default=5000)
    args = parser.parse_args()
    print(json.dumps(run(args.work_orders)))


if __name__ == "__main__":
    main()
