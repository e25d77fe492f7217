#!/usr/bin/env python
"""Floor reporting under load: N clients POSTing report events to gunicorn on loopback for S seconds.

Prints one JSON line: reports_per_s, p50_ms, p95_ms, lost_updates, double_counted, trivial_per_s (a trivial view
on the same server in the same run), ratio_to_trivial. Every fifth press is sent twice with the same client UUID,
as a flaky network would, and several clients report on the same operation at once; afterwards each operation's
total must equal the presses the server accepted, once each.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loopline .venv/bin/python bench/floor.py --clients 32 --seconds 30
"""

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OPERATIONS = 8
PASSWORD = "bench-floor-password-1"  # a throwaway user in a scratch database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_for(base: str, username: str):
    import requests

    session = requests.Session()
    login = session.get(f"{base}/accounts/login/", timeout=10)
    session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": login.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    session.headers["Referer"] = base
    return session


def read_response(reader) -> tuple[int, bytes, bool]:
    """Status, body and whether the server closes the connection, of one HTTP/1.1 answer (the server always sends
    a length)."""
    status_line = reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    length, closes = None, False
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _sep, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            closes = value.strip().lower() == b"close"
    if length is None:
        raise ValueError(f"answer without Content-Length: {status_line!r}")
    return int(status_line.split()[1]), reader.read(length), closes


def connect(host: str, port: int):
    connection = socket.create_connection((host, port), timeout=10)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection, connection.makefile("rb")


def client(args: tuple) -> dict:
    """One process of the load: one thread per signed-in client, each on a keep-alive connection, pressing from
    `start` until `deadline` (wall-clock times shared by every process, so all clients load the server at once
    and over the same window)."""
    import threading

    base, codes, (first_index, cookies), start, deadline, trivial = args
    latencies: list[float] = []
    accepted: dict[str, int] = {}
    errors = 0
    lock = threading.Lock()

    def run(index: int, cookie: dict) -> None:
        nonlocal errors
        # Requests are written as bytes on a keep-alive socket and answers read by their Content-Length: the load
        # generator shares the machine's cores with the server, so it must cost far less per request than it.
        cookies = "; ".join(f"{name}={value}" for name, value in cookie.items())
        host, port = base.removeprefix("http://").split(":")
        head = (f"Host: {host}:{port}\r\nCookie: {cookies}\r\nX-CSRFToken: {cookie['csrftoken']}\r\n"
                f"Referer: {base}\r\n")  # fmt: skip
        connection, reader = connect(host, int(port))
        code = codes[index % len(codes)]
        count = 0
        time.sleep(max(0.0, start - time.time()))
        while time.time() < deadline:
            if trivial:
                request = f"GET /healthz HTTP/1.1\r\n{head}\r\n".encode()
            else:
                press = str(uuid.uuid4())
                body = json.dumps({"operation_code": code, "action": "report", "client_uuid": press, "good_qty": "1"})
                request = (f"POST /api/v1/report-events/ HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
                           f"Content-Length: {len(body)}\r\n\r\n{body}").encode()  # fmt: skip
            sends = 2 if count % 5 == 0 else 1  # a replay, as after a lost answer
            for _ in range(sends):
                started = time.perf_counter()
                connection.sendall(request)
                status_code, _answer, closes = read_response(reader)
                elapsed = time.perf_counter() - started
                if closes:  # a server that keeps no connection alive (e.g. gunicorn's sync workers)
                    connection.close()
                    connection, reader = connect(host, int(port))
                with lock:
                    # The rate is answers within the window / the window; a press answered later still counts
                    # for the totals check below.
                    if time.time() <= deadline:
                        latencies.append(elapsed)
                    if status_code in (200, 201):
                        if not trivial and status_code == 201:
                            accepted[code] = accepted.get(code, 0) + 1
                    else:
                        errors += 1
            count += 1
        connection.close()

    workers = [threading.Thread(target=run, args=(first_index + i, cookie)) for i, cookie in enumerate(cookies)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"latencies": latencies, "accepted": accepted, "errors": errors, "cpu": time.process_time()}


