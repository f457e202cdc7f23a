# ctest `install_find_package`: proves an app team can build against an
# installed Atrium. Run with `cmake -P` (no shell needed):
#   1. cmake --install <build> --prefix <work>/prefix
#   2. configure tests/consumer with -DCMAKE_PREFIX_PATH=<work>/prefix and
#      build it: a host linking Atrium::atrium and a bundle linking only
#      Atrium::headers
#   3. run the host (Container::Open on a missing dir must return an error)
#   4. run the installed `atrium` CLI on the consumer's one-bundle app and on
#      the sample wallet built in <build>; the consumer's bundle is built by
#      the installed atrium_add_bundle, which also laid out its resource and
#      packed it into a .atb signed with a key the installed CLI made
#
# Variables (-D): ATRIUM_BINARY_DIR, ATRIUM_SOURCE_DIR, WORK_DIR, GENERATOR,
# CXX_COMPILER, LIBDIR, and optionally MAKE_PROGRAM, CONFIG and SANITIZE_FLAGS
# (what the build under test compiled with; a sanitized libatrium needs a
# host linked with the same sanitizer runtime).
cmake_minimum_required(VERSION 3.25)

foreach(var ATRIUM_BINARY_DIR ATRIUM_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER LIBDIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()

set(config_args "")
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()
set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# step(<name> <expected-output-regex or ""> COMMAND ...): runs a command,
# fails the test with its output unless it exits 0 and prints the regex.
function(step name expect)
  cmake_parse_arguments(S "" "" "COMMAND" ${ARGN})
  message(STATUS "[consumer] ${name}: ${S_COMMAND}")
  execute_process(COMMAND ${S_COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[consumer] ${name} failed (exit ${rc})\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  if(NOT expect STREQUAL "" AND NOT out MATCHES "${expect}")
    message(FATAL_ERROR "[consumer] ${name}: output does not match '${expect}'\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

step("install" ""
  COMMAND ${CMAKE_COMMAND} --install ${ATRIUM_BINARY_DIR} --prefix ${prefix} ${config_args})
foreach(f ${LIBDIR}/cmake/Atrium/AtriumConfig.cmake ${LIBDIR}/cmake/Atrium/AtriumTargets.cmake
          include/atrium/container.h include/atrium/bundle.h bin/atrium)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "[consumer] install did not produce ${prefix}/${f}")
  endif()
endforeach()

set(configure_args -S ${ATRIUM_SOURCE_DIR}/tests/consumer -B ${consumer_build} -G ${GENERATOR}
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${CONFIG}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(MAKE_PROGRAM)
  list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(SANITIZE_FLAGS)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${SANITIZE_FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${SANITIZE_FLAGS}")
endif()
# A release key for the consumer's signed bundle, made by the installed CLI.
step("installed atrium keygen" "" COMMAND ${prefix}/bin/atrium keygen --out ${WORK_DIR}/release)
list(APPEND configure_args -DHELLO_SIGN_KEY=${WORK_DIR}/release.key)
step("configure consumer" "" COMMAND ${CMAKE_COMMAND} ${configure_args})

# The package must have come from the prefix, not from anywhere else.
file(STRINGS ${consumer_build}/CMakeCache.txt atrium_dir REGEX "^Atrium_DIR:")
string(REGEX REPLACE "^Atrium_DIR:[A-Z]+=" "" atrium_dir "${atrium_dir}")
file(REAL_PATH "${atrium_dir}" atrium_dir)
file(REAL_PATH "${prefix}/${LIBDIR}/cmake/Atrium" want_dir)
if(NOT atrium_dir STREQUAL want_dir)
  message(FATAL_ERROR "[consumer] found Atrium in '${atrium_dir}', expected '${want_dir}'")
endif()

step("build consumer" "" COMMAND ${CMAKE_COMMAND} --build ${consumer_build} ${config_args})

set(consumer_exe ${consumer_build}/atrium_consumer)
if(NOT EXISTS ${consumer_exe})
  set(consumer_exe ${consumer_build}/${CONFIG}/atrium_consumer)
endif()
step("run consumer" "Container::Open failed as expected: [^\n]+"
  COMMAND ${consumer_exe} ${WORK_DIR}/no-such-app ${WORK_DIR}/consumer-data)
message(STATUS "[consumer] ${step_output}")

# The installed CLI must find the installed libatrium.so (install RPATH) and
# load the sample app's bundles.
step("installed atrium validate" "0 error\\(s\\)"
  COMMAND ${prefix}/bin/atrium validate ${ATRIUM_SOURCE_DIR}/samples/wallet)
step("installed atrium run (consumer app)" "\\[hello\\] hello from com.example.hello"
  COMMAND ${prefix}/bin/atrium run ${consumer_build}/app --data-dir ${WORK_DIR}/hello-data)
# atrium_add_bundle laid out the resource and packed the signed package.
if(NOT EXISTS ${consumer_build}/app/bundles/hello/greeting.txt)
  message(FATAL_ERROR "[consumer] atrium_add_bundle did not lay out the RESOURCES file")
endif()
step("installed atrium verify (atrium_add_bundle SIGN_KEY APPS)"
  "com.example.hello .*for com.example.consumer"
  COMMAND ${prefix}/bin/atrium verify ${consumer_build}/app/bundles/hello.atb
          --pubkey ${WORK_DIR}/release.pub --app com.example.consumer)
step("installed atrium run (sample wallet)" "loaded bundles"
  COMMAND ${prefix}/bin/atrium run ${ATRIUM_BINARY_DIR}/samples/wallet
          --data-dir ${WORK_DIR}/cli-data --open transfer)
message(STATUS "[consumer] install + find_package(Atrium) + installed CLI: ok")
