"""The portal's own data: people, groups, projects, workspace intent, audit, secrets.

Everything else lives in Coder and Gitea; these rows record what the portal
wants and what it last saw, so any worker can serve any request.
"""
from __future__ import annotations

import datetime as dt
import enum

from flask_login import UserMixin
from sqlalchemy import (JSON, Boolean, DateTime, Enum, ForeignKey, Integer, String, Text,
                        UniqueConstraint, func)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.stages import DesiredState, Stage

# How long a workspace seen ready is shown as ready without a new look (the worker refreshes
# watched ones; an older sighting sends the Code tab through a quick check first).
READY_TRUST = dt.timedelta(seconds=20)
WORKSPACE_PREFIX = "proj-"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def workspace_name_of(project_id: int) -> str:
    """The name of a project's workspaces in Coder: `proj-<id>` (Project.workspace_name)."""
    return f"{WORKSPACE_PREFIX}{project_id}"


def _str_enum(kind: type[enum.Enum], length: int, name: str) -> Enum:
    """A column of a StrEnum's values: a VARCHAR with a CHECK (ck_<table>_<name>), on SQLite and
    PostgreSQL alike (migrations/versions/16_workspace_enums.py)."""
    return Enum(kind, native_enum=False, validate_strings=True, length=length,
                create_constraint=True, name=name,
                values_callable=lambda k: [m.value for m in k])


class Role(str, enum.Enum):
    lead = "lead"
    contributor = "contributor"
    reader = "reader"

    @property
    def can_write(self) -> bool:
        return self in (Role.lead, Role.contributor)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sub: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    username: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow, server_default=func.now())
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped by sign-out, "sign out everywhere" and offboarding: every session cookie signed
    # with an older value is refused at its next request (portal/web/sessions.py).
    session_generation: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                                    server_default="0")

    memberships: Mapped[list["Membership"]] = relationship(back_populates="user",
                                                           cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:  # flask-login: deactivated people cannot sign in
        return self.active

    @property
    def display_name(self) -> str:
        return self.name or self.username


class Group(db.Model):
    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow, server_default=func.now())

    memberships: Mapped[list["Membership"]] = relationship(back_populates="group",
                                                           cascade="all, delete-orphan")
    projects: Mapped[list["Project"]] = relationship(back_populates="group",
                                                     cascade="all, delete-orphan")


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "group_id", name="uq_membership_user_group"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), nullable=False,
                                          index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, name="role", native_enum=False, length=20),
                                       nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow, server_default=func.now())
    # Gitea team sync (portal/groups/membership.py): pending when the last change could not be applied.
    sync_pending: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                               server_default=sa_false())
    sync_error: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(back_populates="memberships")
    group: Mapped[Group] = relationship(back_populates="memberships")


class Project(db.Model):
    __tablename__ = "projects"
    # Never reuse an id on SQLite: workspaces are named proj-<id> in Coder, and a new project
    # must not inherit a deleted one's workspace.
    __table_args__ = (UniqueConstraint("group_id", "slug", name="uq_project_group_slug"),
                      {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), nullable=False)
    slug: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    clone_url: Mapped[str | None] = mapped_column(String(500))  # HTTPS, once Gitea has the repo
    # An existing HTTPS repository the Gitea repository is imported from (Gitea's migrate API).
    source_url: Mapped[str | None] = mapped_column(String(500))
    # The template repository of the Gitea organization `starters` the repository is generated
    # from (portal/groups/starters.py); None: an empty repository (or an import, see source_url).
    starter: Mapped[str | None] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow, server_default=func.now())
    # The WorkspaceSize.name a lead chose for the project's workspaces (None: the default size).
    default_size: Mapped[str | None] = mapped_column(String(40))

    group: Mapped[Group] = relationship(back_populates="projects")

    @property
    def workspace_name(self) -> str:
        return workspace_name_of(self.id)


