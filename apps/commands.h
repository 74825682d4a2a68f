#pragma once

// ebb's subcommands. Each returns the process exit status: 0 success, 1 a
// usage, config or I/O error (printed on stderr), 2 a rejected record under
// --strict.

namespace ebb {

int RunReplay(int argc, char** argv);    // argv[0] is "replay"
int RunGenerate(int argc, char** argv);  // argv[0] is "generate"

}  // namespace ebb
