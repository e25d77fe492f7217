"""Secrets never leave Loopline: every page and endpoint that shows channel accounts, the ERP connection or robots
is read with secrets configured, and the suite-wide watch (tests/secret_watch.py) must find none of them.
The watch itself is checked too: a secret in a log line is caught and named."""

import logging

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import api_key_create
from integrations.models import ErpConnection, NotifyChannel
from tests import secret_watch
from tests.integrations.builders import make_account, make_run

pytestmark = pytest.mark.django_db

APP_SECRET = "tb-app-secret-6f1e9a0c2b"
ERP_PASSWORD = "K3-pass-word-77aa1c"
ROBOT_SECRET = "SEC-dingtalk-0d9c8b7a6f"


@pytest.fixture
def configured(users):
    account = make_account("TB1", credentials={"app_secret": APP_SECRET, "session": "sess-8c1d2e3f4a"})
    make_run(account)
    erp = ErpConnection(name="K3", server_url="http://127.0.0.1:9/K3Cloud/", acct_id="1", username="u")
    erp.set_credentials({"password": ERP_PASSWORD})
    erp.save()
    robot = NotifyChannel(name="钉钉", kind=NotifyChannel.Kind.DINGTALK, url="http://127.0.0.1:9/robot/send")
    robot.set_secrets({"secret": ROBOT_SECRET})
    robot.save()
    return account, erp, robot


def test_the_watch_knows_the_configured_secrets(configured):
    known = secret_watch.WATCH.secrets
    assert {APP_SECRET, ERP_PASSWORD, ROBOT_SECRET} <= known.keys()


def test_the_watch_catches_a_secret_in_a_log_line_and_names_it(configured):
    logging.getLogger("loopline.test").warning("connecting with %s", ERP_PASSWORD)

    leaks = secret_watch.finish_test()

    assert leaks == ["the password of ErpConnection K3 appeared in a log line of loopline.test"]


def test_the_watch_catches_an_api_key_in_an_answer(users):
    _key, raw = api_key_create(name="BI", role=Role.SALES, by=None)
    secret_watch.WATCH.seen.append(("the answer to GET /somewhere/", f"token={raw}"))

    assert secret_watch.finish_test() == ["an API key appeared in the answer to GET /somewhere/"]


def test_no_page_endpoint_or_admin_form_shows_a_secret(users, configured):
    account, erp, robot = configured
    it = Client(HTTP_ACCEPT_LANGUAGE="en")
    it.force_login(users[Role.IT_ADMIN])
    _key, raw = api_key_create(name="BI", role=Role.IT_ADMIN, by=users[Role.IT_ADMIN])
    api = APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")

    answers = [
        api.get("/api/v1/channel-accounts/"),
        api.get(f"/api/v1/channel-accounts/{account.code}/"),
        api.get("/api/v1/sync-runs/"),
        api.get("/api/v1/me/"),
        api.get("/api/schema/"),
        it.get("/intake/sync/"),
        it.get("/intake/sync/export.xlsx"),
        it.get(f"/admin/integrations/channelaccount/{account.pk}/change/"),
        it.get(f"/admin/integrations/erpconnection/{erp.pk}/change/"),
        it.get(f"/admin/integrations/notifychannel/{robot.pk}/change/"),
        it.get("/admin/integrations/channelaccount/"),
        it.get("/accounts/audit/"),
        it.get("/admin/accounts/apikey/"),
    ]
    # A refused admin save re-renders the form: the secret typed in must not come back in it.
    refused = it.post(f"/admin/integrations/erpconnection/{erp.pk}/change/", {"name": "", "password": ERP_PASSWORD})

    assert all(answer.status_code == 200 for answer in answers), [a.status_code for a in answers]
    assert refused.status_code == 200
    assert secret_watch.finish_test() == []
