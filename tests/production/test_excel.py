"""Master data in and out of Excel: templates, all-or-nothing imports with a row-by-row report, exports, pages."""

import io
import time
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import include, path, reverse
from django.utils import translation
from openpyxl import Workbook, load_workbook

from accounts.models import AuditEvent, Team
from accounts.roles import ROLE_PERMISSIONS, Role
from config import urls as project_urls
from production.excel import ExcelFileError, ImportReport, masterdata_import, masterdata_xlsx, template_xlsx
from production.excel.columns import INSTRUCTIONS_TITLE
from production.models import BomLine, Item, RoutingStep, WorkCenter, Workshop
from production.services import bom_line_add, operation_create, routing_step_set, work_center_create, workshop_create

# The pages are mounted by config/urls.py; until they are, these tests mount them themselves.
urlpatterns = list(project_urls.urlpatterns)
if "masterdata" not in {getattr(pattern, "namespace", None) for pattern in urlpatterns}:
    urlpatterns.append(path("masterdata/", include("production.excel_urls")))

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

ITEM_HEADER = ["物料编码", "名称", "规格型号", "类别", "单位", "物料属性", "启用"]
BOM_HEADER = ["父项编码", "子项编码", "序号", "单位用量", "损耗率%"]
WC_HEADER = ["编码", "名称", "车间编码", "车间名称", "班组编码", "ERP编码", "每日产能(小时)", "启用"]
ROUTING_HEADER = ["物料编码", "序号", "工序", "工作中心编码", "单件标准工时(分钟)", "准备工时(分钟)"]

# What each kind needs, as the task states it; expectations per role are derived from accounts/roles.py.
IMPORT_PERMS = {
    "items": {"production.add_item", "production.change_item"},
    "boms": {"production.add_bomline", "production.change_bomline"},
    "workcenters": {
        "production.add_workcenter",
        "production.change_workcenter",
        "production.add_workshop",
        "production.change_workshop",
    },
    "routings": {"production.add_routingstep", "production.change_routingstep"},
}
EXPORT_PERMS = {
    "items": {"production.view_item"},
    "boms": {"production.view_bomline", "production.view_item"},
    "workcenters": {"production.view_workcenter", "production.view_workshop"},
    "routings": {"production.view_routingstep", "production.view_operation", "production.view_workcenter"},
}


@pytest.fixture(autouse=True)
def english():
    # Reasons are translated; the assertions read them in English whatever the catalogue says.
    with translation.override("en"):
        yield


def xlsx(rows: list[list], title: str = "Sheet1") -> io.BytesIO:
    """An in-memory workbook whose first sheet holds `rows`."""
    workbook = Workbook()
    workbook.active.title = title
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return buffer


def load(kind: str, rows: list[list], **kwargs) -> ImportReport:
    return masterdata_import(kind=kind, file=xlsx(rows), by=None, filename=f"{kind}.xlsx", **kwargs)


def problems(report: ImportReport) -> list[tuple[int, str, str]]:
    return [(error.row, error.column, error.reason) for error in report.errors]


def snapshot() -> dict[str, list]:
    """Every stored master-data value an import may touch."""
    return {
        "items": list(Item.objects.order_by("code").values_list(*ITEM_FIELDS)),
        "boms": list(BomLine.objects.order_by("id").values_list("parent", "child", "sequence", "qty_per", "scrap_pct")),
        "workshops": list(Workshop.objects.order_by("code").values_list("code", "name")),
        "workcenters": list(
            WorkCenter.objects.order_by("code").values_list(
                "code", "name", "workshop", "team", "erp_code", "capacity_hours_per_day", "active"
            )
        ),
        "routings": list(
            RoutingStep.objects.order_by("id").values_list(
                "item", "sequence", "operation", "work_center", "std_minutes_per_unit", "setup_minutes"
            )
        ),
    }


ITEM_FIELDS = ("code", "name", "specification", "category", "unit", "kind", "active")