def sign_in(base: str, clients: int) -> list[dict]:
    """Each client signs in once through the login page before any clock runs: a tablet signs in once a shift,
    and the deliberately slow password hash is not what this benchmark measures."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda n: session_for(base, f"bench-operator-{n}").cookies.get_dict(), range(clients)))


def load(base: str, codes: list[str], cookies: list[dict], seconds: float, trivial: bool) -> dict:
    clients = len(cookies)
    processes = min(4, clients)
    shares, first = [], 0
    for i in range(processes):
        size = clients // processes + (1 if i < clients % processes else 0)
        shares.append((first, cookies[first : first + size]))
        first += size
    start = time.time() + 1.5  # every process has forked and connected by then
    deadline = start + seconds
    with multiprocessing.Pool(processes) as pool:
        parts = pool.map(client, [(base, codes, share, start, deadline, trivial) for share in shares])
    latencies = sorted(lat for part in parts for lat in part["latencies"])
    accepted: dict[str, int] = {}
    for part in parts:
        for code, count in part["accepted"].items():
            accepted[code] = accepted.get(code, 0) + count
    return {
        "requests": len(latencies),
        "per_s": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000 if latencies else None,
        "accepted": accepted,
        "errors": sum(part["errors"] for part in parts),
        "client_cpu": sum(part["cpu"] for part in parts),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children still running, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid or stat.parent.name == str(pid):  # fields[1] is the parent's pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def database_cpu(scratch: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the scratch database (the server's connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [scratch])
        pids = [pid for (pid,) in cursor.fetchall()]
    tick = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # PostgreSQL runs elsewhere, or the backend just ended
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    return times


def connections_close_all() -> None:
    from django.db import connections

    connections.close_all()


def run(clients: int, seconds: float, port: int | None = None) -> dict:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/floor.py needs DATABASE_URL pointing at PostgreSQL")
    import psycopg2

    scratch = f"loopline_floor_bench_{os.getpid()}"
    admin = psycopg2.connect(urlunparse(urlparse(database_url)._replace(path="/postgres")))
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{scratch}"')
    scratch_url = urlunparse(urlparse(database_url)._replace(path=f"/{scratch}"))
    os.environ["DATABASE_URL"] = scratch_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    server = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from decimal import Decimal

        from accounts.models import User
        from accounts.roles import Role
        from accounts.services import user_create
        from production.floor import report_event_record
        from production.models import (
            Item,
            Operation,
            ReportEvent,
            WorkCenter,
            WorkOrder,
            WorkOrderOperation,
            Workshop,
        )

        # One operator per tablet, as on the floor (the API throttles per person); one slow hash serves them all.
        operator = user_create(username="bench-operator-0", roles=[Role.OPERATOR], password=PASSWORD, by=None)
        for n in range(1, clients):
            other = user_create(username=f"bench-operator-{n}", roles=[Role.OPERATOR], by=None)
            User.objects.filter(pk=other.pk).update(password=operator.password)
        workshop = Workshop.objects.create(code="B", name="bench")
        center = WorkCenter.objects.create(code="B-1", name="bench", workshop=workshop)
        step = Operation.objects.create(code="B-OP", name="冲压")
        item = Item.objects.create(code="B-ITEM", name="bench", kind=Item.Kind.SEMI)
        codes = []
        for n in range(OPERATIONS):
            work_order = WorkOrder.objects.create(number=f"WO-B-{n}", item=item, qty=Decimal(10_000_000))
            operation = WorkOrderOperation.objects.create(
                work_order=work_order, sequence=10, operation=step, work_center=center, std_minutes_per_unit=1
            )
            report_event_record(
                operation_code=operation.code, operator=operator, action="start", client_uuid=uuid.uuid4()
            )
            codes.append(operation.code)

        connections_close_all()  # the load processes are forked from this one
        port = port or free_port()
        # Production settings (DEBUG off) over plain HTTP on loopback, with the web process's gunicorn settings.
        env = {
            **os.environ,
            "DATABASE_URL": scratch_url,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SESSION_COOKIE_SECURE": "0",
            "DJANGO_CSRF_COOKIE_SECURE": "0",
            "DJANGO_SECURE_HSTS_SECONDS": "0",
            "LOOPLINE_LOG_LEVEL": "WARNING",
            # Each client presses flat out, far beyond what a person does: the per-person API rate is still
            # counted on every request, but set where it never refuses one (per second, so each person's
            # window holds a few dozen presses, as a minute of real pressing would).
            "LOOPLINE_API_RATE_PER_USER": "1000/second",
            "LOOPLINE_VAR_DIR": tempfile.mkdtemp(prefix="loopline-bench-"),
        }
        # Production settings serve hashed static files: collect them as a deployment would.
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "config.wsgi", "--config", "config/gunicorn.py",
             "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        import requests

        for _ in range(100):
            try:
                if requests.get(f"{base}/healthz", timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        cookies = sign_in(base, clients)
        # The server's own CPU per request: unlike rates, hardly moved by whatever else runs on the machine.
        before = cpu_seconds(server.pid)
        trivial = load(base, codes, cookies, min(seconds, 10), trivial=True)
        between, database_before = cpu_seconds(server.pid), database_cpu(scratch)
        reports = load(base, codes, cookies, seconds, trivial=False)
        after, database_after = cpu_seconds(server.pid), database_cpu(scratch)
        database_seconds = sum(cpu - database_before.get(pid, 0.0) for pid, cpu in database_after.items())

        # A press the server accepted (201) must be in the total exactly once; replays (200) must add nothing.
        lost = double = 0
        for code in codes:
            operation = WorkOrderOperation.objects.get(code=code)
            events = ReportEvent.objects.filter(operation=operation, action="report").count()
            accepted = reports["accepted"].get(code, 0)
            lost += max(0, accepted - int(operation.good_qty))
            double += max(0, int(operation.good_qty) - accepted) + max(0, events - accepted)
        return {
            "clients": clients,
            "seconds": seconds,
            "reports_per_s": round(reports["per_s"], 1),
            "p50_ms": round(reports["p50_ms"], 1),
            "p95_ms": round(reports["p95_ms"], 1),
            "requests": reports["requests"],
            "errors": reports["errors"],
            "lost_updates": lost,
            "double_counted": double,
            "trivial_per_s": round(trivial["per_s"], 1),
            "trivial_p95_ms": round(trivial["p95_ms"], 1),
            "ratio_to_trivial": round(reports["per_s"] / trivial["per_s"], 3),
            "server_cpu_ms_per_report": round((after - between) * 1000 / max(reports["requests"], 1), 2),
            "server_cpu_ms_per_trivial": round((between - before) * 1000 / max(trivial["requests"], 1), 2),
            # Where the rest of the machine goes: PostgreSQL's backends for the server, and this load generator.
            "database_cpu_ms_per_report": round(database_seconds * 1000 / max(reports["requests"], 1), 2),
            "client_cpu_ms_per_report": round(reports["client_cpu"] * 1000 / max(reports["requests"], 1), 2),
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        from django.db import connections

        connections.close_all()
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--port", type=int, default=None, help="port of the server on loopback (default: a free one)")
    args = parser.parse_args()
    print(json.dumps(run(args.clients, args.seconds, args.port)))


if __name__ == "__main__":
    main()
