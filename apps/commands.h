#pragma once

// ebb's subcommands. Each returns the process exit status: 0 success, 1 a
// usage, config or I/O error (printed on stderr), 2 a rejected record under
// --strict.

namespace ebb {

int RunReplay(int argc, char** argv);    // argv[0] is "replay"
int RunGenerate(int argc, char** argv);  // argv[0] is "generate"
int RunStream(int argc, char** argv);    // argv[0] is "run"
int RunBroker(int argc, char** argv);    // argv[0] is "broker"
int RunProduce(int argc, char** argv);   // argv[0] is "produce"
int RunTail(int argc, char** argv);      // argv[0] is "tail"

}  // namespace ebb
