# The portal's Coder template for Kubernetes: one Deployment (one pod) per
# running workspace and a PersistentVolumeClaim for /home/coder, in Coder's
# namespace, code-server as the IDE. The sibling of ../template (Docker): the
# same parameters (parameters.tf, a copy of ../template/parameters.tf), the
# same startup.sh (a copy), the same agent, app, environment and limits;
# tests/platform/test_template_kubernetes.py fails when they drift apart.
#
# Pushed like the Docker one (deploy/kubernetes/README.md):
#   coder templates push portal-workspace-kubernetes --directory workspace-image/template-kubernetes \
#     --variable namespace=coder --variable workspace_image=<registry>/platform/workspace:<tag> ...
#   coder templates edit portal-workspace-kubernetes --default-ttl 1h --activity-bump 1h
# default_ttl 1h stops a workspace one hour after it starts unless there is
# activity; every connection bumps the deadline to at least one hour away.
#
# Checked on paper against the providers' documentation at the pinned versions:
# hashicorp/kubernetes v3.2.1 docs/resources/deployment_v1.md and
# persistent_volume_claim_v1.md (the unsuffixed kubernetes_deployment is
# deprecated since v3.0.0, CHANGELOG.md; _v1 is the same resource);
# coder/terraform-provider-coder, pinned to 2.17.0 as the Docker template (agent
# `dir` is deprecated there, so the agent block is the Docker template's own):
# docs/resources/agent.md, app.md, docs/data-sources/parameter.md,
# workspace.md and workspace_owner.md; coder/coder examples/templates/kubernetes
# (in-cluster provider config) and helm/coder/values.yaml (the chart's service
# account may manage Deployments and PVCs in its namespace:
# serviceAccount.workspacePerms and enableDeployments).

terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = "2.17.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 3.2"
    }
  }
}

# --- template variables (set with --variable when pushing) ---

variable "use_kubeconfig" {
  description = "true when Coder runs outside the cluster (reads ~/.kube/config); false in-cluster (its service account)."
  type        = bool
  default     = false
}

variable "namespace" {
  description = "Namespace of the workspaces: Coder's own, where its service account may create them."
  type        = string
  default     = "coder"
}

variable "workspace_image" {
  description = "Image of the workspace container (workspace-image/Dockerfile), from the cluster's registry."
  type        = string
  default     = "platform/workspace:local"
}

variable "internal_coder_url" {
  description = "Coder as the workspace pods reach it (the agent connects here)."
  type        = string
  default     = "http://coder.coder.svc.cluster.local"
}

variable "gitea_url" {
  description = "Public URL of Gitea; the Gitea credential is scoped to this host."
  type        = string
  default     = "https://git.example.com"
}

variable "ai_gateway_url" {
  description = "LiteLLM as the workspace pods reach it."
  type        = string
  default     = "http://litellm.litellm.svc.cluster.local:4000"
}

variable "storage_class" {
  description = "StorageClass of the home volumes; empty for the cluster's default."
  type        = string
  default     = ""
}

variable "platform_ca_configmap" {
  description = "ConfigMap in the namespace holding the platform CA's public certificate (root.crt); optional."
  type        = string
  default     = "platform-ca"
}

provider "kubernetes" {
  config_path = var.use_kubeconfig ? "~/.kube/config" : null
}

data "coder_provisioner" "me" {}
data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

# --- rich parameters: parameters.tf (a copy of ../template/parameters.tf) ---

locals {
  project_dir   = "/home/coder/project"
  owner_name    = data.coder_workspace_owner.me.name
  container_cpu = data.coder_parameter.cpu_cores.value
  memory_mb     = tonumber(data.coder_parameter.memory_gb.value) * 1024
  labels = {
    "app.kubernetes.io/name"    = "coder-workspace"
    "app.kubernetes.io/part-of" = "coder"
    "com.coder.resource"        = "true"
    "com.coder.workspace.id"    = data.coder_workspace.me.id
    "com.coder.workspace.name"  = data.coder_workspace.me.name
    "com.coder.user.id"         = data.coder_workspace_owner.me.id
    "com.coder.user.username"   = local.owner_name
    "coder.disk_size_gb"        = tostring(data.coder_parameter.disk_size.value)
  }
}

