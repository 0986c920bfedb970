# Install-time step, run last by `cmake --install`: makes the installed
# shared libraries loadable. AL_LIBDIR is set by the install(CODE) that
# includes this file (cmake/package.cmake).
#
# - DESTDIR set (staging for a package): nothing; the package runs ldconfig.
# - The library directory is one the dynamic linker searches (ld.so.conf,
#   e.g. /usr/local/lib) and we are root: runs ldconfig, so that programs
#   find libasynclib.so.0 right away.
# - Otherwise: says what a program needs (ldconfig as root, or an rpath).
if(NOT "$ENV{DESTDIR}" STREQUAL "")
  return()
endif()
if(IS_ABSOLUTE "${AL_LIBDIR}")
  set(_al_libdir "${AL_LIBDIR}")
else()
  set(_al_libdir "${CMAKE_INSTALL_PREFIX}/${AL_LIBDIR}")
endif()
file(REAL_PATH "${_al_libdir}" _al_libdir)

find_program(_al_ldconfig ldconfig PATHS /sbin /usr/sbin)
set(_al_searched FALSE)
if(_al_ldconfig)
  # -N -X: list the directories ld.so.conf names, change nothing.
  execute_process(COMMAND "${_al_ldconfig}" -N -X -v
    OUTPUT_VARIABLE _al_out ERROR_QUIET RESULT_VARIABLE _al_rc)
  string(REGEX MATCHALL "(^|\n)/[^:\n]*:" _al_dirs "${_al_out}")
  foreach(_d IN LISTS _al_dirs)
    string(REGEX REPLACE "^\n?(/[^:]*):$" "\\1" _d "${_d}")
    file(REAL_PATH "${_d}" _d)
    if(_d STREQUAL _al_libdir)
      set(_al_searched TRUE)
    endif()
  endforeach()
endif()

execute_process(COMMAND id -u OUTPUT_VARIABLE _al_uid OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET)
if(_al_searched AND _al_uid STREQUAL "0")
  message(STATUS "Running ldconfig: ${_al_libdir} is on the dynamic linker's path")
  execute_process(COMMAND "${_al_ldconfig}" RESULT_VARIABLE _al_rc)
  if(NOT _al_rc EQUAL 0)
    message(WARNING "ldconfig failed (${_al_rc}): run it as root before starting programs")
  endif()
elseif(_al_searched)
  message(STATUS "asynclib: run `ldconfig` as root once, so that programs find "
    "the libraries in ${_al_libdir}")
else()
  message(STATUS "asynclib: ${_al_libdir} is not on the dynamic linker's path: link "
    "programs with -Wl,-rpath,${_al_libdir} (CMake sets it in build trees), or link the "
    "static libraries (README: \"Install, and build a program against it\")")
endif()
