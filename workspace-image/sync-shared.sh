#!/usr/bin/env bash
# Copy the files both Coder templates share from ../template (the source) into
# template-kubernetes: the parameters and the start-up script. `coder templates
# push` uploads one directory and drops symlinks, hence copies;
# tests/platform/test_template_kubernetes.py fails while they differ.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for file in parameters.tf startup.sh; do
  cp -p "$here/template/$file" "$here/template-kubernetes/$file"
done
