# The portal's Coder template: one Docker container per workspace on the
# platform host, code-server as the IDE.
#
# The portal creates workspaces from it with the rich parameters named in
# portal/workspace_params.py (PARAMETERS), builds app URLs from AGENT_NAME and
# APP_SLUG, and opens PROJECT_FOLDER; tests/platform checks that this template
# declares them all, so the two cannot drift apart.
#
# Schedule (not expressible in Terraform; template metadata set by
# compose/bootstrap.sh):
#   coder templates edit portal-workspace --default-ttl 1h --activity-bump 1h
# default_ttl 1h stops a workspace one hour after it starts unless there is
# activity; every connection (code-server, terminal, SSH) bumps the deadline
# to at least one hour away, so a workspace stops after an hour without use.

# Exact provider versions, the ones this template was checked against
# (coder/terraform-provider-coder v2.17.0 provider/agent.go, app.go,
# parameter.go; kreuzwerker/terraform-provider-docker v3.9.0
# internal/provider/resource_docker_container.go): `~> 2.5` had silently moved
# to 2.17, which deprecates coder_agent.dir. Keep ../../compose/coder/providers.tf
# in step (a test checks).
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

# --- template variables (set by the bootstrap with --variable) ---

variable "workspace_image" {
  description = "Image of the workspace container (workspace-image/Dockerfile)."
  type        = string
  default     = "platform/workspace:local"
}

variable "workspace_network" {
  description = "Docker network of the workspaces: internal, no route to the internet."
  type        = string
  default     = "platform-workspaces"
}

variable "internal_coder_url" {
  description = "Coder as the workspace network reaches it (the agent connects here)."
  type        = string
  default     = "http://coder:7080"
}

variable "gitea_url" {
  description = "Public URL of Gitea; the Gitea credential is scoped to this host."
  type        = string
  default     = "https://git.example.com"
}

variable "ai_gateway_url" {
  description = "LiteLLM as the workspace network reaches it."
  type        = string
  default     = "http://litellm:4000"
}

variable "platform_ca_volume" {
  description = "Docker volume holding the platform CA's public certificate (root.crt)."
  type        = string
  default     = "platform-ca"
}

variable "enforce_disk_quota" {
  description = "Apply disk_size as a storage quota (needs overlay2 on xfs with pquota)."
  type        = bool
  default     = false
}

variable "docker_socket" {
  description = "Docker socket URI; empty for the default /var/run/docker.sock."
  type        = string
  default     = ""
}

provider "docker" {
  host = var.docker_socket != "" ? var.docker_socket : null
}

data "coder_provisioner" "me" {}
data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

# --- rich parameters: parameters.tf (shared with ../template-kubernetes) ---

locals {
  project_dir   = "/home/coder/project"
  owner_name    = data.coder_workspace_owner.me.name
  container_cpu = data.coder_parameter.cpu_cores.value
  memory_mb     = tonumber(data.coder_parameter.memory_gb.value) * 1024
  # The container's entrypoint: trust the platform CA system-wide (root, via
  # sudo; workspace-image/trust-platform-ca.sh), then Coder's agent, which
  # reaches the access URL's DERP relay over TLS. The agent talks to Coder over
  # the workspace network, not the public URL.
  agent_entrypoint = join("\n", [
    "sudo -n /usr/local/bin/trust-platform-ca || echo 'warning: the platform CA could not be trusted' >&2",
    replace(coder_agent.main.init_script, data.coder_workspace.me.access_url, var.internal_coder_url),
  ])
}

# --- the agent (its name is workspace_params.AGENT_NAME) ---

