"""Workspace sizes as written in PORTAL_WORKSPACE_SIZES, checked against the template.

`small=2/4/10,large=4/8/20@gpu-team+staff`: name = CPU cores / memory GB / disk GB,
optionally `@` and the group slugs (joined by `+`) allowed to use it; no `@`: everyone.
The first size is the default. Every value must be one of the template's options
(portal/workspace_params.SIZE_OPTIONS), so nothing outside them ever reaches Coder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from portal.workspaces.workspace_params import SIZE_OPTIONS

DEFAULT_SIZES = "small=2/4/10,large=4/8/20"
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class SizeError(ValueError):
    """A size that cannot be used; the message is for people."""


@dataclass(frozen=True)
class SizeSpec:
    name: str
    cpu_cores: int
    memory_gb: int
    disk_size: int
    groups: tuple[str, ...] = ()

    def __str__(self) -> str:
        """As written in PORTAL_WORKSPACE_SIZES: `large=4/8/20@gpu-team+staff`."""
        groups = f"@{'+'.join(self.groups)}" if self.groups else ""
        return f"{self.name}={self.cpu_cores}/{self.memory_gb}/{self.disk_size}{groups}"


def check_values(cpu_cores: int, memory_gb: int, disk_size: int) -> None:
    """Refuse values the template does not offer (Coder would answer 400 at the build)."""
    for param, value in (("cpu_cores", cpu_cores), ("memory_gb", memory_gb),
                         ("disk_size", disk_size)):
        options = SIZE_OPTIONS[param][0]
        if value not in options:
            raise SizeError(f"{param} must be one of {', '.join(map(str, options))} "
                            f"(the template's options); got {value}.")


def check_name(name: str) -> str:
    name = (name or "").strip().lower()
    if not NAME.match(name):
        raise SizeError("A size name is 1-40 lower-case letters, digits or hyphens.")
    return name


def check_groups(raw: str) -> tuple[str, ...]:
    """Group slugs separated by `+`, commas or spaces; empty: everyone."""
    slugs = tuple(dict.fromkeys(s for s in re.split(r"[+,\s]+", (raw or "").strip().lower()) if s))
    for slug in slugs:
        if not SLUG.match(slug):
            raise SizeError(f"{slug[:40]!r} is not a group slug (letters, digits, hyphens).")
    return slugs


def parse(raw: str | None) -> tuple[SizeSpec, ...]:
    """PORTAL_WORKSPACE_SIZES -> sizes (first = default); SizeError names the bad part."""
    out: list[SizeSpec] = []
    for part in (raw or DEFAULT_SIZES).split(","):
        part = part.strip()
        if not part:
            continue
        name, eq, rest = part.partition("=")
        values, _, groups = rest.partition("@")
        numbers = values.split("/")
        if not eq or len(numbers) != 3 or not all(n.strip().isdigit() for n in numbers):
            raise SizeError(f"{part[:40]!r} must look like name=CPU/MEMORY_GB/DISK_GB[@group+group]")
        spec = SizeSpec(check_name(name), *(int(n) for n in numbers), check_groups(groups))
        check_values(spec.cpu_cores, spec.memory_gb, spec.disk_size)
        if any(s.name == spec.name for s in out):
            raise SizeError(f"size {spec.name!r} is named twice")
        out.append(spec)
    if not out:
        raise SizeError("at least one size is needed")
    return tuple(out)
