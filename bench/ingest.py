#!/usr/bin/env python
"""Order intake throughput: N Taobao orders over HTTP through the whole pipeline into PostgreSQL, then a re-poll.

Prints one JSON line: orders, first_orders_per_s, repoll_orders_per_s, baseline_orders_per_s (a raw multi-row
upsert of the same rows, measured in the same run), ratio_to_baseline, duplicates, lost, peak_rss_mb.
Runs in a scratch database created next to DATABASE_URL's and dropped afterwards; the simulator runs in its own
process, as a marketplace would.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loopline .venv/bin/python bench/ingest.py --orders 100000
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WINDOW_START = "2026-11-01T00:00:00+08:00"


def window(orders: int) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(WINDOW_START)
    # About 2,000 orders an hour: a busy shop's peak, paged 100 at a time in 30-minute windows.
    return start, start + timedelta(hours=max(1, orders // 2000))


def serve(orders: int, port: int) -> None:
    """The simulator process: one Taobao shop holding `orders` orders."""
    from integrations.simulators.credentials import TAOBAO
    from integrations.simulators.orderbook import OrderBook
    from integrations.simulators.server import SimulatorApp, start_server
    from integrations.simulators.taobao import TaobaoSimulator

    start, end = window(orders)
    book = OrderBook(start=start, end=end, count=orders, seed=5)
    server, url = start_server(SimulatorApp([TaobaoSimulator(book, TAOBAO)]), port=port)
    print(url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


def admin_connection(database_url: str):
    import psycopg2

    parts = urlparse(database_url)
    conn = psycopg2.connect(urlunparse(parts._replace(path="/postgres")))
    conn.autocommit = True
    return conn


def raw_upsert_baseline(account_id: int, source_account_id: int) -> float:
    """Orders per second of a plain multi-row INSERT … ON CONFLICT DO UPDATE of the same rows, 1,000 a batch."""
    from django.db import connection
    from psycopg2.extras import execute_values

    columns = [
        "number", "external_id", "external_number", "external_status", "status", "buyer", "buyer_note", "seller_note",
        "receiver_name", "receiver_phone", "receiver_country", "receiver_province", "receiver_city",
        "receiver_district", "receiver_address", "receiver_zip", "currency", "goods_amount", "shipping_amount",
        "discount_amount", "paid_amount", "ordered_at", "paid_at", "external_updated_at", "payload", "payload_hash",
        "received_at", "updated_at", "erp_number", "erp_state",
    ]  # fmt: skip
    select = ", ".join("'B-' || number" if c == "number" else c for c in columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("external_id", "received_at"))
    count = 0
    with connection.cursor() as reader:
        reader.execute(f"SELECT {select} FROM orders_salesorder WHERE channel_account_id = %s", [source_account_id])
        rows = reader.fetchall()
    started = time.perf_counter()
    with connection.cursor() as writer:
        raw = writer.cursor
        for offset in range(0, len(rows), 1000):
            batch = [(account_id, *row[:24], json.dumps(row[24]), *row[25:]) for row in rows[offset : offset + 1000]]
            execute_values(
                raw,
                f"INSERT INTO orders_salesorder (channel_account_id, {', '.join(columns)}) VALUES %s "
                f"ON CONFLICT (channel_account_id, external_id) DO UPDATE SET {updates}",
                batch,
            )
            count += len(batch)
    return count / (time.perf_counter() - started)


def run(orders: int) -> dict:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/ingest.py needs DATABASE_URL pointing at PostgreSQL")
    scratch = f"loopline_bench_{os.getpid()}"
    admin = admin_connection(database_url)
    admin.cursor().execute(f'CREATE DATABASE "{scratch}"')
    simulator = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--orders", str(orders)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        sim_url = simulator.stdout.readline().strip()
        os.environ["DATABASE_URL"] = urlunparse(urlparse(database_url)._replace(path=f"/{scratch}"))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        from integrations.models import ChannelAccount
        from integrations.services import channel_account_save, poll_account, sku_mapping_create
        from integrations.simulators.credentials import TAOBAO
        from integrations.simulators.orderbook import DEFAULT_CATALOGUE
        from orders.models import SalesOrder
        from production.models import Item

        Item.objects.bulk_create(
            [Item(code=sku, name=title, kind=Item.Kind.FINISHED) for sku, title, _ in DEFAULT_CATALOGUE.products]
        )
        sku_mapping_create(external_sku="HX-SET-4", item=Item.objects.get(code="FG-1002"), qty_per_unit=4, by=None)
        start, end = window(orders)
        account = channel_account_save(
            account=ChannelAccount(
                kind="taobao", name="bench", code="BENCH", base_url=f"{sim_url}/taobao/router/rest",
                app_key=TAOBAO["app_key"], backfill_from=start, page_size=100,
            ),
            credentials={"app_secret": TAOBAO["app_secret"], "session": TAOBAO["session"]},
            by=None,
        )  # fmt: skip

        started = time.perf_counter()
        first = poll_account(account_id=account.pk, now=end)
        first_seconds = time.perf_counter() - started

        ChannelAccount.objects.filter(pk=account.pk).update(cursor=None, last_polled_at=None)
        started = time.perf_counter()
        again = poll_account(account_id=account.pk, now=end)
        repoll_seconds = time.perf_counter() - started
        # Peak memory of the intake itself, before the baseline loads its rows.
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        stored = SalesOrder.objects.filter(channel_account=account)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), count(DISTINCT external_id) FROM orders_salesorder WHERE channel_account_id = %s",
                [account.pk],
            )
            total, distinct = cursor.fetchone()
        baseline_account = ChannelAccount.objects.create(
            kind="taobao", name="baseline", code="BASE", base_url="http://127.0.0.1:9/"
        )
        baseline = raw_upsert_baseline(baseline_account.pk, account.pk)
        first_rate = orders / first_seconds
        return {
            "orders": orders,
            "first_orders_per_s": round(first_rate, 1),
            "repoll_orders_per_s": round(orders / repoll_seconds, 1),
            "baseline_orders_per_s": round(baseline, 1),
            "ratio_to_baseline": round(first_rate / baseline, 3),
            "repoll_speedup": round(first_seconds / repoll_seconds, 2),
            "duplicates": total - distinct,
            "lost": orders - stored.count(),
            "first_run": {"status": first.status, "pages": first.pages, "created": first.created,
                          "anomalies": first.anomalies, "http_calls": first.http_calls},
            "repoll_run": {"status": again.status, "unchanged": again.unchanged, "created": again.created},
            "peak_rss_mb": round(peak_rss_mb, 1),
        }  # fmt: skip
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
        from django.db import connections

        connections.close_all()
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.orders, args.port)
        return
    print(json.dumps(run(args.orders)))


if __name__ == "__main__":
    main()
