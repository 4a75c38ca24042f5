# syncstack_library(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...]
#                   [INCLUDE_DIRS ...])
# Defines the library syncstack_<name> with the alias syncstack::<name>,
# its public headers in ./include (or INCLUDE_DIRS, relative to the
# folder), and the project's warning flags.
function(syncstack_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                         -Wshadow=local -Wnon-virtual-dtor)
  if(SYNCSTACK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(syncstack_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS;INCLUDE_DIRS"
                        ${ARGN})
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
