"""The URL of an existing repository a project is imported from (Gitea's migrate API)."""
from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

MAX_LENGTH = 500
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host written as a number means to the resolver: besides dotted quads,
    inet_aton reads `127.1`, `2130706433`, `0x7f000001` and `0` (all loopback or 0.0.0.0)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return (address.is_loopback or address.is_private or address.is_link_local
            or address.is_unspecified or address.is_reserved or address.is_multicast
            or not address.is_global)


def internal_host(host: str) -> bool:
    """True when `host` is, or resolves to, a loopback/private/link-local/unspecified/reserved
    address. A name that does not resolve here is left to Gitea (which resolves it again and
    refuses local addresses unless ALLOW_LOCALNETWORKS is on)."""
    literal = _literal_address(host)
    if literal is not None:
        return _internal(literal)
    try:
        infos = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return any(_internal(ipaddress.ip_address(info[4][0].split("%")[0])) for info in infos)


def check_source_url(value: str | None, allow_private: bool = False) -> str | None:
    """None when `value` is an acceptable source (or empty), else the reason, for people.

    HTTPS only (the portal never sends a credential over plain HTTP), a host
    name that is not (and does not resolve to) an internal address unless
    `allow_private` (PORTAL_IMPORT_ALLOW_PRIVATE), no user name or password inside the URL (a private GitHub repository
    uses the person's stored token instead), at most 500 characters.
    """
    url = (value or "").strip()
    if not url:
        return None
    if len(url) > MAX_LENGTH:
        return f"At most {MAX_LENGTH} characters."
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "A URL has no spaces."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "This is not a valid URL."
    if parts.scheme.lower() != "https":
        return "Only https:// repository URLs can be imported."
    if "@" in parts.netloc or parts.username or parts.password:
        return ("Remove the user name or token from the URL; for a private GitHub repository, "
                "add your GitHub token in Settings.")
    host = (parts.hostname or "").lower()
    if not allow_private and host and internal_host(host):
        return ("This address is inside the platform's own network; the portal imports only "
                "from outside repositories (PORTAL_IMPORT_ALLOW_PRIVATE=1 allows it).")
    if not host or not _HOST.match(host) or port == 0:
        return "The URL needs a host name, like https://github.com/owner/repo."
    if len([p for p in parts.path.split("/") if p]) < 1:
        return "The URL needs the repository's path, like https://github.com/owner/repo."
    return None
