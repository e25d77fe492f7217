"""The worker is a real separate process fed through the embedded filesystem broker (no eager mode)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CELERY = Path(sys.executable).with_name("celery")


def embedded_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["LOOPLINE_VAR_DIR"] = str(var_dir)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    # The last line: Django's shell prints a line about its automatic imports first.
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def test_a_task_sent_by_the_web_side_runs_in_the_worker_process_on_embedded_defaults(tmp_path):
    env = embedded_env(tmp_path)
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(
        env,
        "shell",
        "-c",
        "from datetime import timedelta; from django.utils import timezone;"
        "from django.contrib.sessions.models import Session;"
        "Session.objects.create(session_key='x' * 32, session_data='', expire_date=timezone.now() - timedelta(days=1))",
    )
    worker = subprocess.Popen(
        [
            str(CELERY),
            "-A",
            "config",
            "worker",
            "--beat",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        manage(env, "shell", "-c", "from accounts.tasks import clear_expired_sessions; clear_expired_sessions.delay()")
        deadline = time.monotonic() + 60
        remaining = "1"
        while time.monotonic() < deadline and remaining != "0":
            time.sleep(1)
            remaining = manage(
                env, "shell", "-c", "from django.contrib.sessions.models import Session; print(Session.objects.count())"
            )
        assert remaining == "0", "the worker did not run the task within 60 s"
        # Beat ran too and copied the static schedule into the database, where IT edits it.
        assert "clear-expired-sessions" in manage(
            env,
            "shell",
            "-c",
            "from django_celery_beat.models import PeriodicTask;"
            "print(list(PeriodicTask.objects.values_list('name', flat=True)))",
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert "ready" in output
    # Beat sent its due entries (polls, notifications) without scheduling errors.
    assert "Couldn't apply scheduled task" not in output
    assert "Traceback" not in output
