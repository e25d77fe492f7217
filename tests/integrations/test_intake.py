"""Order intake end to end: Taobao's simulator over real HTTP → pipeline → database → review queue and alerts."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from integrations.models import ChannelAccount, Notification, SyncRun
from integrations.notify.services import deliver_due_notifications
from integrations.services import poll_account, sku_mapping_create
from integrations.simulators.orderbook import sim_order_from_dict
from orders.models import OrderIssue, SalesOrder
from production.models import Item
from tests.integrations.intake_fixtures import WINDOW_START, open_shop, shop  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db(transaction=True)
Code = OrderIssue.Code


def poll(shop, **kwargs):  # noqa: F811 - `shop` is the fixture's value
    return poll_account(account_id=shop.account.pk, transport=shop.transport(), now=shop.end, **kwargs)


def paid_ids(shop) -> set[str]:  # noqa: F811
    return {str(order.order_id) for order in shop.book.window(WINDOW_START, shop.end) if order.status == "paid"}


def test_a_poll_writes_every_paid_order_once_and_records_the_run(shop):  # noqa: F811
    run = poll(shop)
    assert run.status == SyncRun.Status.SUCCEEDED
    stored = set(SalesOrder.objects.values_list("external_id", flat=True))
    assert stored == paid_ids(shop)
    assert run.fetched == len(stored) and run.created == len(stored)
    assert run.pages >= 6 and run.http_calls >= run.pages
    shop.account.refresh_from_db()
    assert shop.account.cursor == shop.end


def test_a_repoll_of_the_same_window_creates_nothing_and_an_updated_order_is_updated_once(shop):  # noqa: F811
    poll(shop)
    count = SalesOrder.objects.count()
    first = shop.book.window(WINDOW_START, shop.end)[5]
    waiting = SalesOrder.objects.get(external_id=str(first.order_id))
    ChannelAccount.objects.filter(pk=shop.account.pk).update(cursor=None)
    shop.book.touch(first.order_id, when=shop.end - timedelta(minutes=1), receiver_name="李四")
    again = poll(shop)
    assert SalesOrder.objects.count() == count
    assert again.created == 0
    assert again.unchanged == count - 1
    assert again.updated == 1
    waiting.refresh_from_db()
    if waiting.status in SalesOrder.SETTLED_STATUSES:
        assert waiting.issues.filter(code=Code.CHANGED_AFTER_CONFIRMATION).count() == 1
        assert waiting.receiver_name != "李四"
    else:
        assert waiting.receiver_name == "李四"


def test_a_cancellation_after_confirmation_raises_an_issue_instead_of_overwriting(shop):  # noqa: F811
    poll(shop)
    confirmed = SalesOrder.objects.filter(status=SalesOrder.Status.CONFIRMED).first()
    assert confirmed is not None
    shop.book.touch(int(confirmed.external_id), when=shop.end + timedelta(minutes=1), status="cancelled")
    run = poll_account(account_id=shop.account.pk, transport=shop.transport(), now=shop.end + timedelta(minutes=5))
    confirmed.refresh_from_db()
    assert confirmed.status == SalesOrder.Status.CONFIRMED
    issue = confirmed.issues.get(code=Code.CHANGED_AFTER_CONFIRMATION)
    assert issue.is_open and "cancelled" in issue.data["diff"]
    assert run.anomalies == 1
    # The next poll does not raise it again.
    ChannelAccount.objects.filter(pk=shop.account.pk).update(cursor=shop.end)
    poll_account(account_id=shop.account.pk, transport=shop.transport(), now=shop.end + timedelta(minutes=6))
    assert confirmed.issues.filter(code=Code.CHANGED_AFTER_CONFIRMATION).count() == 1


def test_clean_orders_are_confirmed_and_anomalous_ones_wait_with_their_reasons(shop):  # noqa: F811
    poll(shop)
    assert SalesOrder.objects.filter(status=SalesOrder.Status.CONFIRMED).exists()
    waiting = SalesOrder.objects.filter(status=SalesOrder.Status.NEEDS_REVIEW)
    assert waiting.exists()
    for order in waiting.prefetch_related("issues"):
        assert order.issues.filter(resolved_at__isnull=True).exists()
    unmapped = OrderIssue.objects.filter(code=Code.SKU_UNMAPPED).first()
    assert unmapped.data["sku"] == "HX-SET-4" and "HX-SET-4" in unmapped.detail


def test_new_issues_of_a_run_are_announced_in_one_message(shop):  # noqa: F811
    run = poll(shop)
    assert run.anomalies > 1
    assert Notification.objects.count() == 1
    deliver_due_notifications()
    assert len(shop.robot.received) == 1
    assert str(run.anomalies) in str(shop.robot.received[0])


def test_mapping_a_sku_clears_every_waiting_order_with_it_and_maps_future_orders(shop):  # noqa: F811
    poll(shop)
    held = SalesOrder.objects.filter(issues__code=Code.SKU_UNMAPPED, issues__resolved_at__isnull=True).distinct()
    only_sku = [
        o
        for o in held
        if set(o.issues.filter(resolved_at__isnull=True).values_list("code", flat=True)) == {Code.SKU_UNMAPPED}
    ]
    assert only_sku
    _mapping, cleared = sku_mapping_create(
        external_sku="HX-SET-4", item=Item.objects.get(code="FG-1002"), qty_per_unit=Decimal(4), by=None
    )
    assert cleared == len(only_sku)
    for order in only_sku:
        order.refresh_from_db()
        assert order.status == SalesOrder.Status.CONFIRMED
        for line in order.lines.filter(external_sku="HX-SET-4"):
            assert line.item.code == "FG-1002" and line.item_qty == line.qty * 4
    assert not OrderIssue.objects.filter(code=Code.SKU_UNMAPPED, resolved_at__isnull=True).exists()


def test_with_injected_errors_and_throttling_nearly_all_orders_arrive_at_once_and_all_by_the_next_poll(shop):  # noqa: F811
    shop.app.set_faults(error_rate=0.03, timeout_rate=0.02, timeout_seconds=1.5, throttle_rate=0.05, seed=3)
    poll(shop)
    expected = paid_ids(shop)
    arrived = set(SalesOrder.objects.values_list("external_id", flat=True))
    assert len(arrived & expected) >= 0.995 * len(expected)
    shop.app.set_faults(error_rate=0.0, timeout_rate=0.0, throttle_rate=0.0)
    ChannelAccount.objects.filter(pk=shop.account.pk).update(last_polled_at=None)
    poll_account(account_id=shop.account.pk, transport=shop.transport(), now=shop.end + timedelta(minutes=1))
    assert set(SalesOrder.objects.values_list("external_id", flat=True)) == expected
    assert SyncRun.objects.filter(retries__gt=0).exists()


def test_an_order_repeated_across_pages_is_written_once(shop):  # noqa: F811
    shop.app.set_faults(duplicate_across_pages=True)
    run = poll(shop)
    assert run.fetched > len(paid_ids(shop)) or run.status == SyncRun.Status.SUCCEEDED
    assert SalesOrder.objects.count() == len(paid_ids(shop))
    assert OrderIssue.objects.values("order_id", "code", "data").count() == OrderIssue.objects.count()


def test_an_order_modified_while_the_window_is_paged_arrives_in_its_latest_form(shop):  # noqa: F811
    shop.app.set_faults(modify_between_pages=True)
    poll(shop)
    ChannelAccount.objects.filter(pk=shop.account.pk).update(last_polled_at=None)
    # The touched orders moved past the window's end; the next poll's window reaches them.
    later = shop.end + timedelta(days=5)
    shop.app.set_faults(modify_between_pages=False)
    poll_account(account_id=shop.account.pk, transport=shop.transport(), now=later)
    stored = dict(SalesOrder.objects.values_list("external_id", "payload_hash"))
    assert set(stored) == paid_ids(shop)
    for order in shop.book.stored.values():
        assert str(order.order_id) in stored


def test_a_garbage_page_keeps_the_cursor_so_the_next_poll_fetches_what_it_held(shop):  # noqa: F811
    shop.app.set_faults(garbage_rate=0.3, seed=5)
    first = poll(shop)
    shop.account.refresh_from_db()
    if first.status == SyncRun.Status.PARTIAL:
        assert shop.account.cursor is None or shop.account.cursor < shop.end
    shop.app.set_faults(garbage_rate=0.0)
    poll_account(account_id=shop.account.pk, transport=shop.transport(), now=shop.end + timedelta(minutes=1))
    assert set(SalesOrder.objects.values_list("external_id", flat=True)) == paid_ids(shop)


def test_a_malformed_order_becomes_an_issue_and_the_rest_of_its_page_is_written(shop):  # noqa: F811
    broken = sim_order_from_dict(
        {"order_id": 42, "modified": (WINDOW_START + timedelta(minutes=3)).isoformat(),
         "raw": {"tid": 42, "status": "WAIT_SELLER_SEND_GOODS", "payment": "十二块", "orders": "not a list"}}
    )  # fmt: skip
    shop.book.put(broken)
    run = poll(shop)
    order = SalesOrder.objects.get(external_id="42")
    assert order.status == SalesOrder.Status.NEEDS_REVIEW
    assert order.issues.get().code == Code.PAYLOAD_INVALID
    assert any(error["external_id"] == "42" for error in run.errors)
    assert SalesOrder.objects.count() == len(paid_ids(shop))  # the broken order is one of them


def test_hostile_and_odd_input_gives_clear_issues_and_loses_nothing(shop):  # noqa: F811
    base = {"modified": (WINDOW_START + timedelta(minutes=7)).isoformat(), "province": "广东", "city": "东莞",
            "district": "长安镇", "phone": "13800138000", "shipping": "0", "discount": "0"}  # fmt: skip
    odd = [
        {"order_id": 901, "receiver_name": "😀王芳🎉", "address": "振兴路1号", "note": "说" * 2000,
         "lines": [{"sku": "FG-1002", "title": "合页", "qty": 1, "price": "12.80"}]},
        {"order_id": 902, "receiver_name": "Robert'); DROP TABLE orders_salesorder;--", "address": "1' OR '1'='1",
         "lines": [{"sku": "FG-1002", "title": "<script>alert(1)</script>", "qty": 1, "price": "12.80"}]},
        {"order_id": 903, "receiver_name": "张三", "address": "人民路2号",
         "lines": [{"sku": "FG-1002", "title": "合页", "qty": -3, "price": "12.80"}]},
        {"order_id": 904, "receiver_name": "李四", "address": "人民路3号",
         "lines": [{"sku": "", "title": "无编码商品", "qty": 1, "price": "5.00"}]},
    ]  # fmt: skip
    for row in odd:
        shop.book.put(sim_order_from_dict({**base, **row}))
    run = poll(shop)
    assert run.status == SyncRun.Status.SUCCEEDED
    codes = {
        external_id: set(OrderIssue.objects.filter(order__external_id=external_id).values_list("code", flat=True))
        for external_id in ("901", "902", "903", "904")
    }
    assert codes["901"] == {Code.BUYER_NOTE}
    assert SalesOrder.objects.get(external_id="901").receiver_name == "😀王芳🎉"
    assert len(SalesOrder.objects.get(external_id="901").buyer_note) == 2000
    assert SalesOrder.objects.get(external_id="902").receiver_name.startswith("Robert'); DROP TABLE")
    assert Code.QTY_INVALID in codes["903"]
    assert Code.SKU_UNMAPPED in codes["904"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orders_salesorder")
        assert cursor.fetchone()[0] == len(paid_ids(shop))  # the four odd orders included


def test_a_wrong_secret_fails_the_run_with_a_clear_error_and_moves_nothing(db):
    opened, server = open_shop(orders=20, secret="not-the-secret")
    try:
        for _ in range(2):
            run = poll_account(account_id=opened.account.pk, transport=opened.transport(), now=opened.end)
            assert run.status == SyncRun.Status.FAILED
            assert run.errors[0]["code"] == "TOP_25"
            assert "not-the-secret" not in str(run.errors)
            ChannelAccount.objects.filter(pk=opened.account.pk).update(last_polled_at=None)
        opened.account.refresh_from_db()
        assert opened.account.cursor is None
        assert opened.account.lease_until is None
        assert not SalesOrder.objects.exists()
    finally:
        server.shutdown()


@pytest.mark.postgres
def test_only_one_poll_runs_per_account_even_with_several_workers(shop):  # noqa: F811
    if connection.vendor != "postgresql":
        pytest.skip("threads sharing a database need PostgreSQL (CI runs this)")
    shop.app.set_faults(latency_ms=20)
    results = []

    def worker():
        results.append(poll(shop))
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ran = [run for run in results if run is not None]
    assert len(ran) == 1
    assert SalesOrder.objects.count() == len(paid_ids(shop))


KILLED_POLL = """
import os, sys, django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from datetime import datetime
from integrations.channels.base import HttpTransport
from integrations.services import poll_account
poll_account(account_id=int(sys.argv[1]), transport=HttpTransport(sleep=lambda s: None),
             now=datetime.fromisoformat(sys.argv[2]))
