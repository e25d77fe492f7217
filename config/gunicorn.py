"""gunicorn settings of the web process, shared by the Procfile, the Dockerfile and bench/floor.py.

Threaded workers: a request spends much of its time waiting on PostgreSQL and Redis, and a thread waiting there
lets another run Python. One worker per core, with four threads each to cover the waits, measured best under the
floor's load (bench/floor.py): a further worker only takes turns on the same cores, which lengthened the slowest
answers, and more threads only queue on the interpreter lock (and hold more connections: every thread keeps its
own PostgreSQL connection for CONN_MAX_AGE seconds). WEB_WORKERS, WEB_THREADS and WEB_WORKER_CLASS override.
"""

import os

from config.env import env_int

worker_class = os.environ.get("WEB_WORKER_CLASS", "gthread")
workers = env_int("WEB_WORKERS", os.cpu_count() or 1)
threads = env_int("WEB_THREADS", 4)
# Tablets and scanners keep their connection open between presses.
keepalive = 30
graceful_timeout = 5
