"""Headless Chromium for report tests: screenshots, PDFs and DOM measurements after layout.

Debian's ``chromium`` (installed by scripts/setup), run as root with a fresh profile per call
and everything that would talk to the network switched off. No Playwright: the DevTools
command-line modes are enough —

- ``screenshot(page, png)``: ``--screenshot`` at a window size;
- ``print_pdf(page, pdf)``: ``--print-to-pdf`` (the page's own ``@page`` size);
- ``measure(page, script)``: a *copy* of the page with a small script appended that writes
  JSON measurements into the DOM after layout, read back with ``--dump-dom`` (the reports
  themselves carry no script).

Pages are local files only; Chromium gets no network (``--disable-background-networking``,
no proxy resolution, component updates and sync off).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
         "--no-proxy-server", "--force-device-scale-factor=1"]
MARK = "simpul-measure"


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed (scripts/setup installs it)")
    profile = tempfile.mkdtemp(prefix="simpul-chromium-")
    try:
        env = {**os.environ, "HOME": profile}
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, check=False, env=env)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(page: Path, png: Path, width: int = 1400, height: int = 1800, fragment: str = "") -> Path:
    """``fragment`` (e.g. ``"#en"``) opens the page at that anchor (CSS ``:target`` switches)."""
    cp = _run([f"--window-size={width},{height}", f"--screenshot={png}", page.resolve().as_uri() + fragment])
    if not png.exists():
        raise RuntimeError(f"chromium made no screenshot of {page}: {cp.stderr[-800:]}")
    return png


def print_pdf(page: Path, pdf: Path) -> Path:
    cp = _run(["--no-pdf-header-footer", "--print-to-pdf-no-header", f"--print-to-pdf={pdf}",
               page.resolve().as_uri()])
    if not pdf.exists():
        raise RuntimeError(f"chromium made no PDF of {page}: {cp.stderr[-800:]}")
    return pdf


def measure(page: Path, script: str, width: int = 1400, height: int = 1800, fragment: str = "") -> Any:
    """Run ``script`` (a JS expression body returning a JSON-able value) in a copy of ``page``
    after layout; return its value."""
    text = page.read_text(encoding="utf-8")
    probe = (f'<pre id="{MARK}"></pre><script>window.addEventListener("load", () => {{'
             f"const f = () => {{ {script} }};"
             f'document.getElementById("{MARK}").textContent = JSON.stringify(f());}});</script>')
    copy = page.with_name(f".measure-{page.name}")
    copy.write_text(text.replace("</body>", probe + "</body>") if "</body>" in text else text + probe,
                    encoding="utf-8")
    try:
        cp = _run([f"--window-size={width},{height}", "--virtual-time-budget=5000", "--dump-dom",
                   copy.resolve().as_uri() + fragment])
    finally:
        copy.unlink(missing_ok=True)
    m = re.search(rf'<pre id="{MARK}">(.*?)</pre>', cp.stdout, re.S)
    if not m or not m.group(1).strip():
        raise RuntimeError(f"no measurement from {page}: {cp.stderr[-800:]}")
    return json.loads(html.unescape(m.group(1)))
