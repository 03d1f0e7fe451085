"""The simulated Coder and Gitea of the embedded default and the tests.

Small WSGI apps speaking the subset of the real HTTP APIs that the portal uses,
with the real servers' status codes and error bodies (../shared/contracts).
"""
