// Generated from the starter: the repository's name, filled in by Gitea.
#pragma once

namespace greeting::detail {
inline constexpr char kProjectName[] = "$REPO_NAME";
}  // namespace greeting::detail
