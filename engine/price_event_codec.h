#pragma once

// The decode stage for serialized ebb.v1.PriceEvent and NewsEvent messages
// (binary files, Kafka values).
//
// A hand-written reader handles canonical PriceEvents of the current schema
// (the known fields, ASCII strings, well-formed varints) without building a
// protobuf message; anything else (unknown fields, repeated sub-messages,
// non-ASCII strings, malformed bytes) is decided by libprotobuf itself, so the
// verdict and the values always equal ParseFromArray's. A string field that
// is not valid UTF-8 (which makes ParseFromArray fail) is found before
// libprotobuf is asked, so libprotobuf logs nothing, and DiagnoseUndecodable
// names it: the symbol is INVALID_SYMBOL, another field MALFORMED.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "ebb/v1/dead_letter.pb.h"
#include "ebb/v1/events.pb.h"
#include "google/protobuf/message.h"

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

  // Why Decode(bytes) returned false: INVALID_SYMBOL (the symbol is not valid
  // UTF-8), MALFORMED (another string field is not valid UTF-8) or TRUNCATED
  // (not a PriceEvent at all), with *detail explaining.
  static ebb::v1::RejectReason DiagnoseUndecodable(absl::string_view bytes,
                                                   std::string* detail);

  // The fast path alone: true when it could decide (and the message was
  // canonical and valid); false when the caller must ask libprotobuf. Exposed
  // for tests.
  static bool DecodeCanonical(absl::string_view bytes, DecodedPrice* out);

 private:
  ebb::v1::PriceEvent fallback_;
};

// Decodes a serialized ebb.v1.NewsEvent into *out. Returns
// REJECT_REASON_UNSPECIFIED when ParseFromArray accepts the bytes; otherwise
// INVALID_SYMBOL (an entry of `symbols` is not valid UTF-8), MALFORMED
// (another string field is not valid UTF-8) or TRUNCATED, with *detail
// explaining. libprotobuf logs nothing either way.
ebb::v1::RejectReason DecodeNewsEvent(absl::string_view bytes,
                                      ebb::v1::NewsEvent* out,
                                      std::string* detail);

// The first string field of `bytes`, read as a message of `type`, whose
// content is not valid UTF-8 (recursing into sub-messages): its field, or
// nullptr when there is none. When the bytes are not wire format, the fields
// before the fault are searched. *value is set to the field's bytes.
const google::protobuf::FieldDescriptor* FindInvalidUtf8Field(
    absl::string_view bytes, const google::protobuf::Descriptor* type,
    std::string* value);

}  // namespace ebb