@pytest.fixture
def factory(make_item):
    """A small factory: a hinge made of leaves made of steel, a machining workshop and a grinding operation."""
    fg = make_item("FG-HINGE", kind=Item.Kind.FINISHED, name="不锈钢合页")
    leaf = make_item("SF-LEAF", name="合页片")
    steel = make_item("RM-304", kind=Item.Kind.RAW, name="SUS304 不锈钢板", unit="KG")
    make_item("PP-SCREW", kind=Item.Kind.PURCHASED, name="螺钉")
    bom_line_add(parent=fg, child=leaf, qty_per=Decimal("2"), by=None)
    bom_line_add(parent=leaf, child=steel, qty_per=Decimal("0.05"), scrap_pct=Decimal("4"), by=None)
    shop = workshop_create(code="WS-MACH", name="机加工车间", by=None)
    team = Team.objects.create(code="T-CNC-A", name="CNC 甲班")
    cnc = work_center_create(code="WC-CNC01", name="CNC 1 号", workshop=shop, team=team, by=None)
    grind = operation_create(code="OP-GRIND", name="精磨", aliases=["细磨"], by=None)
    routing_step_set(
        item=leaf, sequence=10, operation=grind, work_center=cnc, std_minutes_per_unit=Decimal("1.5"), by=None
    )
    return {"fg": fg, "leaf": leaf, "steel": steel, "shop": shop, "team": team, "cnc": cnc, "grind": grind}


# --- Good files -----------------------------------------------------------------------------------------


def test_a_good_items_file_creates_new_items_and_updates_existing_ones_by_code(factory):
    report = load(
        "items",
        [
            ITEM_HEADER,
            ["FG-HINGE", "不锈钢合页 4 寸", "100×75", "合页", "套", "成品", "是"],
            ["RM-AL", "铝板", None, "板材", "kg", "原材料", None],
            [10001, "外购螺母", "M6", "紧固件", "PCS", "purchased", "否"],
        ],
    )
    assert problems(report) == []
    assert (report.rows, report.created, report.updated, report.unchanged) == (3, 2, 1, 0)
    hinge = Item.objects.get(code="FG-HINGE")
    assert (hinge.name, hinge.unit, hinge.specification) == ("不锈钢合页 4 寸", "套", "100×75")
    assert Item.objects.filter(code="RM-AL", unit="KG", kind=Item.Kind.RAW, active=True).exists()
    # A code typed as a number in Excel is still the code "10001".
    assert Item.objects.filter(code="10001", kind=Item.Kind.PURCHASED, active=False).exists()


def test_a_good_bom_file_imports_a_multi_level_bom_as_rows(factory, make_item):
    make_item("SF-PIN", name="合页轴")
    make_item("RM-WIRE", kind=Item.Kind.RAW, name="不锈钢线材", unit="KG")
    report = load(
        "boms",
        [
            BOM_HEADER,
            ["FG-HINGE", "SF-PIN", 20, 1, None],
            ["SF-PIN", "RM-WIRE", None, "0.012", "2.5"],
            ["FG-HINGE", "SF-LEAF", 10, 3, 0],
        ],
    )
    assert problems(report) == []
    assert (report.created, report.updated) == (2, 1)
    pin_line = BomLine.objects.get(parent__code="SF-PIN", child__code="RM-WIRE")
    assert (pin_line.sequence, pin_line.qty_per, pin_line.scrap_pct) == (10, Decimal("0.012"), Decimal("2.5"))
    assert BomLine.objects.get(parent__code="FG-HINGE", child__code="SF-LEAF").qty_per == 3


def test_a_good_work_centre_file_creates_a_new_workshop_and_links_an_existing_team(factory):
    report = load(
        "workcenters",
        [
            WC_HEADER,
            ["WC-PRESS01", "冲床 1 号", "WS-STAMP", "冲压车间", "T-CNC-A", "K3-101", 16, "是"],
            ["WC-PRESS02", "冲床 2 号", "WS-STAMP", None, None, None, None, None],
            ["WC-CNC01", "CNC 1 号", "WS-MACH", "机加工一车间", "", "K3-102", "20", "否"],
        ],
    )
    assert problems(report) == []
    assert (report.created, report.updated, report.workshops_created, report.workshops_updated) == (2, 1, 1, 1)
    press = WorkCenter.objects.select_related("workshop", "team").get(code="WC-PRESS01")
    assert (press.workshop.name, press.team.code, press.capacity_hours_per_day) == ("冲压车间", "T-CNC-A", 16)
    assert WorkCenter.objects.get(code="WC-PRESS02").capacity_hours_per_day == 8
    cnc = WorkCenter.objects.select_related("workshop").get(code="WC-CNC01")
    assert (cnc.team, cnc.active, cnc.workshop.name) == (None, False, "机加工一车间")


