// The program: `hello [NAME...]` prints a greeting.
#include <iostream>
#include <string>

#include "greeting/greeting.hpp"

int main(int argc, char* argv[]) {
  std::string name;
  for (int i = 1; i < argc; ++i) {
    if (i > 1) name += ' ';
    name += argv[i];
  }
  std::cout << greeting::greet(name) << '\n';
  return 0;
}
