#pragma once

// The decode stage for serialized ebb.v1.PriceEvent messages (binary files,
// Kafka values).
//
// A hand-written reader handles canonical messages of the current schema (the
// known fields, ASCII strings, well-formed varints) without building a protobuf
// message; anything else (unknown fields, repeated sub-messages, non-ASCII
// strings, malformed bytes) is decided by libprotobuf itself, so the verdict
// and the values always equal ParseFromArray's.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "ebb/v1/events.pb.h"

namespace ebb {

struct DecodedPrice {
  absl::string_view
      symbol;  // points into the input bytes or into the decoder's scratch
  bool has_time = false;
  int64_t seconds = 0;
  int32_t nanos = 0;
  double price = 0;
  absl::string_view event_id;
};

class PriceEventDecoder {
 public:
  // Decodes `bytes` into *out. Returns false when the bytes are not a valid
  // PriceEvent (as libprotobuf's ParseFromArray would say). *out is valid until
  // the next call.
  bool Decode(absl::string_view bytes, DecodedPrice* out);

  // The fast path alone: true when it could decide (and the message was
  // canonical and valid); false when the caller must ask libprotobuf. Exposed
  // for tests.
  static bool DecodeCanonical(absl::string_view bytes, DecodedPrice* out);

  // A guess at the symbol without decoding, for prefetch hints: the bytes of
  // a symbol field (field 1, under 128 bytes) at the very start of the
  // message, where serializers put it; empty otherwise. Not validated: a hint
  // may be wrong, the decode decides.
  static absl::string_view PeekSymbol(absl::string_view bytes) {
    if (bytes.size() < 2 || bytes[0] != '\x0a') return {};
    const auto length = static_cast<unsigned char>(bytes[1]);
    if (length >= 128 || length + size_t{2} > bytes.size()) return {};
    return bytes.substr(2, length);
  }

 private:
  ebb::v1::PriceEvent fallback_;
};

}  // namespace ebb
