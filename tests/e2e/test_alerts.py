"""The alert inbox in a real Chromium: a team leader acknowledges and resolves in the row, under the site's
content security policy, without reloading the page."""

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dashboards.models import Alert
from tests.conftest import ROLE_PASSWORD
from tests.dashboards.alert_builders import make_team
from tests.e2e.test_csp import watch_csp

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def test_a_team_leader_acknowledges_then_resolves_an_alert_in_the_inbox(page: Page, live_server):
    team = make_team("CY1", "冲压一班", "li.qiang", "13811110001")
    now = timezone.now()
    alert = Alert.objects.create(kind="operation_stalled", subject_type="operation", subject_id="1",
                                 subject_label="WO-0001 #10 下料", dedupe_key="operation_stalled:operation:1",
                                 message="WO-0001 #10 下料（CY1-1）已 2.5 小时无报工（运行中）。", team=team,
                                 first_seen_at=now, last_seen_at=now)  # fmt: skip
    problems = watch_csp(page)
    page.goto(live_server.url + "/accounts/login/?next=/alerts/")
    page.locator("#id_username").fill(team.leader.username)
    page.locator("#id_password").fill(ROLE_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(live_server.url + "/alerts/")
    expect(page.get_by_role("heading", level=1)).to_have_text("告警")

    row = page.locator(f"#alert-{alert.pk}")
    expect(row).to_contain_text("2.5 小时无报工")
    expect(row.locator(".alert-state")).to_have_text("未处理")
    page.evaluate("window.notReloaded = true")
    row.get_by_role("button", name="确认").click()
    expect(row.locator(".alert-state")).to_have_text("已确认")
    expect(row).to_contain_text("li.qiang")
    row.get_by_role("button", name="关闭").click()
    expect(row.locator(".alert-state")).to_have_text("已关闭")
    assert page.evaluate("window.notReloaded") is True
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED and alert.resolved_by == team.leader
    assert problems == []
