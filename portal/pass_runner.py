"""Run Code tab passes beside the request, so a poll never waits on Coder or Gitea for long.

A poll with nothing due (a failure waiting for Retry, a stage seen moments ago) answers from
the stored state at once. Otherwise it hands the pass to this process's pass threads and waits
for it at most PORTAL_PASS_WAIT seconds: a pass that finishes in time is shown at once (the
usual case for one person); a longer one goes on, and the next poll shows what it saw. A
person's second poll during their pass joins it instead of starting another.

The threads are only a vehicle. What a pass saw and who may act on a row live in the database
(WorkspaceState and its lease, see provisioning); a pass lost with its process is run again by
the next poll once its lease has run out, by whichever worker serves it.
"""
from __future__ import annotations

import contextvars
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as PassStillRunning
from dataclasses import replace

from flask import Flask, current_app

from . import provisioning
from .extensions import db
from .models import Project, User
from .observability import metrics
from .permissions import acting_role
from .provisioning import Status
from .services import Services, services

log = logging.getLogger(__name__)


class PassRunner:
    """This process's pass threads: at most one queued or running pass per (person, project)."""

    def __init__(self, app: Flask, workers: int):
        self._app, self._workers = app, workers
        self._lock = threading.Lock()
        self._pid = -1
        self._executor: ThreadPoolExecutor | None = None
        self._running: dict[tuple[int, int], Future] = {}

    def submit(self, user_id: int, project_id: int) -> Future:
        key = (user_id, project_id)
        with self._lock:
            if self._pid != os.getpid():  # forked (gunicorn --preload): threads do not survive
                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="portal-pass")
                self._running, self._pid = {}, os.getpid()
            future = self._running.get(key)
            if future is not None:
                return future
            # In a copy of the request's context: the pass's calls carry its request id.
            future = self._executor.submit(contextvars.copy_context().run, self._run, user_id,
                                           project_id)
            self._running[key] = future
        # Outside the lock: a pass already finished runs the callback here and now.
        future.add_done_callback(lambda done: self._finished(key, done))
        return future

    def _finished(self, key: tuple[int, int], future: Future) -> None:
        with self._lock:
            if self._running.get(key) is future:
                del self._running[key]
        if not future.cancelled() and future.exception() is not None:
            log.error("Code tab pass for user %s, project %s failed", *key,
                      exc_info=future.exception())

    def _run(self, user_id: int, project_id: int) -> Status | None:
        with self._app.app_context():
            # This pass's own session: its commits need not reload every object it holds
            # (what others may change meanwhile, the lease and the tokens, is re-read
            # explicitly); half the statements of a first open.
            db.session().expire_on_commit = False
            user, project = db.session.get(User, user_id), db.session.get(Project, project_id)
            # The role when the pass starts, not when it was asked for (a queued pass may start
            # seconds later): a member removed meanwhile is not put back into a Gitea team.
            role = acting_role(user, project) if user and project else None
            if role is None:
                return None  # deleted or removed while queued: the next poll's view answers 404
            return metrics.timed_pass(provisioning.reconcile, services(), user, project, role)


def init_app(app: Flask) -> None:
    app.extensions["portal.passes"] = PassRunner(app, app.config["SETTINGS"].pass_workers)


def show(svc: Services, user: User, project: Project) -> Status:
    """What the Code tab shows for (person, project) now; runs a pass when one is due."""
    state = provisioning.workspace_state(user, project)
    settled = provisioning.settled(svc, state)
    if settled is not None:
        return settled
    runner: PassRunner = current_app.extensions["portal.passes"]
    future = runner.submit(user.id, project.id)
    try:
        status = future.result(timeout=svc.settings.pass_wait)
    except PassStillRunning:
        status = None
    if status is None:  # the row as this request read it: the pass has not finished yet
        return replace(provisioning.stored_status(state), pending=True)
    return status
