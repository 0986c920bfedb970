# asynclib_add_layer(NAME [HIDDEN_VISIBILITY] SOURCES... [DEPS ...] [PRIVATE_DEPS ...])
#
# Builds NAME as a static library (NAME_static, file libNAME.a) and a shared
# one (NAME, file libNAME.so), both with the public include directory
# NAME/include, installs both plus the headers, and exports them as
# asynclib::NAME and asynclib::NAME_static.
#
# HIDDEN_VISIBILITY (opt-in per layer): every symbol is hidden unless its
# declaration says otherwise, so the shared library exports only what the
# layer's public headers mark with its export macro (AL_API, SEL_API,
# AIO_API); the layer's test checks the list (tests/exports.sh).
function(asynclib_add_layer name)
  cmake_parse_arguments(L "HIDDEN_VISIBILITY" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  set(visibility default)
  if(L_HIDDEN_VISIBILITY)
    set(visibility hidden)
  endif()
  set(inc ${CMAKE_CURRENT_SOURCE_DIR}/include)
  foreach(kind static shared)
    if(kind STREQUAL "static")
      set(t ${name}_static)
      add_library(${t} STATIC ${L_SOURCES})
    else()
      set(t ${name})
      add_library(${t} SHARED ${L_SOURCES})
      # $ORIGIN: an installed layer finds the layers it depends on beside it
      # (libasyncio.so needs libselectors.so, which a program linked with
      # --as-needed does not list itself, so the program's own rpath does not
      # reach it).
      set_target_properties(${t} PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION 0
        INSTALL_RPATH "\$ORIGIN")
    endif()
    set_target_properties(${t} PROPERTIES OUTPUT_NAME ${name} C_VISIBILITY_PRESET ${visibility})
    if(ASYNCLIB_LTO)
      # Link-time optimisation inlines the hot calls between files (call_soon,
      # handles, futures, task steps). Fat objects keep the static archive
      # linkable by a consumer that does no LTO.
      set_target_properties(${t} PROPERTIES INTERPROCEDURAL_OPTIMIZATION ON)
      target_compile_options(${t} PRIVATE -ffat-lto-objects)
    endif()
    target_include_directories(${t}
      PUBLIC $<BUILD_INTERFACE:${inc}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
      PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    foreach(d ${L_DEPS})
      if(kind STREQUAL "static" AND TARGET ${d}_static)
        target_link_libraries(${t} PUBLIC ${d}_static)
      else()
        target_link_libraries(${t} PUBLIC ${d})
      endif()
    endforeach()
    target_link_libraries(${t} PRIVATE ${L_PRIVATE_DEPS})
    add_library(asynclib::${t} ALIAS ${t})
    install(TARGETS ${t} EXPORT asynclibTargets
      ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
      LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
      RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endforeach()
  install(DIRECTORY ${inc}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()
