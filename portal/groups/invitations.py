"""Inviting people to a group: by username or email; pending invitations for newcomers.

Someone who has signed in before is added at once (portal/groups/membership.py). Anyone else
gets a pending invitation, stored with a lower-cased email, and an email whose link is
simply the group's page (no token: the invitation is matched at sign-in). It is applied
at their first sign-in when the identity provider vouches for that address.

Email verification: an invitation is applied when the `email` claim matches
(case-insensitively) and `email_verified` is not explicitly false. A provider that sends
`email_verified: false` (Authentik ≥ 2025.10 by default, unless its mapping says true)
gets no invitations applied, so nobody can claim an invitation by typing someone else's
address into an unverified account; a provider that omits the claim is trusted, as the
portal trusts its email for everything else. The dev sign-in counts as verified.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from portal import audit, mail
from portal.extensions import db
from portal.web.forms import EMAIL_RE
from portal.groups.membership import MembershipError, Outcome, add
from portal.models import AuditEvent, Group, Invitation, Membership, Role, User, utcnow
from portal.services import Services
from portal.people.tokens import aware

log = logging.getLogger(__name__)
USERNAME_RE = re.compile(r"^[\w.-]{1,40}$")
PORTAL_NAME = "the developer portal"
# The subjects are fixed: nothing a person typed (a group name) ever goes into a header.
SUBJECT_INVITED = f"You were invited to a group on {PORTAL_NAME}"
SUBJECT_ADDED = f"You were added to a group on {PORTAL_NAME}"
# Emails the portal sends on someone's behalf, counted from the audit log (shared by every
# process): per person and per group, over the last hour.
PER_HOUR = 20
MAIL_ACTIONS = ("invitation.create", "invitation.renew", "invitation.notify")


@dataclass
class InviteResult:
    kind: str                      # "added" (existing person) or "invited" (pending)
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    invitation: Invitation | None = None


def normalise_email(value: str) -> str:
    email = (value or "").strip().lower()
    if len(email) > 254 or not re.match(EMAIL_RE, email):
        raise MembershipError("That is not a valid email address.")
    return email


def find_person(who: str) -> User | None:
    """A signed-in person by email (case-insensitive) or username."""
    if "@" in who:
        return db.session.scalar(db.select(User).where(db.func.lower(User.email) == who.lower()))
    return db.session.scalar(db.select(User).where(db.func.lower(User.username) == who.lower()))


def pending(group: Group) -> list[Invitation]:
    """Open invitations: not accepted, not revoked, not expired."""
    now = utcnow()
    rows = db.session.scalars(db.select(Invitation).where(
        Invitation.group_id == group.id, Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None)).order_by(Invitation.created_at)).all()
    return [inv for inv in rows if aware(inv.expires_at) > now]


def invite(services: Services, actor: User, group: Group, who: str, role: Role,
           group_url: str) -> InviteResult:
    """Add a known person, or create (or renew) a pending invitation and email it."""
    who = (who or "").strip()
    if not who:
        raise MembershipError("Enter an email address or the username of someone who has signed in.")
    if "@" in who:
        who = normalise_email(who)
    elif not USERNAME_RE.match(who):
        raise MembershipError("That is neither an email address nor a valid username.")
    person = find_person(who)
    if person is not None:
        if not person.active:
            raise MembershipError(f"{person.display_name}'s account is deactivated.", 409)
        if services.settings.smtp_url:
            check_rate(actor, group)
        out: Outcome = add(services, actor, group, person, role, via="invite")
        result = InviteResult("added", out.messages, out.warnings)
        if services.settings.smtp_url:
            audit.record(actor, "invitation.notify", f"{group.slug}/{person.username}")
            db.session.commit()
            problem = mail.send(services.settings.smtp_url, person.email, SUBJECT_ADDED,
                                _body(actor, group, role, group_url))
            if problem:
                result.warnings.append(problem)
        return result
    if "@" not in who:
        raise MembershipError(f"No one with the username “{who}” has signed in to the portal yet. "
                              "Invite them by email address instead.")
    check_rate(actor, group)
    return _invite_email(services, actor, group, who, role, group_url)


def _invite_email(services: Services, actor: User, group: Group, email: str, role: Role,
                  group_url: str) -> InviteResult:
    days = services.settings.invitation_days
    now = utcnow()
    inv = next((i for i in pending(group) if i.email == email), None)
    renewed = inv is not None
    if inv is None:
        inv = Invitation(group=group, email=email, role=role, invited_by_id=actor.id)
        db.session.add(inv)
    inv.role, inv.created_at, inv.expires_at = role, now, now + dt.timedelta(days=days)
    inv.invited_by_id = actor.id
    db.session.flush()
    audit.record(actor, "invitation.renew" if renewed else "invitation.create",
                 f"{group.slug}/{email}", role=role.value, expires_days=days)
    db.session.commit()
    result = InviteResult("invited", [f"{email} is invited as {role.value}; the invitation is "
                                      f"applied when they first sign in (valid {days} days)."],
                          invitation=inv)
    problem = mail.send(services.settings.smtp_url, email, SUBJECT_INVITED,
                        _body(actor, group, role, group_url, expires=inv.expires_at))
    if problem:
        result.warnings.append(problem)
        audit.record(actor, "invitation.mail_failed", f"{group.slug}/{email}", reason=problem[:200])
    else:
        result.messages.append(f"An email with a link to the group was sent to {email}.")
        audit.record(actor, "invitation.mail", f"{group.slug}/{email}")
    db.session.commit()
    return result


def check_rate(actor: User, group: Group) -> None:
    """Refuse (429) a 21st invitation email within an hour from one person or for one group."""
    since = utcnow() - dt.timedelta(hours=1)
    recent = db.select(db.func.count(AuditEvent.id)).where(
        AuditEvent.action.in_(MAIL_ACTIONS), AuditEvent.created_at >= since)
    if db.session.scalar(recent.where(AuditEvent.actor_id == actor.id)) >= PER_HOUR:
        raise MembershipError(f"You have sent {PER_HOUR} invitations in the last hour; "
                              "please wait before inviting more people.", 429)
    prefix = group.slug.replace("_", "\\_").replace("%", "\\%") + "/%"
    if db.session.scalar(recent.where(AuditEvent.target.like(prefix, escape="\\"))) >= PER_HOUR:
        raise MembershipError(f"“{group.name}” has had {PER_HOUR} invitations in the last hour; "
                              "please wait before inviting more people.", 429)


def _body(actor: User, group: Group, role: Role, url: str, expires: dt.datetime | None = None) -> str:
    rights = {Role.lead: "manage its members and projects, and push code",
              Role.contributor: "create projects and push code",
              Role.reader: "read its projects' code (read-only)"}[role]
    lines = ["Hello,", "",
             f"{actor.display_name} ({actor.email}) invited you to the group “{group.name}” "
             f"on the developer portal as a {role.value}: you can {rights}.", "",
             f"Open the group: {url}", "",
             "Sign in with your company account that uses this email address."]
    if expires is not None:
        lines.append(f"The invitation is valid until {aware(expires):%Y-%m-%d %H:%M} UTC.")
    return "\n".join(lines) + "\n"


def revoke(actor: User, group: Group, invitation_id: int) -> Invitation:
    inv = db.session.get(Invitation, invitation_id)
    if inv is None or inv.group_id != group.id:
        raise MembershipError("There is no such invitation.", 404)
    if inv.accepted_at is not None:
        raise MembershipError(f"{inv.email} already accepted; remove them from the members instead.", 409)
    if inv.revoked_at is None:
        inv.revoked_at = utcnow()
        audit.record(actor, "invitation.revoke", f"{group.slug}/{inv.email}")
        db.session.commit()
    return inv


def email_verified(claims: dict) -> bool:
    """Only an explicit false (boolean or the string "false") means unverified (module doc)."""
    value = claims.get("email_verified", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no")
    return value is not False


def apply_at_sign_in(services: Services, user: User, claims: dict) -> list[Group]:
    """Turn the open invitations for this person's verified email into memberships."""
    now = utcnow()
    invitations = db.session.scalars(db.select(Invitation).where(
        Invitation.email == user.email.lower(), Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None))).all()
    invitations = [i for i in invitations if aware(i.expires_at) > now]
    if not invitations:
        return []
    if not email_verified(claims):
        log.info("not applying %d invitation(s) of %s: email not verified", len(invitations), user.sub)
        return []
    joined = []
    for inv in invitations:
        inv.accepted_at = now
        audit.record(user, "invitation.accept", f"{inv.group.slug}/{inv.email}", role=inv.role.value)
        db.session.commit()
        existing = db.session.scalar(db.select(Membership).where(
            Membership.group_id == inv.group_id, Membership.user_id == user.id))
        if existing is None:
            try:
                add(services, inv.invited_by, inv.group, user, inv.role, via="invitation")
            except MembershipError:
                db.session.rollback()
                continue
        joined.append(inv.group)
    return joined
