"""`make run`'s supervisor on a fresh data folder: embedded PostgreSQL, migrations, first
account, web server and worker come up healthy; with LLM_BACKEND=local also the llama.cpp server
(SmolLM2), or a line saying how to install it when llama-cpp-python is not installed; a worker,
the LLM server and a PostgreSQL killed with -9 are started again (and /health shows their
restarts); Ctrl-C stops all of them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from runtime import llama_server
from tests.conftest import PROJECT_ROOT, wait_for

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error) if error.code == 503 else None
    except OSError:
        return None


def _supervised(tmp_path) -> dict:
    path = tmp_path / "var" / "supervisor.json"
    try:
        return json.loads(path.read_text())["processes"]
    except (OSError, ValueError):
        return {}


def _restarted(tmp_path, name: str, old_pid: int):  # type: ignore[no-untyped-def]
    def check() -> dict | None:
        state = _supervised(tmp_path).get(name) or {}
        return state if state.get("running") and state.get("restarts", 0) >= 1 and state.get("pid") != old_pid else None

    return check


def test_supervisor_starts_everything_heals_killed_children_and_stops_on_ctrl_c(tmp_path):
    """Also the LLM server when llama-cpp-python is installed (pip install '.[llama]'); without it,
    the line and /health that say how to install it."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "FOOTNOTE_EMBEDDED_DB", "HTTPS")}
    env.pop("PYTEST_VERSION", None)  # behave like a user's `make run`
    env.update(FOOTNOTE_VAR_DIR=str(tmp_path / "var"), PORT=str(port), ADMIN_PASSWORD="",
               LLM_BACKEND="local", LLM_LOCAL_GGUF="", LLM_LOCAL_PORT=str(_free_port()), LLM_LOCAL_THREADS="1")
    with_llm = llama_server.installed() and llama_server.default_gguf() is not None
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "config.supervisor"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        def healthy() -> dict | None:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"the supervisor exited with {process.returncode}:\n{log.read()[-3000:]}")
            return (h := _health(port)) and h["status"] == "ok" and h

        body = wait_for(healthy, timeout=180, message="a healthy app")
        assert body["checks"]["worker"]["ok"]
        log.seek(0)
        output = log.read()
        assert "Created superuser 'admin' with the generated password" in output
        assert f"http://127.0.0.1:{port}/" in output
        assert body["checks"]["processes"]["processes"]["worker"]["restarts"] == 0
        if with_llm:
            assert "llama.cpp server: SmolLM2-135M-Instruct" in output
            wait_for(lambda: (_health(port) or {}).get("checks", {}).get("llm", {}).get("ok"), timeout=60,
                     message="the llama.cpp server to answer")
        else:  # the app runs without it and says how to get it
            assert "LLM_BACKEND=local, but the local backend runs llama.cpp's server" in output
            assert "pip install '.[llama]'" in body["checks"]["llm"]["error"]
            assert "llm" not in body["checks"]["processes"]["processes"]

        for name in ("worker", "llm", "database") if with_llm else ("worker", "database"):
            old_pid = _supervised(tmp_path)[name]["pid"]
            os.kill(old_pid, signal.SIGKILL)
            wait_for(_restarted(tmp_path, name, old_pid), timeout=120, message=f"the {name} to be restarted")
            body = wait_for(healthy, timeout=120, message=f"a healthy app after the {name} was killed")
            assert body["checks"]["processes"]["processes"][name]["restarts"] >= 1
        assert process.poll() is None  # the app stayed up
        log.seek(0)
        output = log.read()
        assert "The worker process exited with code -9; restarting it" in output
        assert "The embedded PostgreSQL stopped; restarting it" in output
        if with_llm:
            assert "The llm process exited with code -9; restarting it" in output
            wait_for(lambda: (_health(port) or {}).get("checks", {}).get("llm", {}).get("ok"), timeout=60,
                     message="the restarted llama.cpp server to answer")
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends to the group
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    time.sleep(1)
    assert _health(port) is None
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path / "var")], capture_output=True, text=True).stdout
    assert leftovers.strip() == "", f"processes still running: {leftovers}"


def test_a_document_queued_during_a_database_outage_is_indexed_after_it_without_a_restart(tmp_path):
    """The worker takes the document's task while the embedded PostgreSQL is down (the supervisor
    is held still so that it cannot start the database again yet); once it is back, the document
    is indexed by the task's retries or the sweep, with nobody restarting anything."""
    from bench.crash_recovery import App, _multipart, _request, _statuses

    app = App(tmp_path / "var")
    try:
        wait_for(lambda: app.health() == 200, timeout=180, message="a healthy app")
        token = app.manage("create_api_token", "admin", "--name", "outage").strip().splitlines()[-1]
        worker, database = (_supervised(tmp_path)[name]["pid"] for name in ("worker", "database"))
        os.kill(worker, signal.SIGSTOP)  # the task waits in the broker
        body, content_type = _multipart([("outage.txt", b"The outage runbook says: restart the database first.")])
        code, answer = _request(f"{app.base}/api/v1/documents", token=token, body=body, content_type=content_type)
        assert code == 202 and answer[0]["status"] == "queued", answer
        os.kill(app.process.pid, signal.SIGSTOP)
        try:
            os.kill(database, signal.SIGKILL)
            wait_for(lambda: subprocess.run(["kill", "-0", str(database)], capture_output=True).returncode != 0,
                     timeout=30, message="the database to be gone")
            os.kill(worker, signal.SIGCONT)  # the worker takes the task: the database is down
            time.sleep(10)
        finally:
            os.kill(worker, signal.SIGCONT)
            os.kill(app.process.pid, signal.SIGCONT)
        wait_for(lambda: set(_statuses(app, token).values()) == {"indexed"}, timeout=240,
                 message="the document queued during the outage to be indexed")
        processes = _supervised(tmp_path)
        assert processes["database"]["restarts"] >= 1 and processes["worker"]["restarts"] == 0
        assert app.process.poll() is None
    finally:
        app.stop()
