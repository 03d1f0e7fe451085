"""The simulated Coder and Gitea of the embedded default and the tests.

Small WSGI apps speaking the subset of the real HTTP APIs that the portal uses,
with the real servers' status codes and error bodies (../shared/contracts).
Gitea's repositories are real bare git repositories served over smart HTTP
(git_repos.py, gitea_git.py); Coder's workspaces can be real processes, the
template's startup.sh and code-server behind the app host (workspace_host.py,
coder_host.py, app_proxy.py).
"""
