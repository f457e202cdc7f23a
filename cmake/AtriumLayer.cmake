# atrium_add_layer(<name> [DEPENDS <layer>...] [LIBS <target>...] [SELF_REGISTERING])
#
# One layer of the table in docs/architecture.md, from the folder that calls it:
#   include/   public headers (installed; the README's stable API)
#   internal/  headers the layers above and the tests may include (never installed)
#   src/       the layer's sources and private headers (this layer only)
#
# It makes atrium_<name>_obj (the objects; libatrium.so is made of every
# layer's objects) and atrium_<name> (a static library of them that links the
# layers below, for tests and tools). A layer sees the include/ and internal/
# folders of the layers it DEPENDS on (transitively) and nothing else, so an
# include that runs up the table does not compile. SELF_REGISTERING layers
# (they register a DynamicLayer or an app.json section from a static
# initializer) are linked whole into whatever links them.
set(ATRIUM_LAYERS "" CACHE INTERNAL "every layer, lowest first")

function(atrium_add_layer name)
  cmake_parse_arguments(L "SELF_REGISTERING" "" "DEPENDS;LIBS" ${ARGN})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/src/*.cc)
  set(obj atrium_${name}_obj)
  add_library(${obj} OBJECT ${srcs})
  set(public_dirs)
  foreach(sub include internal)
    if(EXISTS ${dir}/${sub})
      list(APPEND public_dirs $<BUILD_INTERFACE:${dir}/${sub}>)
    endif()
  endforeach()
  target_include_directories(${obj} PUBLIC ${public_dirs} PRIVATE ${dir}/src)
  set_target_properties(${obj} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
    UNITY_BUILD ${ATRIUM_UNITY_BUILD})
  if(ATRIUM_UNITY_BUILD AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # In a unity batch each .cc is an included file, and GCC then takes a
    # class defined there with a member of an anonymous-namespace type for a
    # header's class seen by many translation units; it is seen by one.
    target_compile_options(${obj} PRIVATE -Wno-subobject-linkage)
  endif()
  foreach(dep ${L_DEPENDS})
    target_link_libraries(${obj} PUBLIC atrium_${dep}_obj)
  endforeach()
  target_link_libraries(${obj} PUBLIC ${L_LIBS})

  set(lib atrium_${name}_lib)
  add_library(${lib} STATIC $<TARGET_OBJECTS:${obj}>)
  target_include_directories(${lib} PUBLIC ${public_dirs})
  foreach(dep ${L_DEPENDS})
    target_link_libraries(${lib} PUBLIC atrium_${dep})
  endforeach()
  target_link_libraries(${lib} PUBLIC ${L_LIBS})
  add_library(atrium_${name} INTERFACE)
  if(L_SELF_REGISTERING)
    target_link_libraries(atrium_${name} INTERFACE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${lib}>")
  else()
    target_link_libraries(atrium_${name} INTERFACE ${lib})
  endif()
  # Tests of this layer may include its private headers.
  set_property(TARGET atrium_${name} PROPERTY ATRIUM_LAYER_SRC ${dir}/src)

  set(all ${ATRIUM_LAYERS})
  list(APPEND all ${name})
  set(ATRIUM_LAYERS ${all} CACHE INTERNAL "every layer, lowest first")
  if(EXISTS ${dir}/include/atrium)
    install(DIRECTORY ${dir}/include/atrium DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
endfunction()
