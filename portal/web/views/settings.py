"""Personal settings: the optional GitHub token, the AI assistant's key, "sign out everywhere".

The token is never shown again after it is saved: the page says only "set on
<date>, ends in …abcd". Every change takes effect at the person's next
workspace start (the portal passes the current values when it starts one).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField

from portal.people import ai_keys, github_tokens
from portal import audit
from portal.web import sessions
from portal.extensions import db
from portal.services import current_services

bp = Blueprint("settings", __name__, url_prefix="/settings")


class GitHubTokenForm(FlaskForm):
    # PasswordField never renders the submitted value back into the page.
    token = PasswordField("GitHub personal access token")


class DeleteForm(FlaskForm):
    """CSRF only."""


def _page(form: GitHubTokenForm, status: int = 200):
    svc = current_services()
    return render_template("settings/index.html", form=form, delete_form=DeleteForm(),
                           github=github_tokens.info(current_user),
                           ai_enabled=ai_keys.enabled(svc),
                           ai_has_key=ai_keys.has_key(current_user)), status


@bp.get("")
@login_required
def index():
    return _page(GitHubTokenForm())


@bp.post("/github-token")
@login_required
def save_github_token():
    form = GitHubTokenForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        info = github_tokens.store(current_services(), current_user, form.token.data)
    except github_tokens.InvalidToken as exc:
        form.token.errors = [str(exc)]
        return _page(form, 400)
    flash(f"GitHub token saved ({info.summary}). It reaches your workspaces the next time "
          "they start.", "success")
    return redirect(url_for("settings.index"), 303)


@bp.post("/github-token/delete")
@login_required
def delete_github_token():
    form = DeleteForm()
    if not form.validate_on_submit():
        return _page(GitHubTokenForm(), 400)
    if github_tokens.delete(current_user):
        flash("GitHub token deleted. Your workspaces lose it the next time they start.", "success")
    else:
        flash("No GitHub token was stored.", "info")
    return redirect(url_for("settings.index"), 303)


@bp.post("/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    """End every session of this person, on every device (the session generation moves on)."""
    form = DeleteForm()
    if not form.validate_on_submit():
        return _page(GitHubTokenForm(), 400)
    sessions.end_everywhere(current_user)
    audit.record(current_user, "user.sign_out_everywhere", current_user.email)
    db.session.commit()
    logout_user()
    session.clear()
    flash("Every session of your account was ended. Sign in again to continue.", "info")
    return redirect(url_for("auth.login"), 303)
