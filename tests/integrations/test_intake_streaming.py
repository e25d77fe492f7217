"""Intake fast paths keep its rules: reading ahead across windows, the fast JSON reader, the page cache."""

from datetime import timedelta

import pytest
import requests

from integrations.channels.base import HttpTransport, RawOrder, parse_json
from integrations.models import ChannelAccount, SyncRun
from integrations.services import poll_account
from integrations.simulators.orderbook import sim_order_from_dict
from orders.models import ErpPush, SalesOrder
from tests.integrations.intake_fixtures import WINDOW_START, shop  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db(transaction=True)


def paid_ids_before(shop, end) -> set[str]:  # noqa: F811 - `shop` is the fixture's value
    return {str(order.order_id) for order in shop.book.window(WINDOW_START, end) if order.status == "paid"}


def test_a_marketplace_failing_in_a_later_window_leaves_the_cursor_after_the_last_window_written(shop):  # noqa: F811
    # 300 orders over 3 hours, 50 a page: each 30-minute window is one request. The marketplace goes down after
    # the third answer, while the poll is already reading ahead into the fourth window.
    answers = []

    def count_answer(response: requests.Response, *args, **kwargs) -> None:
        answers.append(response.status_code)
        if len(answers) == 3:
            shop.app.set_faults(down=True)

    session = requests.Session()
    session.hooks["response"].append(count_answer)
    transport = HttpTransport(sleep=lambda seconds: None, max_attempts=3, timeout=1.0, session=session)

    run = poll_account(account_id=shop.account.pk, transport=transport, now=shop.end)

    assert run.status == SyncRun.Status.PARTIAL
    assert [error["code"] for error in run.errors] == ["HTTP_503"]
    three_windows = WINDOW_START + timedelta(minutes=90)
    assert ChannelAccount.objects.get(pk=shop.account.pk).cursor == three_windows
    stored = set(SalesOrder.objects.values_list("external_id", flat=True))
    assert stored == paid_ids_before(shop, three_windows)

    # Back up: the next poll starts from the cursor and brings the rest, once.
    shop.app.set_faults(down=False)
    later = poll_account(account_id=shop.account.pk, transport=shop.transport(), now=shop.end)
    assert later.status == SyncRun.Status.SUCCEEDED
    assert set(SalesOrder.objects.values_list("external_id", flat=True)) == paid_ids_before(shop, shop.end)
    assert later.created == len(paid_ids_before(shop, shop.end)) - len(stored)


def test_an_order_id_beyond_64_bits_arrives_with_every_digit(shop):  # noqa: F811
    tid = 123456789012345678901234567
    shop.book.put(
        sim_order_from_dict(
            {"order_id": 77, "modified": (WINDOW_START + timedelta(minutes=5)).isoformat(),
             "raw": {"tid": tid, "status": "WAIT_SELLER_SEND_GOODS", "receiver_name": "王芳", "payment": "0.00"}}
        )
    )  # fmt: skip
    poll_account(account_id=shop.account.pk, transport=shop.transport(), now=shop.end)
    order = SalesOrder.objects.get(external_id=str(tid))
    assert order.payload["tid"] == tid


def test_a_changed_order_is_served_changed_although_its_page_was_served_before(shop):  # noqa: F811
    poll_account(account_id=shop.account.pk, transport=shop.transport(), now=shop.end)
    waiting = SalesOrder.objects.filter(status=SalesOrder.Status.NEEDS_REVIEW).order_by("external_id").first()
    order = shop.book.get(int(waiting.external_id))
    # Same modified time, so the order stays on the page the simulator already rendered once.
    shop.book.touch(order.order_id, when=order.modified, receiver_name="赵六")
    ChannelAccount.objects.filter(pk=shop.account.pk).update(cursor=None)

    run = poll_account(account_id=shop.account.pk, transport=shop.transport(), now=shop.end)

    assert (run.created, run.updated) == (0, 1)
    assert SalesOrder.objects.get(pk=waiting.pk).receiver_name == "赵六"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"tid": 12345678901234567890123, "n": 1.5}', {"tid": 12345678901234567890123, "n": 1.5}),
        ('{"name": "王芳 😀", "note": "a\\u0000b"}'.encode(), {"name": "王芳 😀", "note": "a\x00b"}),
        (b'{"x": NaN}', None),  # read as the standard library reads it
    ],
)
def test_json_bodies_read_exactly_as_the_standard_library_reads_them(body, expected):
    response = requests.Response()
    response._content = body
    response.encoding = "utf-8"
    data = parse_json(response)
    if expected is None:
        assert data["x"] != data["x"]  # NaN
    else:
        assert data == expected and type(data.get("tid", 0)) is int


