// The project's library: a greeting; replace it with your own code.
#pragma once

#include <string>
#include <string_view>

namespace greeting {

// The name of this project, as the repository is called.
std::string_view project_name();

// "Hello, <name>, from <project>!"; a blank name greets the world.
std::string greet(std::string_view name);

}  // namespace greeting
