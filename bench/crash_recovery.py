"""Crash recovery end to end, on real processes: `make run`'s supervisor on a fresh data folder,
DOCUMENTS uploaded over HTTP, then during ingestion the Celery worker's main process and then the
embedded PostgreSQL's postmaster killed with -9. Measures (never asserts) how long /health takes
to answer 200 again and every document to reach a final status after the last kill, and counts
lost documents and duplicate chunks.

    .venv/bin/python -m bench.crash_recovery [--documents 100] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FINAL = ("indexed", "failed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, *, token: str = "", body: bytes | None = None, content_type: str = "") -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return 0, None


def _multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
             f"Content-Type: text/plain\r\n\r\n".encode() + data + b"\r\n" for name, data in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _text(i: int) -> bytes:
    lines = [f"Report {i}, section {s}: the depot in district {i * 7 + s} stores {i + s} crates of item {s * 13 + i}."
             for s in range(40)]
    return "\n".join(lines).encode()


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


class App:
    def __init__(self, var_dir: Path) -> None:
        self.var_dir, self.port = var_dir, _free_port()
        drop = ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "FOOTNOTE_EMBEDDED_DB", "HTTPS", "PYTEST_VERSION")
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env.update(FOOTNOTE_VAR_DIR=str(var_dir), PORT=str(self.port), ADMIN_PASSWORD="", RATE_LIMIT_UPLOAD="0")
        self.log = (var_dir.parent / "run.log").open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "config.supervisor"], cwd=ROOT, env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"

    def health(self) -> int:
        return _request(f"{self.base}/api/v1/health")[0]

    def processes(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.var_dir / "supervisor.json").read_text())["processes"])
        except (OSError, ValueError, KeyError):
            return {}

    def manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=60)


def _statuses(app: App, token: str) -> dict[int, str]:
    code, body = _request(f"{app.base}/api/v1/documents", token=token)
    return {d["id"]: d["status"] for d in body} if code == 200 and body else {}


COUNT_CHUNKS = (
    "from django.db.models import Count\n"
    "from ingestion.models import Chunk, Document\n"
    "import json\n"
    "dupes = Chunk.objects.values('document_id', 'text').annotate(n=Count('id')).filter(n__gt=1).count()\n"
    "print(json.dumps({'chunks': Chunk.objects.count(), 'duplicate_chunks': dupes, "
    "'expected_chunks': sum(Document.objects.values_list('chunk_count', flat=True))}))\n"
)


def run(documents: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="footnote-crash-"))
    app = App(work / "var")
    try:
        _wait(lambda: app.health() == 200, 600, "a healthy app")
        token = app.manage("create_api_token", "admin", "--name", "crash-bench").strip().splitlines()[-1]
        ids: list[int] = []
        for start in range(0, documents, 10):
            body, content_type = _multipart([(f"report-{i}.txt", _text(i)) for i in range(start, min(documents, start + 10))])
            code, answer = _request(f"{app.base}/api/v1/documents", token=token, body=body, content_type=content_type)
            if code != 202 or answer is None:
                raise SystemExit(f"upload answered {code}")
            ids += [entry["id"] for entry in answer]
        _wait(lambda: "processing" in _statuses(app, token).values(), 300, "a document in processing")
        os.kill(app.processes()["worker"]["pid"], signal.SIGKILL)
        time.sleep(5)
        os.kill(app.processes()["database"]["pid"], signal.SIGKILL)
        last_kill = time.monotonic()
        _wait(lambda: app.health() == 200, 600, "health to answer 200 again")
        health_back = time.monotonic() - last_kill
        final = _wait(lambda: (s := _statuses(app, token)) and all(s.get(i) in FINAL for i in ids) and s, 1800,
                      "every document to reach a final status")
        all_final = time.monotonic() - last_kill
        counts = json.loads(app.manage("shell", "-c", COUNT_CHUNKS).strip().splitlines()[-1])
        return {
            "documents": documents, "health_200_after_last_kill_s": round(health_back, 1),
            "all_final_after_last_kill_s": round(all_final, 1),
            "indexed": sum(1 for i in ids if final[i] == "indexed"), "failed": sum(1 for i in ids if final[i] == "failed"),
            "lost": sum(1 for i in ids if final.get(i) not in FINAL), "app_stayed_up": app.process.poll() is None,
            "restarts": {name: p["restarts"] for name, p in app.processes().items()}, **counts,
        }
    finally:
        app.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = run(args.documents)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