def test_the_payload_hash_is_the_hash_of_sorted_compact_utf8_json():
    import hashlib
    import json

    payload = {"b": [1, {"z": "合页", "a": None}], "a": "x", "big": 2**70}
    raw = RawOrder(external_id="1", payload=payload)
    expected = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert raw.canonical_json == expected
    assert raw.payload_hash == hashlib.sha256(expected.encode()).hexdigest()
    small = RawOrder(external_id="2", payload={"b": 1, "a": "合页"})
    assert small.canonical_json == '{"a":"合页","b":1}'


def test_notes_and_addresses_with_tabs_line_breaks_and_backslashes_are_stored_exactly(shop):  # noqa: F811
    note = "第一行\r\n第二行\t制表\\反斜杠 \\N"
    shop.book.put(
        sim_order_from_dict(
            {"order_id": 905, "modified": (WINDOW_START + timedelta(minutes=9)).isoformat(), "province": "广东",
             "city": "东莞", "district": "长安镇", "phone": "13800138000", "receiver_name": "王\\芳",
             "address": "振兴路\\1号", "note": note, "shipping": "0", "discount": "0",
             "lines": [{"sku": "FG-1002", "title": "合页\\4寸", "qty": 1, "price": "12.80"}]}
        )
    )  # fmt: skip
    poll_account(account_id=shop.account.pk, transport=shop.transport(), now=shop.end)
    order = SalesOrder.objects.get(external_id="905")
    assert (order.buyer_note, order.receiver_name, order.receiver_address) == (note, "王\\芳", "振兴路\\1号")
    assert order.lines.get().title == "合页\\4寸"
    assert order.payload["buyer_message"] == note
    assert order.issues.get().data["note"] == note


def test_a_new_order_stored_by_another_writer_meanwhile_is_updated_not_duplicated(db):
    from integrations.pipeline import IngestContext, ingest_page, prepare_page
    from integrations.pipeline.write import write_page
    from integrations.services import channel_client
    from tests.integrations.intake_fixtures import open_shop

    opened, server = open_shop(orders=600, hours=1)
    try:
        client = channel_client(opened.account, opened.transport())
        raws = [raw for page in client.fetch_window(WINDOW_START, opened.end, page_size=100) for raw in page.orders]
        assert len(raws) == 600  # one page of the writer's size, far above its bulk-copy threshold
        ctx = IngestContext.for_account(opened.account, client)
        prepared = prepare_page(ctx, raws)
        # A webhook (another writer) stores some of these orders between the check and the write.
        ingest_page(ctx, raws[:10])
        first_ids = dict(SalesOrder.objects.values_list("external_id", "id"))
        assert SalesOrder.objects.filter(status=SalesOrder.Status.CONFIRMED).exists()

        write_page(ctx, prepared)

        assert SalesOrder.objects.count() == 600
        assert set(SalesOrder.objects.values_list("external_id", flat=True)) == {raw.external_id for raw in raws}
        assert {key: value for key, value in SalesOrder.objects.values_list("external_id", "id")} | first_ids == dict(
            SalesOrder.objects.values_list("external_id", "id")
        )  # the ten keep their rows
        for order in SalesOrder.objects.filter(external_id__in=first_ids).prefetch_related("lines"):
            assert sorted(line.line_no for line in order.lines.all()) == list(range(1, order.lines.count() + 1))
        confirmed = SalesOrder.objects.filter(status=SalesOrder.Status.CONFIRMED)
        assert ErpPush.objects.filter(order__in=confirmed).count() == confirmed.count()
    finally:
        server.shutdown()