# No `dir` (deprecated in terraform-provider-coder 2.17: anything but $HOME
# breaks Coder Desktop's file sync); the IDE opens local.project_dir itself.
resource "coder_agent" "main" {
  arch = data.coder_provisioner.me.arch
  os   = "linux"

  # Clones git_repo on the first start only, sets up the scoped git
  # credentials and the AI assistant, then starts code-server.
  startup_script          = file("${path.module}/startup.sh")
  startup_script_behavior = "non-blocking"

  env = {
    PROJECT_DIR         = local.project_dir
    GIT_REPO            = data.coder_parameter.git_repo.value
    GITEA_URL           = var.gitea_url
    GITEA_USERNAME      = local.owner_name
    GITEA_TOKEN         = data.coder_parameter.gitea_token.value
    GITHUB_TOKEN        = data.coder_parameter.github_token.value
    AI_GATEWAY_URL      = var.ai_gateway_url
    AI_GATEWAY_KEY      = data.coder_parameter.ai_gateway_key.value
    AI_MODEL            = data.coder_parameter.ai_model.value
    OPENAI_BASE_URL     = "${var.ai_gateway_url}/v1"
    PLATFORM_CA_FILE    = "/etc/platform-ca/root.crt"
    NODE_EXTRA_CA_CERTS = "/etc/platform-ca/root.crt"
    REQUESTS_CA_BUNDLE  = "/etc/ssl/certs/ca-certificates.crt"
    GIT_AUTHOR_NAME     = coalesce(data.coder_workspace_owner.me.full_name, local.owner_name)
    GIT_AUTHOR_EMAIL    = data.coder_workspace_owner.me.email
    GIT_COMMITTER_NAME  = coalesce(data.coder_workspace_owner.me.full_name, local.owner_name)
    GIT_COMMITTER_EMAIL = data.coder_workspace_owner.me.email
  }

  metadata {
    display_name = "CPU usage"
    key          = "0_cpu_usage"
    script       = "coder stat cpu"
    interval     = 10
    timeout      = 1
  }

  metadata {
    display_name = "Memory usage"
    key          = "1_ram_usage"
    script       = "coder stat mem"
    interval     = 10
    timeout      = 1
  }

  metadata {
    display_name = "Home disk"
    key          = "2_home_disk"
    script       = "coder stat disk --path $${HOME}"
    interval     = 60
    timeout      = 1
  }
}

# --- the IDE (its slug is workspace_params.APP_SLUG) ---

resource "coder_app" "code_server" {
  agent_id     = coder_agent.main.id
  slug         = "code-server"
  display_name = "VS Code"
  icon         = "/icon/code.svg"
  url          = "http://localhost:13337/?folder=${local.project_dir}"
  subdomain    = true
  share        = "owner"
  order        = 1

  healthcheck {
    url       = "http://localhost:13337/healthz"
    interval  = 5
    threshold = 6
  }
}

# --- storage: the home directory outlives stops and rebuilds ---

resource "docker_volume" "home" {
  name = "coder-${data.coder_workspace.me.id}-home"
  lifecycle {
    ignore_changes = all
  }
  labels {
    label = "coder.owner"
    value = local.owner_name
  }
  labels {
    label = "coder.owner_id"
    value = data.coder_workspace_owner.me.id
  }
  labels {
    label = "coder.workspace_id"
    value = data.coder_workspace.me.id
  }
  labels {
    label = "coder.disk_size_gb"
    value = tostring(data.coder_parameter.disk_size.value)
  }
}

# --- the workspace container ---

resource "docker_container" "workspace" {
  count    = data.coder_workspace.me.start_count
  image    = var.workspace_image
  name     = "coder-${local.owner_name}-${lower(data.coder_workspace.me.name)}"
  hostname = data.coder_workspace.me.name
  user     = "1000:1000"

  entrypoint = ["sh", "-c", local.agent_entrypoint]
  env = [
    "CODER_AGENT_TOKEN=${coder_agent.main.token}",
    "CODER_AGENT_URL=${var.internal_coder_url}",
  ]

  # Resource limits from the parameters.
  cpus        = tostring(local.container_cpu)
  memory      = local.memory_mb
  memory_swap = local.memory_mb
  storage_opts = var.enforce_disk_quota ? {
    size = "${data.coder_parameter.disk_size.value}G"
  } : null

  # Only the internal workspace network: gitea, litellm, minio, mailpit,
  # testdb, devdb and Coder itself; no route to the internet.
  networks_advanced {
    name = var.workspace_network
  }

  volumes {
    container_path = "/home/coder"
    volume_name    = docker_volume.home.name
    read_only      = false
  }

  volumes {
    container_path = "/etc/platform-ca"
    volume_name    = var.platform_ca_volume
    read_only      = true
  }

  labels {
    label = "coder.owner"
    value = local.owner_name
  }
  labels {
    label = "coder.owner_id"
    value = data.coder_workspace_owner.me.id
  }
  labels {
    label = "coder.workspace_id"
    value = data.coder_workspace.me.id
  }
  labels {
    label = "coder.workspace_name"
    value = data.coder_workspace.me.name
  }
}
