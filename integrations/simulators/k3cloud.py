"""Simulated Kingdee K/3 Cloud (金蝶云星空) WebAPI: `/k3cloud/K3Cloud/<Service>.common.kdsvc`.

Serves the session-cookie login (`AuthService.ValidateUser`, `AuthService.LoginByAppSecret`) and the
DynamicFormService operations Save, View, Submit, Audit (sale orders, `SAL_SaleOrder`) and ExecuteBillQuery (over
SAL_SaleOrder, BD_MATERIAL, STK_Inventory, ENG_BOM and PRD_MO), with positional `{"parameters": [...]}` bodies.
It checks what K/3 Cloud checks: the data centre, user and password or app id and secret at login; the
`kdservice-sessionid` cookie on every form call (an unknown or idle session gets "会话信息已丢失，请重新登录",
MsgCode 1); the bill's required fields and base data at Save; the status of a bill at Submit and Audit; the field
keys of a query. Refusals use K/3's own envelopes: `Result.ResponseStatus` with IsSuccess false (wrapped as
`[[{...}]]` for ExecuteBillQuery) and `response_error:` bodies for unreadable calls. Facts and sources: docs
reference/protocols.md §4; the session-lost answer and the messages "元数据中标识为…的字段不存在" and "业务对象不存在"
come from third-party captures; the other Chinese messages, the LoginResultType codes of failures, the View
model's shape, the throttling answer and the wrapping of a query's session-lost answer are unconfirmed.

The data is plain data below, mirroring the demo factory's codes (production/demo.py): materials, stock per
warehouse (the demo warehouses' ERP codes K3-CK01…04), BOMs, production orders, the organisation and customers.
Pass `seed_data` to serve other data (e.g. 5,000 materials for a paging test).

Fault knobs, besides the server's shared ones:
- `sim.down = True` (the server's `Faults.down`): every request answers HTTP 503.
- `sim.slow_ms = 800` (the server's `Faults.latency_ms`): every answer comes that much later.
- `sim.save_timeout = True`: each Save stores the bill, then waits `sim.save_timeout_seconds` (default 20 s, past
  the client's 15 s) before answering; the bill exists but the client sees a timeout. Stays on until cleared.
- `sim.reject_field = "FCustId"`: the next Save fails validation on that field (once), as K/3 does when base
  data is forbidden or a tenant's rule refuses a value.
- `sim.expire_sessions()`: forget every session now, as an IIS recycle does; sessions also expire after
  `sim.session_idle` of inactivity (20 minutes, ASP.NET's default session timeout).
The last three can also be set over HTTP while `manage.py simulate` runs: POST `/k3cloud/_control` with JSON such
as `{"save_timeout": true, "save_timeout_seconds": 20, "reject_field": "FCustId", "expire_sessions": true}`
(GET shows them). The server's own knobs stay at `/_control/faults`.

Changes "made in the ERP", for demos of the incremental pulls and the reconciliation, go the same way:
`{"change_material": {"number": "FG-1001", "name": "…", "specification": "…"}}`,
`{"set_stock": {"material": "FG-1001", "warehouse": "K3-CK04", "qty": "2500"}}` and
`{"ship": {"customer": "CUST0001", "lines": [["FG-1001", "10"]], "day": "2026-11-24"}}` (an audited outbound bill).
"""

import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from http.cookies import CookieError, SimpleCookie
from typing import Any

from integrations.simulators.orderbook import SHANGHAI
from integrations.simulators.server import Faults, SimRequest, SimResponse

SESSION_COOKIE = "kdservice-sessionid"
AUTH_PREFIX = "kingdee.bos.webapi.servicesstub.authservice."
FORM_PREFIX = "kingdee.bos.webapi.servicesstub.dynamicformservice."
SUFFIX = ".common.kdsvc"
SESSION_IDLE = timedelta(minutes=20)
ROW_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
DISPLAY_VERSION = "8.1.0.20230720"  # any 8.x build; unconfirmed which the customer runs

# LoginResultType of failures (1 = success is documented; the rest is unconfirmed).
LOGIN_FAILURE = -1
LOGIN_WRONG_PASSWORD = 0

# ResponseStatus.MsgCode values, as the client reads them (see integrations/erp/k3cloud.py).
MSG_SESSION_LOST = 1
MSG_NOT_FOUND = 10
MSG_VALIDATION = 11
MSG_CALL_LIMIT = 14

CONTROL_KNOBS = (
    "save_timeout",
    "save_timeout_seconds",
    "reject_field",
    "expire_sessions",
    "change_material",
    "set_stock",
    "ship",
)

# --- Seed data: the demo factory as its ERP holds it ---------------------------------------------------------

ORGANISATIONS = (("100", "东莞长安五金制品厂"),)
CUSTOMERS = (("CUST0001", "淘宝/天猫零售客户"), ("CUST0002", "京东零售客户"), ("CUST0003", "Shopify 海外零售客户"))
CURRENCIES = (("PRE001", "人民币"), ("PRE007", "美元"))  # standard codes, unconfirmed
BILL_TYPES = (("XSDD01_SYS", "标准销售订单"),)

