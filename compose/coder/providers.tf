# The Terraform providers the workspace template uses, mirrored into the Coder
# image at build time so that `coder templates push` works with no registry.
# Keep in step with ../../workspace-image/template/main.tf (a test checks).
terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = "2.17.0"
    }
    docker = {
      source  = "kreuzwerker/docker"
      version = "3.9.0"
    }
  }
}
