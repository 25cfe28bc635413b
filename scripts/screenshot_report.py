#!/usr/bin/env python
"""Render a report.html in headless Chromium and save a PNG screenshot.

Usage: python scripts/screenshot_report.py REPORT_HTML [--output PNG] [--width 1280] [--height 4000]

Needs a Chromium binary (Debian: ``apt-get install -y chromium``); exits with status 2 and a
clear message when none is found. Network features are switched off and a fresh temporary
profile is used, so the page renders exactly from the (self-contained) file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium(explicit: str | None = None) -> str | None:
    """Path of a Chromium binary: ``explicit``, ``$CHROMIUM``, or the first on PATH."""
    for name in (explicit, os.environ.get("CHROMIUM"), *CANDIDATES):
        if name:
            found = shutil.which(name)
            if found:
                return found
    return None


def screenshot(
    html_file: Path, png: Path, chromium: str, width: int = 1280, height: int = 4000,
    timeout: float = 120.0,
) -> Path:
    """Run headless Chromium on ``html_file``; return ``png`` (raises RuntimeError on failure)."""
    png = png.resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    if png.exists():
        png.unlink()
    with tempfile.TemporaryDirectory(prefix="stance-chromium-") as profile:
        cmd = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
            f"--window-size={width},{height}", f"--screenshot={png}",
            html_file.resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"chromium did not finish within {timeout:.0f} s") from e
    if proc.returncode != 0 or not png.is_file():
        tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-15:])
        raise RuntimeError(f"chromium failed (exit {proc.returncode}) and wrote no screenshot:\n{tail}")
    return png


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("html", type=Path, help="report.html to render")
    p.add_argument("--output", "-o", type=Path, default=None,
                   help="PNG to write (default: report_screenshot.png beside the HTML file)")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=4000)
    p.add_argument("--chromium", default=None, help="Chromium binary (default: search PATH)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before giving up")
    args = p.parse_args(argv)
    if not args.html.is_file():
        print(f"error: {args.html}: no such file", file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print(
            "error: Chromium not found (looked for "
            + ", ".join(CANDIDATES)
            + "); install it with `apt-get install -y chromium` or pass --chromium PATH",
            file=sys.stderr,
        )
        return 2
    out = args.output or args.html.with_name("report_screenshot.png")
    try:
        png = screenshot(args.html, out, chromium, args.width, args.height, args.timeout)
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
