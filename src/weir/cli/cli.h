// The `weir` command line: run, validate, simulate, version.
#pragma once

namespace weir::cli {
/// Entry point of the weir program; returns the process exit code.
int Main(int argc, char** argv);
}  // namespace weir::cli
