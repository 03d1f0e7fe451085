"""Outgoing email through SMTP_URL (Mailpit in the compose stack).

SMTP_URL forms: `smtp://[user:pass@]host[:25]` (plain), `smtps://host[:465]` (TLS from the
start), `smtp+starttls://host[:587]` (STARTTLS). An optional `?from=portal@example.com` sets
the sender (default `portal@<smtp host>`). Sending never raises: a failure is logged (without
credentials) and returned as a sentence the lead is shown.
"""
from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from portal.observability import metrics

log = logging.getLogger(__name__)
DEFAULT_PORTS = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}
TIMEOUT = 10.0


@dataclass(frozen=True)
class SmtpTarget:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    sender: str


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:pass@host:25")
    sender = (parse_qs(parts.query).get("from") or [f"portal@{parts.hostname}"])[0]
    return SmtpTarget(parts.scheme, parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme],
                      unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None, sender)


def send(smtp_url: str | None, to: str, subject: str, body: str,
         timeout: float = TIMEOUT) -> str | None:
    """Send one plain-text email. None when sent, else why not (for the page, no secrets)."""
    if not smtp_url:
        # For the person inviting: no setting names (admins see SMTP_URL on the System page).
        return ("No email was sent: this portal does not send email. "
                "Let them know yourself; the invitation is saved.")
    try:
        target = parse_smtp_url(smtp_url)
    except ValueError as exc:
        log.warning("email to %s not sent: %s", to, exc)
        return "The invitation email could not be sent; the invitation itself is saved."
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = target.sender, to, subject
    msg["Message-ID"] = make_msgid(domain=target.sender.rpartition("@")[2] or "portal")
    msg.set_content(body)
    try:
        with metrics.timed_call("smtp", "send"):
            if target.scheme == "smtps":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout,
                                                      context=ssl.create_default_context())
            else:
                conn = smtplib.SMTP(target.host, target.port, timeout=timeout)
            with conn:
                if target.scheme == "smtp+starttls":
                    conn.starttls(context=ssl.create_default_context())
                if target.username:
                    conn.login(target.username, target.password or "")
                conn.send_message(msg)
    except (OSError, smtplib.SMTPException, socket.timeout) as exc:
        reason = _reason(exc)
        log.warning("email not sent via %s:%s: %s", target.host, target.port, reason)  # no address
        return f"The invitation email could not be sent ({reason}); the invitation itself is saved."
    log.info("email sent via %s:%s", target.host, target.port)
    return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "the mail server refused the portal's credentials"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the mail server refused the address"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "the mail server did not answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "the mail server refused the connection"
    if isinstance(exc, ssl.SSLError):
        return "TLS with the mail server failed"
    if isinstance(exc, smtplib.SMTPException):
        return "the mail server refused the message"
    return "the mail server could not be reached"
