"""A demo factory to try Loopline with: a Dongguan hardware maker (五金制品厂) and its people.

`seed_demo()` writes it through the ordinary services and is idempotent: every record is looked up by its
natural key (material code, username, …) first and left alone if it exists, so a second run writes nothing,
and passwords, PINs and badges a demo user has changed survive it. Everything is deterministic.
"""

import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from django.db import transaction

from accounts.models import Team, User
from accounts.roles import Role
from accounts.services import team_create, user_create
from production.models import (
    BomLine,
    Item,
    Operation,
    OperationAlias,
    RoutingStep,
    StockLevel,
    Warehouse,
    WorkCenter,
    Workshop,
)
from production.selectors import normalise_operation_name
from production.services import (
    bom_line_add,
    item_create,
    operation_alias_add,
    operation_create,
    routing_step_set,
    stock_level_set,
    warehouse_create,
    work_center_create,
    workshop_create,
)
from production.stock import keepers_of, warehouse_set_keepers

# One published password for every demo login: the demo is for trying Loopline, never for production data.
DEMO_PASSWORD = "loopline-demo"  # noqa: S105

# The finished good with the deepest BOM: lock body → plated case → machined case → stamped case → strip → coil.
DEEPEST_BOM_ITEM = "FG-3001"

FINISHED, SEMI, RAW, PURCHASED = Item.Kind.FINISHED, Item.Kind.SEMI, Item.Kind.RAW, Item.Kind.PURCHASED


def dec(value: str | int | Decimal) -> Decimal:
    return Decimal(str(value))


# --- People --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    """A demo user and how to sign in as them."""

    username: str
    role: Role
    last_name: str
    first_name: str
    employee_number: str
    phone: str
    team: str = ""  # code of the team an operator works in
    pin: str = ""
    badge_code: str = ""
    password: str = DEMO_PASSWORD

    @property
    def full_name(self) -> str:
        return f"{self.last_name}{self.first_name}"


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("cs", Role.CUSTOMER_SERVICE, "陈", "小红", "10001", "13800000101"),
    DemoLogin("sales", Role.SALES, "林", "志强", "10002", "13800000102"),
    DemoLogin("manager", Role.PRODUCTION_MANAGER, "王", "建国", "10003", "13800000103"),
    DemoLogin("keeper", Role.WAREHOUSE_KEEPER, "黄", "丽娟", "10004", "13800000104"),
    DemoLogin("finance", Role.FINANCE, "李", "淑芬", "10005", "13800000105"),
    DemoLogin("itadmin", Role.IT_ADMIN, "张", "伟", "10006", "13800000106"),
    DemoLogin("leader1", Role.TEAM_LEADER, "刘", "德明", "20001", "13800000201"),
    DemoLogin("leader2", Role.TEAM_LEADER, "周", "海涛", "20002", "13800000202"),
    DemoLogin("leader3", Role.TEAM_LEADER, "吴", "秀英", "20003", "13800000203"),
    DemoLogin("operator1", Role.OPERATOR, "何", "俊杰", "30001", "13800000301", "T-CY1", "1111", "LLB-DEMO0001"),
    DemoLogin("operator2", Role.OPERATOR, "罗", "文斌", "30002", "13800000302", "T-CY1", "2222", "LLB-DEMO0002"),
    DemoLogin("operator3", Role.OPERATOR, "梁", "小燕", "30003", "13800000303", "T-JG1", "3333", "LLB-DEMO0003"),
    DemoLogin("operator4", Role.OPERATOR, "谢", "国强", "30004", "13800000304", "T-ZP1", "4444", "LLB-DEMO0004"),
)

# (code, name, leader's username)
DEMO_TEAMS = (
    ("T-CY1", "冲压一班", "leader1"),
    ("T-JG1", "机加一班", "leader2"),
    ("T-ZP1", "装配一班", "leader3"),
)


def demo_logins() -> list[DemoLogin]:
    """The demo users and their sign-in details, in the order they are printed."""
    return list(DEMO_LOGINS)


def _width(text: str) -> int:
    # Chinese characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def demo_logins_table() -> str:
    """The demo logins as an aligned plain-text table, for a terminal."""
    header = ("username", "password", "role", "name", "employee no.", "PIN", "badge code")
    rows = [header] + [
        (x.username, x.password, x.role.value, x.full_name, x.employee_number, x.pin or "-", x.badge_code or "-")
        for x in DEMO_LOGINS
    ]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- Shop floor ----------------------------------------------------------------------------------------

DEMO_WORKSHOPS = (("CY", "冲压车间"), ("JG", "机加工车间"), ("ZP", "装配车间"))

# (code, name, workshop, team, ERP code, capacity hours per day)
DEMO_WORK_CENTERS = (
    ("CY-01", "开卷校平剪板线", "CY", "T-CY1", "K3-GZZX-CY01", "16"),
    ("CY-02", "160T 冲床 J23-160", "CY", "T-CY1", "K3-GZZX-CY02", "16"),
    ("CY-03", "80T 冲床 J23-80", "CY", "T-CY1", "K3-GZZX-CY03", "16"),
    ("CY-04", "锌合金压铸机 280T", "CY", "T-CY1", "K3-GZZX-CY04", "20"),
    ("JG-01", "数控车床 CK6140", "JG", "T-JG1", "K3-GZZX-JG01", "20"),
    ("JG-02", "台式钻攻机 ZS4116", "JG", "T-JG1", "K3-GZZX-JG02", "16"),
    ("JG-03", "自动研磨拉丝机", "JG", "T-JG1", "K3-GZZX-JG03", "16"),
    ("JG-04", "注塑机 海天 MA1600", "JG", "T-JG1", "K3-GZZX-JG04", "22"),
    ("JG-05", "挂镀线（镍/铬）", "JG", "T-JG1", "K3-GZZX-JG05", "20"),
    ("ZP-01", "门锁装配线", "ZP", "T-ZP1", "K3-GZZX-ZP01", "8"),
    ("ZP-02", "五金装配线", "ZP", "T-ZP1", "K3-GZZX-ZP02", "10"),
    ("ZP-03", "检验包装线", "ZP", "T-ZP1", "K3-GZZX-ZP03", "10"),
)

