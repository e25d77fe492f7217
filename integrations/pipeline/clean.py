"""Clean: make marketplace text and numbers uniform before they are checked and stored."""

import re
import unicodedata
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

from integrations.channels.base import NormalisedLine, NormalisedOrder

CENT = Decimal("0.01")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
# What clean_text would change in NFKC text: control characters, whitespace other than single inner spaces.
_UNCLEAN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[^\S ]|  |^ | $")
_NOT_PHONE = re.compile(r"[^\d*+-]")
_CN_MOBILE = re.compile(r"1[\d*]{10}")
_HAN = re.compile(r"[\u4e00-\u9fff]")

# Official names; marketplaces and buyers often write the short form ("广东", "内蒙古").
PROVINCES = [
    "北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省", "黑龙江省", "江苏省", "浙江省",
    "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省", "海南省", "四川省", "贵州省",
    "云南省", "陕西省", "甘肃省", "青海省", "台湾省", "内蒙古自治区", "广西壮族自治区", "西藏自治区",
    "宁夏回族自治区", "新疆维吾尔自治区", "香港特别行政区", "澳门特别行政区",
]  # fmt: skip
_PROVINCE_BY_SHORT = {}
for _full in PROVINCES:
    _short = re.sub(r"(省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区)$", "", _full)
    _PROVINCE_BY_SHORT[_short] = _full
    _PROVINCE_BY_SHORT[_full] = _full
_PROVINCE_BY_SHORT.update(
    {
        "广西": "广西壮族自治区",
        "宁夏": "宁夏回族自治区",
        "新疆": "新疆维吾尔自治区",
        "香港": "香港特别行政区",
        "澳门": "澳门特别行政区",
    }
)
_CITY_SUFFIXES = ("市", "州", "盟", "地区", "区", "县")
_MUNICIPALITIES = {"北京市", "天津市", "上海市", "重庆市"}


def clean_text(value: str | None, *, max_length: int | None = None) -> str:
    """Trim, fold full-width characters to half-width, drop control characters and collapse spaces."""
    if not value:
        return ""
    text = str(value)
    # Most fields are already clean (codes, numbers, tidy names and addresses): skip the normalisation, it runs per
    # field per order. Text that is NFKC already and has nothing the steps below would remove or fold comes out
    # of them unchanged, so leaving it as it is gives the same result.
    if not (
        (text.isascii() and text.isprintable() and "  " not in text and text == text.strip())
        or (unicodedata.is_normalized("NFKC", text) and not _UNCLEAN.search(text))
    ):
        text = unicodedata.normalize("NFKC", text)
        text = _CONTROL.sub("", text)
        text = _SPACES.sub(" ", text).strip()
    return text[:max_length] if max_length else text


def clean_note(value: str | None) -> str:
    """Notes keep their line breaks; only width, control characters and outer spaces are fixed."""
    if not value:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return _CONTROL.sub("", text).strip()


def clean_phone(value: str | None, country: str) -> str:
    """Digits of a phone number; Chinese mobiles lose their +86/0086 prefix. Masked digits (*) are kept."""
    text = clean_text(value)
    if not text:
        return ""
    kept = _NOT_PHONE.sub("", text)
    if country in ("", "CN"):
        digits = kept.replace("-", "").replace("+", "")
        for prefix in ("0086", "86"):
            if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
                digits = digits[len(prefix) :]
        if _CN_MOBILE.fullmatch(digits):
            return digits
        return kept.lstrip("+")
    return kept


def clean_province(value: str | None) -> str:
    """The official province name for a short or full one ("广东" → "广东省"); unknown names stay as written."""
    text = clean_text(value).replace(" ", "")
    return _PROVINCE_BY_SHORT.get(text, text)


def clean_city(value: str | None, province: str) -> str:
    """A prefecture-level city with its 市 ("东莞" → "东莞市"); municipalities name themselves."""
    text = clean_text(value).replace(" ", "")
    if not text:
        return province if province in _MUNICIPALITIES else ""
    if text in ("市辖区", "县") and province in _MUNICIPALITIES:
        return province
    if _HAN.search(text) and not text.endswith(_CITY_SUFFIXES):
        return text + "市"
    return text


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def clean_order(order: NormalisedOrder) -> NormalisedOrder:
    """The order with its text, phone, place names and money made uniform."""
    country = clean_text(order.receiver_country).upper() or "CN"
    china = country == "CN"
    province = clean_province(order.receiver_province) if china else clean_text(order.receiver_province)
    return replace(
        order,
        external_number=clean_text(order.external_number, max_length=64),
        external_status=clean_text(order.external_status, max_length=64),
        buyer=clean_text(order.buyer, max_length=200),
        buyer_note=clean_note(order.buyer_note),
        seller_note=clean_note(order.seller_note),
        receiver_name=clean_text(order.receiver_name, max_length=200),
        receiver_phone=clean_phone(order.receiver_phone, country)[:64],
        receiver_country=country[:64],
        receiver_province=province[:64],
        receiver_city=(clean_city(order.receiver_city, province) if china else clean_text(order.receiver_city))[:64],
        receiver_district=clean_text(order.receiver_district, max_length=64),
        receiver_address=clean_text(order.receiver_address, max_length=500),
        receiver_zip=clean_text(order.receiver_zip, max_length=20),
        currency=(clean_text(order.currency).upper() or "CNY")[:3],
        goods_amount=money(order.goods_amount),
        shipping_amount=money(order.shipping_amount),
        discount_amount=money(order.discount_amount),
        paid_amount=money(order.paid_amount),
        lines=[
            NormalisedLine(
                external_line_id=clean_text(line.external_line_id, max_length=64),
                external_sku=clean_text(line.external_sku, max_length=128).replace(" ", ""),
                title=clean_text(line.title, max_length=300),
                qty=Decimal(line.qty),
                unit_price=money(line.unit_price),
                discount=money(line.discount),
            )
            for line in order.lines
        ],
    )
