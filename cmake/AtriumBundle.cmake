# atrium_add_bundle: how an app team builds a bundle. Installed with Atrium
# (find_package(Atrium) includes it) and used by Atrium's own samples and
# test fixtures.
#
#   atrium_add_bundle(<target>
#     SOURCES <file>...             the bundle's C++ sources
#     MANIFEST <bundle.json>        copied into the bundle directory
#     [RESOURCES <file>...]         files the bundle ships: a relative path is
#                                   taken from the manifest's folder and kept
#                                   (lua/bill.lua -> <dir>/lua/bill.lua); an
#                                   absolute one goes to the top of <dir>
#     [INCLUDES <dir>...]           private include directories
#     [OUTPUT_DIR <dir>]            the bundle directory, default
#                                   ${CMAKE_CURRENT_BINARY_DIR}/<target>
#     [SIGN_KEY <PREFIX.key>        also pack the directory into a signed .atb
#      APPS <app>...                (default <OUTPUT_DIR>.atb) with
#      [PACKAGE <X.atb>]])          `atrium pack`, as target <target>_package,
#                                   for the apps named: app ids, families
#                                   (com.example.*) or "*" for any app
#
# The library is a MODULE named lib<target>.so linking only Atrium::headers
# (a bundle never links the runtime), with hidden visibility, so only the
# bundle entry point is exported. The manifest's "library" must name it.
#
# Variables: ATRIUM_CLI, the `atrium` executable used for SIGN_KEY (set by
# AtriumConfig.cmake to the installed one; in Atrium's own build, the CLI
# target).
include_guard(GLOBAL)

function(atrium_add_bundle target)
  cmake_parse_arguments(B "" "MANIFEST;OUTPUT_DIR;SIGN_KEY;PACKAGE" "SOURCES;RESOURCES;INCLUDES;APPS"
    ${ARGN})
  if(B_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "atrium_add_bundle(${target}): unknown arguments ${B_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT B_SOURCES OR NOT B_MANIFEST)
    message(FATAL_ERROR "atrium_add_bundle(${target}): SOURCES and MANIFEST are required")
  endif()
  if(NOT B_OUTPUT_DIR)
    set(B_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/${target})
  endif()
  get_filename_component(manifest ${B_MANIFEST} ABSOLUTE)
  get_filename_component(manifest_dir ${manifest} DIRECTORY)

  add_library(${target} MODULE ${B_SOURCES})
  target_include_directories(${target} PRIVATE ${B_INCLUDES})
  target_link_libraries(${target} PRIVATE Atrium::headers)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # No STB_GNU_UNIQUE symbols: they would pin the library in memory (or tie
    # its unloading to the host's copies), and bundles must really unload.
    target_compile_options(${target} PRIVATE -fno-gnu-unique)
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX "lib" CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${B_OUTPUT_DIR})
  configure_file(${manifest} ${B_OUTPUT_DIR}/bundle.json COPYONLY)
  set(laid_out ${manifest})
  foreach(res ${B_RESOURCES})
    if(IS_ABSOLUTE ${res})
      get_filename_component(name ${res} NAME)
      set(from ${res})
    else()
      set(name ${res})
      set(from ${manifest_dir}/${res})
    endif()
    configure_file(${from} ${B_OUTPUT_DIR}/${name} COPYONLY)
    list(APPEND laid_out ${from})
  endforeach()

  if(B_SIGN_KEY)
    if(NOT ATRIUM_CLI)
      message(FATAL_ERROR "atrium_add_bundle(${target}): SIGN_KEY needs ATRIUM_CLI (the atrium "
        "executable; find_package(Atrium) sets it)")
    endif()
    if(NOT B_APPS)
      message(FATAL_ERROR "atrium_add_bundle(${target}): SIGN_KEY needs APPS, the apps the "
        "package is for (app ids, com.example.* for a family, \"*\" for any app)")
    endif()
    set(app_args)
    foreach(app IN LISTS B_APPS)
      list(APPEND app_args --app ${app})
    endforeach()
    if(NOT B_PACKAGE)
      set(B_PACKAGE ${B_OUTPUT_DIR}.atb)
    endif()
    set(cli_target "")
    if(TARGET atrium_cli)
      set(cli_target atrium_cli)
    endif()
    add_custom_command(OUTPUT ${B_PACKAGE}
      COMMAND ${ATRIUM_CLI} pack ${B_OUTPUT_DIR} --key ${B_SIGN_KEY} ${app_args} -o ${B_PACKAGE}
      DEPENDS ${target} ${laid_out} ${B_SIGN_KEY} ${cli_target}
      COMMENT "Packing bundle ${target} into ${B_PACKAGE}"
      VERBATIM)
    add_custom_target(${target}_package ALL DEPENDS ${B_PACKAGE})
  endif()
endfunction()