# (code, standard name, other spellings used on the floor)
DEMO_OPERATIONS = (
    ("OP-XL", "下料", ["开料", "剪料"]),
    ("OP-CY", "冲压", ["冲床加工", "啤件"]),
    ("OP-YZ", "压铸", ["压铸成型", "锌合金压铸"]),
    ("OP-CM", "粗磨", ["粗打磨", "初磨"]),
    ("OP-JM", "精磨", ["细磨", "精打磨"]),
    ("OP-PG", "抛光", ["拋光", "打光"]),
    ("OP-CX", "车削", ["车加工", "车床"]),
    ("OP-ZK", "钻孔", ["打孔", "钻眼"]),
    ("OP-GS", "攻丝", ["攻牙", "攻螺纹"]),
    ("OP-DD", "电镀", ["表面电镀", "挂镀"]),
    ("OP-ZS", "注塑", ["啤塑", "注射成型"]),
    ("OP-MJ", "铆接", ["打铆钉", "铆合"]),
    ("OP-ZP", "装配", ["组装", "总装"]),
    ("OP-JY", "检验", ["品检", "QC检验"]),
    ("OP-BZ", "包装", ["打包", "装箱"]),
)

# Routing templates: (operation, work centre, std minutes per unit, setup minutes); items scale the std minutes.
ROUTES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "shear": (("OP-XL", "CY-01", "0.800", "15"),),
    "blank_stamp": (("OP-XL", "CY-01", "0.050", "10"), ("OP-CY", "CY-03", "0.080", "40")),
    "blank_stamp_heavy": (("OP-XL", "CY-01", "0.060", "10"), ("OP-CY", "CY-02", "0.150", "60")),
    "stamp_strip": (("OP-CY", "CY-02", "0.120", "45"),),
    "die_cast": (("OP-YZ", "CY-04", "0.400", "90"), ("OP-CM", "JG-03", "0.300", "10")),
    "grind": (("OP-CM", "JG-03", "0.250", "10"), ("OP-JM", "JG-03", "0.300", "10")),
    "polish": (("OP-CM", "JG-03", "0.300", "10"), ("OP-JM", "JG-03", "0.350", "10"), ("OP-PG", "JG-03", "0.500", "10")),
    "turn": (("OP-CX", "JG-01", "0.600", "30"),),
    "turn_drill": (("OP-CX", "JG-01", "0.500", "30"), ("OP-ZK", "JG-02", "0.200", "15")),
    "drill_tap": (("OP-ZK", "JG-02", "0.300", "20"), ("OP-GS", "JG-02", "0.250", "15")),
    "tube_bar": (
        ("OP-CX", "JG-01", "0.500", "20"),
        ("OP-ZK", "JG-02", "0.300", "15"),
        ("OP-JM", "JG-03", "0.400", "10"),
    ),
    "mould": (("OP-ZS", "JG-04", "0.450", "60"),),
    "plate": (("OP-DD", "JG-05", "0.150", "30"), ("OP-JY", "ZP-03", "0.050", "0")),
    "lock_body": (
        ("OP-MJ", "ZP-01", "1.200", "20"),
        ("OP-ZP", "ZP-01", "2.500", "20"),
        ("OP-JY", "ZP-03", "0.800", "0"),
    ),
    "lock": (("OP-ZP", "ZP-01", "3.500", "30"), ("OP-JY", "ZP-03", "1.000", "0"), ("OP-BZ", "ZP-03", "0.800", "10")),
    "pack": (("OP-JY", "ZP-03", "0.150", "0"), ("OP-BZ", "ZP-03", "0.200", "10")),
    "hardware": (
        ("OP-ZP", "ZP-02", "0.800", "20"),
        ("OP-JY", "ZP-03", "0.200", "0"),
        ("OP-BZ", "ZP-03", "0.300", "10"),
    ),
    "rivet_hardware": (
        ("OP-MJ", "ZP-02", "0.400", "20"),
        ("OP-ZP", "ZP-02", "0.600", "20"),
        ("OP-JY", "ZP-03", "0.200", "0"),
        ("OP-BZ", "ZP-03", "0.300", "10"),
    ),
}

# (code, name, address, ERP code, the kind of item it stocks)
DEMO_WAREHOUSES = (
    ("WH-YL", "原料仓", "东莞市长安镇霄边工业区 A 栋一楼", "K3-CK01", RAW),
    ("WH-FL", "辅料仓", "东莞市长安镇霄边工业区 A 栋二楼", "K3-CK02", PURCHASED),
    ("WH-BCP", "半成品仓", "东莞市长安镇霄边工业区 B 栋一楼", "K3-CK03", SEMI),
    ("WH-CP", "成品仓", "东莞市长安镇霄边工业区 C 栋一楼", "K3-CK04", FINISHED),
)


# --- Items, BOMs and routings --------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoItem:
    """An item of the demo catalogue."""

    code: str
    name: str
    specification: str
    category: str
    unit: str
    kind: str


@dataclass(frozen=True)
class DemoBomLine:
    """A BOM line of the demo catalogue, by material codes."""

    parent: str
    child: str
    sequence: int
    qty_per: Decimal
    scrap_pct: Decimal


@dataclass(frozen=True)
class DemoRoutingStep:
    """A routing step of the demo catalogue, by codes."""

    item: str
    sequence: int
    operation: str
    work_center: str
    std_minutes_per_unit: Decimal
    setup_minutes: Decimal


@dataclass
class DemoCatalogue:
    """The demo items with their BOM lines and routing steps."""

    items: list[DemoItem]
    bom: list[DemoBomLine]
    routing: list[DemoRoutingStep]


class _CatalogueBuilder:
    """Collects items in dependency order: a component must be declared before anything made from it."""

    def __init__(self) -> None:
        self.catalogue = DemoCatalogue(items=[], bom=[], routing=[])
        self.codes: set[str] = set()

    def add(self, kind, code, name, spec, category, unit, *, bom=(), route=None, pace="1") -> str:
        if code in self.codes:
            raise ValueError(f"Demo item {code} is declared twice.")
        self.catalogue.items.append(DemoItem(code, name, spec, category, unit, kind))
        self.codes.add(code)
        for n, (child, qty, *scrap) in enumerate(bom, start=1):
            if child not in self.codes:
                raise ValueError(f"{code}: component {child} must be declared before it (this also rules out loops).")
            self.catalogue.bom.append(DemoBomLine(code, child, n * 10, dec(qty), dec(scrap[0] if scrap else "0")))
        for n, (operation, work_center, std, setup) in enumerate(ROUTES[route] if route else (), start=1):
            minutes = (dec(std) * dec(pace)).quantize(Decimal("0.001"))
            self.catalogue.routing.append(DemoRoutingStep(code, n * 10, operation, work_center, minutes, dec(setup)))
        return code

    def raw(self, code, name, spec, category, unit="KG") -> str:
        return self.add(RAW, code, name, spec, category, unit)

    def bought(self, code, name, spec, category, unit="PCS") -> str:
        return self.add(PURCHASED, code, name, spec, category, unit)

    def semi(self, code, name, spec, category, *, bom, route, pace="1", unit="PCS") -> str:
        return self.add(SEMI, code, name, spec, category, unit, bom=bom, route=route, pace=pace)

    def finished(self, code, name, spec, category, *, bom, route, pace="1", unit="套") -> str:
        return self.add(FINISHED, code, name, spec, category, unit, bom=bom, route=route, pace=pace)


