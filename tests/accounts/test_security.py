"""Sign-in lockout, CSRF on every form, session cookies, security headers and the content security policy."""

import re

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import AuditEvent
from accounts.roles import Role
from tests.conftest import ROLE_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def test_five_wrong_passwords_lock_the_user_name_with_a_chinese_message(users, settings):
    settings.AXES_FAILURE_LIMIT = 5
    manager = users[Role.PRODUCTION_MANAGER]
    client = Client()

    failures = [sign_in(client, manager.username, "wrong").status_code for _ in range(4)]
    fifth = sign_in(client, manager.username, "wrong")
    right_password = sign_in(client, manager.username, ROLE_PASSWORD)

    assert failures == [200] * 4
    assert fifth.status_code == right_password.status_code == 429
    page = right_password.content.decode()
    assert "密码错误次数过多" in page
    assert "IT" in page
    assert re.search(r"\d\d:\d\d", page)
    assert "_auth_user_id" not in client.session


def test_a_lockout_holds_from_another_address_and_in_the_admin(users):
    manager = users[Role.PRODUCTION_MANAGER]
    for _ in range(5):
        sign_in(Client(REMOTE_ADDR="10.0.0.1"), manager.username, "wrong")

    other = Client(REMOTE_ADDR="10.0.0.2")
    assert sign_in(other, manager.username, ROLE_PASSWORD).status_code == 429
    admin = other.post("/admin/login/", {"username": manager.username, "password": ROLE_PASSWORD})
    assert admin.status_code == 429
    # Other users are not affected.
    assert sign_in(other, users[Role.SALES].username, ROLE_PASSWORD).status_code == 302


def test_it_lifts_a_lockout_in_the_admin_and_the_user_signs_in_again(users):
    manager = users[Role.PRODUCTION_MANAGER]
    for _ in range(5):
        sign_in(Client(), manager.username, "wrong")
    assert AccessAttempt.objects.filter(username=manager.username).exists()
    it = Client()
    it.force_login(users[Role.IT_ADMIN])

    response = it.post(
        "/admin/accounts/user/", {"action": "unlock_sign_in", "_selected_action": [manager.pk]}, follow=True
    )

    assert response.status_code == 200
    assert not AccessAttempt.objects.filter(username=manager.username).exists()
    assert sign_in(Client(), manager.username, ROLE_PASSWORD).status_code == 302
    assert AuditEvent.objects.filter(verb="user.unlock_sign_in", actor=users[Role.IT_ADMIN]).exists()


def test_it_sees_sign_in_lockouts_in_the_admin(users):
    for _ in range(5):
        sign_in(Client(), users[Role.SALES].username, "wrong")
    it = Client()
    it.force_login(users[Role.IT_ADMIN])

    page = it.get("/admin/axes/accessattempt/")

    assert page.status_code == 200
    assert users[Role.SALES].username in page.content.decode()


def test_a_right_password_clears_earlier_failures(users):
    manager = users[Role.PRODUCTION_MANAGER]
    for _ in range(4):
        sign_in(Client(), manager.username, "wrong")
    assert sign_in(Client(), manager.username, ROLE_PASSWORD).status_code == 302
    for _ in range(4):
        sign_in(Client(), manager.username, "wrong")
    assert sign_in(Client(), manager.username, ROLE_PASSWORD).status_code == 302


def _post_urls() -> list[str]:
    """Every route of the site with its parameters filled in, except the HMAC-signed Shopify webhook."""
    urls: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                path = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
                path = re.sub(r"<(?:\w+:)?\w+>", "1", path).replace("^", "").replace("$", "").replace("\\", "")
                if not path.startswith(("webhooks/", "media/")) and "(" not in path and "[" not in path:
                    urls.append("/" + path)

    walk(get_resolver().url_patterns, "")
    return sorted(set(urls))


def test_every_post_without_a_csrf_token_is_refused(users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users[Role.IT_ADMIN])
    urls = _post_urls()
    assert {"/accounts/login/", "/floor/press/", "/api/v1/items/", "/api/v1/items/1/", "/masterdata/1/import/"} <= set(
        urls
    )

    accepted = []
    for url in urls:
        response = client.post(url, {"anything": "1"})
        # Django's CSRF page says so; the API's session authentication answers 403 before any view code runs.
        if response.status_code != 403 or not (b"CSRF" in response.content or url.startswith("/api/")):
            accepted.append(f"{url} → {response.status_code}")

    assert accepted == []


def test_the_same_post_with_the_token_gets_through():
    client = Client(enforce_csrf_checks=True)
    form = client.get(LOGIN)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)
    response = client.post(LOGIN, {"username": "nobody-here", "password": "x", "csrfmiddlewaretoken": token})
    assert response.status_code == 200


def test_pages_carry_the_security_headers_and_a_csp_without_inline_scripts(users, client):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    for url in ["/", LOGIN, "/api/docs/", "/admin/"]:
        response = (Client() if url == LOGIN else client).get(url)
        assert response.status_code == 200, url
        csp = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        assert csp["script-src"] == "'self'", url
        assert csp["default-src"] == "'self'"
        assert csp["frame-ancestors"] == "'none'"
        assert csp["object-src"] == "'none'"
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert "camera=(self)" in response["Permissions-Policy"]


def test_no_page_template_has_an_inline_script():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    inline = []
    for template in root.rglob("*.html"):
        for tag in re.findall(r"<script\b[^>]*>", template.read_text(encoding="utf-8")):
            if "src=" not in tag and "application/json" not in tag:
                inline.append(f"{template.relative_to(root)}: {tag}")
        if re.search(r"\son[a-z]+=", template.read_text(encoding="utf-8")):
            inline.append(f"{template.relative_to(root)}: inline event handler")
    assert inline == []


def test_swagger_ui_starts_from_a_script_file_that_points_at_the_schema(users, client):
    client.force_login(users[None])
    page = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="([^"]*api/docs/\?script=[^"]*)"', page).group(1)

    response = client.get(script.replace("&amp;", "&"))

    assert response.status_code == 200
    assert "/api/schema/" in response.content.decode()


def test_session_and_csrf_cookies_are_http_only_and_same_site(users, settings):
    client = Client()
    form = client.get(LOGIN)
    response = client.post(
        LOGIN,
        {
            "username": users[Role.SALES].username,
            "password": ROLE_PASSWORD,
            "csrfmiddlewaretoken": form.cookies["csrftoken"].value,
        },
    )
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert form.cookies["csrftoken"]["samesite"] == "Lax"
    assert int(session["max-age"]) == settings.SESSION_COOKIE_AGE
