"""$REPO_NAME: the package of this project."""

PROJECT = "$REPO_NAME"
__version__ = "0.1.0"