def _sheet_kg(developed_width_mm: int, length_mm: int, thickness_mm: str, offcut: str = "1.05") -> Decimal:
    """Steel for one pressed part: developed area × thickness × 7.85 g/cm³, plus the offcut."""
    grams = dec(developed_width_mm) * dec(length_mm) * dec(thickness_mm) * dec("0.00785") * dec(offcut)
    return (grams / 1000).quantize(Decimal("0.0001"))


def _materials(b: _CatalogueBuilder) -> None:
    for code, thickness in (("1001", "1.0"), ("1002", "1.5"), ("1003", "2.0"), ("1004", "2.5"), ("1005", "3.0")):
        b.raw(f"RM-{code}", f"SUS304 不锈钢板 {thickness}mm", f"{thickness}×1219×2438mm 2B面 太钢", "不锈钢板")
    for code, thickness in (("1006", "1.0"), ("1007", "1.5"), ("1008", "2.0")):
        b.raw(f"RM-{code}", f"SUS201 不锈钢板 {thickness}mm", f"{thickness}×1219×2438mm 2B面", "不锈钢板")
    for code, diameter in (("1011", 4), ("1012", 6), ("1013", 8), ("1014", 10), ("1015", 12)):
        b.raw(f"RM-{code}", f"SUS304 不锈钢棒 Φ{diameter}", f"Φ{diameter}×2500mm 研磨棒 h9", "不锈钢棒")
    b.raw("RM-1021", "SUS304 不锈钢管 Φ12", "Φ12×1.0×6000mm 拉丝", "不锈钢管", unit="M")
    b.raw("RM-1022", "SUS304 不锈钢管 Φ16", "Φ16×1.2×6000mm 拉丝", "不锈钢管", unit="M")
    for code, thickness in (("2001", "0.8"), ("2002", "1.0"), ("2003", "1.2"), ("2004", "1.5"), ("2005", "2.0")):
        b.raw(f"RM-{code}", f"冷轧钢卷 SPCC {thickness}mm", f"{thickness}×1250mm×C 宝钢", "冷轧钢")
    for code, thickness in (("2011", "1.0"), ("2012", "1.2"), ("2013", "1.5")):
        b.raw(f"RM-{code}", f"镀锌钢卷 SGCC {thickness}mm", f"{thickness}×1250mm×C Z80 锌层", "镀锌钢")
    b.raw("RM-2021", "易切削钢棒 12L14 Φ10", "Φ10×2500mm 冷拉", "碳钢棒")
    b.raw("RM-2022", "易切削钢棒 12L14 Φ14", "Φ14×2500mm 冷拉", "碳钢棒")
    b.raw("RM-3001", "锌合金锭 3#", "Zamak 3 (ZnAl4) GB/T 8738", "锌合金")
    b.raw("RM-3002", "锌合金锭 5#", "Zamak 5 (ZnAl4Cu1) GB/T 8738", "锌合金")
    b.raw("RM-3011", "黄铜棒 H59 Φ12", "Φ12×2500mm 国标", "铜材")
    b.raw("RM-3012", "黄铜棒 H59 Φ20", "Φ20×2500mm 国标", "铜材")
    b.raw("RM-3021", "铝型材 6063-T5 隐形拉手", "LS-2530 6000mm 阳极氧化 银色", "铝材", unit="M")
    b.raw("RM-4001", "ABS 粒料 黑色", "奇美 PA-757 黑", "塑料粒料")
    b.raw("RM-4002", "ABS 粒料 白色", "奇美 PA-757 白", "塑料粒料")
    b.raw("RM-4003", "POM 粒料 本色", "宝理 M90-44", "塑料粒料")
    b.raw("RM-4004", "PA66+GF30 粒料 黑色", "杜邦 70G30HSL", "塑料粒料")
    b.raw("RM-5001", "电解镍板", "Ni9996 1000×1000mm", "电镀原料")
    b.raw("RM-5002", "硫酸镍", "NiSO4·6H2O 电镀级 25kg/袋", "电镀原料")
    b.raw("RM-5003", "铬酸酐", "CrO3 99.7% 50kg/桶", "电镀原料")
    b.raw("RM-5004", "仿金电镀液", "青古铜/香槟金 25L/桶", "电镀原料", unit="L")
    b.raw("RM-5005", "黑色阴极电泳漆", "哑光 20kg/桶", "电镀原料")


