"""Settings come from the environment; production settings pass Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "k3y-" + "x9Qz" * 16,
    "DJANGO_ALLOWED_HOSTS": "loopline.example.com",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy_without_warnings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": ""}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_a_malformed_boolean_stops_start_up_with_the_variable_named():
    result = run_manage("check", env={"DJANGO_DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr


def test_the_secret_key_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("f1le-" + "Zq8w" * 16 + "\n")
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": "", "DJANGO_SECRET_KEY_FILE": str(secret)}
    result = run_manage("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("f1le-" + "Zq8w" * 16)


def test_the_defaults_are_chinese_shanghai_and_cny(settings):
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
    assert dict(settings.LANGUAGES).keys() == {"zh-hans", "en"}
    assert settings.LOOPLINE_DEFAULT_CURRENCY == "CNY"


@pytest.mark.parametrize(
    ("env", "engine", "broker"),
    [
        ({}, "django.db.backends.sqlite3", "filesystem://"),
        (
            {"DATABASE_URL": "postgres://u:p@db:5432/x", "REDIS_URL": "redis://cache:6379/0"},
            "django.db.backends.postgresql",
            "redis://cache:6379/0",
        ),
    ],
)
def test_database_and_broker_follow_the_environment(env, engine, broker, tmp_path):
    base = {"LOOPLINE_VAR_DIR": str(tmp_path), **env}
    for name in ("DATABASE_URL", "REDIS_URL"):
        base.setdefault(name, "")
    code = (
        "from django.conf import settings;"
        "print(settings.DATABASES['default']['ENGINE']);print(settings.CELERY_BROKER_URL);"
        "print(settings.CACHES['default']['BACKEND'])"
    )
    script = f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup(); {code}"
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    full_env.update({k: v for k, v in base.items() if v})
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[0] == engine
    assert lines[1] == broker
    if not env:
        assert lines[2].endswith("FileBasedCache")
        assert (tmp_path / "broker" / "queue").is_dir()
