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

foreach(layer asynclib selectors asyncio)
  if(TARGET ${layer} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/cmake/${layer}.pc.in)
    configure_file(cmake/${layer}.pc.in ${CMAKE_CURRENT_BINARY_DIR}/${layer}.pc @ONLY)
    install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${layer}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  endif()
endforeach()
