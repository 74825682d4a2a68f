// libFuzzer harness: JSON-lines price and news files
// (connectors/file_source.h) through the Pipeline. The first input byte picks
// prices or news.

#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ebb_fuzz::ReadThroughPipeline(data + 1, size - 1, "jsonl", data[0] & 1);
  return 0;
}
