"""The demo's shops and robots, all pointing at `manage.py simulate` (idempotent, like seed_demo)."""

import os
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from integrations.models import ChannelAccount, ErpConnection, NotifyChannel
from integrations.services import channel_account_save
from integrations.simulators import credentials
from integrations.simulators.k3_credentials import K3CLOUD

# `make run` serves the simulators on SIMULATOR_PORT; the demo shops must point there.
DEFAULT_SIMULATOR_URL = f"http://127.0.0.1:{os.environ.get('SIMULATOR_PORT', '8100')}"


@transaction.atomic
def seed_intake_demo(*, simulator_url: str = DEFAULT_SIMULATOR_URL) -> list[str]:
    """Create the demo channel accounts and notification channels that do not exist yet; returns their names."""
    url = simulator_url.rstrip("/")
    created = []
    shops = [
        ("东莞五金旗舰店（淘宝）", "TB1", ChannelAccount.Kind.TAOBAO, f"{url}/taobao/router/rest",
         credentials.TAOBAO["app_key"], {k: credentials.TAOBAO[k] for k in ("app_secret", "session")}, "CNY"),
        ("东莞五金京东店", "JD1", ChannelAccount.Kind.JD, f"{url}/jd/routerjson",
         credentials.JD["app_key"], {k: credentials.JD[k] for k in ("app_secret", "access_token")}, "CNY"),
        ("Loopline Hardware (Shopify)", "SH1", ChannelAccount.Kind.SHOPIFY, f"{url}/shopify",
         credentials.SHOPIFY["shop"],
         {k: credentials.SHOPIFY[k] for k in ("access_token", "api_version", "webhook_secret")}, "USD"),
    ]  # fmt: skip
    for name, code, kind, base_url, app_key, secrets, currency in shops:
        if ChannelAccount.objects.filter(code=code).exists():
            continue
        account = ChannelAccount(
            name=name,
            code=code,
            kind=kind,
            base_url=base_url,
            app_key=app_key,
            default_currency=currency,
            erp_customer_number={"TB1": "CUST0001", "JD1": "CUST0002", "SH1": "CUST0003"}[code],
            # The demo polls every minute so a new user sees orders arrive; production keeps 15.
            poll_interval_minutes=1,
            backfill_from=timezone.now() - timedelta(hours=6),
        )
        channel_account_save(account=account, credentials=secrets, by=None)
        created.append(name)
    robots = [
        ("客服钉钉群", NotifyChannel.Kind.DINGTALK, NotifyChannel.Audience.CUSTOMER_SERVICE,
         f"{url}/dingtalk/robot/send?access_token={credentials.DINGTALK['access_token']}",
         {"secret": credentials.DINGTALK["secret"]}, ""),
        ("客服企业微信群", NotifyChannel.Kind.WECOM, NotifyChannel.Audience.CUSTOMER_SERVICE,
         f"{url}/wecom/cgi-bin/webhook/send?key={credentials.WECOM['key']}", {}, ""),
        ("生产预警短信", NotifyChannel.Kind.SMS, NotifyChannel.Audience.PRODUCTION, f"{url}/aliyun-sms/",
         {"access_key_id": credentials.ALIYUN_SMS["access_key_id"],
          "access_key_secret": credentials.ALIYUN_SMS["access_key_secret"]}, "13800138003"),
        # Alerts for the floor: SMS + DingTalk, as the team leaders asked.
        ("生产钉钉群", NotifyChannel.Kind.DINGTALK, NotifyChannel.Audience.PRODUCTION,
         f"{url}/dingtalk/robot/send?access_token={credentials.DINGTALK['access_token']}",
         {"secret": credentials.DINGTALK["secret"]}, ""),
        ("IT 钉钉群", NotifyChannel.Kind.DINGTALK, NotifyChannel.Audience.IT,
         f"{url}/dingtalk/robot/send?access_token={credentials.DINGTALK['access_token']}",
         {"secret": credentials.DINGTALK["secret"]}, ""),
    ]  # fmt: skip
    for name, kind, audience, robot_url, secrets, recipients in robots:
        if NotifyChannel.objects.filter(name=name).exists():
            continue
        channel = NotifyChannel(name=name, kind=kind, audience=audience, url=robot_url, recipients=recipients)
        if kind == NotifyChannel.Kind.SMS:
            channel.sms_sign_name, channel.sms_template_code = "东莞五金", "SMS_000000001"
        if secrets:
            channel.set_secrets(secrets)
        channel.save()
        created.append(name)
    if not ErpConnection.objects.exists():
        connection = ErpConnection(
            name="金蝶云星空（模拟）",
            server_url=f"{url}/k3cloud/K3Cloud/",
            acct_id=K3CLOUD["acct_id"],
            username=K3CLOUD["username"],
            currency_numbers={"CNY": "PRE001", "USD": "PRE007"},
        )
        connection.set_credentials({"password": K3CLOUD["password"]})
        connection.save()
        created.append(connection.name)
    return created
