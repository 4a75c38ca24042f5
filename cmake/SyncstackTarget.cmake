# syncstack_library(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Defines the library syncstack_<name> with the alias syncstack::<name>,
# its public headers in ./include, and the project's warning flags.
function(syncstack_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                         -Wshadow=local -Wnon-virtual-dtor)
  if(SYNCSTACK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(syncstack_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(syncstack_${name} ${ARG_SOURCES})
  add_library(syncstack::${name} ALIAS syncstack_${name})
  target_include_directories(syncstack_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:include>)
  target_link_libraries(syncstack_${name} PUBLIC ${ARG_PUBLIC_DEPS}
                        PRIVATE ${ARG_PRIVATE_DEPS})
  set_target_properties(syncstack_${name} PROPERTIES
    EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON)
  syncstack_warnings(syncstack_${name})
endfunction()
