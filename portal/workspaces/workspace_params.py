"""The contract between the portal and the Coder templates (Docker and Kubernetes).

Every rich parameter the portal sends when it creates a workspace is named here,
with its Terraform type. Both templates declare their parameters in one file,
workspace-image/template/parameters.tf (copied into template-kubernetes); tests
in tests/platform parse both templates and check that each name is declared
there with this type, so they cannot drift apart.
"""
from __future__ import annotations

# Agent and app names the portal builds app URLs from.
AGENT_NAME = "main"
APP_SLUG = "code-server"
PROJECT_FOLDER = "/home/coder/project"

# name -> coder_parameter type
PARAMETERS: dict[str, str] = {
    "git_repo": "string",          # HTTPS clone URL of the project's Gitea repository
    "gitea_token": "string",       # the person's Gitea token, turned into a git credential
    "github_token": "string",      # optional personal GitHub token (credential for github.com only)
    "ai_gateway_key": "string",    # the person's LiteLLM virtual key (optional)
    "ai_model": "string",          # default model for the AI assistant
    "cpu_cores": "number",         # the workspace size (portal/workspaces/sizes.py): mutable,
    "memory_gb": "number",         # sent at every start
    "disk_size": "number",         # immutable: sent at create only; a change means a new workspace
}

# The sizing parameters' options and defaults in the template (name -> (options, default));
# a test parses main.tf and checks them, so a size outside them is refused before any call.
SIZE_OPTIONS: dict[str, tuple[tuple[int, ...], int]] = {
    "cpu_cores": ((2, 4, 8), 2),
    "memory_gb": ((4, 8, 16), 4),
    "disk_size": ((10, 20, 50), 10),
}
# Declared `mutable = false` in the template: Coder refuses a different value after create.
IMMUTABLE = frozenset({"disk_size"})
