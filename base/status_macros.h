#pragma once

// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Debian 12's Abseil (20220623) predates
// Abseil's own.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define EBB_CONCAT_INNER_(a, b) a##b
#define EBB_CONCAT_(a, b) EBB_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status ebb_status_ = (expr);       \
    if (!ebb_status_.ok()) return ebb_status_; \
  } while (false)

// ASSIGN_OR_RETURN(lhs, expr): evaluates the StatusOr `expr`; returns its
// status when not OK, otherwise moves its value into `lhs` (which may be a
// declaration).
#define ASSIGN_OR_RETURN(lhs, expr) \
  EBB_ASSIGN_OR_RETURN_IMPL_(EBB_CONCAT_(ebb_statusor_, __LINE__), lhs, expr)
#define EBB_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()
