"""Clean and validate: what the pipeline makes uniform and which orders it holds for review, and why."""

from dataclasses import replace
from decimal import Decimal

import pytest

from integrations.channels.base import NormalisedLine, NormalisedOrder
from integrations.pipeline.checks import ResolvedSku, validate
from integrations.pipeline.clean import clean_city, clean_order, clean_phone, clean_province, clean_text
from orders.models import OrderIssue

D = Decimal
Code = OrderIssue.Code


def good_order(**changes) -> NormalisedOrder:
    order = NormalisedOrder(
        external_id="1001",
        external_number="1001",
        external_status="WAIT_SELLER_SEND_GOODS",
        buyer="tb12345678",
        receiver_name="王芳",
        receiver_phone="13800138000",
        receiver_country="CN",
        receiver_province="广东省",
        receiver_city="东莞市",
        receiver_district="长安镇",
        receiver_address="振兴路12号3栋501",
        goods_amount=D("56.00"),
        shipping_amount=D("8.00"),
        discount_amount=D("5.00"),
        paid_amount=D("56.20"),
        lines=[
            NormalisedLine("1", "FG-1002", "合页", D("2"), D("12.80"), D("0")),
            NormalisedLine("2", "FG-4002", "拉手", D("3"), D("10.00"), D("2.40")),
        ],
    )
    return replace(order, **changes)


MAPPED = {"FG-1002": ResolvedSku(1, D(1)), "FG-4002": ResolvedSku(2, D(1))}


def codes(issues) -> list[str]:
    return [issue.code for issue in issues]


def test_a_consistent_order_passes_every_rule():
    # 2 × 12.80 + 3 × 10.00 = 55.60 goods; − 2.40 line discount − 5.00 order discount + 8.00 shipping = 56.20
    assert validate(good_order(goods_amount=D("55.60")), MAPPED) == []


@pytest.mark.parametrize(
    ("written", "clean"),
    [("  ＦＧ－１００２ ", "FG-1002"), ("王\u0000芳\t\t", "王芳"), ("a\n\nb", "a b"), ("😀 好评", "😀 好评")],
)
def test_text_is_trimmed_and_full_width_folded(written, clean):
    assert clean_text(written) == clean


@pytest.mark.parametrize(
    ("written", "clean"),
    [("+86 138-0013-8000", "13800138000"), ("008613800138000", "13800138000"), ("136*******5", "136*******5"),
     ("0769-85551234", "0769-85551234"), ("１３８００１３８０００", "13800138000")],
)  # fmt: skip
def test_phone_numbers_are_normalised(written, clean):
    assert clean_phone(written, "CN") == clean


@pytest.mark.parametrize(
    ("province", "clean"), [("广东", "广东省"), ("广东省", "广东省"), ("内蒙古", "内蒙古自治区"), ("上海", "上海市")]
)
def test_province_names_become_official(province, clean):
    assert clean_province(province) == clean


def test_city_names_get_their_suffix_and_municipalities_name_themselves():
    assert clean_city("东莞", "广东省") == "东莞市"
    assert clean_city("延边朝鲜族自治州", "吉林省") == "延边朝鲜族自治州"
    assert clean_city("市辖区", "北京市") == "北京市"


def test_money_is_rounded_to_the_cent_and_skus_lose_spaces():
    cleaned = clean_order(
        good_order(paid_amount=D("56.199"), lines=[NormalisedLine("1", " FG 1002 ", "", D(1), D("1.005"))])
    )
    assert cleaned.paid_amount == D("56.20")
    assert cleaned.lines[0].unit_price == D("1.01")
    assert cleaned.lines[0].external_sku == "FG1002"


def test_totals_that_do_not_add_up_to_the_cent_are_held_with_both_figures():
    issues = validate(good_order(goods_amount=D("55.60"), paid_amount=D("56.21")), MAPPED)
    assert codes(issues) == [Code.AMOUNT_MISMATCH]
    assert issues[0].data["expected"] == "56.20" and issues[0].data["paid"] == "56.21"


@pytest.mark.parametrize("qty", ["0", "-2", "1.5"])
def test_a_quantity_that_is_not_a_positive_whole_number_is_an_issue(qty):
    order = good_order(lines=[NormalisedLine("1", "FG-1002", "合页", D(qty), D("12.80"))], paid_amount=D("0"))
    assert Code.QTY_INVALID in codes(validate(order, MAPPED))


def test_a_negative_price_is_an_issue():
    order = good_order(lines=[NormalisedLine("1", "FG-1002", "合页", D(1), D("-1"))])
    assert Code.PRICE_INVALID in codes(validate(order, MAPPED))


def test_an_incomplete_address_names_what_is_missing():
    issues = validate(good_order(receiver_city="", receiver_address=""), MAPPED)
    missing = next(issue for issue in issues if issue.code == Code.ADDRESS_INCOMPLETE)
    assert missing.data["missing"]


def test_an_unmapped_sku_is_named_once_however_many_lines_carry_it():
    lines = [
        NormalisedLine("1", "HX-SET-4", "套装", D(1), D("48")),
        NormalisedLine("2", "HX-SET-4", "套装", D(1), D("48")),
    ]
    issues = validate(good_order(lines=lines), MAPPED)
    assert [issue.data["sku"] for issue in issues if issue.code == Code.SKU_UNMAPPED] == ["HX-SET-4"]


def test_a_buyer_note_holds_the_order_so_customer_service_reads_it():
    issues = validate(good_order(goods_amount=D("55.60"), buyer_note="需要开发票"), MAPPED)
    assert codes(issues) == [Code.BUYER_NOTE]


def test_a_missing_receiver_and_no_lines_are_reported():
    issues = validate(good_order(receiver_name="", lines=[], paid_amount=D("3.00")), MAPPED)
    assert Code.FIELD_MISSING in codes(issues)


def test_a_bad_phone_is_reported_but_a_masked_one_is_accepted():
    assert Code.PHONE_INVALID in codes(validate(good_order(goods_amount=D("55.60"), receiver_phone="12345"), MAPPED))
    assert validate(good_order(goods_amount=D("55.60"), receiver_phone="136*******5"), MAPPED) == []
