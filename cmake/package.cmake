# The installed CMake package (find_package(asynclib)) and the pkg-config
# files of every layer that exists in this build.
include(CMakePackageConfigHelpers)
install(EXPORT asynclibTargets NAMESPACE asynclib:: DESTINATION ${ASYNCLIB_CMAKE_DIR})
configure_package_config_file(cmake/asynclibConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/asynclibConfig.cmake INSTALL_DESTINATION ${ASYNCLIB_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/asynclibConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/asynclibConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/asynclibConfigVersion.cmake DESTINATION ${ASYNCLIB_CMAKE_DIR})

# pkg-config files are relocatable: prefix is found from the .pc file's own
# directory, so `cmake --install --prefix P` and copied trees work. An
# absolute CMAKE_INSTALL_LIBDIR/INCLUDEDIR is used as given.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _pc_up "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
  string(REGEX REPLACE "/$" "" _pc_up "${_pc_up}")
  set(PC_PREFIX "\${pcfiledir}/${_pc_up}")
  set(PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()

foreach(layer asynclib selectors asyncio)
  if(TARGET ${layer} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/cmake/${layer}.pc.in)
    configure_file(cmake/${layer}.pc.in ${CMAKE_CURRENT_BINARY_DIR}/${layer}.pc @ONLY)
    install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${layer}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  endif()
endforeach()

# Last install step: ldconfig for a system prefix, or a hint (cmake/ldconfig.cmake).
install(CODE "set(AL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")")
install(SCRIPT cmake/ldconfig.cmake)
