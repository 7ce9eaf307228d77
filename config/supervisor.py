"""`make run`: start the embedded PostgreSQL, migrate, then the web server and a Celery worker.

Owns their lifetime: Ctrl-C (or SIGTERM) stops the web server and the worker, then PostgreSQL.
With DATABASE_URL set it uses that database instead of starting the embedded one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from config.embedded_db import local_environment_prepare, var_dir_of

ROOT = Path(__file__).resolve().parent.parent


def _start_database(env: dict[str, str]) -> None:
    if env.get("DATABASE_URL"):
        return
    print("Starting the embedded PostgreSQL 16 + pgvector (data in %s) ..." % (var_dir_of(env) / "pgdata"), flush=True)
    # Children connect to the server this process owns instead of each starting a handle.
    local_environment_prepare(env)


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True)


def main() -> int:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    port = env.get("PORT", "8000")
    _start_database(env)
    _run(["manage.py", "migrate", "--noinput", "-v", "0"], env)
    _run(["manage.py", "createcachetable"], env)  # the local cache (rate limits) when CACHE_URL is unset
    _run(["manage.py", "collectstatic", "--noinput", "-v", "0"], env)
    concurrency = env.get("WORKER_CONCURRENCY", "1")
    children = {
        "web": subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", env.get("WEB_WORKERS", "2"), "--threads", env.get("WEB_THREADS", "8"),
             "--timeout", "300", "--graceful-timeout", "10", "--access-logfile", "-"],
            cwd=ROOT, env=env,
        ),
        "worker": subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork",
             "--concurrency", concurrency, "--loglevel", "INFO"],
            cwd=ROOT, env=env,
        ),
    }
    username = env.get("ADMIN_USERNAME", "admin")
    print(
        f"\nFootnote is running at http://127.0.0.1:{port}/\n"
        f"Sign in as '{username}' with ADMIN_PASSWORD, or the password printed above when the account was\n"
        f"created (forgot it? `.venv/bin/python manage.py changepassword {username}`).\n"
        f"API docs: http://127.0.0.1:{port}/api/v1/docs · Stop with Ctrl-C.\n",
        flush=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"The {name} process exited with code {child.returncode}; stopping.", flush=True)
                stopping, exit_code = True, 1
        time.sleep(0.5)
    print("Stopping ...", flush=True)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code  # the embedded PostgreSQL stops when this process exits (pgserver atexit)


if __name__ == "__main__":
    sys.exit(main())
