"""Finance reconciles in a real Chromium: the deviation rate in Chinese, a WMS upload, its row report, drilling down."""

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.roles import Role
from integrations.models import ErpConnection, ErpOutboundLine, WmsShipmentLine
from production.models import Item
from tests.conftest import make_user
from tests.e2e.test_login import office_login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def test_finance_uploads_wms_shipments_and_sees_the_deviation_rate_fall(page: Page, live_server, tmp_path):
    today = timezone.localdate()
    item = Item.objects.create(code="FG-1001", name="不锈钢合页", kind=Item.Kind.FINISHED, unit="片")
    erp = ErpConnection.objects.create(name="K3", server_url="http://127.0.0.1:9/K3Cloud/", acct_id="1", username="u")
    ErpOutboundLine.objects.create(
        erp_connection=erp, entry_id="1", bill_number="XSCKD000001", bill_date=today, item=item, qty=Decimal(100)
    )
    office_login(page, live_server.url, make_user(Role.FINANCE, username="li.na"))
    page.goto(live_server.url + "/intake/reconciliation/")
    expect(page.get_by_role("heading", level=1)).to_have_text("对账：ERP 出库与 WMS 发货")
    expect(page.locator("#deviation-rate")).to_have_text("100.00 %")  # nothing reported by the WMS yet

    bad = tmp_path / "wms.csv"
    bad.write_text("发货行号,发货时间,物料编码,数量\nSH-1,明天,FG-1001,90\n", encoding="utf-8")
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_role("button", name="上传").click()
    expect(page.locator(".upload-errors")).to_contain_text("shipped_at")
    assert not WmsShipmentLine.objects.exists()

    good = tmp_path / "wms-ok.csv"
    good.write_text(f"发货行号,发货时间,物料编码,数量\nSH-1,{today:%Y-%m-%d} 15:00,FG-1001,90\n", encoding="utf-8")
    page.locator("input[type=file]").set_input_files(str(good))
    page.get_by_role("button", name="上传").click()
    expect(page.locator("#deviation-rate")).to_have_text("10.00 %")
    page.locator("table.differing a").first.click()
    expect(page.locator("table.erp-lines")).to_contain_text("XSCKD000001")
    expect(page.locator("table.wms-lines")).to_contain_text("SH-1")
