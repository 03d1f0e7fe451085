"""Workspace sizes in the database: seeded from PORTAL_WORKSPACE_SIZES, managed by admins.

Which size a workspace gets: the person's pick (WorkspaceState.size_name) if they may still
use it, else the project's default (a lead's choice), else the default size. `cpu_cores` and
`memory_gb` go with every start; `disk_size` only with the create (immutable in the template:
workspace-image/template/main.tf), so picking another disk means a new workspace.
"""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.workspaces.workspace_params import SIZE_OPTIONS
from portal.models import Group, Membership, Project, User, WorkspaceSize, WorkspaceState
from portal.workspaces.size_spec import SizeError, SizeSpec, check_groups, check_name, check_values

__all__ = ["SizeError", "all_sizes", "allowed", "allowed_sizes", "chosen", "parameters",
           "choose", "needs_new_disk", "save", "delete", "by_name"]


def _seed(specs: tuple[SizeSpec, ...]) -> None:
    """Fill an empty table from the setting, once (a concurrent seeder's rows win)."""
    for i, spec in enumerate(specs):
        db.session.add(WorkspaceSize(name=spec.name, cpu_cores=spec.cpu_cores,
                                     memory_gb=spec.memory_gb, disk_size=spec.disk_size,
                                     groups=list(spec.groups), is_default=i == 0))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def all_sizes(specs: tuple[SizeSpec, ...]) -> list[WorkspaceSize]:
    rows = list(db.session.scalars(db.select(WorkspaceSize).order_by(WorkspaceSize.id)))
    if not rows:
        _seed(specs)
        rows = list(db.session.scalars(db.select(WorkspaceSize).order_by(WorkspaceSize.id)))
    return rows


def by_name(specs: tuple[SizeSpec, ...], name: str | None) -> WorkspaceSize | None:
    return next((s for s in all_sizes(specs) if s.name == name), None) if name else None


def _default(sizes: list[WorkspaceSize]) -> WorkspaceSize:
    return next((s for s in sizes if s.is_default), sizes[0])


def _slugs_of(user: User) -> set[str]:
    return set(db.session.scalars(db.select(Group.slug).join(Membership)
                                  .where(Membership.user_id == user.id)))


def allowed(user: User, size: WorkspaceSize, slugs: set[str] | None = None) -> bool:
    """Everyone may use a size without groups; else members of one of its groups."""
    if not size.groups or size.is_default:
        return True
    return bool(set(size.groups) & (_slugs_of(user) if slugs is None else slugs))


def allowed_sizes(specs: tuple[SizeSpec, ...], user: User) -> list[WorkspaceSize]:
    slugs = _slugs_of(user)
    return [s for s in all_sizes(specs) if allowed(user, s, slugs)]


def chosen(specs: tuple[SizeSpec, ...], user: User, project: Project,
           state: WorkspaceState | None) -> WorkspaceSize:
    sizes = all_sizes(specs)
    for name in ((state.size_name if state else None), project.default_size):
        size = next((s for s in sizes if s.name == name), None)
        if size is not None and allowed(user, size):
            return size
    return _default(sizes)


def parameters(size: WorkspaceSize, *, create: bool) -> dict[str, str]:
    """The sizing rich parameters: disk only at create (Coder refuses a changed immutable one)."""
    check_values(size.cpu_cores, size.memory_gb, size.disk_size)
    values = {"cpu_cores": str(size.cpu_cores), "memory_gb": str(size.memory_gb)}
    if create:
        values["disk_size"] = str(size.disk_size)
    return values


def needs_new_disk(state: WorkspaceState | None, size: WorkspaceSize) -> bool:
    """The workspace exists with another disk: this size means deleting it and creating anew."""
    if state is None or state.coder_workspace_id is None:
        return False
    built = state.disk_size or SIZE_OPTIONS["disk_size"][1]  # before sizes: the template default
    return built != size.disk_size


def choose(specs: tuple[SizeSpec, ...], user: User, name: str) -> WorkspaceSize:
    """The size a person asked for, if it exists and they may use it (SizeError otherwise)."""
    size = by_name(specs, (name or "").strip().lower())
    if size is None:
        raise SizeError("There is no such workspace size.")
    if not allowed(user, size):
        raise SizeError(f"The size {size.name!r} is reserved for the groups "
                        f"{', '.join(size.groups)}; pick another size.")
    return size


def save(specs: tuple[SizeSpec, ...], name: str, cpu_cores: int, memory_gb: int, disk_size: int,
         groups: str, is_default: bool) -> WorkspaceSize:
    """Create or change a size (admin); SizeError for values the template does not offer."""
    name = check_name(name)
    check_values(cpu_cores, memory_gb, disk_size)
    slugs = check_groups(groups)
    sizes = all_sizes(specs)
    size = next((s for s in sizes if s.name == name), None)
    if size is None:
        size = WorkspaceSize(name=name)
        db.session.add(size)
    size.cpu_cores, size.memory_gb, size.disk_size, size.groups = (cpu_cores, memory_gb,
                                                                   disk_size, list(slugs))
    if is_default:
        for other in sizes:
            other.is_default = False
        size.is_default = True
    elif size.is_default:
        raise SizeError("One size must stay the default: make another size the default first.")
    else:
        size.is_default = False
    return size


def delete(specs: tuple[SizeSpec, ...], name: str) -> WorkspaceSize:
    size = by_name(specs, name)
    if size is None:
        raise SizeError("There is no such workspace size.")
    if size.is_default:
        raise SizeError("The default size cannot be deleted: make another size the default first.")
    db.session.delete(size)
    return size