def test_a_good_routing_file_resolves_operations_by_standard_name_code_or_alias(factory):
    operation_create(code="OP-POLISH", name="抛光", by=None)
    report = load(
        "routings",
        [
            ROUTING_HEADER,
            ["SF-LEAF", 10, "细磨", "WC-CNC01", 2, 5],
            ["SF-LEAF", 20, "op-polish", "WC-CNC01", "0.75", None],
            ["FG-HINGE", 10, "精磨", "WC-CNC01", 1, 0],
        ],
    )
    assert problems(report) == []
    assert (report.created, report.updated) == (2, 1)
    steps = RoutingStep.objects.filter(item__code="SF-LEAF").order_by("sequence")
    assert [(step.operation.code, step.std_minutes_per_unit) for step in steps] == [
        ("OP-GRIND", Decimal("2")),
        ("OP-POLISH", Decimal("0.75")),
    ]


def test_english_keys_are_accepted_as_headers_and_the_key_row_of_templates_is_skipped(factory):
    keys = ["code", "name", "specification", "category", "unit", "kind", "active"]
    report = load("items", [keys, ["NEW-1", "新物料", "", "", "PCS", "半成品", "是"]])
    assert (problems(report), report.created) == ([], 1)
    report = load("items", [ITEM_HEADER, keys, ["NEW-2", "新物料", "", "", "PCS", "半成品", "是"]])
    assert (problems(report), report.rows, report.created) == ([], 1, 1)


def test_columns_left_out_of_the_file_keep_their_stored_values(factory):
    Item.objects.filter(code="RM-304").update(specification="2.5mm", category="板材")
    report = load("items", [["物料编码", "名称", "单位", "物料属性"], ["RM-304", "不锈钢板", "KG", "原材料"]])
    assert (problems(report), report.updated) == ([], 1)
    steel = Item.objects.get(code="RM-304")
    assert (steel.name, steel.specification, steel.category) == ("不锈钢板", "2.5mm", "板材")


def test_one_import_writes_one_audit_event_with_its_counts(factory, users):
    before = AuditEvent.objects.count()
    rows = [ITEM_HEADER, *[[f"N-{n}", "新", "", "", "PCS", "原材料", "是"] for n in range(5)]]
    masterdata_import(kind="items", file=xlsx(rows), by=users[Role.IT_ADMIN], filename="items.xlsx")
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("id")
    assert event.verb == "masterdata.import_items"
    assert event.actor == users[Role.IT_ADMIN]
    assert event.changes == {
        "kind": "items",
        "file": "items.xlsx",
        "rows": 5,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
    }


def test_a_dry_run_counts_the_changes_and_writes_nothing(factory):
    before, events = snapshot(), AuditEvent.objects.count()
    report = load("items", [ITEM_HEADER, ["NEW-1", "新", "", "", "PCS", "原材料", "是"]], dry_run=True)
    assert (report.ok, report.created) == (True, 1)
    assert "nothing was written" in report.summary()
    assert (snapshot(), AuditEvent.objects.count()) == (before, events)


# --- Bad files: every problem reported, nothing written --------------------------------------------------


def assert_nothing_written(kind: str, rows: list[list]) -> list[tuple[int, str, str]]:
    before, events = snapshot(), AuditEvent.objects.count()
    report = load(kind, rows)
    assert not report.ok
    assert (snapshot(), AuditEvent.objects.count()) == (before, events)
    return problems(report)


