#pragma once

// Snapshots of the engine's state (proto/ebb/v1/state.proto, docs/state.md):
// the checks every reader makes before restoring, and the merge of a delta
// into a full snapshot. The snapshot and restore of each part are methods of
// DrawdownWindow, SymbolState and Pipeline.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ebb/v1/state.pb.h"

namespace ebb {

// The version this build writes and reads.
inline constexpr uint32_t kSnapshotVersion = 1;

// Parses serialized bytes of an ebb.v1.EngineSnapshot and checks its header
// (CheckEngineSnapshot). DataLoss when the bytes do not parse.
absl::StatusOr<ebb::v1::EngineSnapshot> ParseEngineSnapshot(
    absl::string_view bytes);

// The checks of the snapshot as a whole: a known version (FailedPrecondition
// otherwise), the `complete` field that is written last (InvalidArgument
// without it: bytes cut short between two fields still parse), live indices.
// The symbols' own contents are checked when they are restored.
absl::Status CheckEngineSnapshot(const ebb::v1::EngineSnapshot& snapshot);

// Applies `delta` (Pipeline::SnapshotChanged) to `full` (Pipeline::Snapshot,
// or an earlier result of this function): `full` becomes the full snapshot
// the engine would have given when it took `delta`. On error `full` is
// unspecified.
absl::Status ApplySnapshotDelta(const ebb::v1::EngineSnapshot& delta,
                                ebb::v1::EngineSnapshot* full);

}  // namespace ebb