# (number, name, specification, base unit, material group, made here (自制) rather than bought (外购))
DEMO_MATERIALS = (
    ("FG-1001", "不锈钢合页 3寸 2.0厚 拉丝", "SUS304 75×50×2.0mm 平开合页 拉丝", "片", "合页", True),
    ("FG-1002", "不锈钢合页 4寸 2.5厚 拉丝", "SUS304 100×75×2.5mm 平开合页 拉丝", "片", "合页", True),
    ("FG-2001", "三节钢珠滑轨 45宽 12寸(300mm)", "SGCC 1.2×1.0×1.0mm 镀锌 承重35kg", "副", "抽屉滑轨", True),
    ("FG-2011", "三节阻尼滑轨 45宽 14寸(350mm)", "SGCC 1.2×1.0×1.0mm 镀锌 缓冲关闭 承重35kg", "副", "抽屉滑轨", True),
    ("FG-3001", "执手门锁 拉丝银", "分体执手 锁体5050 C级锁芯 适用门厚35-55mm 拉丝银", "套", "门锁", True),
    ("FG-3002", "执手门锁 哑黑", "分体执手 锁体5050 C级锁芯 适用门厚35-55mm 哑黑", "套", "门锁", True),
    ("FG-3011", "不锈钢球形锁 本色", "587型 SUS304 本色 适用门厚35-50mm", "套", "门锁", True),
    ("FG-3021", "抽屉锁 Φ19 镀铬", "Φ19×22mm 锁舌 90° 转向", "套", "门锁", True),
    ("SF-4001", "合页片（拉丝） 3寸", "SUS304 75×50×2.0mm 拉丝", "PCS", "机加工件", True),
    ("SF-4011", "合页轴 Φ6×75", "SUS304 Φ6×75mm", "PCS", "机加工件", True),
    ("SF-6101", "锁体壳电镀件 5050", "镀镍 盐雾 48h", "PCS", "电镀件", True),
    ("SF-2102", "锁体盖板冲压件 5050", "SPCC 1.2mm", "PCS", "冲压件", True),
    ("SF-2103", "拨块冲压件", "SPCC 2.0mm", "PCS", "冲压件", True),
    ("SF-4102", "方舌", "SUS304 Φ12 车削", "PCS", "机加工件", True),
    ("SF-4103", "斜舌", "H59 黄铜 Φ12", "PCS", "机加工件", True),
    ("SF-4104", "面板（拉丝）", "SUS304 拉丝", "PCS", "机加工件", True),
    ("SF-6111", "执手电镀件 拉丝银", "Zamak 3 拉丝银", "PCS", "电镀件", True),
    ("SF-7101", "锁体组件 5050", "锁体 50×50 中心距 72mm", "PCS", "组件", True),
    ("RM-1003", "SUS304 不锈钢板 2.0mm", "2.0×1219×2438mm 2B面 太钢", "KG", "不锈钢板", False),
    ("RM-2003", "冷轧钢卷 SPCC 1.2mm", "1.2×1250mm×C 宝钢", "KG", "冷轧钢", False),
    ("RM-3001", "锌合金锭 3#", "Zamak 3 (ZnAl4) GB/T 8738", "KG", "锌合金", False),
    ("RM-5001", "电解镍板", "Ni9996 1000×1000mm", "KG", "电镀原料", False),
    ("PP-1004", "十字沉头自攻螺丝 M4×20", "M4×20 SUS304 GB/T 846", "PCS", "紧固件", False),
    ("PP-1005", "十字沉头自攻螺丝 M4×25", "M4×25 SUS304 GB/T 846", "PCS", "紧固件", False),
    ("PP-1014", "十字盘头机牙螺丝 M5×45", "M5×45 镀镍 GB/T 818", "PCS", "紧固件", False),
    ("PP-1041", "实心铆钉 Φ3×6", "Φ3×6 Q235 镀锌", "PCS", "紧固件", False),
    ("PP-2002", "压缩弹簧 0.8×6×20", "线径0.8 外径6 长20 SWP-B", "PCS", "弹簧", False),
    ("PP-2011", "扭簧 1.0 90°", "线径1.0 外径8 90° SWP-B", "PCS", "弹簧", False),
    ("PP-2012", "扭簧 1.2 90°", "线径1.2 外径10 90° SWP-B 执手回位", "PCS", "弹簧", False),
    ("PP-3001", "锁芯 C级 70mm", "35/35 纯铜 配3把钥匙", "个", "锁具配件", False),
    ("PP-3004", "方轴 8×8×90", "8×8×90mm 镀锌", "个", "锁具配件", False),
    ("PP-4001", "门锁彩盒", "300×200×80mm 350g白卡 四色印刷", "个", "包装材料", False),
    ("PP-4003", "合页白盒（一副装）", "135×85×25mm 300g白卡", "个", "包装材料", False),
    ("PP-4007", "门锁吸塑托", "PET 0.5mm 280×180mm", "个", "包装材料", False),
    ("PP-4009", "门锁说明书", "A4 双面 80g 双胶纸", "张", "包装材料", False),
    ("PP-4012", "合格证", "50×70mm 铜版纸", "张", "包装材料", False),
    ("PP-5007", "尼龙垫圈 Φ8", "Φ8×Φ12×1mm PA66 白", "个", "配件", False),
)

# (material, warehouse ERP code, base qty): raw materials in K3-CK01, bought parts K3-CK02, semi-finished K3-CK03,
# finished goods K3-CK04, as the demo's warehouses map.
DEMO_STOCK = (
    ("FG-1001", "K3-CK04", "2780"),
    ("FG-1002", "K3-CK04", "0"),
    ("FG-2001", "K3-CK04", "2360"),
    ("FG-2011", "K3-CK04", "510"),
    ("FG-3001", "K3-CK04", "2390"),
    ("FG-3002", "K3-CK04", "1330"),
    ("FG-3011", "K3-CK04", "2160"),
    ("FG-3021", "K3-CK04", "2930"),
    ("SF-4001", "K3-CK03", "2350"),
    ("SF-4011", "K3-CK03", "2800"),
    ("SF-6101", "K3-CK03", "1400"),
    ("SF-2102", "K3-CK03", "2500"),
    ("SF-4102", "K3-CK03", "3600"),
    ("SF-4104", "K3-CK03", "850"),
    ("SF-6111", "K3-CK03", "150"),
    ("RM-1003", "K3-CK01", "6950"),
    ("RM-2003", "K3-CK01", "7450"),
    ("RM-3001", "K3-CK01", "7050"),
    ("RM-5001", "K3-CK01", "3200"),
    ("PP-1004", "K3-CK02", "1000"),
    ("PP-1005", "K3-CK02", "30000"),
    ("PP-3001", "K3-CK02", "5000"),
    ("PP-4001", "K3-CK02", "10500"),
)

# (parent, child, numerator, denominator, scrap rate %): the demo's BOM lines of three items.
DEMO_BOMS = (
    ("FG-1001", "SF-4001", "2", "1", "0.5"),
    ("FG-1001", "SF-4011", "1", "1", "0.5"),
    ("FG-1001", "PP-5007", "2", "1", "1"),
    ("FG-1001", "PP-1004", "8", "1", "2"),
    ("FG-1001", "PP-4003", "1", "2", "0"),  # one box holds a pair of leaves
    ("SF-7101", "SF-6101", "1", "1", "0.5"),
    ("SF-7101", "SF-2102", "1", "1", "0.5"),
    ("SF-7101", "SF-2103", "2", "1", "0.5"),
    ("SF-7101", "SF-4102", "1", "1", "0"),
    ("SF-7101", "SF-4103", "1", "1", "0"),
    ("SF-7101", "PP-2002", "2", "1", "1"),
    ("SF-7101", "PP-2011", "1", "1", "1"),
    ("SF-7101", "PP-1041", "4", "1", "2"),
    ("FG-3001", "SF-7101", "1", "1", "0"),
    ("FG-3001", "SF-6111", "2", "1", "0.5"),
    ("FG-3001", "SF-4104", "2", "1", "0.5"),
    ("FG-3001", "PP-3001", "1", "1", "0"),
    ("FG-3001", "PP-3004", "1", "1", "0"),
    ("FG-3001", "PP-2012", "2", "1", "1"),
    ("FG-3001", "PP-1014", "2", "1", "2"),
    ("FG-3001", "PP-1005", "6", "1", "2"),
    ("FG-3001", "PP-4007", "1", "1", "0"),
    ("FG-3001", "PP-4001", "1", "1", "0"),
    ("FG-3001", "PP-4009", "1", "1", "0"),
    ("FG-3001", "PP-4012", "1", "1", "0"),
)

# (number, material, qty, planned start in days from today, planned days, FDocumentStatus)
DEMO_PRODUCTION_ORDERS = (
    ("MO000001", "FG-3001", "200", -2, 5, "C"),
    ("MO000002", "FG-1001", "1000", 0, 3, "C"),
    ("MO000003", "SF-7101", "200", -3, 2, "C"),
    ("MO000004", "FG-2001", "500", 2, 4, "B"),
    ("MO000005", "FG-3011", "300", 5, 3, "A"),
)

# When the demo materials were last modified in the ERP: one after another from this moment (server time, GMT+8).
DEMO_MODIFIED_FROM = datetime(2025, 1, 6, 9, 0)


@dataclass(frozen=True)
class SeedMaterial:
    number: str
    name: str
    specification: str
    unit: str
    group: str
    made_here: bool
    modified: datetime  # naive server time (GMT+8), as K/3 stores it


@dataclass(frozen=True)
class SeedStock:
    material: str
    warehouse: str
    qty: Decimal


