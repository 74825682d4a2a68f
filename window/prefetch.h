#pragma once

// A prefetch hint the compiler cannot delete.
//
// GCC treats __builtin_prefetch as free of side effects, so a function that
// only loads and prefetches is found pure, and a call to it whose (void)
// result is unused is dead code: GCC 12 compiles such a hint helper (for
// instance WindowCore::PrefetchNextAdd() over a plain block-table pointer)
// to a bare `ret`, and every hint is gone without a warning. The empty
// volatile asm that takes the address is a side effect, so each hint stays.

namespace ebb {

inline void PrefetchLine(const void* address) {
  __builtin_prefetch(address);
  asm volatile("" : : "r"(address));
}

}  // namespace ebb
