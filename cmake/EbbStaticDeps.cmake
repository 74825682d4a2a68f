# EBB_STATIC_DEPS: link Abseil and Protobuf from their static archives (Debian's
# libabsl-dev and libprotobuf-dev ship both), so that a program does not load
# and relocate ~36 shared libraries at start-up. Measured: `ebb --help` 15.4 ms
# -> 9.3 ms of CPU, 565 -> 381 page faults; a replay pays it once per run, and
# every test binary once per test case. librdkafka and its TLS/SASL/compression
# libraries stay shared.
#
# Call ebb_prefer_static_protobuf() before find_package(Protobuf) and
# ebb_prefer_static_absl() after find_package(absl).

option(EBB_STATIC_DEPS "Link Abseil and Protobuf statically into the programs" ON)

# Only when the archive exists (Debian's libprotobuf-dev has it): elsewhere the shared library
# is found as before rather than nothing.
macro(ebb_prefer_static_protobuf)
  if(EBB_STATIC_DEPS)
    find_library(EBB_PROTOBUF_ARCHIVE NAMES libprotobuf.a)
    if(EBB_PROTOBUF_ARCHIVE)
      set(Protobuf_USE_STATIC_LIBS ON)
    else()
      message(STATUS "EBB_STATIC_DEPS: no libprotobuf.a; linking protobuf shared")
    endif()
  endif()
endmacro()

# Debian's absl targets are SHARED IMPORTED with IMPORTED_LOCATION_NONE set to
# the .so; point each at the .a beside it. The targets' link dependencies stay
# as they are, so static archives come out in dependency order.
function(ebb_prefer_static_absl)
  if(NOT EBB_STATIC_DEPS)
    return()
  endif()
  get_property(imported DIRECTORY "${PROJECT_SOURCE_DIR}" PROPERTY IMPORTED_TARGETS)
  set(switched 0)
  foreach(target IN LISTS imported)
    if(NOT target MATCHES "^absl::")
      continue()
    endif()
    get_target_property(type ${target} TYPE)
    if(NOT type STREQUAL "SHARED_LIBRARY")
      continue()
    endif()
    foreach(config NONE RELEASE RELWITHDEBINFO DEBUG)
      get_target_property(location ${target} IMPORTED_LOCATION_${config})
      if(location AND location MATCHES "^(.*)\\.so(\\.[0-9.]+)?$")
        set(archive "${CMAKE_MATCH_1}.a")
        if(EXISTS "${archive}")
          set_target_properties(${target} PROPERTIES
            IMPORTED_LOCATION_${config} "${archive}"
            IMPORTED_NO_SONAME_${config} TRUE)
          math(EXPR switched "${switched} + 1")
        endif()
      endif()
    endforeach()
  endforeach()
  message(STATUS "EBB_STATIC_DEPS: ${switched} Abseil libraries linked statically")
endfunction()