def test_wrong_columns_are_reported_on_the_header_row(factory):
    found = assert_nothing_written("items", [["物料编号", "名称", "单位", "名称"], ["FG-NEW", "新", "PCS", "新"]])
    reasons = {(column, reason.split(";")[0]) for _row, column, reason in found}
    assert {row for row, _column, _reason in found} == {1}
    assert ("物料编号", "Unknown column") in reasons
    assert ("名称", "This column appears twice.") in reasons
    assert ("物料编码", "Required column missing.") in reasons
    assert ("物料属性", "Required column missing.") in reasons


def test_bad_numbers_are_reported_by_row_and_column(factory):
    found = assert_nothing_written(
        "boms",
        [
            BOM_HEADER,
            ["FG-HINGE", "SF-LEAF", "ten", "abc", None],
            ["SF-LEAF", "RM-304", 10.5, "0.0000001", "1,5"],
            ["SF-LEAF", "PP-SCREW", 10, 1, 100],
        ],
    )
    assert found == [
        (2, "序号", "Not a number."),
        (2, "单位用量", "Not a number."),
        (3, "序号", "Not a whole number."),
        (3, "单位用量", "At most 6 decimal places."),
        (4, "损耗率%", "Must be less than 100."),
    ]


def test_a_negative_or_zero_quantity_is_refused(factory):
    found = assert_nothing_written(
        "boms", [BOM_HEADER, ["FG-HINGE", "SF-LEAF", 10, -2, 0], ["SF-LEAF", "RM-304", 10, 0, -1]]
    )
    assert found == [
        (2, "单位用量", "Cannot be negative."),
        (3, "单位用量", "Must be greater than 0."),
        (3, "损耗率%", "Cannot be negative."),
    ]


def test_float_noise_from_excel_is_not_a_decimal_place(factory):
    report = load("boms", [BOM_HEADER, ["SF-LEAF", "PP-SCREW", 10, 0.1 + 0.2, 0]])
    assert problems(report) == []
    assert BomLine.objects.get(parent__code="SF-LEAF", child__code="PP-SCREW").qty_per == Decimal("0.3")


def test_unknown_unit_kind_and_flag_and_missing_values_are_reported(factory):
    found = assert_nothing_written(
        "items",
        [
            ITEM_HEADER,
            ["FG-NEW", "新", "", "", "箩筐", "成品", "是"],
            ["FG-NEW2", None, "", "", "PCS", "成平", "也许"],
        ],
    )
    assert found[0] == (2, "单位", "Unknown unit.")
    assert found[1] == (3, "名称", "A value is required.")
    assert found[2][:2] == (3, "物料属性") and found[2][2].startswith("Unknown kind")
    assert found[3] == (3, "启用", "Write 是 or 否.")


def test_a_text_longer_than_its_field_is_refused(factory):
    found = assert_nothing_written("items", [ITEM_HEADER, ["X" * 65, "新", "", "", "PCS", "成品", "是"]])
    assert found == [(2, "物料编码", "At most 64 characters.")]


def test_unknown_parent_and_component_codes_are_reported(factory):
    found = assert_nothing_written(
        "boms", [BOM_HEADER, ["FG-NOPE", "SF-LEAF", 10, 1, 0], ["FG-HINGE", "RM-NOPE", 20, 1, 0]]
    )
    assert found == [(2, "父项编码", "Unknown material code."), (3, "子项编码", "Unknown material code.")]


def test_a_raw_material_cannot_be_a_parent(factory):
    found = assert_nothing_written("boms", [BOM_HEADER, ["RM-304", "PP-SCREW", 10, 1, 0]])
    assert found[0][:2] == (2, "父项编码") and "cannot have a BOM" in found[0][2]


def test_unknown_workshops_teams_work_centres_and_operations_are_reported(factory):
    found = assert_nothing_written("workcenters", [WC_HEADER, ["WC-NEW", "新", "WS-NEW", None, "T-NOPE", "", 8, "是"]])
    assert found == [(2, "车间名称", "WS-NEW is a new workshop: give its name."), (2, "班组编码", "Unknown team code.")]
    found = assert_nothing_written(
        "routings",
        [ROUTING_HEADER, ["SF-NOPE", 10, "精磨", "WC-CNC01", 1, 0], ["SF-LEAF", 20, "烧烤", "WC-NOPE", 1, 0]],
    )
    assert found == [
        (2, "物料编码", "Unknown material code."),
        (3, "工序", "Unknown operation: use its standard name, code or an alias."),
        (3, "工作中心编码", "Unknown work centre code."),
    ]


