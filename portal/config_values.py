"""What a setting's declaration is made of (portal/config.py declares them all).

`Setting` records one environment variable: its parser, default, dev default, whether it
is secret (and how it is masked), the error when a required one is missing, and one line
saying what it is. A parser takes the variable's stripped, non-empty text and its name,
and returns the value or raises `ConfigError` with one line naming the variable.
"""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.fernet import Fernet

from portal.workspaces.workspace_params import PROJECT_FOLDER
from portal.workspaces.size_spec import SizeError
from portal.workspaces.size_spec import parse as parse_sizes

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
HIDDEN = "••••••"
NO_DEV = object()  # a setting without a dev default: unset in dev mode means its default
Parser = Callable[[str, str], Any]


class ConfigError(Exception):
    """A setting is missing or malformed. str() is one line naming the variable."""


def hide(_value: str) -> str:
    return HIDDEN


@dataclass(frozen=True)
class Setting:
    """One environment variable, declared once."""
    env: str
    parse: Parser
    default: Any
    doc: str
    dev: Any = NO_DEV                  # a value, or a function of the other settings' values
    secret: bool = False
    mask: Callable[[str], str] = hide  # how a secret is shown (System page, doctor)
    required: str | None = None        # the error when it is unset outside dev mode
    also: tuple[str, ...] = ()         # older names read when `env` is unset
    unset: str | None = None           # what an empty value means, said on the System page

    def raw(self, environ: Mapping[str, str]) -> str | None:
        """The variable's stripped text (or the first of `also` that is set); None when unset."""
        for name in (self.env, *self.also):
            text = (environ.get(name) or "").strip()
            if text:
                return text
        return None

    def when_unset(self, dev: bool, values: Mapping[str, Any]) -> Any:
        """The value of an unset variable: the dev default in dev mode, else the default,
        unless it is required outside dev mode."""
        if dev and self.dev is not NO_DEV:
            return self.dev(values) if callable(self.dev) else self.dev
        if self.required and not dev:
            raise ConfigError(self.required)
        return self.default

    def shown(self, value: Any) -> str:
        """The value as the System page shows it: secrets masked, lists joined."""
        if self.secret and value:
            value = self.mask(value)
        if isinstance(value, (tuple, list)):
            value = ", ".join(map(str, value))
        return "" if value is None else str(value)


# -- parsers ------------------------------------------------------------------------------
def text(raw: str, _name: str) -> str:
    return raw


def flag(raw: str, name: str) -> bool:
    value = raw.lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(f"{name} must be 1 or 0 (got something else)")


def whole(minimum: int = 0) -> Parser:
    def parse(raw: str, name: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}")
        return value
    return parse


def port(raw: str, name: str) -> int:
    value = whole(1)(raw, name)
    if value > 65535:
        raise ConfigError(f"{name} must be a TCP port (1-65535)")
    return value