# --- the agent (its name is workspace_params.AGENT_NAME; as in ../template) ---

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

# --- the IDE (its slug is workspace_params.APP_SLUG; as in ../template) ---

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

resource "kubernetes_persistent_volume_claim_v1" "home" {
  metadata {
    name      = "coder-${data.coder_workspace.me.id}-home"
    namespace = var.namespace
    labels    = local.labels
  }
  # Bound when the first pod is scheduled (WaitForFirstConsumer classes).
  wait_until_bound = false
  spec {
    access_modes       = ["ReadWriteOnce"]
    storage_class_name = var.storage_class != "" ? var.storage_class : null
    resources {
      requests = {
        storage = "${data.coder_parameter.disk_size.value}Gi"
      }
    }
  }
  lifecycle {
    ignore_changes = all
  }
}

# --- the workspace pod ---

resource "kubernetes_deployment_v1" "workspace" {
  count = data.coder_workspace.me.start_count
  # The agent reports readiness to Coder; Terraform need not wait for the pod.
  wait_for_rollout = false

  metadata {
    name      = "coder-${data.coder_workspace.me.id}"
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    replicas = 1
    selector {
      match_labels = {
        "com.coder.workspace.id" = data.coder_workspace.me.id
      }
    }
    # One pod holds the ReadWriteOnce home volume: stop the old before the new.
    strategy {
      type = "Recreate"
    }

    template {
      metadata {
        labels = local.labels
      }

      spec {
        hostname = lower(data.coder_workspace.me.name)
        security_context {
          run_as_user     = 1000
          run_as_group    = 1000
          fs_group        = 1000
          run_as_non_root = true
        }

        container {
          name              = "dev"
          image             = var.workspace_image
          image_pull_policy = "IfNotPresent"
          # The agent reaches Coder in-cluster, not through the public URL.
          command = ["sh", "-c", replace(coder_agent.main.init_script, data.coder_workspace.me.access_url, var.internal_coder_url)]

          env {
            name  = "CODER_AGENT_TOKEN"
            value = coder_agent.main.token
          }
          env {
            name  = "CODER_AGENT_URL"
            value = var.internal_coder_url
          }

          security_context {
            run_as_user                = 1000
            allow_privilege_escalation = false
          }

          # Limits from the parameters, as the Docker template's cpus/memory.
          # Memory is requested in full (no eviction under pressure); a quarter
          # of the cores is requested, so idle workspaces pack onto nodes.
          resources {
            requests = {
              cpu    = "${tonumber(local.container_cpu) * 250}m"
              memory = "${local.memory_mb}Mi"
            }
            limits = {
              cpu    = tostring(local.container_cpu)
              memory = "${local.memory_mb}Mi"
            }
          }

          volume_mount {
            mount_path = "/home/coder"
            name       = "home"
            read_only  = false
          }
          volume_mount {
            mount_path = "/etc/platform-ca"
            name       = "platform-ca"
            read_only  = true
          }
        }

        volume {
          name = "home"
          persistent_volume_claim {
            claim_name = kubernetes_persistent_volume_claim_v1.home.metadata[0].name
            read_only  = false
          }
        }
        volume {
          name = "platform-ca"
          config_map {
            name     = var.platform_ca_configmap
            optional = true
          }
        }

        # Spread workspaces over the nodes.
        affinity {
          pod_anti_affinity {
            preferred_during_scheduling_ignored_during_execution {
              weight = 1
              pod_affinity_term {
                topology_key = "kubernetes.io/hostname"
                label_selector {
                  match_expressions {
                    key      = "app.kubernetes.io/name"
                    operator = "In"
                    values   = ["coder-workspace"]
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