class WorkspaceState(db.Model):
    """The person's intent for their workspace of a project, and what reconcile last saw."""

    __tablename__ = "workspace_states"
    __table_args__ = (UniqueConstraint("user_id", "project_id", name="uq_workspace_user_project"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    coder_workspace_id: Mapped[str | None] = mapped_column(String(64))
    coder_workspace_name: Mapped[str | None] = mapped_column(String(32))
    desired_state: Mapped[DesiredState] = mapped_column(
        _str_enum(DesiredState, 20, "desired_state"), nullable=False, default=DesiredState.running)
    stage: Mapped[Stage] = mapped_column(_str_enum(Stage, 40, "stage"), nullable=False,
                                         default=Stage.not_created)
    last_error: Mapped[str | None] = mapped_column(Text)
    build_id: Mapped[str | None] = mapped_column(String(64))
    # The Gitea side (user, org, teams, membership, repository) was complete at this time.
    repo_ready_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # A short lease so that one worker at a time reconciles this row (others read it).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # When a pass (or the dashboard's batch read) last saw the workspace in Coder, and the
    # plain app URL once ready (no key in it): a re-open within seconds needs only the hand-off.
    observed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    app_url: Mapped[str | None] = mapped_column(String(500))
    # What that pass showed (message, build-log tail, warnings), so that a poll moments later
    # shows it again without asking Coder (provisioning.reconcile's cheap path). None: nothing
    # to show again (the stage changed since, or the pass ended in transient trouble).
    status_message: Mapped[str | None] = mapped_column(Text)
    log_tail: Mapped[list | None] = mapped_column(JSON)
    status_warnings: Mapped[list | None] = mapped_column(JSON)
    stage_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The reconciler tier (portal/workspaces): when the periodic sweep next enqueues a pass
    # for this row (None: settled, nothing to do until someone asks); when its Code tab was
    # last polled (the build-log tail is read only for watched rows); a pre-warmed workspace
    # (built, then stopped, never left running) until its person first opens it.
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    watched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    prepared: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                           server_default=sa_false())
    # The size the person picked (None: the project's default) and the disk (GB) the workspace
    # was created with: disk_size is immutable in the template, so a change means a new one.
    size_name: Mapped[str | None] = mapped_column(String(40))
    disk_size: Mapped[int | None] = mapped_column(Integer)
    # The person confirmed a size with another disk: the worker deletes the workspace and
    # creates it anew (portal/workspaces/provisioning.py, _replace); cleared once the old one is gone.
    recreate_requested_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow, onupdate=utcnow,
                                                    server_default=func.now())

    user: Mapped[User] = relationship()
    project: Mapped[Project] = relationship()

    def set_stage(self, stage: Stage, error: str | None = None) -> None:
        """Move to `stage`: on a change the stage clock restarts (the time spent in the old one
        goes to the metrics) and what was seen of the old one is dropped; the error is kept."""
        if self.stage != stage:
            from portal.observability import metrics  # the metrics hook; no import cycle at load
            metrics.stage_left(self.stage, self.stage_started_at)
            self.stage = stage
            self.stage_started_at = utcnow()
            self.status_message = None
        self.last_error = error

    @property
    def wants_running(self) -> bool:
        return self.desired_state == DesiredState.running

    def leased_elsewhere(self, now: dt.datetime | None = None) -> bool:
        """A pass holds this row's lease (in some worker) until a time still to come."""
        until = aware(self.lease_until)
        return self.lease_owner is not None and until is not None and until > (now or utcnow())

    def ready_is_fresh(self, now: dt.datetime | None = None) -> bool:
        """Seen ready, with its app URL, within READY_TRUST: shown as ready without a new look."""
        observed = aware(self.observed_at)
        return (self.stage == Stage.ready and bool(self.app_url) and observed is not None
                and (now or utcnow()) - observed <= READY_TRUST)

    def stage_older_than(self, seconds: float, now: dt.datetime | None = None) -> bool:
        """In the current stage for longer than `seconds` (a build past PORTAL_BUILD_TIMEOUT)."""
        started = aware(self.stage_started_at)
        return started is not None and ((now or utcnow()) - started).total_seconds() > seconds


class WorkerBeat(db.Model):
    """The reconciler tier's shared clock (portal/workspaces/beats.py): one row per duty
    ("tick", "sweep", "housekeeping"), its last run, and for "tick" the chain that holds it."""

    __tablename__ = "worker_beats"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(64))
    until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    beat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    info: Mapped[dict | None] = mapped_column(JSON)


