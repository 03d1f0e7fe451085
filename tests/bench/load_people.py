"""Simulated people for the load bench: one thread per person, several processes.

Each person has a keep-alive `http.client` connection and their own signed-in session cookie
(made by the bench: the sign-in is rate limited per address, and every simulated person comes
from 127.0.0.1). They wait for the start signal, then behave like a browser on the
portal: load the dashboard, open the Code tab (POST open) and poll the status partial after the
delay it asks for (1 s while building) until the IDE appears; then, to keep one request a
second per person, alternately reload the dashboard and re-open the Code tab.
Every request is recorded as (kind, start offset, seconds, HTTP status or 0 for no answer).
"""
from __future__ import annotations

import http.client
import random
import re
import threading
import time

DELAY_RE = re.compile(r"load delay:(\d+)ms")
COOKIE = "portal_session"


class Browser:
    def __init__(self, port: int, samples: list, t0: list):
        self.port, self.samples, self.t0 = port, samples, t0
        self.conn: http.client.HTTPConnection | None = None
        self.cookie = ""
        self.csrf = ""

    def request(self, method: str, path: str, kind: str | None = None, body: str | None = None,
                headers: dict | None = None) -> tuple[int, str, dict]:
        send = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        if self.cookie:
            send["Cookie"] = f"{COOKIE}={self.cookie}"
        started = time.monotonic()
        try:
            resp = self._send(method, path, body, send)
            text = resp.read().decode("utf-8", "replace")
            status, got = resp.status, resp.headers
            if resp.will_close:
                self.conn.close()
                self.conn = None
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            status, text, got = 0, "", {}
        elapsed = time.monotonic() - started
        if kind is not None and self.t0:
            self.samples.append((kind, started - self.t0[0], elapsed, status))
        for value in (got.get_all("Set-Cookie") or []) if got else []:
            if value.startswith(COOKIE + "="):
                self.cookie = value.split(";", 1)[0].split("=", 1)[1]
        return status, text, got

    def _send(self, method: str, path: str, body: str | None, headers: dict):
        """As a browser: a request on a kept-alive connection the server has closed meanwhile
        is sent again once on a new connection."""
        reused = self.conn is not None
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            return self.conn.getresponse()
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
            if not reused:
                raise
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=body, headers=headers)
            return self.conn.getresponse()

    def htmx(self, path: str, kind: str) -> tuple[int, str]:
        status, text, _ = self.request("POST", path, kind, body="", headers={
            "HX-Request": "true", "X-CSRFToken": self.csrf, "Content-Length": "0"})
        return status, text

    def poll(self, path: str, kind: str, last: tuple[str, str]) -> tuple[tuple[str, str], str]:
        """GET the status partial as a browser does with its ETag: a 304 keeps the old body."""
        etag, body = last
        headers = {"HX-Request": "true", **({"If-None-Match": etag} if etag else {})}
        status, text, got = self.request("GET", path, kind, headers=headers)
        if status == 304:
            return last, body
        return ((got.get("ETag", "") if got else ""), text), text


def person(port: int, cookie: str, csrf: str, project_id: int, go: threading.Event, t0: list,
           duration: float, samples: list) -> None:
    browser = Browser(port, samples, t0)
    browser.cookie, browser.csrf = cookie, csrf
    if not go.wait(600):
        return
    end = t0[0] + duration
    time.sleep(random.uniform(0, 1.0))  # people do not arrive in lockstep
    browser.request("GET", "/", "dashboard")
    _, body = browser.htmx(f"/projects/{project_id}/code/open", "open")
    flip, last, ready_seen = False, ("", body), False
    while time.monotonic() < end:
        if "<iframe" in body:  # ready: keep one request a second, as a person browsing
            if not ready_seen:  # when this person's IDE appeared (not a request)
                ready_seen = True
                samples.append(("ready", time.monotonic() - t0[0], 0.0, 200))
            time.sleep(1.0)
            if flip:
                _, body = browser.htmx(f"/projects/{project_id}/code/open", "reopen")
            else:
                browser.request("GET", "/", "dashboard")
            flip = not flip
            continue
        delay = DELAY_RE.search(body)
        time.sleep(int(delay.group(1)) / 1000 if delay else 1.0)
        if time.monotonic() >= end:
            break
        last, body = browser.poll(f"/projects/{project_id}/code/status", "poll", last)
    if browser.conn is not None:
        browser.conn.close()


def run_process(port: int, people: list[tuple[str, str, int]], duration: float, go_event,
                ready_queue, result_queue) -> None:
    """One load process: a thread per person (cookie, CSRF token, project id); then samples."""
    samples: list = []
    go = threading.Event()
    t0: list = []
    threads = [threading.Thread(target=person, args=(port, cookie, csrf, pid, go, t0, duration,
                                                     samples), daemon=True)
               for cookie, csrf, pid in people]
    for thread in threads:
        thread.start()
    ready_queue.put(len(threads))
    if go_event.wait(600):
        t0.append(time.monotonic())
        go.set()
    for thread in threads:
        thread.join(duration + 60)
    result_queue.put(samples)
