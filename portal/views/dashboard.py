"""The dashboard: the person's groups and projects."""
from flask import Blueprint, render_template
from flask_login import current_user, login_required

from ..extensions import db
from ..models import Group, Membership

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index():
    memberships = db.session.scalars(
        db.select(Membership).join(Group).where(Membership.user_id == current_user.id)
        .order_by(Group.name)).all()
    return render_template("dashboard/index.html", memberships=memberships)
