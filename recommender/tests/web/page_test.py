#!/usr/bin/env python3
"""Browser test of the live home page, in headless Chromium driven over WebDriver.

    page_test.py <recommender binary> [screenshot.png]

Starts `recommender up` (our broker embedded, free ports, a temporary data directory), opens
the page as a new user, checks the rows render, clicks "Watch" on a title, checks that the page
updates live (server-sent events) with a "Continue Watching" or "Top Picks for You" row and the
user's features, then takes a screenshot and checks it is a real, non-blank PNG. Needs the
Debian packages `chromium` and `chromium-driver`; uses only the Python standard library.
"""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def wait(what, deadline_s, check):
    end = time.monotonic() + deadline_s
    while True:
        try:
            v = check()
            if v:
                return v
        except Exception:  # noqa: BLE001 - not ready yet; the deadline reports it
            pass
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Driver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": shutil.which("chromium"),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--window-size=1280,1000"]}}}}
        self.session = http("POST", f"{self.base}/session", caps)["value"]["sessionId"]
        self.s = f"{self.base}/session/{self.session}"

    def go(self, url):
        http("POST", f"{self.s}/url", {"url": url})

    def js(self, script):
        return http("POST", f"{self.s}/execute/sync", {"script": script, "args": []})["value"]

    def screenshot(self):
        import base64
        return base64.b64decode(http("GET", f"{self.s}/screenshot")["value"])

    def quit(self):
        http("DELETE", self.s)


def check_png(png):
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 1000 and height >= 700, (width, height)
    # Decompress the image data: a blank page compresses to almost nothing.
    pos, idat = 8, b""
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos:pos + 4])
        kind = png[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += png[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    distinct = len(set(raw[i:i + 3] for i in range(0, min(len(raw), 2_000_000), 997)))
    assert len(png) > 30_000 and distinct > 50, (len(png), distinct)
    return width, height, distinct


def main():
    binary = sys.argv[1]
    shot = sys.argv[2] if len(sys.argv) > 2 else os.path.join(tempfile.gettempdir(), "home.png")
    work = tempfile.mkdtemp(prefix="recommender-web-")
    bport, hport, dport = free_port(), free_port(), free_port()
    up = subprocess.Popen([binary, "up", "--broker-listen", f"127.0.0.1:{bport}",
                           "--http", f"127.0.0.1:{hport}", "--users", "200", "--rate", "200",
                           "--data-dir", os.path.join(work, "data")],
                          cwd=work, stdout=subprocess.DEVNULL,
                          stderr=open(os.path.join(work, "up.log"), "w"))
    driver_proc = subprocess.Popen(["chromedriver", f"--port={dport}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = None
    try:
        base = f"http://127.0.0.1:{hport}"
        wait("the pipeline to serve events", 60, lambda: http("GET", f"{base}/status")["events"] > 200)
        driver = wait("chromedriver", 20, lambda: Driver(dport))
        user = 777777
        driver.go(f"{base}/#{user}")
        wait("the first rows", 20, lambda: int(driver.js("return document.body.dataset.rows || 0")) > 0)
        headings = driver.js("return [...document.querySelectorAll('.row h2')].map(h => h.textContent)")
        print("new user's rows:", headings)
        assert "Trending Now" in headings, headings
        t0 = time.monotonic()
        driver.js("document.querySelector('.watch').click()")
        after = wait("the rows to change live", 20, lambda: (
            lambda h: h if ("Top Picks for You" in h or "Continue Watching" in h) else None)(
            driver.js("return [...document.querySelectorAll('.row h2')].map(h => h.textContent)")))
        print(f"rows after one watch ({time.monotonic() - t0:.2f}s):", after)
        wait("the user's features", 30, lambda: "top_genres" in driver.js(
            "return document.getElementById('features').textContent"))
        png = driver.screenshot()
        with open(shot, "wb") as f:
            f.write(png)
        print("screenshot", shot, check_png(png))
        print("PASS")
    finally:
        if driver:
            driver.quit()
        driver_proc.terminate()
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            up.kill()
        driver_proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
