#include "engine/price_event_codec.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/validate.h"
#include "google/protobuf/descriptor.h"

namespace ebb {
namespace {

// Reads a varint of at most 10 bytes; false if it runs past `end` or is longer.
inline bool ReadVarint(const char*& p, const char* end, uint64_t* value) {
  // Tags and short lengths are one byte.
  if (p != end && static_cast<uint8_t>(*p) < 0x80) {
    *value = static_cast<uint8_t>(*p++);
    return true;
  }
  uint64_t result = 0;
  if (end - p >= 10) {  // room for the longest varint: no bounds checks
    const auto* q = reinterpret_cast<const uint8_t*>(p);
    for (int i = 0; i < 9; ++i) {
      result |= static_cast<uint64_t>(q[i] & 0x7f) << (7 * i);
      if (q[i] < 0x80) {
        p += i + 1;
        *value = result;
        return true;
      }
    }
    if (q[9] > 1) return false;  // more than 64 bits: let libprotobuf decide
    *value = result | static_cast<uint64_t>(q[9]) << 63;
    p += 10;
    return true;
  }
  for (int shift = 0; shift < 70; shift += 7) {
    if (p == end) return false;
    const uint8_t byte = static_cast<uint8_t>(*p++);
    if (shift == 63 && byte > 1)
      return false;  // more than 64 bits: let libprotobuf decide
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

inline bool ReadFixed64(const char*& p, const char* end, double* value) {
  if (end - p < 8) return false;
  uint64_t bits;
  std::memcpy(&bits, p, 8);  // little-endian on every platform ebb builds for
  std::memcpy(value, &bits, 8);
  p += 8;
  return true;
}

// True when none of the n bytes at p has its high bit set.
inline bool IsAscii(const char* p, size_t n) {
  constexpr uint64_t kHighBits = 0x8080808080808080u;
  uint64_t word;
  if (n >= 8) {  // 8 bytes at a time, the last word overlapping
    uint64_t any = 0;
    for (size_t i = 0; i + 8 <= n; i += 8) {
      std::memcpy(&word, p + i, 8);
      any |= word;
    }
    std::memcpy(&word, p + n - 8, 8);
    return ((any | word) & kHighBits) == 0;
  }
  uint8_t any = 0;
  for (size_t i = 0; i < n; ++i) any |= static_cast<uint8_t>(p[i]);
  return any < 0x80;
}

// A length-delimited field whose bytes are all ASCII (so UTF-8 validity is not
// in question).
inline bool ReadAsciiString(const char*& p, const char* end,
                            absl::string_view* out) {
  uint64_t length;
  if (!ReadVarint(p, end, &length) || length > static_cast<uint64_t>(end - p))
    return false;
  if (!IsAscii(p, length)) return false;
  *out = absl::string_view(p, length);
  p += length;
  return true;
}

bool ReadTimestamp(const char*& p, const char* end, DecodedPrice* out) {
  uint64_t length;
  if (!ReadVarint(p, end, &length) || length > static_cast<uint64_t>(end - p))
    return false;
  const char* q = p;
  const char* sub_end = p + length;
  int64_t seconds = 0;
  int32_t nanos = 0;
  while (q != sub_end) {
    uint64_t tag, value;
    if (!ReadVarint(q, sub_end, &tag)) return false;
    if (tag == (1 << 3 | 0)) {
      if (!ReadVarint(q, sub_end, &value)) return false;
      seconds = static_cast<int64_t>(value);
    } else if (tag == (2 << 3 | 0)) {
      if (!ReadVarint(q, sub_end, &value)) return false;
      nanos = static_cast<int32_t>(static_cast<uint32_t>(value));
    } else {
      return false;
    }
  }
  out->has_time = true;
  out->seconds = seconds;
  out->nanos = nanos;
  p = sub_end;
  return true;
}

}  // namespace

bool PriceEventDecoder::DecodeCanonical(absl::string_view bytes,
                                        DecodedPrice* out) {
  *out = DecodedPrice{};
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  absl::string_view ignored;
  double ignored_double;
  while (p != end) {
    uint64_t tag;
    if (!ReadVarint(p, end, &tag)) return false;
    switch (tag) {
      case 1 << 3 | 2:
        if (!ReadAsciiString(p, end, &out->symbol)) return false;
        break;
      case 2 << 3 | 2:
        // A second event_time would merge into the first: leave that to
        // libprotobuf.
        if (out->has_time || !ReadTimestamp(p, end, out)) return false;
        break;
      case 3 << 3 | 1:
        if (!ReadFixed64(p, end, &out->price)) return false;
        break;
      case 4 << 3 | 2:
        if (!ReadAsciiString(p, end, &ignored)) return false;
        break;
      case 5 << 3 | 1:
        if (!ReadFixed64(p, end, &ignored_double)) return false;
        break;
      case 6 << 3 | 2:
        if (!ReadAsciiString(p, end, &out->event_id)) return false;
        break;
      default:
        return false;  // unknown field or wire type
    }
  }
  return true;
}

const google::protobuf::FieldDescriptor* FindInvalidUtf8Field(
    absl::string_view bytes, const google::protobuf::Descriptor* type,
    std::string* value) {
  // The wire format, field by field, up to the first fault: libprotobuf
  // parses (and checks) the fields before a fault too.
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p != end) {
    uint64_t tag, skip;
    if (!ReadVarint(p, end, &tag)) return nullptr;
    switch (tag & 7) {
      case 0:
        if (!ReadVarint(p, end, &skip)) return nullptr;
        break;
      case 1:
        if (end - p < 8) return nullptr;
        p += 8;
        break;
      case 5:
        if (end - p < 4) return nullptr;
        p += 4;
        break;
      case 2: {
        uint64_t length;
        if (!ReadVarint(p, end, &length)) return nullptr;
        // A field cut short by the end of the bytes: libprotobuf checks the
        // UTF-8 of the part that is there (and logs) before it fails.
        const bool cut = length > static_cast<uint64_t>(end - p);
        const absl::string_view content(
            p, cut ? static_cast<size_t>(end - p) : length);
        p += content.size();
        const google::protobuf::FieldDescriptor* field =
            tag >> 3 <= 0x1FFFFFFF
                ? type->FindFieldByNumber(static_cast<int>(tag >> 3))
                : nullptr;
        if (field == nullptr) break;
        if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
          if (!IsValidUtf8(content)) {
            value->assign(content.data(), content.size());
            return field;
          }
        } else if (field->type() ==
                   google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
          const google::protobuf::FieldDescriptor* inner =
              FindInvalidUtf8Field(content, field->message_type(), value);
          if (inner != nullptr) return inner;
        }
        if (cut) return nullptr;
        break;
      }
      default:  // groups: left to libprotobuf
        return nullptr;
    }
  }
  return nullptr;
}

namespace {

// *detail for a string field that is not valid UTF-8; INVALID_SYMBOL for a
// symbol field, MALFORMED for any other.
ebb::v1::RejectReason InvalidUtf8(
    const google::protobuf::FieldDescriptor* field, absl::string_view value,
    std::string* detail) {
  *detail = absl::StrCat(field->name(), " \"", absl::CHexEscape(value),
                         "\" is not valid UTF-8");
  return field->name() == "symbol" || field->name() == "symbols"
             ? ebb::v1::INVALID_SYMBOL
             : ebb::v1::MALFORMED;
}

}  // namespace

ebb::v1::RejectReason PriceEventDecoder::DiagnoseUndecodable(
    absl::string_view bytes, std::string* detail) {
  std::string value;
  const google::protobuf::FieldDescriptor* field =
      FindInvalidUtf8Field(bytes, ebb::v1::PriceEvent::descriptor(), &value);
  if (field != nullptr) return InvalidUtf8(field, value, detail);
  *detail = "not a valid ebb.v1.PriceEvent (truncated or corrupt protobuf)";
  return ebb::v1::TRUNCATED;
}

ebb::v1::RejectReason DecodeNewsEvent(absl::string_view bytes,
                                      ebb::v1::NewsEvent* out,
                                      std::string* detail) {
  std::string value;
  const google::protobuf::FieldDescriptor* field =
      FindInvalidUtf8Field(bytes, ebb::v1::NewsEvent::descriptor(), &value);
  if (field != nullptr) return InvalidUtf8(field, value, detail);
  if (!out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    *detail = "not a valid ebb.v1.NewsEvent (truncated or corrupt protobuf)";
    return ebb::v1::TRUNCATED;
  }
  return ebb::v1::REJECT_REASON_UNSPECIFIED;
}

bool PriceEventDecoder::Decode(absl::string_view bytes, DecodedPrice* out) {
  if (DecodeCanonical(bytes, out)) return true;
  // ParseFromArray would fail on it too, after logging an error.
  std::string ignored;
  if (FindInvalidUtf8Field(bytes, ebb::v1::PriceEvent::descriptor(),
                           &ignored) != nullptr) {
    return false;
  }
  if (!fallback_.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return false;
  *out = DecodedPrice{};
  out->symbol = fallback_.symbol();
  out->has_time = fallback_.has_event_time();
  out->seconds = fallback_.event_time().seconds();
  out->nanos = fallback_.event_time().nanos();
  out->price = fallback_.price();
  out->event_id = fallback_.event_id();
  return true;
}

}  // namespace ebb
