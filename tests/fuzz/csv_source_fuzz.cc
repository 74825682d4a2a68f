// libFuzzer harness: CSV price files (connectors/file_source.h) through the
// Pipeline. The first input byte picks the header, so that rows are read.

#include <string>

#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* const kHeaders[] = {
      "",  // the input brings its own header
      "timestamp,symbol,price\n",
      "Date,Open,High,Low,Close,Volume\n",
      "open_time,open,high,low,close,event_id\n",
  };
  const char* header = size > 0 ? kHeaders[data[0] % 4] : "";
  std::string input(header);
  if (size > 0) input.append(reinterpret_cast<const char*>(data) + 1, size - 1);
  ebb_fuzz::ReadThroughPipeline(reinterpret_cast<const uint8_t*>(input.data()),
                                input.size(), "csv", false);
  return 0;
}