@dataclass(frozen=True)
class SeedBomLine:
    parent: str
    child: str
    numerator: Decimal
    denominator: Decimal
    scrap_rate: Decimal  # percent


@dataclass(frozen=True)
class SeedProductionOrder:
    number: str
    material: str
    qty: Decimal
    plan_start: datetime
    plan_finish: datetime
    status: str  # FDocumentStatus


@dataclass
class SeedData:
    """What the simulated data centre holds at start."""

    materials: list[SeedMaterial] = field(default_factory=list)
    stock: list[SeedStock] = field(default_factory=list)
    boms: list[SeedBomLine] = field(default_factory=list)
    production_orders: list[SeedProductionOrder] = field(default_factory=list)
    organisations: dict[str, str] = field(default_factory=lambda: dict(ORGANISATIONS))
    customers: dict[str, str] = field(default_factory=lambda: dict(CUSTOMERS))
    currencies: dict[str, str] = field(default_factory=lambda: dict(CURRENCIES))


def demo_seed_data(today: date | None = None) -> SeedData:
    """The demo factory's ERP data; production orders are planned around `today`."""
    today = today or datetime.now(SHANGHAI).date()
    morning = datetime(today.year, today.month, today.day, 8, 0)
    return SeedData(
        materials=[
            SeedMaterial(number, name, spec, unit, group, made, DEMO_MODIFIED_FROM + timedelta(minutes=7 * n))
            for n, (number, name, spec, unit, group, made) in enumerate(DEMO_MATERIALS)
        ],
        stock=[SeedStock(material, warehouse, Decimal(qty)) for material, warehouse, qty in DEMO_STOCK],
        boms=[SeedBomLine(p, c, Decimal(num), Decimal(den), Decimal(scrap)) for p, c, num, den, scrap in DEMO_BOMS],
        production_orders=[
            SeedProductionOrder(
                number,
                material,
                Decimal(qty),
                morning + timedelta(days=start),
                morning + timedelta(days=start + days, hours=10),
                status,
            )
            for number, material, qty, start, days, status in DEMO_PRODUCTION_ORDERS
        ],
    )


# --- Query schema --------------------------------------------------------------------------------------------

STR, NUM, DATE = "str", "num", "date"


@dataclass(frozen=True)
class FormSchema:
    """The field keys ExecuteBillQuery accepts on a form, with their kinds; entry keys give one row per entry."""

    form_id: str
    head: dict[str, str]
    entry: dict[str, str] = field(default_factory=dict)

    def kind(self, key: str) -> str | None:
        return {**self.head, **self.entry}.get(key.lower())


def _schema(form_id: str, head: dict[str, str], entry: dict[str, str] | None = None) -> FormSchema:
    # K/3 reads field keys case-insensitively (SDK samples write FMATERIALID and FMaterialId alike).
    return FormSchema(
        form_id, {k.lower(): v for k, v in head.items()}, {k.lower(): v for k, v in (entry or {}).items()}
    )


SCHEMAS = {
    schema.form_id.lower(): schema
    for schema in (
        _schema(
            "SAL_SaleOrder",
            {
                "FID": NUM,
                "FBillNo": STR,
                "FDate": DATE,
                "FNote": STR,
                "FDocumentStatus": STR,
                "FBillTypeID.FNumber": STR,
                "FSaleOrgId.FNumber": STR,
                "FCustId.FNumber": STR,
                "FSettleCurrId.FNumber": STR,
            },
            {
                "FSaleOrderEntry_FEntryID": NUM,
                "FMaterialId.FNumber": STR,
                "FUnitID.FNumber": STR,
                "FQty": NUM,
                "FTaxPrice": NUM,
                "FEntryTaxRate": NUM,
                "FDeliveryDate": DATE,
            },
        ),
        _schema(
            "BD_MATERIAL",
            {
                "FMATERIALID": NUM,
                "FNumber": STR,
                "FName": STR,
                "FSpecification": STR,
                "FBaseUnitId.FNumber": STR,
                "FMaterialGroup.FNumber": STR,
                "FErpClsID": STR,  # 1 外购, 2 自制 (unconfirmed codes)
                "FModifyDate": DATE,
                "FDocumentStatus": STR,
                "FForbidStatus": STR,
            },
        ),
        _schema(
            "STK_Inventory",
            {
                "FID": STR,
                "FMaterialId.FNumber": STR,
                "FStockId.FNumber": STR,
                "FStockOrgId.FNumber": STR,
                "FBaseUnitId.FNumber": STR,
                "FBaseQty": NUM,
                "FUpdateTime": DATE,  # when the row last changed (T_STK_INVENTORY.FUPDATETIME; unconfirmed key)
            },
        ),
        _schema(
            "ENG_BOM",
            {
                "FID": NUM,
                "FNumber": STR,
                "FMATERIALID.FNumber": STR,
                "FDocumentStatus": STR,
                "FForbidStatus": STR,
                "FModifyDate": DATE,
            },
            {
                "FTreeEntity_FEntryID": NUM,
                "FMATERIALIDCHILD.FNumber": STR,
                "FNUMERATOR": NUM,
                "FDENOMINATOR": NUM,
                "FSCRAPRATE": NUM,
            },
        ),
        _schema(
            "SAL_OUTSTOCK",
            {
                "FID": NUM,
                "FBillNo": STR,
                "FDate": DATE,
                "FCustomerID.FNumber": STR,
                "FSaleOrgId.FNumber": STR,
                "FDocumentStatus": STR,
                "FModifyDate": DATE,
            },
            {
                "FEntity_FEntryID": NUM,
                "FMaterialID.FNumber": STR,
                "FRealQty": NUM,  # 实发数量, in the sales unit
                "FStockID.FNumber": STR,
                "FSoorDerno": STR,  # 订单单号: the sale order shipped (key unconfirmed)
            },
        ),
        _schema(
            "PRD_MO",
            {"FID": NUM, "FBillNo": STR, "FDocumentStatus": STR},
            {
                "FTreeEntity_FEntryID": NUM,
                "FMaterialId.FNumber": STR,
                "FQty": NUM,
                "FPlanStartDate": DATE,
                "FPlanFinishDate": DATE,
            },
        ),
    )
}

# Labels K/3 uses in its messages for the Save fields the simulator checks.
LABELS = {
    "FBillTypeID": "单据类型",
    "FDate": "日期",
    "FSaleOrgId": "销售组织",
    "FCustId": "客户",
    "FSettleCurrId": "结算币别",
    "FNote": "备注",
    "FMaterialId": "物料编码",
    "FUnitID": "销售单位",
    "FQty": "销售数量",
    "FTaxPrice": "含税单价",
    "FEntryTaxRate": "税率%",
    "FDeliveryDate": "要货日期",
}


class QueryError(ValueError):
    """A query the simulator (like K/3's SQL) cannot run; the message is what the caller gets."""