def test_a_workshop_named_two_ways_in_one_file_is_refused(factory):
    found = assert_nothing_written(
        "workcenters",
        [
            WC_HEADER,
            ["WC-A", "A", "WS-NEW", "新车间", None, None, 8, None],
            ["WC-B", "B", "WS-NEW", "另一个", None, None, 8, None],
        ],
    )
    assert found == [(3, "车间名称", "Workshop WS-NEW is named 新车间 on row 2.")]


def test_duplicate_keys_in_the_file_are_reported_with_the_first_row(factory):
    found = assert_nothing_written(
        "items",
        [ITEM_HEADER, ["DUP-1", "一", "", "", "PCS", "成品", "是"], ["DUP-1", "二", "", "", "PCS", "成品", "是"]],
    )
    assert found == [(3, "物料编码", "Duplicate: already on row 2.")]
    found = assert_nothing_written(
        "boms", [BOM_HEADER, ["FG-HINGE", "PP-SCREW", 10, 1, 0], ["FG-HINGE", "PP-SCREW", 20, 2, 0]]
    )
    assert found == [(3, "子项编码", "Duplicate: already on row 2.")]
    found = assert_nothing_written(
        "routings",
        [ROUTING_HEADER, ["SF-LEAF", 30, "精磨", "WC-CNC01", 1, 0], ["SF-LEAF", 30, "精磨", "WC-CNC01", 2, 0]],
    )
    assert found == [(3, "序号", "Duplicate: already on row 2.")]


def test_a_bom_loop_made_only_by_rows_of_the_file_is_refused_on_each_of_its_rows(factory, make_item):
    make_item("SF-A")
    make_item("SF-B")
    make_item("SF-C")
    found = assert_nothing_written(
        "boms",
        [
            BOM_HEADER,
            ["SF-A", "SF-B", 10, 1, 0],
            ["SF-B", "SF-C", 10, 1, 0],
            ["FG-HINGE", "SF-A", 30, 1, 0],
            ["SF-C", "SF-A", 10, 1, 0],
        ],
    )
    assert [(row, column) for row, column, _reason in found] == [(2, "子项编码"), (3, "子项编码"), (5, "子项编码")]
    assert "SF-C → SF-A → SF-B → SF-C" in found[2][2]


def test_a_bom_loop_closed_with_stored_lines_is_refused(factory):
    # Stored: FG-HINGE → SF-LEAF → RM-304. Making the hinge a component of the leaf closes a loop.
    found = assert_nothing_written("boms", [BOM_HEADER, ["SF-LEAF", "FG-HINGE", 10, 1, 0]])
    assert found == [
        (
            2,
            "子项编码",
            "FG-HINGE cannot be a component of SF-LEAF: that would close the loop SF-LEAF → FG-HINGE → SF-LEAF.",
        )
    ]
    found = assert_nothing_written("boms", [BOM_HEADER, ["SF-LEAF", "SF-LEAF", 10, 1, 0]])
    assert found == [(2, "子项编码", "This BOM line would make an item a component of itself.")]


def test_one_bad_row_among_many_good_ones_writes_none_of_them(factory):
    rows = [ITEM_HEADER, *[[f"OK-{n}", "好", "", "", "PCS", "原材料", "是"] for n in range(100)]]
    rows.append(["BAD-1", "坏", "", "", "PCS", "原材料", "maybe"])
    assert_nothing_written("items", rows)
    assert not Item.objects.filter(code__startswith="OK-").exists()


def test_a_blank_template_is_reported_as_having_no_rows(factory):
    report = masterdata_import(kind="items", file=io.BytesIO(template_xlsx("items")), by=None)
    assert problems(report) == [(2, "", "The sheet has no rows to import.")]


# --- Files that are not workbooks -----------------------------------------------------------------------


