"""WTForms forms (flask-wtf): CSRF-protected, validated server-side with clear messages."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from portal.groups.source_urls import check_source_url

EMAIL_RE = r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"


class DevSignInForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired("Enter an email address."),
                                             Length(max=254, message="At most 254 characters."),
                                             Regexp(EMAIL_RE, message="Enter a valid email address.")])
    name = StringField("Name", validators=[Length(max=100, message="At most 100 characters.")])
    admin = BooleanField("Administrator")


class GroupForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the group a name."),
                                           Length(max=100, message="At most 100 characters.")])
    slug = StringField("Short name (used for the Git organisation)",
                       validators=[Length(max=40, message="At most 40 characters.")])
    description = StringField("Description", validators=[Length(max=2000, message="At most 2000 characters.")])


class ProjectForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the project a name."),
                                           Length(max=100, message="At most 100 characters.")])
    slug = StringField("Short name (used for the repository)",
                       validators=[Length(max=60, message="At most 60 characters.")])
    description = StringField("Description", validators=[Length(max=2000, message="At most 2000 characters.")])
    # The choices (portal/groups/starters.py: the starters Gitea offers, empty, import) are set by the
    # view; an unknown one gets the view's message, not WTForms' "Not a valid choice".
    starter = RadioField("Start from", default=None, validate_choice=False,
                         validators=[Length(max=100, message="At most 100 characters.")])
    source_url = StringField("Import an existing repository (optional)",
                             validators=[Length(max=500, message="At most 500 characters.")])

    def validate_source_url(self, field):
        from flask import current_app
        reason = check_source_url(field.data,
                                  allow_private=current_app.config["SETTINGS"].import_allow_private)
        if reason:
            raise ValidationError(reason)