def decimal(within: Callable[[float], bool], expected: str, out_of_range: str) -> Parser:
    """A number: "{name} must be {expected}" when it is none, "... {out_of_range}" when
    `within` refuses it (NaN included)."""
    def parse(raw: str, name: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be {expected}") from None
        if not within(value):
            raise ConfigError(f"{name} must be {out_of_range}")
        return value
    return parse


seconds = decimal(lambda v: 0 < v <= 300, "a number of seconds", "between 0 and 300 seconds")
# A spend limit, in the gateway's currency (usually USD).
budget = decimal(lambda v: 0 < v < 1_000_000, "a number (e.g. 25 or 12.5)", "a positive amount below 1000000")


def choice(*allowed: str, lower: bool = True) -> Parser:
    """One of `allowed` (compared lower-cased unless `lower=False`)."""
    said = " or ".join(allowed) if len(allowed) == 2 else "one of " + ", ".join(allowed)

    def parse(raw: str, name: str) -> str:
        value = raw.lower() if lower else raw
        if value not in allowed:
            raise ConfigError(f"{name} must be {said}")
        return value
    return parse


def http_url(raw: str, name: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL (got a value without scheme or host)")
    return raw


def service_url(raw: str, name: str) -> str:
    """An http(s) URL without its trailing slash (Coder, Gitea)."""
    return http_url(raw, name).rstrip("/")


def base_url(raw: str, name: str) -> str:
    """PORTAL_URL: the portal's base, without query, fragment, user or trailing slash."""
    parts = urlsplit(http_url(raw, name))
    if parts.query or parts.fragment or parts.username:
        raise ConfigError(f"{name} must be the portal's base URL, like https://portal.example.com")
    return raw.rstrip("/")


def database_url(raw: str, name: str) -> str:
    """SQLite or PostgreSQL; PostgreSQL through psycopg 3."""
    if not raw.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
        raise ConfigError(f"{name} must be a sqlite:/// or postgresql:// URL")
    for prefix in ("postgres:", "postgresql:"):
        if raw.startswith(prefix):
            return "postgresql+psycopg:" + raw[len(prefix):]
    return raw


def fernet_key(raw: str, name: str) -> str:
    try:
        Fernet(raw.encode())
    except (ValueError, TypeError):
        raise ConfigError(f"{name} is malformed: expected a url-safe base64 Fernet key of 32 bytes") from None
    return raw


def smtp_url(raw: str, name: str) -> str:
    if urlsplit(raw).scheme not in {"smtp", "smtps", "smtp+starttls"}:
        raise ConfigError(f"{name} must look like smtp://user:pass@host:25 (or smtps://, smtp+starttls://)")
    return raw


def storage_uri(raw: str, name: str) -> str:
    """A Flask-Limiter storage URI."""
    if not re.match(r"^[a-z][a-z0-9+.-]*://", raw):
        raise ConfigError(f"{name} must be a storage URI such as memory:// or redis://host:6379")
    return raw


def queue_url(raw: str, name: str) -> str:
    """The job queue's broker (portal/workspaces/queue.py): a SQLite file or Redis."""
    parts = urlsplit(raw)
    if parts.scheme == "sqlite" and raw.startswith("sqlite:///") and len(raw) > len("sqlite:///"):
        return raw
    if parts.scheme in {"redis", "rediss"} and parts.hostname:
        return raw
    raise ConfigError(f"{name} must be sqlite:///path/to/queue.sqlite or redis://host:6379/0")


_MODEL_NAME = re.compile(r"^[A-Za-z0-9][\w.:/@+-]{0,127}$")


def models(raw: str, name: str) -> tuple[str, ...]:
    """A comma list of gateway model names, without repeats."""
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    for model in names:
        if not _MODEL_NAME.match(model):
            raise ConfigError(f"{name} must be a comma-separated list of model names "
                              "(letters, digits and . _ - : / @ +)")
    return names


def folder(raw: str, name: str) -> str:
    """An absolute path in the workspace."""
    if not raw.startswith("/") or any(ord(c) < 32 for c in raw) or len(raw) > 200:
        raise ConfigError(f"{name} must be an absolute path in the workspace (e.g. {PROJECT_FOLDER})")
    return raw


def networks(raw: str, name: str) -> tuple:
    """A comma list of addresses or CIDR networks (IPv4 or IPv6)."""
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False)
                     for part in raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a comma-separated list of addresses or CIDR "
                          f"networks (e.g. 127.0.0.1/32,10.0.0.0/8)") from None


def bearer_token(raw: str, name: str) -> str:
    if len(raw) < 16 or not raw.isprintable() or " " in raw:
        raise ConfigError(f"{name} must be at least 16 printable characters without spaces")
    return raw


def existing_dir(raw: str, name: str) -> str:
    if not os.path.isdir(raw):
        raise ConfigError(f"{name} must name an existing directory (gunicorn_conf.py creates it)")
    return raw


def sizes(raw: str, name: str) -> tuple:
    try:
        return parse_sizes(raw)
    except SizeError as exc:
        raise ConfigError(f"{name}: {exc}") from None


# -- masks --------------------------------------------------------------------------------
SECRET_PARAMS = {"password", "pass", "passwd", "pwd", "secret", "token", "key", "api_key",
                 "access_token", "sslpassword", "auth"}


def mask_url(value: str) -> str:
    """The URL with every password hidden: the userinfo's, and `password=`-like parameters."""
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return HIDDEN
    netloc = parts.netloc
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{HIDDEN}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, HIDDEN if k.lower() in SECRET_PARAMS and v else v)
                           for k, v in pairs], safe="•:/@")
    return parts._replace(netloc=netloc, query=query).geturl()


def setting(env: str, parse: Parser = text, default: Any = None, *, doc: str, **more: Any) -> Any:
    """A `Settings` field declared by one environment variable (secrets kept out of repr)."""
    spec = Setting(env, parse, default, doc, **more)
    return field(default=default, repr=not spec.secret, metadata={"setting": spec})


def declaration(settings_field) -> Setting:
    """The declaration a `Settings` field carries."""
    return settings_field.metadata["setting"]