def test_a_file_that_is_not_an_xlsx_is_refused_by_its_content_whatever_its_name():
    with pytest.raises(ExcelFileError, match=r"not an Excel \.xlsx workbook"):
        masterdata_import(kind="items", file=io.BytesIO(b"code,name\nA,B\n"), by=None, filename="items.xlsx")
    with pytest.raises(ExcelFileError, match=r"old \.xls workbook"):
        masterdata_import(kind="items", file=io.BytesIO(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 512), by=None)


def test_a_file_over_20_mb_is_refused_before_it_is_read():
    with pytest.raises(ExcelFileError, match="larger than 20 MB"):
        masterdata_import(kind="items", file=io.BytesIO(b"\0" * (20 * 1024 * 1024 + 1)), by=None)


# --- Speed ----------------------------------------------------------------------------------------------


def test_fifty_thousand_items_import_in_under_a_minute(capsys):
    rows = [
        ITEM_HEADER,
        *[[f"P-{n:06d}", f"物料 {n}", f"规格 {n}", "类别", "PCS", "原材料", "是"] for n in range(50_000)],
    ]
    started = time.perf_counter()
    report = load("items", rows)
    created_in = time.perf_counter() - started
    assert (problems(report), report.created) == ([], 50_000)
    rows = [[code, f"{name} 改", *rest] for code, name, *rest in rows[1:]]
    started = time.perf_counter()
    report = load("items", [ITEM_HEADER, *rows])
    updated_in = time.perf_counter() - started
    assert (problems(report), report.updated) == ([], 50_000)
    with capsys.disabled():
        print(f"\n50,000 items: created in {created_in:.1f} s, updated in {updated_in:.1f} s")
    assert Item.objects.count() == 50_000
    assert created_in < 60 and updated_in < 60  # a sanity bound only; the figures above are the measure


# --- Export and templates -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["items", "boms", "workcenters", "routings"])
def test_an_export_imports_back_without_any_change(factory, kind):
    # Values that tempt a lossy round trip: a code that looks like a number, long decimals, blanks, a formula.
    Item.objects.create(code="00123", name="=SUM(A1)", kind=Item.Kind.RAW, unit="Pcs", active=False)
    BomLine.objects.filter(child__code="RM-304").update(qty_per=Decimal("123456789012.123456"))
    WorkCenter.objects.filter(code="WC-CNC01").update(capacity_hours_per_day=Decimal("7.25"))
    RoutingStep.objects.update(std_minutes_per_unit=Decimal("0.125"), setup_minutes=Decimal("12.5"))
    before = snapshot()
    exported = masterdata_xlsx(kind)
    report = masterdata_import(kind=kind, file=io.BytesIO(exported), by=None)
    assert problems(report) == []
    assert (report.created, report.updated, report.unchanged) == (0, 0, report.rows)
    assert report.rows == len(before[kind]) > 0
    assert snapshot() == before


def test_an_export_has_typed_cells_widths_and_a_frozen_header(factory):
    sheet = load_workbook(io.BytesIO(masterdata_xlsx("boms"))).active
    assert [cell.value for cell in sheet[1]] == BOM_HEADER
    assert [cell.value for cell in sheet[2]] == ["parent", "child", "sequence", "qty_per", "scrap_pct"]
    assert [cell.value for cell in sheet[3]] == ["FG-HINGE", "SF-LEAF", 10, 2, 0]
    assert [cell.value for cell in sheet[4]] == ["SF-LEAF", "RM-304", 10, 0.05, 4]
    assert sheet.freeze_panes == "A3"
    assert sheet.column_dimensions["A"].width == 18


def test_a_template_has_headers_drop_downs_and_an_instructions_sheet_with_an_example(factory):
    workbook = load_workbook(io.BytesIO(template_xlsx("items")))
    sheet = workbook.worksheets[0]
    assert [cell.value for cell in sheet[1]] == ITEM_HEADER
    assert sheet.freeze_panes == "A3"
    assert sheet.max_row == 2
    validated = {str(rule.sqref).split(":")[0]: rule for rule in sheet.data_validations.dataValidation}
    assert validated["F3"].formula1 == '"成品,半成品,原材料,外购件"'
    assert validated["E3"].formula1.startswith(("lists!", "'lists'!"))
    assert workbook["lists"].sheet_state == "hidden"
    instructions = [row for row in workbook[INSTRUCTIONS_TITLE].iter_rows(values_only=True)]
    assert tuple(ITEM_HEADER) in [row[:7] for row in instructions]
    assert ("FG-1001", "不锈钢合页 4 寸") in [row[:2] for row in instructions]


