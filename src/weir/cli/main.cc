#include "weir/cli/cli.h"

int main(int argc, char** argv) { return weir::cli::Main(argc, argv); }
