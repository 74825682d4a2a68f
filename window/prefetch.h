#pragma once

// A prefetch hint the compiler cannot delete.
//
// GCC treats __builtin_prefetch as free of side effects, so a function that
// only loads and prefetches is found pure, and a call to it whose (void)
// result is unused is dead code. GCC 12 compiled
// WindowCore::PrefetchNextAdd() to a bare `ret` that way once the ring's
// block table was a plain pointer (only InlinedVector's code had kept it
// impure): every hint was gone, silently. The empty volatile asm that takes
// the address is a side effect, so each hint stays.

namespace ebb {

inline void PrefetchLine(const void* address) {
  __builtin_prefetch(address);
  asm volatile("" : : "r"(address));
}

}  // namespace ebb