"""


@pytest.mark.postgres
def test_a_worker_killed_mid_window_loses_nothing_and_duplicates_nothing_on_the_next_poll(db):
    import os
    import signal
    import subprocess
    import sys
    import time

    if connection.vendor != "postgresql":
        pytest.skip("a second process needs a server database (CI runs this on PostgreSQL)")
    opened, server = open_shop(orders=1500, hours=2)
    try:
        opened.app.set_faults(latency_ms=40)
        db_settings = connection.settings_dict
        url = f"postgres://{db_settings['USER']}@{db_settings['HOST']}:{db_settings['PORT']}/{db_settings['NAME']}"
        worker = subprocess.Popen(
            [sys.executable, "-c", KILLED_POLL, str(opened.account.pk), opened.end.isoformat()],
            env={**os.environ, "DATABASE_URL": url},
        )
        deadline = time.monotonic() + 30
        while SalesOrder.objects.count() < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        partial = SalesOrder.objects.count()
        assert 0 < partial < len(paid_ids(opened))
        opened.account.refresh_from_db()
        assert opened.account.cursor is None or opened.account.cursor < opened.end
        opened.app.set_faults(latency_ms=0)
        # The killed worker's lease lapses; the next poll starts from the old cursor.
        later = opened.end + timedelta(minutes=16)
        run = poll_account(account_id=opened.account.pk, transport=opened.transport(), now=later)
        assert run is not None and run.status == SyncRun.Status.SUCCEEDED
        assert set(SalesOrder.objects.values_list("external_id", flat=True)) == paid_ids(opened)
        # Orders of windows the killed worker finished are behind the cursor; the rest are read again, once.
        assert run.created == len(paid_ids(opened)) - partial
    finally:
        server.shutdown()