class CachedRead(db.Model):
    """A reply of an outside system kept for a few minutes, shared by every web worker
    (portal/groups/starters.py: the starters offered, a repository's files)."""

    __tablename__ = "cached_reads"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[list | dict] = mapped_column(JSON, nullable=False)
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow)


class Invitation(db.Model):
    """A pending invitation of someone who has not signed in yet (portal/groups/invitations.py)."""

    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), nullable=False,
                                          index=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False, index=True)  # lower-cased
    role: Mapped[Role] = mapped_column(Enum(Role, name="role", native_enum=False, length=20),
                                       nullable=False)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow, server_default=func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    group: Mapped[Group] = relationship()
    invited_by: Mapped[User | None] = relationship()


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_label: Mapped[str] = mapped_column(String(320), nullable=False, default="system")
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    target: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow, server_default=func.now(),
                                                    index=True)


class UserSecret(db.Model):
    """A credential held for a person (Coder token, Gitea token, GitHub PAT, LiteLLM key).

    `value` is Fernet ciphertext (PORTAL_ENCRYPTION_KEY); `key_id` is the
    service's id of the credential, used to revoke it; never the secret.
    """

    __tablename__ = "user_secrets"
    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_secret_user_kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    key_id: Mapped[str | None] = mapped_column(String(128))
    hint: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow, server_default=func.now())


class Offboarding(db.Model):
    """An admin's offboarding of a person (portal/people/offboarding.py): progress kept for a retry.

    `steps` maps each step name to {"status": pending|ok|skipped|failed, "detail", "at"};
    `groups` holds the slugs whose Gitea teams still have to lose the person.
    """

    __tablename__ = "offboardings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                                         unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    workspace_action: Mapped[str] = mapped_column(String(10), nullable=False, default="stop")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="running")
    steps: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    groups: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow, server_default=func.now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class IdeWait(db.Model):
    """A person waiting for their IDE (portal/observability/ide_waits.py): since when, and the
    worst thing the passes had to do meanwhile (first_build, start or nothing: running)."""

    __tablename__ = "ide_waits"
    __table_args__ = (UniqueConstraint("user_id", "project_id", name="uq_ide_wait_user_project"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    intent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="running")


class WorkspaceSize(db.Model):
    """A named workspace size (portal/workspaces/sizes.py), seeded from PORTAL_WORKSPACE_SIZES.

    `groups` lists the group slugs whose members may use it; empty: everyone.
    """

    __tablename__ = "workspace_sizes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    cpu_cores: Mapped[int] = mapped_column(Integer, nullable=False)
    memory_gb: Mapped[int] = mapped_column(Integer, nullable=False)
    disk_size: Mapped[int] = mapped_column(Integer, nullable=False)
    groups: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                             server_default=sa_false())

    @property
    def summary(self) -> str:
        return f"{self.cpu_cores} CPU / {self.memory_gb} GB RAM / {self.disk_size} GB disk"


class AdmissionEntry(db.Model):
    """A place in the line for a free workspace slot (portal/workspaces/admission.py).

    FIFO by id (never reused: sqlite_autoincrement); one place per person and project.
    `admitted_at`: a place was given; `started_at`: its pass sent the start (the workspace's
    id kept), and the place stays held until Coder's live list shows that workspace.
    """

    __tablename__ = "admission_entries"
    __table_args__ = (UniqueConstraint("user_id", "project_id", name="uq_admission_user_project"),
                      {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            nullable=False)
    size_name: Mapped[str | None] = mapped_column(String(40))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                      default=utcnow)
    admitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    coder_workspace_id: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()
    project: Mapped[Project] = relationship()


class CapacityLimits(db.Model):
    """The running-workspace limits an admin set (one row; none: the settings' values)."""

    __tablename__ = "capacity_limits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    max_running: Mapped[int | None] = mapped_column(Integer)  # None: no global limit
    max_per_person: Mapped[int | None] = mapped_column(Integer)  # None: no personal limit
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    default=utcnow, onupdate=utcnow)
