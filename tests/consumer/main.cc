// A host embedding the container through the installed public API only.
// Opens an app folder that does not exist and prints the error it gets:
// exit 0 when Open fails cleanly with an error value, 1 otherwise.
//
//   atrium_consumer <missing-app-dir> <data-dir>
#include <cstdio>

#include "atrium/container.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: atrium_consumer <missing-app-dir> <data-dir>\n");
    return 2;
  }
  atrium::ContainerOptions options;
  options.app_dir = argv[1];
  options.data_dir = argv[2];
  auto container = atrium::Container::Open(options);
  if (container.ok()) {
    std::printf("unexpected: Container::Open succeeded for %s\n", argv[1]);
    return 1;
  }
  std::printf("Container::Open failed as expected: %s\n", container.error().ToString().c_str());
  return 0;
}
