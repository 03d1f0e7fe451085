"""Least privilege for git in workspaces: a reader's workspace gets a read:repository Gitea
token, a contributor's a write:repository one; both are revoked with the person."""
from __future__ import annotations

from portal.people import tokens
from portal.extensions import db
from portal.models import AuditEvent, Project, User
from portal.services import current_services
from tests.collab_helpers import make_group, person, post
from tests.test_code_tab import open_code


def minted(stack, login: str) -> list[tuple[str, ...]]:
    return [tuple(t["scopes"]) for t in stack.gitea.sim.snapshot()["tokens"] if t["owner"] == login]


def test_reader_workspace_token_reads_only_and_a_writer_gets_write(stack, worker):
    lead = person(stack.app, "lena@example.com")
    make_group(lead)
    assert post(lead, "/groups/ml-team/projects/new", name="Model").status_code == 303
    rita = person(stack.app, "rita@example.com")
    assert post(lead, "/groups/ml-team/members", htmx=True, who="rita", role="reader").status_code == 200
    with stack.app.app_context():
        pid = db.session.scalar(db.select(Project.id))
    assert open_code(rita, pid)[1][-1] == "ready"
    assert open_code(lead, pid)[1][-1] == "ready"
    assert minted(stack, "rita") == [("read:repository",)]
    assert minted(stack, "lena") == [("write:repository",)]
    with stack.app.app_context():
        scopes = {e.target: e.details["scope"] for e in db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.action == "token.mint",
                                        AuditEvent.target.like("gitea:%")))}
        assert scopes == {"gitea:rita": "read:repository", "gitea:lena": "write:repository"}
        user = db.session.scalar(db.select(User).where(User.username == "rita"))
        assert tokens.stored(current_services(), user, tokens.GITEA_READ_TOKEN)
        assert tokens.stored(current_services(), user, tokens.GITEA_TOKEN) is None
        assert tokens.revoke_gitea_token(current_services(), user)
        assert tokens.stored(current_services(), user, tokens.GITEA_READ_TOKEN) is None
    assert minted(stack, "rita") == []
