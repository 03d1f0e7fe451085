"""The contract between the portal and the Coder template (workspace-image/template/main.tf).

Every rich parameter the portal sends when it creates a workspace is named here,
with its Terraform type; a test parses the template and checks that each one is
declared there, so the two cannot drift apart.
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
}
