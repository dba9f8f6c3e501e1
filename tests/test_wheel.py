"""A built wheel works on its own: assets, migrations and catalogues travel inside it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import free_port, wait_for_http

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_serves_widget_console_and_demo(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
         "-w", str(wheels), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = wheels.glob("frontdesk-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--disable-pip-version-check",
         "--target", str(target), str(wheel)],
        check=True, capture_output=True,
    )
    # Run from elsewhere with only the installed copy (plus this venv's dependencies) importable.
    env = {**os.environ, "PYTHONPATH": str(target), "FRONTDESK_DATA_DIR": str(tmp_path / "data"),
           "FRONTDESK_LOG_LEVEL": "warning"}
    port = free_port()
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from server.cli import main; sys.exit(main())", "serve",
             "--port", str(port)],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=proc)
        check = subprocess.run(
            [sys.executable, "-c", "import server, sys; print(server.__file__)"],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
        )
        assert check.stdout.startswith(str(target)), check.stdout
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for path, needle in [
                ("/embed.js", "Frontdesk"),
                ("/widget/panel.html?site=x", "panel"),
                ("/widget/i18n/ru.json", "{"),
                ("/static/console/console.js", "import"),
                ("/static/console/socket.js", "ws/console"),
                ("/console/login", "csrf_token"),
            ]:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                assert needle in response.text, path
            # Pre-compressed and content-hashed from the installed copy too.
            page = client.get("/widget/panel.html?site=x").text
            (script,) = re.findall(r'src="(/widget/panel\.[0-9a-f]{10}\.js)"', page)
            response = client.get(script, headers={"Accept-Encoding": "br, gzip"})
            assert response.headers["content-encoding"] == "br" and "Frontdesk" in response.text
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    finally:
        proc.terminate()
        proc.wait(10)
