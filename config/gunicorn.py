"""gunicorn settings of the web process, shared by the Procfile, the Dockerfile and bench/floor.py.

Threaded workers: a request spends much of its time waiting on PostgreSQL and Redis, and a thread waiting there
lets another run Python. One worker per core plus one keeps both cores busy while a worker waits; a few threads
each are enough to cover the waits, and more only queue on the interpreter lock (and hold more connections:
every thread keeps its own PostgreSQL connection for CONN_MAX_AGE seconds). WEB_WORKERS and WEB_THREADS override.
"""

import os

from config.env import env_int

worker_class = os.environ.get("WEB_WORKER_CLASS", "gthread")
workers = env_int("WEB_WORKERS", (os.cpu_count() or 1) + 1)
threads = env_int("WEB_THREADS", 4)
# Tablets and scanners keep their connection open between presses.
keepalive = 30
graceful_timeout = 5
