#pragma once

// What the protobuf JSON parser lets through that a configuration must not
// have: a key given twice in one object (the text format rejects a repeated
// singular field; JSON would silently keep the last), and a boolean written
// as anything but the literals true and false ("strict": "yes" reads as true).

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace ebb {

// Checks the JSON text of a message of `type`. InvalidArgument names the field
// path ("rules[1].name: given twice in one object", "strict: \"yes\" is not a
// boolean (true or false)"). Text that is not JSON is left to the protobuf
// parser, which reports where: this returns OK for it.
absl::Status CheckJsonConfig(absl::string_view text,
                             const google::protobuf::Descriptor* type);

}  // namespace ebb