# --- FilterString: field op literal [AND field op literal]… --------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)(?![\w.])|(?P<op>>=|<=|<>|!=|=|>|<)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
_OPERATORS = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class Condition:
    field: str  # lower-case key
    op: str
    value: Any

    def matches(self, row: dict[str, Any]) -> bool:
        actual = row.get(self.field)
        return actual is not None and _OPERATORS[self.op](actual, self.value)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise QueryError(
                f"过滤条件“{text}”在第{position + 1}个字符处无法解析（模拟器只支持 字段 比较符 值 [and …]）"
            )
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _literal(kind: str, token: tuple[str, str], key: str) -> Any:
    """The filter literal as the field's kind, or a QueryError when it cannot be one (SQL would fail too)."""
    category, text = token
    value = text[1:-1].replace("''", "'") if category == "string" else text
    if kind == NUM:
        try:
            return Decimal(value)
        except InvalidOperation:
            raise QueryError(f"字段{key}的比较值“{value}”不是数字") from None
    if kind == DATE:
        parsed = _parse_date(value)
        if parsed is None:
            raise QueryError(f"字段{key}的比较值“{value}”不是日期") from None
        return parsed
    return value


def parse_filter(text: str, schema: FormSchema) -> list[Condition]:
    """The conditions of a FilterString in the simple form the client writes; anything else is a QueryError."""
    tokens = _tokens(text or "")
    conditions = []
    position = 0
    while position < len(tokens):
        if conditions:
            kind, word = tokens[position]
            if kind != "word" or word.lower() != "and":
                raise QueryError(f"过滤条件“{text}”不受支持：条件之间只支持 and")
            position += 1
        part = tokens[position : position + 3]
        if len(part) < 3 or part[0][0] != "word" or part[1][0] != "op" or part[2][0] not in ("string", "number"):
            raise QueryError(f"过滤条件“{text}”不受支持：每个条件须为 字段 比较符 值")
        key = part[0][1]
        kind = schema.kind(key)
        if kind is None:
            raise QueryError(f"元数据中标识为{key}的字段不存在")
        conditions.append(Condition(key.lower(), part[1][1], _literal(kind, part[2], key)))
        position += 3
    return conditions


def parse_order(text: str, schema: FormSchema) -> list[tuple[str, bool]]:
    """The (lower-case key, descending) pairs of an OrderString like "FNumber ASC, FID DESC"."""
    ordering = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_.]*)(?:\s+(asc|desc))?\s*", part, re.IGNORECASE)
        if match is None:
            raise QueryError(f"排序条件“{text}”不受支持")
        if schema.kind(match.group(1)) is None:
            raise QueryError(f"元数据中标识为{match.group(1)}的字段不存在")
        ordering.append((match.group(1).lower(), (match.group(2) or "asc").lower() == "desc"))
    return ordering


def _parse_date(value: Any) -> datetime | None:
    """A K/3 date or date-time literal as a naive server-time datetime."""
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(str(value).strip(), pattern)
        except ValueError:
            continue
    return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _ref(value: Any) -> str:
    """The number of a base-data reference {"FNumber": …} (or FNUMBER, any case), or "" when there is none."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower() == "fnumber" and item not in (None, ""):
                return str(item)
    return ""


def _wire(value: Any) -> Any:
    """A value as K/3 writes it in JSON: dates as yyyy-MM-ddTHH:mm:ss, decimals as JSON numbers."""
    if isinstance(value, datetime):
        return value.strftime(ROW_TIME_FORMAT)
    if isinstance(value, Decimal):
        return float(value)  # K/3 writes decimals as JSON numbers with a point, e.g. FQty 2.0
    return value


def _status(*, success: bool, errors: list[dict[str, Any]] | None = None, entities=None, msg_code: int = 0) -> dict:
    """A ResponseStatus as the real answers quoted in §4.3 have it."""
    status: dict[str, Any] = {
        "IsSuccess": success,
        "Errors": errors or [],
        "SuccessEntitys": entities or [],
        "SuccessMessages": [],
        "MsgCode": msg_code,
    }
    if not success:
        status = {"ErrorCode": 500, **status}
    return status


def _failure(messages: list[tuple[str | None, str]], msg_code: int = MSG_VALIDATION) -> dict[str, Any]:
    errors = [{"FieldName": name, "Message": message, "DIndex": 0} for name, message in messages]
    return {"Result": {"ResponseStatus": _status(success=False, errors=errors, msg_code=msg_code)}}


def _query_failure(message: str, msg_code: int = MSG_VALIDATION) -> SimResponse:
    """ExecuteBillQuery's refusal: the ResponseStatus envelope wrapped in [[…]] (Java SDK, loadErrorMsg)."""
    return SimResponse.json([[_failure([(None, message)], msg_code)]])


def _response_error(message: str) -> SimResponse:
    """K/3's service-level failure: a plain body starting `response_error:` at HTTP 200 (status unconfirmed)."""
    return SimResponse(200, f"response_error:{message}".encode(), {"Content-Type": "text/plain; charset=utf-8"})


@dataclass
class SaleEntry:
    id: int
    material: str
    unit: str
    qty: Decimal
    tax_price: Decimal
    tax_rate: Decimal
    delivery_date: datetime | None


@dataclass
class SaleBill:
    """A sale order the simulated ERP holds."""

    id: int
    number: str
    status: str
    date: datetime
    note: str
    bill_type: str
    org: str
    customer: str
    currency: str
    entries: list[SaleEntry]


@dataclass
class Session:
    username: str
    seen: float  # time.monotonic() of the last call


