#include "weir/cli/cli.h"

#include <iostream>

#include <CLI/CLI.hpp>

namespace weir::cli {

int Main(int argc, char** argv) {
  CLI::App app{"Weir: real-time stream analytics in one program"};
  app.require_subcommand(1);
  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([] { std::cout << "weir 0.1.0\n"; });
  CLI11_PARSE(app, argc, argv);
  return 0;
}

}  // namespace weir::cli
