// Tests of the library with plain asserts: a failed assert aborts, CTest reports it.
#include <cassert>
#include <string>

#include "greeting/greeting.hpp"

namespace {

std::string expected(const std::string& who) {
  return "Hello, " + who + ", from " + std::string(greeting::project_name()) + "!";
}

}  // namespace

int main() {
  assert(!greeting::project_name().empty());
  assert(greeting::greet("Ada") == expected("Ada"));
  assert(greeting::greet("  Grace \t") == expected("Grace"));
  assert(greeting::greet("") == expected("world"));
  assert(greeting::greet("   ") == expected("world"));
  return 0;
}