def _purchased(b: _CatalogueBuilder) -> None:
    for code, size, finish in (
        ("1001", "M3×12", "SUS304"),
        ("1002", "M3.5×16", "SUS304"),
        ("1003", "M4×16", "镀锌"),
        ("1004", "M4×20", "SUS304"),
        ("1005", "M4×25", "SUS304"),
        ("1006", "M4×30", "SUS304"),
    ):
        b.bought(f"PP-{code}", f"十字沉头自攻螺丝 {size}", f"{size} {finish} GB/T 846", "紧固件")
    for code, size in (("1011", "M4×8"), ("1012", "M4×25"), ("1013", "M5×10"), ("1014", "M5×45"), ("1015", "M6×12")):
        b.bought(f"PP-{code}", f"十字盘头机牙螺丝 {size}", f"{size} 镀镍 GB/T 818", "紧固件")
    for code, size in (("1021", "M4"), ("1022", "M5"), ("1023", "M6")):
        b.bought(f"PP-{code}", f"六角螺母 {size}", f"{size} 镀锌 GB/T 6170", "紧固件")
    b.bought("PP-1031", "平垫片 M4", "M4 SUS304 GB/T 97.1", "紧固件")
    b.bought("PP-1032", "平垫片 M5", "M5 SUS304 GB/T 97.1", "紧固件")
    b.bought("PP-1041", "实心铆钉 Φ3×6", "Φ3×6 Q235 镀锌", "紧固件")
    b.bought("PP-1042", "实心铆钉 Φ4×8", "Φ4×8 Q235 镀锌", "紧固件")
    b.bought("PP-2001", "压缩弹簧 0.6×5×15", "线径0.6 外径5 长15 SWP-B", "弹簧")
    b.bought("PP-2002", "压缩弹簧 0.8×6×20", "线径0.8 外径6 长20 SWP-B", "弹簧")
    b.bought("PP-2003", "压缩弹簧 1.0×8×25", "线径1.0 外径8 长25 SUS304", "弹簧")
    b.bought("PP-2011", "扭簧 1.0 90°", "线径1.0 外径8 90° SWP-B", "弹簧")
    b.bought("PP-2012", "扭簧 1.2 90°", "线径1.2 外径10 90° SWP-B 执手回位", "弹簧")
    b.bought("PP-2021", "拉簧 0.8×6×30", "线径0.8 外径6 长30 SUS304", "弹簧")
    b.bought("PP-3001", "锁芯 C级 70mm", "35/35 纯铜 配3把钥匙", "锁具配件", unit="个")
    b.bought("PP-3003", "球形锁锁芯", "587型 含2把钥匙", "锁具配件", unit="个")
    b.bought("PP-3004", "方轴 8×8×90", "8×8×90mm 镀锌", "锁具配件", unit="个")
    b.bought("PP-3005", "抽屉锁锁芯 Φ19", "Φ19×22mm 含2把钥匙", "锁具配件", unit="个")
    b.bought("PP-4001", "门锁彩盒", "300×200×80mm 350g白卡 四色印刷", "包装材料", unit="个")
    b.bought("PP-4002", "球形锁彩盒", "150×110×80mm 350g白卡", "包装材料", unit="个")
    b.bought("PP-4003", "合页白盒（一副装）", "135×85×25mm 300g白卡", "包装材料", unit="个")
    b.bought("PP-4005", "五层瓦楞纸箱 大号", "600×400×400mm K=K", "包装材料", unit="个")
    b.bought("PP-4006", "五层瓦楞纸箱 中号", "450×300×300mm K=K", "包装材料", unit="个")
    b.bought("PP-4007", "门锁吸塑托", "PET 0.5mm 280×180mm", "包装材料", unit="个")
    b.bought("PP-4008", "EPE 珍珠棉", "3mm 300×200mm", "包装材料", unit="张")
    b.bought("PP-4009", "门锁说明书", "A4 双面 80g 双胶纸", "包装材料", unit="张")
    b.bought("PP-4010", "PE 自封袋 6×9", "60×90mm 8丝", "包装材料", unit="个")
    b.bought("PP-4011", "PE 自封袋 10×15", "100×150mm 8丝", "包装材料", unit="个")
    b.bought("PP-4012", "合格证", "50×70mm 铜版纸", "包装材料", unit="张")
    b.bought("PP-4013", "条码标签", "50×30mm 铜版纸不干胶", "包装材料", unit="张")
    b.bought("PP-5001", "钢珠 Φ3.5", "Φ3.5 GCr15 G100", "配件")
    b.bought("PP-5002", "钢珠 Φ4.0", "Φ4.0 GCr15 G100", "配件")
    b.bought("PP-5003", "滑轨阻尼器", "45宽滑轨用 缓冲行程 35mm", "配件", unit="个")
    b.bought("PP-5004", "铰链液压缓冲器", "Φ6×28mm 油压", "配件", unit="个")
    b.bought("PP-5005", "钕铁硼磁铁 Φ10×3", "N35 镀镍", "配件", unit="个")
    b.bought("PP-5006", "门吸橡胶圈 Φ20", "NBR 邵氏70A 黑", "配件", unit="个")
    b.bought("PP-5007", "尼龙垫圈 Φ8", "Φ8×Φ12×1mm PA66 白", "配件", unit="个")
    b.bought("PP-5008", "合页平面轴承 Φ8", "Φ8×Φ16×2mm", "配件", unit="个")
    b.bought("PP-5009", "塑料膨胀管 Φ6", "Φ6×30mm PE", "配件", unit="个")


def _hinges(b: _CatalogueBuilder) -> None:
    pin_3 = b.semi(
        "SF-4011", "合页轴 Φ6×75", "SUS304 Φ6×75mm", "机加工件", bom=[("RM-1012", "0.0175", "2")], route="turn"
    )
    pin_4 = b.semi(
        "SF-4012", "合页轴 Φ8×100", "SUS304 Φ8×100mm", "机加工件", bom=[("RM-1013", "0.0415", "2")], route="turn"
    )
    pin_5 = b.semi(
        "SF-4013",
        "合页轴 Φ8×125",
        "SUS304 Φ8×125mm",
        "机加工件",
        bom=[("RM-1013", "0.0520", "2")],
        route="turn",
        pace="1.2",
    )
    # (n, size, thickness, spec, sheet, kg of sheet per leaf, pin, screws, with bearings, black variant n)
    leaves = (
        (1, "3寸", "2.0", "SUS304 75×50×2.0mm", "RM-1003", "0.0406", pin_3, "PP-1004", False, None),
        (2, "4寸", "2.5", "SUS304 100×75×2.5mm", "RM-1004", "0.0992", pin_4, "PP-1006", False, 1),
        (3, "4寸", "3.0", "SUS304 100×75×3.0mm", "RM-1005", "0.1190", pin_4, "PP-1006", True, 2),
        (4, "5寸", "3.0", "SUS304 125×89×3.0mm", "RM-1005", "0.1717", pin_5, "PP-1006", True, 3),
        (5, "4寸", "2.0", "SUS201 100×75×2.0mm", "RM-1008", "0.0794", pin_4, "PP-1006", False, None),
    )
    for n, size, thickness, spec, sheet, kg, pin, screws, bearings, black in leaves:
        stamped = b.semi(
            f"SF-200{n}", f"合页片冲压件 {size}", spec, "冲压件", bom=[(sheet, kg, "3")], route="blank_stamp"
        )
        brushed = b.semi(
            f"SF-400{n}", f"合页片（拉丝） {size}", f"{spec} 拉丝", "机加工件", bom=[(stamped, "1", "1")], route="grind"
        )
        kind, washer = ("轴承合页", "PP-5008") if bearings else ("平开合页", "PP-5007")
        parts = [(pin, "1", "0.5"), (washer, "2", "1"), (screws, "8", "2"), ("PP-4003", "0.5")]
        b.finished(
            f"FG-100{n}",
            f"不锈钢合页 {size} {thickness}厚 拉丝",
            f"{spec} {kind} 拉丝",
            "合页",
            unit="片",
            bom=[(brushed, "2", "0.5"), *parts],
            route="rivet_hardware",
        )
        if black:
            painted = b.semi(
                f"SF-600{black}",
                f"合页片（哑黑） {size}",
                f"{spec} 黑色电泳",
                "电镀件",
                bom=[(brushed, "1", "1"), ("RM-5005", "0.0015")],
                route="plate",
            )
            b.finished(
                f"FG-101{black}",
                f"不锈钢合页 {size} {thickness}厚 哑黑",
                f"{spec} {kind} 哑黑",
                "合页",
                unit="片",
                bom=[(painted, "2", "0.5"), *parts],
                route="rivet_hardware",
            )


