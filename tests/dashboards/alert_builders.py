"""Builders for alert tests: teams with leaders, work centres in them, and notification channels."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from accounts.models import Team
from accounts.roles import Role
from integrations.models import NotifyChannel
from integrations.notify.services import notify_channel_save
from integrations.simulators import credentials
from production.models import Item, Operation, WorkCenter, WorkOrder, WorkOrderOperation, Workshop
from tests.conftest import make_user

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026, Shanghai time (day 2 is a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def make_team(code: str, name: str, leader_name: str, phone: str) -> Team:
    leader = make_user(Role.TEAM_LEADER, username=leader_name, phone=phone)
    team = Team.objects.create(code=code, name=name, leader=leader)
    leader.team = team
    leader.save(update_fields=["team"])
    return team


def team_work_order(team: Team, number: str, qty: str = "100", workshop: str = "CY") -> WorkOrder:
    """A three-step work order at work centres of `team` (one per step) in `workshop`."""
    shop, _ = Workshop.objects.get_or_create(code=workshop, defaults={"name": f"{workshop} 车间"})
    item, _ = Item.objects.get_or_create(code=f"SF-{number}", defaults={"name": "合页片", "kind": Item.Kind.SEMI})
    work_order = WorkOrder.objects.create(number=number, item=item, qty=Decimal(qty))
    for sequence, (op_code, op_name) in enumerate([("OP-BL", "下料"), ("OP-ST", "冲压"), ("OP-PO", "抛光")], 1):
        operation, _ = Operation.objects.get_or_create(code=op_code, defaults={"name": op_name})
        work_center, _ = WorkCenter.objects.get_or_create(
            code=f"{team.code}-{sequence}", defaults={"name": f"{op_name}机", "workshop": shop, "team": team}
        )
        WorkOrderOperation.objects.create(
            work_order=work_order,
            sequence=sequence * 10,
            operation=operation,
            work_center=work_center,
            std_minutes_per_unit=Decimal("0.5"),
        )
    return work_order


def steps(work_order: WorkOrder) -> list[WorkOrderOperation]:
    return list(work_order.operations.order_by("sequence"))


def plan(operation: WorkOrderOperation, *, end: datetime, good: str = "0") -> WorkOrderOperation:
    operation.planned_start = end.replace(hour=8, minute=0)
    operation.planned_end = end
    operation.good_qty = Decimal(good)
    operation.save(update_fields=["planned_start", "planned_end", "good_qty"])
    return operation


def production_channels(ding_url: str = "http://127.0.0.1:9/dingtalk/robot/send?access_token=x") -> dict:
    """A DingTalk robot, an SMS channel, a WeCom robot and e-mail for production, and a DingTalk robot for IT."""
    made = {}
    made["dingtalk"] = notify_channel_save(
        channel=NotifyChannel(
            name="车间钉钉群",
            kind=NotifyChannel.Kind.DINGTALK,
            audience=NotifyChannel.Audience.PRODUCTION,
            url=ding_url,
        ),
        secrets={"secret": credentials.DINGTALK["secret"]},
        by=None,
    )
    made["sms"] = notify_channel_save(
        channel=NotifyChannel(
            name="班组长短信",
            kind=NotifyChannel.Kind.SMS,
            audience=NotifyChannel.Audience.PRODUCTION,
            url="http://127.0.0.1:9/aliyun-sms/",
            recipients="13800138000",
            sms_sign_name="乐普林",
            sms_template_code="SMS_100000001",
        ),
        secrets=credentials.ALIYUN_SMS,
        by=None,
    )
    made["wecom"] = notify_channel_save(
        channel=NotifyChannel(
            name="车间企业微信群",
            kind=NotifyChannel.Kind.WECOM,
            audience=NotifyChannel.Audience.PRODUCTION,
            url="http://127.0.0.1:9/wecom/cgi-bin/webhook/send?key=x",
        ),
        secrets=None,
        by=None,
    )
    made["email"] = notify_channel_save(
        channel=NotifyChannel(
            name="生产邮件", kind=NotifyChannel.Kind.EMAIL, audience=NotifyChannel.Audience.PRODUCTION,
            recipients="pm@example.com",
        ),
        secrets=None,
        by=None,
    )  # fmt: skip
    made["it"] = notify_channel_save(
        channel=NotifyChannel(
            name="IT 钉钉群", kind=NotifyChannel.Kind.DINGTALK, audience=NotifyChannel.Audience.IT, url=ding_url
        ),
        secrets={"secret": credentials.DINGTALK["secret"]},
        by=None,
    )
    return made
