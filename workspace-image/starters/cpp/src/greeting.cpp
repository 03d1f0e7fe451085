#include "greeting/greeting.hpp"

#include "project_name.hpp"

namespace greeting {

std::string_view project_name() { return detail::kProjectName; }

std::string greet(std::string_view name) {
  constexpr std::string_view blank = " \t\n";
  const auto first = name.find_first_not_of(blank);
  std::string who = "world";
  if (first != std::string_view::npos) {
    const auto last = name.find_last_not_of(blank);
    who = std::string(name.substr(first, last - first + 1));
  }
  return "Hello, " + who + ", from " + std::string(project_name()) + "!";
}

}  // namespace greeting