def _drawer_slides(b: _CatalogueBuilder) -> None:
    retainer = b.semi(
        "SF-5001", "滑轨珠架", "POM 45宽三节滑轨用", "注塑件", bom=[("RM-4003", "0.0025", "2")], route="mould"
    )
    for n, (inches, length) in enumerate(((12, 300), (14, 350), (16, 400), (18, 450), (20, 500)), start=1):
        pace = dec(length) / 400
        rails = []
        for prefix, part, width, thickness, coil in (
            ("SF-201", "外轨", 60, "1.2", "RM-2012"),
            ("SF-202", "中轨", 50, "1.0", "RM-2011"),
            ("SF-203", "内轨", 40, "1.0", "RM-2011"),
        ):
            rails.append(
                b.semi(
                    f"{prefix}{n}",
                    f"滑轨{part}冲压件 {length}mm",
                    f"SGCC {thickness}mm 45宽 {inches}寸",
                    "冲压件",
                    bom=[(coil, _sheet_kg(width, length, thickness), "2")],
                    route="blank_stamp_heavy",
                    pace=pace,
                )
            )
        balls = str(2 * (length // 12))
        common = [*((rail, "2", "0.5") for rail in rails), (retainer, "4", "1"), ("PP-5002", balls, "0.5")]
        packing = [("PP-1003", "12", "2"), ("PP-4011", "1"), ("PP-4006", "0.05")]
        b.finished(
            f"FG-200{n}",
            f"三节钢珠滑轨 45宽 {inches}寸({length}mm)",
            "SGCC 1.2×1.0×1.0mm 镀锌 承重35kg",
            "抽屉滑轨",
            unit="副",
            bom=[*common, *packing],
            route="hardware",
            pace=pace,
        )
        if inches >= 14:
            b.finished(
                f"FG-201{n - 1}",
                f"三节阻尼滑轨 45宽 {inches}寸({length}mm)",
                "SGCC 1.2×1.0×1.0mm 镀锌 缓冲关闭 承重35kg",
                "抽屉滑轨",
                unit="副",
                bom=[*common, ("PP-5003", "2", "0.5"), *packing],
                route="hardware",
                pace=pace * dec("1.2"),
            )


def _locks(b: _CatalogueBuilder) -> None:
    # The deepest chain in the demo: steel coil → strip → stamped case → machined case → plated case → lock body.
    strip = b.semi(
        "SF-1001", "锁体壳条料", "SPCC 1.2×180×960mm", "下料件", bom=[("RM-2003", "1.628", "1")], route="shear"
    )
    stamped = b.semi(
        "SF-2101", "锁体壳冲压件 5050", "SPCC 1.2mm 一出四", "冲压件", bom=[(strip, "0.25", "2")], route="stamp_strip"
    )
    machined = b.semi(
        "SF-4101", "锁体壳机加工件 5050", "钻孔 攻丝 M5", "机加工件", bom=[(stamped, "1", "1.5")], route="drill_tap"
    )
    plated = b.semi(
        "SF-6101",
        "锁体壳电镀件 5050",
        "镀镍 盐雾 48h",
        "电镀件",
        bom=[(machined, "1", "1"), ("RM-5001", "0.0030")],
        route="plate",
    )
    cover = b.semi(
        "SF-2102", "锁体盖板冲压件 5050", "SPCC 1.2mm", "冲压件", bom=[("RM-2003", "0.1900", "3")], route="blank_stamp"
    )
    lever = b.semi(
        "SF-2103", "拨块冲压件", "SPCC 2.0mm", "冲压件", bom=[("RM-2005", "0.0120", "3")], route="blank_stamp"
    )
    deadbolt = b.semi(
        "SF-4102", "方舌", "SUS304 Φ12 车削", "机加工件", bom=[("RM-1015", "0.0450", "3")], route="turn_drill"
    )
    latch = b.semi("SF-4103", "斜舌", "H59 黄铜 Φ12", "机加工件", bom=[("RM-3011", "0.0300", "3")], route="turn_drill")
    body = b.semi(
        "SF-7101",
        "锁体组件 5050",
        "锁体 50×50 中心距 72mm",
        "组件",
        bom=[
            (plated, "1", "0.5"),
            (cover, "1", "0.5"),
            (lever, "2", "0.5"),
            (deadbolt, "1"),
            (latch, "1"),
            ("PP-2002", "2", "1"),
            ("PP-2011", "1", "1"),
            ("PP-1041", "4", "2"),
        ],
        route="lock_body",
    )
    handle_cast = b.semi(
        "SF-3001", "执手压铸件", "Zamak 3 执手 长140mm", "压铸件", bom=[("RM-3001", "0.2800", "3")], route="die_cast"
    )
    plate_stamped = b.semi(
        "SF-2104",
        "面板冲压件",
        "SUS304 1.5mm 方形面板",
        "冲压件",
        bom=[("RM-1002", "0.1800", "3")],
        route="blank_stamp",
    )
    plate_brushed = b.semi(
        "SF-4104", "面板（拉丝）", "SUS304 拉丝", "机加工件", bom=[(plate_stamped, "1", "1")], route="grind"
    )
    finishes = (
        (1, "拉丝银", "RM-5002", "0.0040", None),
        (2, "哑黑", "RM-5005", "0.0060", "SF-6115"),
        (3, "青古铜", "RM-5004", "0.0100", "SF-6116"),
        (4, "香槟金", "RM-5004", "0.0100", "SF-6117"),
    )
    for n, finish, chemical, chem_qty, plate_code in finishes:
        handle = b.semi(
            f"SF-611{n}",
            f"执手电镀件 {finish}",
            f"Zamak 3 {finish}",
            "电镀件",
            bom=[(handle_cast, "1", "2"), (chemical, chem_qty)],
            route="plate",
        )
        plate = plate_brushed
        if plate_code:
            plate = b.semi(
                plate_code,
                f"面板电镀件 {finish}",
                f"SUS304 {finish}",
                "电镀件",
                bom=[(plate_brushed, "1", "1"), (chemical, "0.0040")],
                route="plate",
            )
        b.finished(
            f"FG-300{n}",
            f"执手门锁 {finish}",
            f"分体执手 锁体5050 C级锁芯 适用门厚35-55mm {finish}",
            "门锁",
            bom=[
                (body, "1"),
                (handle, "2", "0.5"),
                (plate, "2", "0.5"),
                ("PP-3001", "1"),
                ("PP-3004", "1"),
                ("PP-2012", "2", "1"),
                ("PP-1014", "2", "2"),
                ("PP-1005", "6", "2"),
                ("PP-4007", "1"),
                ("PP-4001", "1"),
                ("PP-4009", "1"),
                ("PP-4012", "1"),
            ],
            route="lock",
        )
    knob_shell = b.semi(
        "SF-2111",
        "球头壳冲压件",
        "SUS304 1.0mm 拉伸",
        "冲压件",
        bom=[("RM-1001", "0.0950", "4")],
        route="blank_stamp_heavy",
    )
    knob = b.semi(
        "SF-4111", "球头（抛光）", "SUS304 镜面抛光", "机加工件", bom=[(knob_shell, "1", "1.5")], route="polish"
    )
    knob_gold = b.semi(
        "SF-6121",
        "球头电镀件 钛金",
        "SUS304 钛金色",
        "电镀件",
        bom=[(knob, "1", "1"), ("RM-5004", "0.0030")],
        route="plate",
    )
    knob_case = b.semi(
        "SF-2112", "球形锁锁体壳冲压件", "SPCC 1.0mm", "冲压件", bom=[("RM-2002", "0.0600", "3")], route="blank_stamp"
    )
    knob_body = b.semi(
        "SF-7111",
        "球形锁锁体组件",
        "587型 中心距 60/70 可调",
        "组件",
        bom=[
            (knob_case, "1", "0.5"),
            (latch, "1"),
            ("PP-2001", "2", "1"),
            ("PP-2011", "1", "1"),
            ("PP-1041", "2", "2"),
        ],
        route="lock_body",
        pace="0.6",
    )
    for n, (finish, knob_item) in enumerate((("本色", knob), ("钛金", knob_gold)), start=1):
        b.finished(
            f"FG-301{n}",
            f"不锈钢球形锁 {finish}",
            f"587型 SUS304 {finish} 适用门厚35-50mm",
            "门锁",
            bom=[
                (knob_item, "2", "0.5"),
                (knob_body, "1"),
                ("PP-3003", "1"),
                ("PP-1014", "2", "2"),
                ("PP-1005", "4", "2"),
                ("PP-4002", "1"),
            ],
            route="lock",
            pace="0.6",
        )
    drawer_case = b.semi(
        "SF-3011", "抽屉锁壳压铸件", "Zamak 3", "压铸件", bom=[("RM-3001", "0.0450", "3")], route="die_cast", pace="0.5"
    )
    drawer_plated = b.semi(
        "SF-6131",
        "抽屉锁壳电镀件 镀铬",
        "Zamak 3 亮铬",
        "电镀件",
        bom=[(drawer_case, "1", "2"), ("RM-5003", "0.0006")],
        route="plate",
    )
    tongue = b.semi(
        "SF-2121", "抽屉锁锁舌片冲压件", "SPCC 2.0mm", "冲压件", bom=[("RM-2005", "0.0080", "3")], route="blank_stamp"
    )
    b.finished(
        "FG-3021",
        "抽屉锁 Φ19 镀铬",
        "Φ19×22mm 锁舌 90° 转向",
        "门锁",
        bom=[(drawer_plated, "1"), (tongue, "1", "0.5"), ("PP-3005", "1"), ("PP-1002", "2", "2"), ("PP-4010", "1")],
        route="hardware",
    )


def _handles(b: _CatalogueBuilder) -> None:
    for n, (pitch, kg) in enumerate(((96, "0.0650"), (128, "0.0850"), (160, "0.1100")), start=1):
        cast = b.semi(
            f"SF-302{n}",
            f"拉手压铸件 {pitch}mm",
            f"Zamak 3 孔距{pitch}mm",
            "压铸件",
            bom=[("RM-3001", kg, "3")],
            route="die_cast",
            pace="0.4",
        )
        for finish, sf, fg, chemical, chem_qty in (
            ("亮铬", "SF-614", "FG-400", "RM-5003", "0.0012"),
            ("哑黑", "SF-615", "FG-401", "RM-5005", "0.0020"),
        ):
            plated = b.semi(
                f"{sf}{n}",
                f"拉手电镀件 {pitch}mm {finish}",
                f"Zamak 3 孔距{pitch}mm {finish}",
                "电镀件",
                bom=[(cast, "1", "2"), (chemical, chem_qty)],
                route="plate",
                pace="0.5",
            )
            b.finished(
                f"{fg}{n}",
                f"锌合金拉手 {pitch}mm {finish}",
                f"孔距{pitch}mm 配M4×25螺丝 {finish}",
                "拉手",
                unit="PCS",
                bom=[(plated, "1", "0.3"), ("PP-1012", "2", "2"), ("PP-4010", "1")],
                route="pack",
            )
    foot = b.semi(
        "SF-4124",
        "拉手脚 Φ10",
        "SUS304 Φ10×25mm M4内牙",
        "机加工件",
        bom=[("RM-1014", "0.0175", "2")],
        route="turn_drill",
    )
    for n, pitch in enumerate((128, 160, 192), start=1):
        bar = b.semi(
            f"SF-412{n}",
            f"T型拉手横杆 {pitch}mm",
            f"SUS304 Φ12 长{pitch + 60}mm 拉丝",
            "机加工件",
            bom=[("RM-1021", str(dec(pitch + 60) / 1000), "1.5")],
            route="tube_bar",
        )
        b.finished(
            f"FG-402{n}",
            f"不锈钢T型拉手 {pitch}mm",
            f"SUS304 Φ12 孔距{pitch}mm 拉丝",
            "拉手",
            unit="PCS",
            bom=[(bar, "1", "0.5"), (foot, "2", "0.5"), ("PP-1012", "2", "2"), ("PP-4011", "1")],
            route="hardware",
            pace="0.5",
        )


def _cabinet_hinges(b: _CatalogueBuilder) -> None:
    cup = b.semi(
        "SF-2201",
        "铰杯冲压件 Φ35",
        "SPCC 1.2mm 拉伸",
        "冲压件",
        bom=[("RM-2003", "0.0280", "3")],
        route="blank_stamp_heavy",
    )
    base = b.semi(
        "SF-2205", "铰链底座冲压件", "SPCC 1.5mm", "冲压件", bom=[("RM-2004", "0.0250", "3")], route="blank_stamp"
    )
    cup_plated = b.semi(
        "SF-6201",
        "铰杯电镀件 镀镍",
        "镀镍",
        "电镀件",
        bom=[(cup, "1", "1"), ("RM-5001", "0.0006")],
        route="plate",
        pace="0.4",
    )
    base_plated = b.semi(
        "SF-6205",
        "铰链底座电镀件 镀镍",
        "镀镍",
        "电镀件",
        bom=[(base, "1", "1"), ("RM-5001", "0.0005")],
        route="plate",
        pace="0.4",
    )
    cover = b.semi(
        "SF-5201", "铰链装饰盖", "ABS 白色", "注塑件", bom=[("RM-4002", "0.0018", "2")], route="mould", pace="0.3"
    )
    for n, (overlay, kg) in enumerate((("全盖", "0.0420"), ("半盖", "0.0440"), ("内嵌", "0.0460")), start=1):
        arm = b.semi(
            f"SF-220{n + 1}",
            f"铰臂冲压件 {overlay}",
            "SPCC 1.5mm",
            "冲压件",
            bom=[("RM-2004", kg, "3")],
            route="blank_stamp_heavy",
        )
        arm_plated = b.semi(
            f"SF-620{n + 1}",
            f"铰臂电镀件 {overlay}",
            "镀镍",
            "电镀件",
            bom=[(arm, "1", "1"), ("RM-5001", "0.0008")],
            route="plate",
            pace="0.4",
        )
        b.finished(
            f"FG-500{n}",
            f"液压缓冲铰链 {overlay}",
            f"Φ35杯 {overlay} 冷轧钢镀镍 开合5万次",
            "铰链",
            unit="个",
            bom=[
                (cup_plated, "1", "0.5"),
                (arm_plated, "1", "0.5"),
                (base_plated, "1", "0.5"),
                (cover, "1", "1"),
                ("PP-5004", "1", "0.5"),
                ("PP-2012", "1", "1"),
                ("PP-1042", "3", "2"),
                ("PP-1003", "4", "2"),
                ("PP-4011", "1"),
                ("PP-4005", "0.005"),
            ],
            route="rivet_hardware",
        )


def _door_hardware(b: _CatalogueBuilder) -> None:
    seat = b.semi(
        "SF-3031", "门吸座压铸件", "Zamak 5", "压铸件", bom=[("RM-3002", "0.1200", "3")], route="die_cast", pace="0.8"
    )
    head = b.semi(
        "SF-3032", "门吸头压铸件", "Zamak 5", "压铸件", bom=[("RM-3002", "0.0800", "3")], route="die_cast", pace="0.6"
    )
    seat_plated = b.semi(
        "SF-6211",
        "门吸座电镀件 拉丝镍",
        "拉丝镍",
        "电镀件",
        bom=[(seat, "1", "2"), ("RM-5001", "0.0015")],
        route="plate",
    )
    head_plated = b.semi(
        "SF-6212",
        "门吸头电镀件 拉丝镍",
        "拉丝镍",
        "电镀件",
        bom=[(head, "1", "2"), ("RM-5001", "0.0010")],
        route="plate",
    )
    b.finished(
        "FG-6001",
        "锌合金门吸 拉丝镍",
        "地装 强磁 拉丝镍",
        "门吸",
        bom=[
            (seat_plated, "1", "0.5"),
            (head_plated, "1", "0.5"),
            ("PP-5005", "1", "1"),
            ("PP-5006", "1", "1"),
            ("PP-1006", "3", "2"),
            ("PP-5009", "3", "2"),
            ("PP-4011", "1"),
        ],
        route="hardware",
        pace="0.6",
    )
    knob_sleeve = b.semi(
        "SF-5011", "插销手柄套", "ABS 黑色", "注塑件", bom=[("RM-4001", "0.0040", "2")], route="mould", pace="0.3"
    )
    for n, (inches, seat_kg, rod_kg) in enumerate((("4", "0.0450", "0.0420"), ("6", "0.0650", "0.0620")), start=1):
        bolt_seat = b.semi(
            f"SF-221{n}",
            f"插销座冲压件 {inches}寸",
            "SUS304 1.5mm 拉丝",
            "冲压件",
            bom=[("RM-1002", seat_kg, "3")],
            route="blank_stamp",
        )
        rod = b.semi(
            f"SF-421{n}",
            f"插销杆 {inches}寸",
            f"SUS304 Φ8×{int(inches) * 25}mm",
            "机加工件",
            bom=[("RM-1013", rod_kg, "2")],
            route="turn_drill",
        )
        b.finished(
            f"FG-601{n}",
            f"不锈钢插销 {inches}寸",
            f"SUS304 明装 {inches}寸 拉丝",
            "插销",
            unit="个",
            bom=[
                (bolt_seat, "1", "0.5"),
                (rod, "1", "0.5"),
                (knob_sleeve, "1", "1"),
                ("PP-1002", "4", "2"),
                ("PP-4011", "1"),
            ],
            route="hardware",
            pace="0.5",
        )


@cache
def demo_catalogue() -> DemoCatalogue:
    """Every demo item with its BOM lines and routing steps, components before the items made from them."""
    builder = _CatalogueBuilder()
    _materials(builder)
    _purchased(builder)
    _hinges(builder)
    _drawer_slides(builder)
    _locks(builder)
    _handles(builder)
    _cabinet_hinges(builder)
    _door_hardware(builder)
    return builder.catalogue


def _stock_qty(item: DemoItem) -> Decimal | None:
    """A plausible, stable on-hand quantity (None: no stock row), derived from the material code."""
    n = zlib.crc32(item.code.encode())
    if item.kind == RAW:
        low, high, step = {"KG": (200, 8000, 50), "M": (100, 1500, 10), "L": (20, 200, 5)}[item.unit]
    elif item.kind == PURCHASED:
        low, high, step = (500, 30000, 500)
    elif item.kind == SEMI:
        if item.category in ("下料件", "组件") or n % 4 == 0:
            return None  # made just in time, not stocked
        low, high, step = (100, 5000, 50)
    else:
        if n % 9 == 0:
            return Decimal(0)  # sold out
        low, high, step = (50, 3000, 10)
    return dec(low + (n % ((high - low) // step + 1)) * step)


# --- Seeding -------------------------------------------------------------------------------------------


def seed_demo() -> Counter:
    """Create whatever of the demo factory is missing; returns how many of each kind of record it created."""
    created: Counter = Counter()
    with transaction.atomic():
        teams = _seed_people(created)
        work_centers = _seed_shop_floor(teams, created)
        operations = _seed_operations(created)
        items = _seed_items(created)
        _seed_bom(items, created)
        _seed_routings(items, operations, work_centers, created)
        _seed_stock(items, created)
    return created


def _seed_people(created: Counter) -> dict[str, Team]:
    existing = set(
        User.objects.filter(username__in=[x.username for x in DEMO_LOGINS]).values_list("username", flat=True)
    )

    def create(login: DemoLogin, team: Team | None = None) -> None:
        if login.username in existing:
            return
        user_create(
            username=login.username,
            roles=[login.role],
            password=login.password,
            pin=login.pin or None,
            by=None,
            last_name=login.last_name,
            first_name=login.first_name,
            employee_number=login.employee_number,
            phone=login.phone,
            email=f"{login.username}@demo.loopline.local",
            team=team,
            badge_code=login.badge_code or None,
        )
        created["users"] += 1

    # Leaders first, so each team is created with its leader; operators last, as members of their team.
    for login in DEMO_LOGINS:
        if login.role != Role.OPERATOR:
            create(login)
    teams = {team.code: team for team in Team.objects.filter(code__in=[code for code, _name, _leader in DEMO_TEAMS])}
    for code, name, leader in DEMO_TEAMS:
        if code not in teams:
            teams[code] = team_create(code=code, name=name, leader=User.objects.get(username=leader), by=None)
            created["teams"] += 1
    for login in DEMO_LOGINS:
        if login.role == Role.OPERATOR:
            create(login, teams[login.team])
    return teams


def _seed_shop_floor(teams: dict[str, Team], created: Counter) -> dict[str, WorkCenter]:
    workshops = {w.code: w for w in Workshop.objects.filter(code__in=[code for code, _name in DEMO_WORKSHOPS])}
    for code, name in DEMO_WORKSHOPS:
        if code not in workshops:
            workshops[code] = workshop_create(code=code, name=name, by=None)
            created["workshops"] += 1
    work_centers = {w.code: w for w in WorkCenter.objects.filter(code__in=[row[0] for row in DEMO_WORK_CENTERS])}
    for code, name, workshop, team, erp_code, hours in DEMO_WORK_CENTERS:
        if code not in work_centers:
            work_centers[code] = work_center_create(
                code=code,
                name=name,
                workshop=workshops[workshop],
                team=teams[team],
                erp_code=erp_code,
                capacity_hours_per_day=dec(hours),
                by=None,
            )
            created["work centres"] += 1
    return work_centers


def _seed_operations(created: Counter) -> dict[str, Operation]:
    operations = {o.code: o for o in Operation.objects.filter(code__in=[row[0] for row in DEMO_OPERATIONS])}
    known_aliases = set(OperationAlias.objects.values_list("alias", flat=True))
    for code, name, aliases in DEMO_OPERATIONS:
        if code not in operations:
            operations[code] = operation_create(code=code, name=name, by=None)
            created["operations"] += 1
        for alias in aliases:
            if normalise_operation_name(alias) not in known_aliases:
                operation_alias_add(operation=operations[code], alias=alias, by=None)
                known_aliases.add(normalise_operation_name(alias))
                created["operation aliases"] += 1
    return operations


def _seed_items(created: Counter) -> dict[str, Item]:
    catalogue = demo_catalogue()
    items = {i.code: i for i in Item.objects.filter(code__in=[x.code for x in catalogue.items])}
    for x in catalogue.items:
        if x.code not in items:
            items[x.code] = item_create(
                code=x.code,
                name=x.name,
                specification=x.specification,
                category=x.category,
                unit=x.unit,
                kind=x.kind,
                by=None,
            )
            created["items"] += 1
    return items


def _seed_bom(items: dict[str, Item], created: Counter) -> None:
    ids = [item.pk for item in items.values()]
    existing = set(BomLine.objects.filter(parent_id__in=ids).values_list("parent_id", "child_id"))
    for line in demo_catalogue().bom:
        parent, child = items[line.parent], items[line.child]
        if (parent.pk, child.pk) in existing:
            continue
        bom_line_add(
            parent=parent, child=child, qty_per=line.qty_per, scrap_pct=line.scrap_pct, sequence=line.sequence, by=None
        )
        created["BOM lines"] += 1


def _seed_routings(
    items: dict[str, Item], operations: dict[str, Operation], work_centers: dict[str, WorkCenter], created: Counter
) -> None:
    ids = [item.pk for item in items.values()]
    existing = set(RoutingStep.objects.filter(item_id__in=ids).values_list("item_id", "sequence"))
    for step in demo_catalogue().routing:
        item = items[step.item]
        if (item.pk, step.sequence) in existing:
            continue
        routing_step_set(
            item=item,
            sequence=step.sequence,
            operation=operations[step.operation],
            work_center=work_centers[step.work_center],
            std_minutes_per_unit=step.std_minutes_per_unit,
            setup_minutes=step.setup_minutes,
            by=None,
        )
        created["routing steps"] += 1


def _seed_stock(items: dict[str, Item], created: Counter) -> None:
    warehouses = {w.code: w for w in Warehouse.objects.filter(code__in=[row[0] for row in DEMO_WAREHOUSES])}
    for code, name, address, erp_code, _kind in DEMO_WAREHOUSES:
        if code not in warehouses:
            warehouses[code] = warehouse_create(code=code, name=name, address=address, erp_code=erp_code, by=None)
            created["warehouses"] += 1
    by_kind = {kind: warehouses[code] for code, _name, _address, _erp, kind in DEMO_WAREHOUSES}
    existing = set(StockLevel.objects.filter(warehouse__in=warehouses.values()).values_list("warehouse_id", "item_id"))
    for x in demo_catalogue().items:
        qty = _stock_qty(x)
        warehouse, item = by_kind[x.kind], items[x.code]
        if qty is None or (warehouse.pk, item.pk) in existing:
            continue
        stock_level_set(warehouse=warehouse, item=item, qty_on_hand=qty, by=None)
        created["stock levels"] += 1
    # The demo keeper keeps the finished-goods and semi-finished warehouses, and sees no other stock.
    keeper = User.objects.filter(username="keeper").first()
    if keeper is not None:
        for code in ("WH-CP", "WH-BCP"):
            current = keepers_of(warehouses[code])
            if keeper not in current:
                warehouse_set_keepers(warehouse=warehouses[code], keepers=[*current, keeper], by=None)
