"""Static checks of the platform files: compose/, workspace-image/, Dockerfiles.

No Docker engine runs where these tests run; every check is offline and pulls
no image.
"""
