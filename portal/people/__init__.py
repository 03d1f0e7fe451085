"""People: accounts from sign-in claims, per-person tokens (Coder, Gitea, GitHub, the AI
gateway key), offboarding and reactivation."""
