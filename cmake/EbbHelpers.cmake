# One helper for libraries, binaries and tests, in the spirit of Abseil's absl_cc_library:
# every library `ebb_<name>` gets an `ebb::<name>` alias, warnings are on everywhere.
include_guard(GLOBAL)

set(EBB_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wconversion
    -Wno-sign-conversion -Wno-unused-parameter)

# ebb_cc_library(NAME name SRCS ... HDRS ... DEPS ...)
function(ebb_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
  set(target ebb_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS} ${ARG_HDRS})
    target_link_libraries(${target} PUBLIC ${ARG_DEPS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
    target_compile_options(${target} PRIVATE ${EBB_WARNINGS})
  else()
    add_library(${target} INTERFACE)
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR})
  endif()
  add_library(ebb::${ARG_NAME} ALIAS ${target})
endfunction()

# ebb_cc_binary(NAME name SRCS ... DEPS ...)
function(ebb_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_compile_options(${ARG_NAME} PRIVATE ${EBB_WARNINGS})
endfunction()

# ebb_cc_test(NAME name SRCS ... DEPS ... LABELS ... [KAFKA_REAL]): a GoogleTest binary
# registered with ctest, one ctest entry per test case, labelled by tier (unit, integration,
# fault, data). KAFKA_REAL: the binary also has cases for the real Kafka broker of
# EBB_KAFKA_BROKERS (scripts/test.sh starts one): those named */real (a parameter of
# ebb_test::BrokerKind) or in a suite *RealBroker* get the label kafka-real instead, and those in
# a suite *RealBrokerRestart* (they kill and restart the broker) run alone (RUN_SERIAL).
function(ebb_cc_test)
  cmake_parse_arguments(ARG "KAFKA_REAL" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${ARG_NAME} PRIVATE ${EBB_WARNINGS} -Wno-conversion)
  if(NOT ARG_KAFKA_REAL)
    gtest_discover_tests(${ARG_NAME}
      PROPERTIES LABELS "${ARG_LABELS}"
                 ENVIRONMENT "EBB_SHARED_DATA=${EBB_SHARED_DATA}"
      DISCOVERY_TIMEOUT 60)
    return()
  endif()
  gtest_discover_tests(${ARG_NAME}
    TEST_FILTER "-*/real:*RealBroker*"
    PROPERTIES LABELS "${ARG_LABELS}"
               ENVIRONMENT "EBB_SHARED_DATA=${EBB_SHARED_DATA}"
    DISCOVERY_TIMEOUT 60)
  gtest_discover_tests(${ARG_NAME}
    TEST_FILTER "*/real:*RealBroker*-*RealBrokerRestart*"
    PROPERTIES LABELS kafka-real
    DISCOVERY_TIMEOUT 60)
  gtest_discover_tests(${ARG_NAME}
    TEST_FILTER "*RealBrokerRestart*"
    PROPERTIES LABELS kafka-real RUN_SERIAL TRUE
    DISCOVERY_TIMEOUT 60)
endfunction()