class K3CloudSimulator:
    """K/3 Cloud's WebAPI over plain seed data, with sessions, sale orders and fault knobs."""

    prefix = "/k3cloud"
    faults_apply = True

    def __init__(self, credentials: dict[str, Any], *, seed_data: SeedData | None = None):
        self.acct_id = str(credentials["acct_id"])
        self.username = str(credentials["username"])
        self.password = str(credentials["password"])
        self.app_id = str(credentials["app_id"])
        self.app_secret = str(credentials["app_secret"])
        self.faults = Faults()  # replaced by the SimulatorApp's own, so `down`/`slow_ms` reach its injector
        self.save_timeout = False
        self.save_timeout_seconds = 20.0
        self.reject_field: str | None = None
        self.session_idle = SESSION_IDLE
        self.logins = 0  # successful logins, for tests
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._bills: dict[int, SaleBill] = {}
        self._next_id = 100001
        self._next_entry_id = 200001
        self._next_number = 1
        self._load(seed_data or demo_seed_data())

    # --- Knobs -----------------------------------------------------------------------------------------------

    @property
    def down(self) -> bool:
        return self.faults.down

    @down.setter
    def down(self, value: bool) -> None:
        self.faults.down = value

    @property
    def slow_ms(self) -> int:
        return self.faults.latency_ms

    @slow_ms.setter
    def slow_ms(self, value: int) -> None:
        self.faults.latency_ms = value

    def expire_sessions(self) -> None:
        """Forget every session, as an IIS application-pool recycle does."""
        with self._lock:
            self._sessions.clear()

    def _control(self, request: SimRequest) -> SimResponse:
        """GET the simulator's own knobs, or POST some of them (JSON), for demos run by `manage.py simulate`."""
        if request.method == "POST":
            try:
                knobs = request.json()
                if not isinstance(knobs, dict) or not set(knobs) <= set(CONTROL_KNOBS):
                    raise ValueError(f"knobs are {', '.join(CONTROL_KNOBS)}")
                if "save_timeout" in knobs:
                    self.save_timeout = bool(knobs["save_timeout"])
                if "save_timeout_seconds" in knobs:
                    self.save_timeout_seconds = float(knobs["save_timeout_seconds"])
                if "reject_field" in knobs:
                    self.reject_field = str(knobs["reject_field"]) if knobs["reject_field"] else None
                self._control_changes(knobs)
            except (ValueError, TypeError, KeyError, StopIteration, InvalidOperation) as error:
                return SimResponse.json({"error": f"{error.__class__.__name__}: {error}"}, 400)
            if knobs.get("expire_sessions"):
                self.expire_sessions()
        knobs = {
            "save_timeout": self.save_timeout,
            "save_timeout_seconds": self.save_timeout_seconds,
            "reject_field": self.reject_field,
            "sessions": len(self._sessions),
        }
        return SimResponse.json(knobs)

    def _control_changes(self, knobs: dict[str, Any]) -> None:
        """Apply the data changes of a control POST (a missing material raises StopIteration, a bad qty
        InvalidOperation)."""
        if "change_material" in knobs:
            change = dict(knobs["change_material"])
            number = str(change.pop("number"))
            allowed = {"name": "fname", "specification": "fspecification"}
            self.change_material(number, **{allowed[key]: str(value) for key, value in change.items()})
        if "set_stock" in knobs:
            stock = knobs["set_stock"]
            self.set_stock(str(stock["material"]), str(stock["warehouse"]), Decimal(str(stock["qty"])))
        if "ship" in knobs:
            ship = knobs["ship"]
            day = date.fromisoformat(ship["day"]) if ship.get("day") else datetime.now(SHANGHAI).date()
            lines = [(str(material), Decimal(str(qty))) for material, qty in ship["lines"]]
            self.add_outbound(customer=str(ship["customer"]), lines=lines, day=day)

    def throttled(self) -> SimResponse:
        """K/3's answer to a caller over its call quota: MsgCode 14 (调用限制; message and shape unconfirmed)."""
        return SimResponse.json(_failure([(None, "接口调用次数超过限制，请稍后再试")], MSG_CALL_LIMIT))

    # --- Data ------------------------------------------------------------------------------------------------

    def _load(self, seed: SeedData) -> None:
        self.organisations = dict(seed.organisations)
        self.customers = dict(seed.customers)
        self.currencies = dict(seed.currencies)
        self.materials = {material.number: material for material in seed.materials}
        org = next(iter(self.organisations), "")
        self._rows: dict[str, list[dict[str, Any]]] = {
            "bd_material": [
                {
                    "fmaterialid": 300001 + n,
                    "fnumber": m.number,
                    "fname": m.name,
                    "fspecification": m.specification,
                    "fbaseunitid.fnumber": m.unit,
                    "fmaterialgroup.fnumber": m.group,
                    "ferpclsid": "2" if m.made_here else "1",
                    "fmodifydate": m.modified,
                    "fdocumentstatus": "C",
                    "fforbidstatus": "A",
                }
                for n, m in enumerate(seed.materials)
            ],
            "stk_inventory": [
                {
                    "fid": f"5f3c{n:08x}-0000-4000-8000-{_guid_tail(s.material, s.warehouse)}",
                    "fmaterialid.fnumber": s.material,
                    "fstockid.fnumber": s.warehouse,
                    "fstockorgid.fnumber": org,
                    "fbaseunitid.fnumber": self.materials[s.material].unit if s.material in self.materials else "",
                    "fbaseqty": s.qty,
                    "fupdatetime": DEMO_MODIFIED_FROM + timedelta(minutes=5 * n),
                }
                for n, s in enumerate(seed.stock)
            ],
        }
        boms: list[dict[str, Any]] = []
        bom_ids: dict[str, int] = {}
        for n, line in enumerate(seed.boms):
            bom_id = bom_ids.setdefault(line.parent, 400001 + len(bom_ids))
            boms.append(
                {
                    "fid": bom_id,
                    "fnumber": f"{line.parent}_V1.0",  # K/3 numbers a material's first BOM version so (unconfirmed)
                    "fmaterialid.fnumber": line.parent,
                    "fdocumentstatus": "C",
                    "fforbidstatus": "A",
                    "fmodifydate": DEMO_MODIFIED_FROM + timedelta(minutes=11 * (bom_id - 400001)),
                    "ftreeentity_fentryid": 410001 + n,
                    "fmaterialidchild.fnumber": line.child,
                    "fnumerator": line.numerator,
                    "fdenominator": line.denominator,
                    "fscraprate": line.scrap_rate,
                }
            )
        self._rows["eng_bom"] = boms
        self._rows["sal_outstock"] = []
        self._rows["prd_mo"] = [
            {
                "fid": 500001 + n,
                "fbillno": mo.number,
                "fdocumentstatus": mo.status,
                "ftreeentity_fentryid": 510001 + n,
                "fmaterialid.fnumber": mo.material,
                "fqty": mo.qty,
                "fplanstartdate": mo.plan_start,
                "fplanfinishdate": mo.plan_finish,
            }
            for n, mo in enumerate(seed.production_orders)
        ]

    # --- Changes made "in the ERP" (tests and demos) -----------------------------------------------------------

    def change_material(self, number: str, **fields: Any) -> None:
        """Change a material's fields (lower-case query keys, e.g. fname="…"), stamping FModifyDate now."""
        with self._lock:
            row = next(row for row in self._rows["bd_material"] if row["fnumber"] == number)
            row.update(fields, fmodifydate=_server_now())

    def set_stock(self, material: str, warehouse: str, qty: Decimal) -> None:
        """Set the stock of a material in a warehouse, stamping FUpdateTime now."""
        with self._lock:
            rows = self._rows["stk_inventory"]
            row = next(
                (r for r in rows if (r["fmaterialid.fnumber"], r["fstockid.fnumber"]) == (material, warehouse)), None
            )
            if row is None:
                unit = self.materials[material].unit if material in self.materials else ""
                row = {
                    "fid": f"5f3c{len(rows):08x}-0000-4000-8000-{_guid_tail(material, warehouse)}",
                    "fmaterialid.fnumber": material,
                    "fstockid.fnumber": warehouse,
                    "fstockorgid.fnumber": next(iter(self.organisations), ""),
                    "fbaseunitid.fnumber": unit,
                }
                rows.append(row)
            row.update(fbaseqty=qty, fupdatetime=_server_now())

    def set_bom(self, parent: str, lines: list[tuple[str, Decimal, Decimal, Decimal]]) -> None:
        """Replace the BOM of `parent` with (child, numerator, denominator, scrap %) lines, stamping FModifyDate."""
        with self._lock:
            rows = self._rows["eng_bom"]
            bom_id = next((r["fid"] for r in rows if r["fmaterialid.fnumber"] == parent), None)
            bom_id = bom_id or max((r["fid"] for r in rows), default=400000) + 1
            self._rows["eng_bom"] = rows = [r for r in rows if r["fid"] != bom_id]
            entry_id = max((r["ftreeentity_fentryid"] for r in rows), default=410000)
            for n, (child, numerator, denominator, scrap) in enumerate(lines, start=1):
                rows.append(
                    {
                        "fid": bom_id,
                        "fnumber": f"{parent}_V1.0",
                        "fmaterialid.fnumber": parent,
                        "fdocumentstatus": "C",
                        "fforbidstatus": "A",
                        "fmodifydate": _server_now(),
                        "ftreeentity_fentryid": entry_id + n,
                        "fmaterialidchild.fnumber": child,
                        "fnumerator": numerator,
                        "fdenominator": denominator,
                        "fscraprate": scrap,
                    }
                )

    def add_outbound(
        self,
        *,
        customer: str,
        lines: list[tuple[str, Decimal]],
        day: date,
        sale_order: str = "",
        warehouse: str = "K3-CK04",
    ) -> str:
        """An audited sales outbound bill (SAL_OUTSTOCK) of (material, qty) lines; returns its number."""
        with self._lock:
            rows = self._rows["sal_outstock"]
            bill_id = max((row["fid"] for row in rows), default=600000) + 1
            entry_id = max((row["fentity_fentryid"] for row in rows), default=610000)
            number = f"XSCKD{bill_id - 600000:06d}"
            for n, (material, qty) in enumerate(lines, start=1):
                rows.append(
                    {
                        "fid": bill_id,
                        "fbillno": number,
                        "fdate": datetime(day.year, day.month, day.day),
                        "fcustomerid.fnumber": customer,
                        "fsaleorgid.fnumber": next(iter(self.organisations), ""),
                        "fdocumentstatus": "C",
                        "fmodifydate": _server_now(),
                        "fentity_fentryid": entry_id + n,
                        "fmaterialid.fnumber": material,
                        "frealqty": Decimal(qty),
                        "fstockid.fnumber": warehouse,
                        "fsoorderno": sale_order,
                    }
                )
        return number

    def change_outbound_qty(self, number: str, material: str, qty: Decimal) -> None:
        """Correct the shipped quantity of a line of an outbound bill, stamping FModifyDate now."""
        with self._lock:
            for row in self._rows["sal_outstock"]:
                if row["fbillno"] == number and row["fmaterialid.fnumber"] == material:
                    row.update(frealqty=Decimal(qty), fmodifydate=_server_now())

    def add_row(self, form_id: str, row: dict[str, Any]) -> None:
        """Add a raw query row (lower-case keys) as-is, e.g. a malformed one that the real ERP's data may hold."""
        with self._lock:
            self._rows[form_id.lower()].append(row)

    def _sale_rows(self, per_entry: bool) -> list[dict[str, Any]]:
        rows = []
        with self._lock:
            bills = list(self._bills.values())
        for bill in bills:
            head = {
                "fid": bill.id,
                "fbillno": bill.number,
                "fdate": bill.date,
                "fnote": bill.note,
                "fdocumentstatus": bill.status,
                "fbilltypeid.fnumber": bill.bill_type,
                "fsaleorgid.fnumber": bill.org,
                "fcustid.fnumber": bill.customer,
                "fsettlecurrid.fnumber": bill.currency,
            }
            if not per_entry:
                rows.append(head)
                continue
            for entry in bill.entries:
                rows.append(
                    {
                        **head,
                        "fsaleorderentry_fentryid": entry.id,
                        "fmaterialid.fnumber": entry.material,
                        "funitid.fnumber": entry.unit,
                        "fqty": entry.qty,
                        "ftaxprice": entry.tax_price,
                        "fentrytaxrate": entry.tax_rate,
                        "fdeliverydate": entry.delivery_date,
                    }
                )
        return rows

    # --- HTTP ------------------------------------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        """Route `/K3Cloud/<Service>.common.kdsvc` to the login or the form operation."""
        path = request.path
        if path == "/_control":
            return self._control(request)
        # IIS matches paths case-insensitively; SDKs write both "K3Cloud" and "k3cloud", "Save" and "save".
        if not (path.lower().startswith("/k3cloud/") and path.lower().endswith(SUFFIX)):
            return SimResponse(404, b"Not Found", {"Content-Type": "text/plain"})
        service = path[len("/k3cloud/") : -len(SUFFIX)].lower()
        if request.method != "POST":
            return SimResponse(405, b"Method Not Allowed", {"Content-Type": "text/plain", "Allow": "POST"})
        try:
            envelope = request.json()
        except ValueError:
            return _response_error("请求内容不是有效的JSON")
        parameters = envelope.get("parameters") if isinstance(envelope, dict) else None
        if not isinstance(parameters, list):
            # The simulator takes the Java SDK's positional form only (the Python SDK's named form is not served).
            return _response_error("请求参数格式错误：缺少parameters数组")
        if service.startswith(AUTH_PREFIX):
            return self._login(service[len(AUTH_PREFIX) :], parameters)
        if service.startswith(FORM_PREFIX):
            return self._form(service[len(FORM_PREFIX) :], parameters, request)
        return SimResponse(404, b"Not Found", {"Content-Type": "text/plain"})

    def _login(self, operation: str, parameters: list[Any]) -> SimResponse:
        if operation == "validateuser" and len(parameters) == 4:
            acct_id, username, password, _lcid = parameters
            user_ok = _same(username, self.username)
            secret_ok = _same(password, self.password)
            wrong = "用户名或密码错误！"
        elif operation == "loginbyappsecret" and len(parameters) == 5:
            acct_id, username, app_id, app_secret, _lcid = parameters
            user_ok = _same(username, self.username)
            secret_ok = _same(app_id, self.app_id) and _same(app_secret, self.app_secret)
            wrong = "应用程序ID或应用密钥错误，或第三方系统登录授权未启用"
        elif operation in ("validateuser", "loginbyappsecret"):
            return _response_error("参数个数不正确")
        else:
            return _response_error(f"模拟器不支持服务AuthService.{operation}")
        if str(acct_id) != self.acct_id:
            # What K/3 answers for an unknown data centre, by third-party accounts.
            return SimResponse.json(self._login_answer(LOGIN_FAILURE, "会话信息已丢失，请重新登录"))
        if not user_ok or not secret_ok:
            return SimResponse.json(self._login_answer(LOGIN_WRONG_PASSWORD if user_ok else LOGIN_FAILURE, wrong))
        session_id = str(secrets.token_hex(16))
        with self._lock:
            self._sessions[session_id] = Session(self.username, time.monotonic())
            self.logins += 1
        cookies = {
            # Two Set-Cookie headers in a dict: the keys differ in case only, which HTTP treats as the same name.
            "Set-Cookie": f"{SESSION_COOKIE}={session_id}; path=/",
            "set-cookie": f"ASP.NET_SessionId={secrets.token_hex(12)}; path=/; HttpOnly",
        }
        return SimResponse.json(self._login_answer(1, None, session_id), headers=cookies)

    def _login_answer(self, result_type: int, message: str | None, session_id: str | None = None) -> dict[str, Any]:
        """The login answer's shape, as a real one quoted in cashlifei/Kingdee-K3Cloud-Web-Api has it."""
        org_number, org_name = next(iter(self.organisations.items()), ("", ""))
        context = None
        if session_id:
            context = {
                "UserLocale": "zh-CN",
                "LogLocale": "zh-CN",
                "DBid": self.acct_id,
                "DatabaseType": 3,
                "SessionId": session_id,
                "UseLanguages": [{"LocaleId": 2052, "LocaleName": "中文(简体/中国)", "Alias": "CN"}],
                "UserId": 100008,
                "UserName": self.username,
                "CustomName": org_name,
                "DisplayVersion": DISPLAY_VERSION,
                "DataCenterName": "Loopline 模拟账套",
                "CurrentOrganizationInfo": {"ID": 1, "AcctOrgType": "1", "Name": org_name, "Number": org_number},
            }
        return {
            "Message": message,
            "MessageCode": "CheckPasswordPolicy" if session_id else None,
            "LoginResultType": result_type,
            "Context": context,
            "KDSVCSessionId": session_id,
            "FormId": None,
            "RedirectFormParam": None,
            "FormInputObject": None,
            "ErrorStackTrace": None,
            "Lcid": 0,
            "AccessToken": None,
            "CustomParam": {},
            "KdAccessResult": None,
            "IsSuccessByAPI": session_id is not None,
        }

    def _session_alive(self, request: SimRequest) -> bool:
        """Whether the call carries a live session (cookie, or the SID header the Java SDK adds; unconfirmed)."""
        session_id = ""
        try:
            cookie = SimpleCookie(request.headers.get("cookie", ""))
            if SESSION_COOKIE in cookie:
                session_id = cookie[SESSION_COOKIE].value
        except CookieError:
            session_id = ""
        session_id = session_id or request.headers.get("sid", "")
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return False
            if now - session.seen > self.session_idle.total_seconds():
                del self._sessions[session_id]
                return False
            session.seen = now
            return True

    def _form(self, operation: str, parameters: list[Any], request: SimRequest) -> SimResponse:
        lost = "会话信息已丢失，请重新登录"
        if not self._session_alive(request):
            if operation == "executebillquery":
                return _query_failure(lost, MSG_SESSION_LOST)
            return SimResponse.json(_failure([(None, lost)], MSG_SESSION_LOST))
        if operation == "executebillquery":
            if len(parameters) != 1:
                return _response_error("参数个数不正确")
            query = _data(parameters[0])
            if not isinstance(query, dict):
                return _query_failure("查询参数不是JSON对象")
            return self._query(query)
        if operation not in ("save", "view", "submit", "audit"):
            return SimResponse.json(_failure([(None, f"模拟器不支持操作{operation}")]))
        if len(parameters) != 2:
            return _response_error("参数个数不正确")
        form_id, data = str(parameters[0]), _data(parameters[1])
        if form_id.lower() not in SCHEMAS:
            return SimResponse.json(_failure([(None, "业务对象不存在")]))
        if form_id.lower() != "sal_saleorder":
            return SimResponse.json(_failure([(None, f"模拟器只支持对销售订单执行{operation}，不支持{form_id}")]))
        if not isinstance(data, dict):
            return SimResponse.json(_failure([(None, "data参数不是JSON对象")]))
        return getattr(self, f"_{operation}")(data)

    # --- Operations ------------------------------------------------------------------------------------------

    def _query(self, query: dict[str, Any]) -> SimResponse:
        schema = SCHEMAS.get(str(query.get("FormId") or "").lower())
        if schema is None:
            return _query_failure("业务对象不存在")
        keys = [key.strip() for key in str(query.get("FieldKeys") or "").split(",") if key.strip()]
        if not keys:
            return _query_failure("FieldKeys不能为空")
        try:
            for key in keys:
                if schema.kind(key) is None:
                    raise QueryError(f"元数据中标识为{key}的字段不存在")
            conditions = parse_filter(str(query.get("FilterString") or ""), schema)
            ordering = parse_order(str(query.get("OrderString") or ""), schema)
            start, limit, top = (int(query.get(name) or 0) for name in ("StartRow", "Limit", "TopRowCount"))
        except QueryError as error:
            return _query_failure(str(error))
        except (TypeError, ValueError):
            return _query_failure("StartRow、Limit、TopRowCount须为整数")
        used = {key.lower() for key in keys} | {c.field for c in conditions} | {key for key, _desc in ordering}
        per_entry = bool(used & schema.entry.keys())
        if schema.form_id == "SAL_SaleOrder":
            rows = self._sale_rows(per_entry)
        else:
            with self._lock:
                rows = list(self._rows[schema.form_id.lower()])
            if not per_entry and schema.entry:
                rows = _one_per_bill(rows)
        rows = [row for row in rows if all(condition.matches(row) for condition in conditions)]
        for key, descending in reversed(ordering):
            # SQL Server sorts NULL lowest.
            rows.sort(key=lambda row, key=key: (row.get(key) is not None, row.get(key)), reverse=descending)
        if top > 0:
            rows = rows[:top]
        page = rows[max(start, 0) : max(start, 0) + limit] if limit > 0 else rows[max(start, 0) :]
        return SimResponse.json([[_wire(row.get(key.lower())) for key in keys] for row in page])

    def _save(self, data: dict[str, Any]) -> SimResponse:
        model = data.get("Model")
        if not isinstance(model, dict):
            return SimResponse.json(_failure([(None, "Model不能为空")]))
        if str(model.get("FID") or "0") not in ("0", ""):
            return SimResponse.json(_failure([("FID", "模拟器只支持新增单据（FID为0）")]))
        errors = self._validate(model)
        with self._lock:
            rejected, self.reject_field = self.reject_field, None
        if rejected:
            errors.append((rejected, f"字段“{LABELS.get(rejected, rejected)}”的值未通过校验（模拟器 reject_field）"))
        if errors:
            return SimResponse.json(_failure(errors))
        bill = self._store(model, auto_audit=str(data.get("IsAutoSubmitAndAudit", "")).lower() == "true")
        if self.save_timeout:
            # The bill is stored; the answer comes after the client has given up.
            time.sleep(self.save_timeout_seconds)
        entity = {"Id": bill.id, "Number": bill.number, "DIndex": 0}
        return SimResponse.json(
            {
                "Result": {
                    "ResponseStatus": _status(success=True, entities=[entity]),
                    "Id": bill.id,
                    "Number": bill.number,
                    "NeedReturnData": [{}],
                }
            }
        )

    def _validate(self, model: dict[str, Any]) -> list[tuple[str | None, str]]:
        """What K/3's Save checks on a sale order here: required fields and that base data exists."""
        errors: list[tuple[str | None, str]] = []

        def check(field_name: str, number: str, known: dict[str, Any]) -> None:
            label = LABELS[field_name]
            if not number:
                errors.append((field_name, f"字段“{label}”是必填项"))
            elif number not in known:
                errors.append((field_name, f"{label}“{number}”不存在"))

        check("FBillTypeID", _ref(model.get("FBillTypeID")), dict(BILL_TYPES))
        if model.get("FDate") not in (None, "") and _parse_date(model.get("FDate")) is None:
            errors.append(("FDate", f"日期“{model.get('FDate')}”格式不正确"))
        check("FSaleOrgId", _ref(model.get("FSaleOrgId")), self.organisations)
        check("FCustId", _ref(model.get("FCustId")), self.customers)
        finance = model.get("FSaleOrderFinance") if isinstance(model.get("FSaleOrderFinance"), dict) else {}
        check("FSettleCurrId", _ref(finance.get("FSettleCurrId")), self.currencies)
        entries = model.get("FSaleOrderEntry")
        if not isinstance(entries, list) or not entries:
            errors.append(("FSaleOrderEntry", "销售订单明细不能为空"))
            return errors
        for n, entry in enumerate(entries, start=1):
            entry = entry if isinstance(entry, dict) else {}
            material = _ref(entry.get("FMaterialId"))
            check("FMaterialId", material, self.materials)
            unit = _ref(entry.get("FUnitID"))
            if not unit:
                errors.append(("FUnitID", f"第{n}行字段“销售单位”是必填项"))
            elif material in self.materials and unit != self.materials[material].unit:
                errors.append(("FUnitID", f"第{n}行销售单位“{unit}”与物料“{material}”的基本单位之间没有换算关系"))
            qty = _decimal(entry.get("FQty"))
            if qty is None or qty <= 0:
                errors.append(("FQty", f"第{n}行“销售数量”必须大于0"))
            price = _decimal(entry.get("FTaxPrice", 0))
            if price is None or price < 0:
                errors.append(("FTaxPrice", f"第{n}行“含税单价”不能小于0"))
            delivery = entry.get("FDeliveryDate")
            if delivery not in (None, "") and _parse_date(delivery) is None:
                errors.append(("FDeliveryDate", f"第{n}行要货日期“{delivery}”格式不正确"))
        return errors

    def _store(self, model: dict[str, Any], *, auto_audit: bool) -> SaleBill:
        finance = model.get("FSaleOrderFinance") if isinstance(model.get("FSaleOrderFinance"), dict) else {}
        with self._lock:
            entries = []
            for entry in model["FSaleOrderEntry"]:
                entries.append(
                    SaleEntry(
                        id=self._next_entry_id,
                        material=_ref(entry.get("FMaterialId")),
                        unit=_ref(entry.get("FUnitID")),
                        qty=_decimal(entry.get("FQty")) or Decimal(0),
                        tax_price=_decimal(entry.get("FTaxPrice")) or Decimal(0),
                        tax_rate=_decimal(entry.get("FEntryTaxRate")) or Decimal(0),
                        delivery_date=_parse_date(entry.get("FDeliveryDate")),
                    )
                )
                self._next_entry_id += 1
            now = datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)
            bill = SaleBill(
                id=self._next_id,
                number=f"XSDD{self._next_number:06d}",
                status="C" if auto_audit else "A",
                date=_parse_date(model.get("FDate")) or now.replace(hour=0, minute=0, second=0),
                note=str(model.get("FNote") or ""),
                bill_type=_ref(model.get("FBillTypeID")),
                org=_ref(model.get("FSaleOrgId")),
                customer=_ref(model.get("FCustId")),
                currency=_ref(finance.get("FSettleCurrId")),
                entries=entries,
            )
            self._bills[bill.id] = bill
            self._next_id += 1
            self._next_number += 1
        # The demo's warehouse ships every pushed order the same day, from finished goods, in full.
        self.add_outbound(
            customer=bill.customer,
            lines=[(entry.material, entry.qty) for entry in bill.entries],
            day=now.date(),
            sale_order=bill.number,
        )
        return bill

    def _find(self, number: Any = None, bill_id: Any = None) -> SaleBill | None:
        with self._lock:
            if bill_id not in (None, "", 0, "0"):
                return self._bills.get(int(bill_id)) if str(bill_id).isdigit() else None
            return next((bill for bill in self._bills.values() if bill.number == str(number or "")), None)

    def _view(self, data: dict[str, Any]) -> SimResponse:
        bill = self._find(data.get("Number"), data.get("Id"))
        if bill is None:
            # "Not found" as MsgCode 10 (未找到对应数据); K/3's exact answer is unconfirmed.
            wanted = data.get("Number") or data.get("Id")
            return SimResponse.json(_failure([(None, f"单据“{wanted}”不存在或已被删除")], MSG_NOT_FOUND))
        return SimResponse.json({"Result": {"ResponseStatus": _status(success=True), "Result": self._model(bill)}})

    def _model(self, bill: SaleBill) -> dict[str, Any]:
        """A bill as View returns it: K/3's property names without the F prefix (shape unconfirmed)."""

        def base(number: str, name: str = "") -> dict[str, Any]:
            return {"Number": number, "Name": [{"Key": 2052, "Value": name}]}

        material_name = {number: material.name for number, material in self.materials.items()}
        return {
            "Id": bill.id,
            "BillNo": bill.number,
            "DocumentStatus": bill.status,
            "Date": _wire(bill.date),
            "Note": bill.note,
            "BillTypeID": base(bill.bill_type, dict(BILL_TYPES).get(bill.bill_type, "")),
            "SaleOrgId": base(bill.org, self.organisations.get(bill.org, "")),
            "CustId": base(bill.customer, self.customers.get(bill.customer, "")),
            "SaleOrderFinance": [{"SettleCurrId": base(bill.currency, self.currencies.get(bill.currency, ""))}],
            "SaleOrderEntry": [
                {
                    "Id": entry.id,
                    "Seq": n,
                    "MaterialId": base(entry.material, material_name.get(entry.material, "")),
                    "UnitID": base(entry.unit),
                    "Qty": _wire(entry.qty),
                    "TaxPrice": _wire(entry.tax_price),
                    "EntryTaxRate": _wire(entry.tax_rate),
                    "DeliveryDate": _wire(entry.delivery_date),
                }
                for n, entry in enumerate(bill.entries, start=1)
            ],
        }

    def _submit(self, data: dict[str, Any]) -> SimResponse:
        return self._transition(data, allowed={"Z", "A", "D"}, to="B")

    def _audit(self, data: dict[str, Any]) -> SimResponse:
        return self._transition(data, allowed={"B"}, to="C")

    def _transition(self, data: dict[str, Any], *, allowed: set[str], to: str) -> SimResponse:
        """Submit or Audit by Ids (which take precedence) or Numbers; all or nothing (K/3 may do part)."""
        ids = [part.strip() for part in str(data.get("Ids") or "").split(",") if part.strip()]
        wanted = [(None, bill_id) for bill_id in ids] or [(number, None) for number in data.get("Numbers") or []]
        if not wanted:
            return SimResponse.json(_failure([(None, "请指定单据编号（Numbers）或内码（Ids）")]))
        errors, bills = [], []
        for number, bill_id in wanted:
            bill = self._find(number, bill_id)
            if bill is None:
                errors.append((None, f"单据编号为“{number or bill_id}”的销售订单不存在！"))
            elif bill.status not in allowed:
                reason = {"B": "单据已经提交！", "C": "单据已经审核！"}.get(bill.status, "单据未提交，不能审核！")
                errors.append((None, f"单据编号为“{bill.number}”的销售订单，{reason}"))
            else:
                bills.append(bill)
        if errors:
            return SimResponse.json(_failure(errors))
        with self._lock:
            for bill in bills:
                bill.status = to
        entities = [{"Id": bill.id, "Number": bill.number, "DIndex": n} for n, bill in enumerate(bills)]
        return SimResponse.json({"Result": {"ResponseStatus": _status(success=True, entities=entities)}})


def _data(value: Any) -> Any:
    """A data parameter, sent as a JSON string (Java SDK) or as an object; decimals read exactly."""
    if isinstance(value, str):
        try:
            return json.loads(value, parse_float=Decimal)
        except ValueError:
            return None
    return value


def _same(given: Any, expected: str) -> bool:
    """A constant-time comparison that also takes non-ASCII text (K/3 user names are often Chinese)."""
    return secrets.compare_digest(str(given).encode("utf-8"), expected.encode("utf-8"))


def _one_per_bill(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first row of each bill: a query on head fields only gives one row per bill."""
    seen: set[Any] = set()
    heads = []
    for row in rows:
        if row["fid"] not in seen:
            seen.add(row["fid"])
            heads.append(row)
    return heads


def _server_now() -> datetime:
    """Now as K/3 stores it: naive server time (GMT+8), whole seconds."""
    return datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)


def _guid_tail(*parts: str) -> str:
    """Twelve stable hex digits for a GUID-looking FID, derived from the row's natural key."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]
