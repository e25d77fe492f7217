"""Shared test set-up: a fixed cast of users, one per role, and small builders for master data."""

import os
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group

from accounts.models import User
from accounts.roles import Role, sync_role_groups
from accounts.services import user_create
from production.models import Item
from tests import secret_watch

# Playwright's sync API runs an event loop in the test thread; Django's ORM must still be usable there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROLE_PASSWORD = "Loopline-test-2026"


def pytest_configure(config):
    # A fast hasher: the suite creates many users; production keeps Django's default PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Generous API rates: the suite makes many requests as one user; the throttling tests set their own.
    settings.LOOPLINE_API_RATES = {scope: "100000/minute" for scope in settings.LOOPLINE_API_RATES}
    secret_watch.install()


def ensure_role_groups() -> None:
    """Tests on a transactional database find the tables flushed after an earlier such test, groups included;
    the groups and their permissions come back exactly as the data migrations make them."""
    if Group.objects.filter(name__in=[role.value for role in Role]).count() < len(Role):
        sync_role_groups(django_apps)


def make_user(role: Role | None, username: str | None = None, **fields) -> User:
    ensure_role_groups()
    name = username or (role.value if role else "nobody")
    return user_create(
        username=name,
        roles=[role] if role else [],
        password=ROLE_PASSWORD,
        by=None,
        **fields,
    )


@pytest.fixture
def users(db) -> dict[Role | None, User]:
    """One user per role, plus `None`: an active user with no role."""
    cast = {role: make_user(role) for role in Role}
    cast[None] = make_user(None)
    return cast


@pytest.fixture
def make_item(db):
    counter = {"n": 0}

    def build(code: str | None = None, kind: str = Item.Kind.SEMI, **fields) -> Item:
        counter["n"] += 1
        return Item.objects.create(
            code=code or f"T-{counter['n']:04d}",
            name=fields.pop("name", f"测试物料{counter['n']}"),
            kind=kind,
            unit=fields.pop("unit", "PCS"),
            **fields,
        )

    return build


def dec(value: str) -> Decimal:
    return Decimal(value)


@pytest.fixture(autouse=True)
def fresh_content_types():
    """A flush after a transactional test renumbers content types; the cache must not hand out the old ids."""
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    yield


@pytest.fixture(autouse=True)
def no_secret_leaks():
    """Fails the test if a stored secret or an API key showed up in an answer or a log line (tests/secret_watch)."""
    secret_watch.start_test()
    yield
    leaks = secret_watch.finish_test()
    if leaks:
        pytest.fail("Secret leaked:\n" + "\n".join(sorted(set(leaks))), pytrace=False)
