# The workspace's rich parameters: the one declaration shared by both Coder
# templates. This file (workspace-image/template/parameters.tf) is the source;
# ../template-kubernetes/parameters.tf is a copy made by
# workspace-image/sync-shared.sh, because `coder templates push` uploads one
# directory and drops symlinks (coder/coder provisionersdk/archive.go: Untar
# writes regular files and directories only). tests/platform checks that the
# copies are identical and that portal/workspace_params.py agrees.
#
# The portal sends the names in portal/workspace_params.py (PARAMETERS); the
# others are the person's choices in Coder (sizing, AI model), with defaults.

data "coder_parameter" "git_repo" {
  name         = "git_repo"
  display_name = "Git repository"
  description  = "HTTPS clone URL of the project's repository, cloned into ~/project on the first start."
  type         = "string"
  default      = ""
  mutable      = true
  order        = 1
}

data "coder_parameter" "cpu_cores" {
  name         = "cpu_cores"
  display_name = "CPU cores"
  type         = "number"
  default      = 2
  mutable      = true
  order        = 2
  option {
    name  = "2 cores"
    value = 2
  }
  option {
    name  = "4 cores"
    value = 4
  }
  option {
    name  = "8 cores"
    value = 8
  }
}

data "coder_parameter" "memory_gb" {
  name         = "memory_gb"
  display_name = "Memory"
  type         = "number"
  default      = 4
  mutable      = true
  order        = 3
  option {
    name  = "4 GB"
    value = 4
  }
  option {
    name  = "8 GB"
    value = 8
  }
  option {
    name  = "16 GB"
    value = 16
  }
}

data "coder_parameter" "disk_size" {
  name         = "disk_size"
  display_name = "Home disk size"
  description  = "Size of the home volume in GB (enforced when the host supports quotas)."
  type         = "number"
  default      = 10
  mutable      = false
  order        = 4
  option {
    name  = "10 GB"
    value = 10
  }
  option {
    name  = "20 GB"
    value = 20
  }
  option {
    name  = "50 GB"
    value = 50
  }
}

data "coder_parameter" "ai_model" {
  name         = "ai_model"
  display_name = "AI model"
  description  = "Default model of the AI assistant (a model name of the LiteLLM gateway)."
  type         = "string"
  default      = "qwen2.5-coder-32b"
  mutable      = true
  order        = 5
  option {
    name  = "Qwen2.5 Coder 32B"
    value = "qwen2.5-coder-32b"
  }
  option {
    name  = "Qwen2.5 Coder 7B (fast)"
    value = "qwen2.5-coder-7b"
  }
  option {
    name  = "Llama 3.1 8B"
    value = "llama3.1-8b"
  }
}

data "coder_parameter" "gitea_token" {
  name         = "gitea_token"
  display_name = "Gitea token"
  description  = "Set by the portal: the person's Gitea token, a git credential for the Gitea host only."
  type         = "string"
  default      = ""
  mutable      = true
  order        = 10
}

data "coder_parameter" "github_token" {
  name         = "github_token"
  display_name = "GitHub token (optional)"
  description  = "A personal GitHub token; when set, a git credential for github.com only."
  type         = "string"
  default      = ""
  mutable      = true
  order        = 11
}

data "coder_parameter" "ai_gateway_key" {
  name         = "ai_gateway_key"
  display_name = "AI gateway key"
  description  = "Set by the portal: the person's LiteLLM virtual key (optional)."
  type         = "string"
  default      = ""
  mutable      = true
  order        = 12
}
