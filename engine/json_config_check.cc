#include "engine/json_config_check.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace ebb {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// A recursive-descent walk over JSON text. Syntax errors stop the walk with
// OK (ok_so_far_ false): the protobuf parser reports them.
class Walker {
 public:
  explicit Walker(absl::string_view text) : text_(text) {}

  absl::Status Value(const Descriptor* type, const FieldDescriptor* field,
                     const std::string& path) {
    SkipSpace();
    if (pos_ >= text_.size()) return Stop();
    const char c = text_[pos_];
    if (field != nullptr && field->type() == FieldDescriptor::TYPE_BOOL &&
        c != 't' && c != 'f' && c != 'n' &&
        !(c == '[' && field->is_repeated())) {
      const size_t start = pos_;
      SkipScalar();
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", text_.substr(start, pos_ - start),
                       " is not a boolean (true or false)"));
    }
    if (c == '{') return Object(type, path);
    if (c == '[') return Array(type, field, path);
    if (c == '"') {
      std::string ignored;
      if (!String(&ignored)) return Stop();
      return absl::OkStatus();
    }
    SkipScalar();
    return absl::OkStatus();
  }

  bool stopped() const { return stopped_; }

 private:
  absl::Status Stop() {
    stopped_ = true;
    return absl::OkStatus();
  }

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  // A number or literal: up to the next delimiter.
  void SkipScalar() {
    if (pos_ < text_.size() && text_[pos_] == '"') {
      std::string ignored;
      if (!String(&ignored)) stopped_ = true;
      return;
    }
    while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '}' &&
           text_[pos_] != ']' && text_[pos_] != ' ' && text_[pos_] != '\n' &&
           text_[pos_] != '\t' && text_[pos_] != '\r') {
      ++pos_;
    }
  }

  // A string at pos_, unescaped into *out (enough to compare keys).
  bool String(std::string* out) {
    ++pos_;  // the opening quote
    const size_t start = pos_;
    bool escaped = false;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\') {
        escaped = true;
        ++pos_;
      }
      ++pos_;
    }
    if (pos_ >= text_.size()) return false;
    const absl::string_view raw = text_.substr(start, pos_ - start);
    ++pos_;  // the closing quote
    if (!escaped) {
      out->assign(raw.data(), raw.size());
      return true;
    }
    std::string error;
    if (!absl::CUnescape(raw, out, &error)) out->assign(raw.data(), raw.size());
    return true;
  }

  absl::Status Object(const Descriptor* type, const std::string& path) {
    ++pos_;  // '{'
    // Keys by field number when the field is known (its JSON name and its
    // proto name are the same key), otherwise by text.
    absl::flat_hash_set<std::string> seen;
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return absl::OkStatus();
    }
    for (;;) {
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"') return Stop();
      std::string key;
      if (!String(&key)) return Stop();
      const FieldDescriptor* field = nullptr;
      if (type != nullptr) {
        field = type->FindFieldByName(key);
        for (int i = 0; field == nullptr && i < type->field_count(); ++i) {
          if (type->field(i)->json_name() == key) field = type->field(i);
        }
      }
      const std::string name = field != nullptr ? field->name() : key;
      const std::string child =
          path.empty() ? name : absl::StrCat(path, ".", name);
      if (!seen.insert(field != nullptr ? absl::StrCat("#", field->number())
                                        : absl::StrCat("\"", key))
               .second) {
        return absl::InvalidArgumentError(
            absl::StrCat(child, ": given twice in one object"));
      }
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != ':') return Stop();
      ++pos_;
      const Descriptor* child_type =
          field != nullptr && !field->is_map() &&
                  field->type() == FieldDescriptor::TYPE_MESSAGE
              ? field->message_type()
              : nullptr;
      absl::Status status = Value(child_type, field, child);
      if (!status.ok() || stopped_) return status;
      const After after = AfterValue('}');
      if (after == After::kClosed) return absl::OkStatus();
      if (after == After::kStop) return Stop();
    }
  }

  absl::Status Array(const Descriptor* type, const FieldDescriptor* field,
                     const std::string& path) {
    ++pos_;  // '['
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return absl::OkStatus();
    }
    for (int i = 0;; ++i) {
      absl::Status status = Value(type, field, absl::StrCat(path, "[", i, "]"));
      if (!status.ok() || stopped_) return status;
      const After after = AfterValue(']');
      if (after == After::kClosed) return absl::OkStatus();
      if (after == After::kStop) return Stop();
    }
  }

  // What follows a member or element: a comma (another one comes), `close`
  // (consumed), or anything else (the text is not JSON: stop).
  enum class After { kNext, kClosed, kStop };
  After AfterValue(char close) {
    SkipSpace();
    if (pos_ >= text_.size()) return After::kStop;
    if (text_[pos_] != ',' && text_[pos_] != close) return After::kStop;
    return text_[pos_++] == ',' ? After::kNext : After::kClosed;
  }

  absl::string_view text_;
  size_t pos_ = 0;
  bool stopped_ = false;
};

}  // namespace

absl::Status CheckJsonConfig(absl::string_view text, const Descriptor* type) {
  Walker walker(text);
  return walker.Value(type, nullptr, "");
}

}  // namespace ebb
