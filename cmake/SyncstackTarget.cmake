# syncstack_library(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...]
#                   [INCLUDE_DIRS ...] [NO_PCH])
# Defines the library syncstack_<name> with the alias syncstack::<name>,
# its public headers in ./include (or INCLUDE_DIRS, relative to the
# folder), and the project's warning flags. It reuses syncstack_lib_pch
# unless NO_PCH (for a dependency's defines that change the standard
# headers, as Poco's _FILE_OFFSET_BITS).
function(syncstack_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                         -Wshadow=local -Wnon-virtual-dtor)
  if(SYNCSTACK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Precompiled headers (docs/decisions/ci-build-time.md): the standard
# headers for the libraries, those and GoogleTest for the tests. On unless a
# compiler launcher (ccache) is set: ccache caches no compile that uses a
# precompiled header without extra sloppiness settings, and a warm cache
# beats one anyway.
if(CMAKE_CXX_COMPILER_LAUNCHER)
  set(_syncstack_pch_default OFF)
else()
  set(_syncstack_pch_default ON)
endif()
option(SYNCSTACK_PCH "Precompile the common standard and test headers"
       ${_syncstack_pch_default})
set(SYNCSTACK_PCH_STD_HEADERS <algorithm> <charconv> <chrono> <cstddef>
    <cstdint> <cstring> <functional> <map> <memory> <mutex> <optional>
    <string> <string_view> <utility> <vector>)

# syncstack_pch(<name> [PIC] HEADERS ... [LIBS ...]): the object library
# <name>, whose one job is to precompile HEADERS with the project's warning
# flags for targets of the same flags to reuse (syncstack_use_pch). LIBS give
# the headers' include directories. Nothing when SYNCSTACK_PCH is off.
function(syncstack_pch name)
  cmake_parse_arguments(ARG "PIC" "" "HEADERS;LIBS" ${ARGN})
  if(NOT SYNCSTACK_PCH)
    return()
  endif()
  set(_source ${CMAKE_CURRENT_BINARY_DIR}/${name}.cc)
  file(CONFIGURE OUTPUT ${_source} CONTENT "// ${name}: headers only.\n")
  add_library(${name} OBJECT ${_source})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ${ARG_PIC})
  syncstack_warnings(${name})
  target_precompile_headers(${name} PRIVATE ${ARG_HEADERS})
endfunction()

# syncstack_use_pch(<target> <pch>): <target> compiles with the headers that
# syncstack_pch(<pch>) precompiled. Its compile flags must match <pch>'s:
# GCC's -Winvalid-pch, which CMake adds, and -Werror fail the build if not.
function(syncstack_use_pch target pch)
  if(TARGET ${pch})
    target_precompile_headers(${target} REUSE_FROM ${pch})
  endif()
endfunction()

# The libraries' one: position-independent, as they are.
syncstack_pch(syncstack_lib_pch PIC HEADERS ${SYNCSTACK_PCH_STD_HEADERS})

function(syncstack_library name)
  cmake_parse_arguments(ARG "NO_PCH" ""
                        "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS;INCLUDE_DIRS" ${ARGN})
  if(NOT ARG_INCLUDE_DIRS)
    set(ARG_INCLUDE_DIRS include)
  endif()
  add_library(syncstack_${name} ${ARG_SOURCES})
  add_library(syncstack::${name} ALIAS syncstack_${name})
  foreach(_dir IN LISTS ARG_INCLUDE_DIRS)
    target_include_directories(syncstack_${name} PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/${_dir}>)
  endforeach()
  target_include_directories(syncstack_${name} PUBLIC
    $<INSTALL_INTERFACE:include>)
  target_link_libraries(syncstack_${name} PUBLIC ${ARG_PUBLIC_DEPS}
                        PRIVATE ${ARG_PRIVATE_DEPS})
  set_target_properties(syncstack_${name} PROPERTIES
    EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON)
  syncstack_warnings(syncstack_${name})
  if(NOT ARG_NO_PCH)
    syncstack_use_pch(syncstack_${name} syncstack_lib_pch)
  endif()
  syncstack_install(${name})
endfunction()

# Installs syncstack_<name> and its public headers as the package
# component <name> (find_package(syncstack COMPONENTS <name>)).
function(syncstack_install name)
  include(GNUInstallDirs)
  install(TARGETS syncstack_${name} EXPORT syncstack-${name}-targets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT syncstack-${name}-targets NAMESPACE syncstack::
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/syncstack)
  get_target_property(_dirs syncstack_${name} INTERFACE_INCLUDE_DIRECTORIES)
  foreach(_dir IN LISTS _dirs)
    string(REGEX REPLACE "^\\$<BUILD_INTERFACE:(.*)>$" "\\1" _dir "${_dir}")
    if(IS_DIRECTORY "${_dir}/syncstack")
      install(DIRECTORY "${_dir}/syncstack"
              DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
    endif()
  endforeach()
endfunction()