def test_the_examples_of_every_template_import_cleanly(factory):
    # The instruction sheet's example rows are a promise: they must pass the checks (given their references).
    Item.objects.create(code="FG-1001", name="合页", kind=Item.Kind.FINISHED)
    Item.objects.create(code="SF-2001", name="合页片", kind=Item.Kind.SEMI)
    for kind in ["items", "workcenters", "boms", "routings"]:
        workbook = load_workbook(io.BytesIO(template_xlsx(kind)))
        rows = list(workbook[INSTRUCTIONS_TITLE].iter_rows(values_only=True))
        start = [row[0] for row in rows].index("Example rows") + 1
        report = load(kind, [list(row) for row in rows[start:] if any(row)])
        assert problems(report) == [], kind


# --- Commands -------------------------------------------------------------------------------------------


def test_the_import_command_prints_the_counts_of_a_good_file(factory, tmp_path):
    file = tmp_path / "items.xlsx"
    file.write_bytes(xlsx([ITEM_HEADER, ["NEW-1", "新", "", "", "PCS", "原材料", "是"]]).getvalue())
    out = io.StringIO()
    call_command("import_masterdata", "items", str(file), stdout=out)
    assert "1 rows: 1 new, 0 changed, 0 unchanged." in out.getvalue()
    assert Item.objects.filter(code="NEW-1").exists()


def test_the_import_command_prints_the_report_and_exits_non_zero_on_a_bad_file(factory, tmp_path):
    file = tmp_path / "boms.xlsx"
    file.write_bytes(xlsx([BOM_HEADER, ["FG-HINGE", "RM-NOPE", 10, -1, 0]]).getvalue())
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"2 problems found; nothing was imported\.") as raised:
        call_command("import_masterdata", "boms", str(file), stdout=out)
    assert raised.value.returncode == 1
    assert "2\t子项编码\tRM-NOPE\tUnknown material code." in out.getvalue()
    assert "2\t单位用量\t-1\tCannot be negative." in out.getvalue()


def test_the_import_command_refuses_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_masterdata", "items", str(tmp_path / "missing.xlsx"))
    foreign = tmp_path / "items.xlsx"
    foreign.write_text("not a workbook")
    with pytest.raises(CommandError, match=r"not an Excel \.xlsx workbook"):
        call_command("import_masterdata", "items", str(foreign))


def test_the_export_command_writes_a_workbook_the_import_command_accepts(factory, tmp_path):
    file = tmp_path / "routings.xlsx"
    call_command("export_masterdata", "routings", str(file), stdout=io.StringIO())
    out = io.StringIO()
    call_command("import_masterdata", "routings", str(file), "--dry-run", stdout=out)
    assert "1 rows: 0 new, 0 changed, 1 unchanged." in out.getvalue()


# --- Pages ----------------------------------------------------------------------------------------------


def holds(role: Role | None, perms: set[str]) -> bool:
    return perms <= set(ROLE_PERMISSIONS.get(role, []))


ROLES = [None, *Role]


@pytest.mark.parametrize("kind", list(IMPORT_PERMS))
@pytest.mark.parametrize("role", ROLES)
def test_import_pages_and_templates_need_the_add_and_change_permissions_of_the_kind(client, users, role, kind):
    client.force_login(users[role])
    expected = 200 if holds(role, IMPORT_PERMS[kind]) else 403
    assert client.get(reverse("masterdata:import", args=[kind])).status_code == expected
    assert client.get(reverse("masterdata:template", args=[kind])).status_code == expected
    upload = SimpleUploadedFile("x.xlsx", xlsx([["x"]]).getvalue())
    response = client.post(reverse("masterdata:import", args=[kind]), {"file": upload})
    assert response.status_code == (400 if expected == 200 else 403)


