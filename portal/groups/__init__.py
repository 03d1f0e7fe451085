"""Groups and their projects: membership and roles, invitations, the Gitea organisation and
team sync, drift, permissions, names and short names, starters and imported sources,
project deletion."""
