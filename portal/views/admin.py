"""Admin pages (/admin/): 403 for anyone not in OIDC_ADMIN_GROUP."""
from flask import Blueprint, render_template

from ..auth import admin_required
from ..extensions import db
from ..models import Group, Project, User

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@admin_required
def index():
    counts = {
        "users": db.session.scalar(db.select(db.func.count(User.id))),
        "groups": db.session.scalar(db.select(db.func.count(Group.id))),
        "projects": db.session.scalar(db.select(db.func.count(Project.id))),
    }
    return render_template("admin/index.html", counts=counts)