@pytest.mark.parametrize("kind", list(EXPORT_PERMS))
@pytest.mark.parametrize("role", ROLES)
def test_exports_need_the_view_permissions_of_the_kind(client, users, role, kind):
    client.force_login(users[role])
    expected = 200 if holds(role, EXPORT_PERMS[kind]) else 403
    assert client.get(reverse("masterdata:export", args=[kind])).status_code == expected


def test_the_roles_who_may_import_are_the_production_manager_and_the_it_admin():
    importers = {role for role in Role if all(holds(role, perms) for perms in IMPORT_PERMS.values())}
    assert importers == {Role.PRODUCTION_MANAGER, Role.IT_ADMIN}


@pytest.mark.parametrize("role", ROLES)
def test_the_index_lists_what_the_role_may_do_and_is_403_for_roles_that_may_do_nothing(client, users, role):
    client.force_login(users[role])
    response = client.get(reverse("masterdata:index"))
    allowed = [kind for kind in IMPORT_PERMS if holds(role, IMPORT_PERMS[kind]) or holds(role, EXPORT_PERMS[kind])]
    assert response.status_code == (200 if allowed else 403)
    if allowed:
        assert [row["spec"].kind for row in response.context["kinds"]] == allowed


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("masterdata:import", args=["items"]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_an_unknown_kind_is_404(client, users):
    client.force_login(users[Role.IT_ADMIN])
    assert client.get(reverse("masterdata:import", args=["stock"])).status_code == 404


def test_the_upload_page_imports_a_good_file_and_shows_the_counts(client, users, factory):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    client.cookies["django_language"] = "en"
    upload = SimpleUploadedFile(
        "items.xlsx", xlsx([ITEM_HEADER, ["NEW-1", "新", "", "", "PCS", "原材料", "是"]]).getvalue()
    )
    response = client.post(reverse("masterdata:import", args=["items"]), {"file": upload})
    assert response.status_code == 200
    assert "1 rows: 1 new, 0 changed, 0 unchanged." in response.content.decode()
    assert AuditEvent.objects.filter(verb="masterdata.import_items", actor=users[Role.PRODUCTION_MANAGER]).exists()


def test_the_upload_page_shows_the_problems_as_a_table_and_writes_nothing(client, users, factory):
    client.force_login(users[Role.IT_ADMIN])
    client.cookies["django_language"] = "en"
    upload = SimpleUploadedFile("boms.xlsx", xlsx([BOM_HEADER, ["SF-LEAF", "FG-HINGE", 10, "x", 0]]).getvalue())
    response = client.post(reverse("masterdata:import", args=["boms"]), {"file": upload})
    body = response.content.decode()
    assert response.status_code == 400
    assert "2 problems found; nothing was imported." in body
    assert "<td>单位用量</td><td>x</td><td>Not a number.</td>" in body
    assert "would close the loop SF-LEAF → FG-HINGE → SF-LEAF" in body
    assert not BomLine.objects.filter(parent__code="SF-LEAF", child__code="FG-HINGE").exists()


def test_the_upload_page_refuses_a_file_that_is_not_a_workbook_and_one_over_20_mb(client, users, settings):
    client.force_login(users[Role.IT_ADMIN])
    client.cookies["django_language"] = "en"
    fake = SimpleUploadedFile("items.xlsx", b"PK\x03\x04 not really a zip")
    response = client.post(reverse("masterdata:import", args=["items"]), {"file": fake})
    assert response.status_code == 400
    assert "This file is not an Excel .xlsx workbook." in response.content.decode()
    huge = SimpleUploadedFile("items.xlsx", b"\0" * (20 * 1024 * 1024 + 1))
    response = client.post(reverse("masterdata:import", args=["items"]), {"file": huge})
    assert response.status_code == 400
    assert "larger than 20 MB" in response.content.decode()


def test_the_export_button_downloads_an_xlsx(client, users, factory):
    client.force_login(users[Role.SALES])
    response = client.get(reverse("masterdata:export", args=["items"]))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'filename="items-' in response["Content-Disposition"]
    codes = [
        row[0] for row in load_workbook(io.BytesIO(response.content)).active.iter_rows(min_row=3, values_only=True)
    ]
    assert codes == ["FG-HINGE", "PP-SCREW", "RM-304", "SF-LEAF"]
