"""Channel secrets are encrypted at rest, never shown again, and survive a key rotation."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.roles import Role
from integrations.models import ChannelAccount
from integrations.services import channel_account_save

pytestmark = pytest.mark.django_db
SECRET = "app-secret-that-must-never-leak-7f3a"


@pytest.fixture
def account():
    return channel_account_save(
        account=ChannelAccount(
            kind="taobao", name="淘宝店", code="TB9", base_url="http://127.0.0.1:9/taobao/router/rest"
        ),
        credentials={"app_secret": SECRET, "session": "session-value-91c2"},
        by=None,
    )


def test_the_secret_is_stored_encrypted(account):
    stored = ChannelAccount.objects.values_list("credentials_encrypted", flat=True).get(pk=account.pk)
    assert SECRET not in stored
    assert ChannelAccount.objects.get(pk=account.pk).get_credentials()["app_secret"] == SECRET


def test_the_audit_trail_names_the_changed_secret_but_not_its_value(account):
    event = AuditEvent.objects.get(verb="channel_account.create")
    assert event.changes["credentials_changed"] == ["app_secret", "session"]
    assert SECRET not in str(event.changes)


def test_the_admin_never_shows_a_stored_secret(client, users, account):
    client.force_login(users[Role.IT_ADMIN])
    page = client.get(reverse("admin:integrations_channelaccount_change", args=[account.pk])).content.decode()
    assert SECRET not in page and "session-value-91c2" not in page


def test_saving_the_admin_form_with_empty_secret_fields_keeps_the_stored_ones(client, users, account):
    client.force_login(users[Role.IT_ADMIN])
    form = {
        "kind": "taobao", "name": "淘宝店", "code": "TB9", "base_url": account.base_url, "app_key": "k",
        "poll_interval_minutes": 15, "trigger_status": "", "overlap_minutes": 10, "page_size": 100,
        "default_currency": "CNY", "enabled": "on", "app_secret": "", "session": "",
        "field_mappings-TOTAL_FORMS": "0", "field_mappings-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = client.post(reverse("admin:integrations_channelaccount_change", args=[account.pk]), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ChannelAccount.objects.get(pk=account.pk).get_credentials()["app_secret"] == SECRET


def test_rotation_re_encrypts_with_the_new_key_and_the_old_key_can_then_go(settings, account):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.LOOPLINE_ENCRYPTION_KEYS = [old]
    channel_account_save(account=account, credentials={"app_secret": SECRET, "session": "s"}, by=None)
    settings.LOOPLINE_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_secrets")
    settings.LOOPLINE_ENCRYPTION_KEYS = [new]
    assert ChannelAccount.objects.get(pk=account.pk).get_credentials()["app_secret"] == SECRET


def test_a_secret_no_configured_key_opens_is_an_error_not_an_empty_value(settings, account):
    settings.LOOPLINE_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured):
        ChannelAccount.objects.get(pk=account.pk).get_credentials()
