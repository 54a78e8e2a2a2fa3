# Per-target build settings for unsync's own targets (library, tests, examples, benchmarks).
# Nothing here touches global flags, and nothing propagates to consumers of unsync::unsync,
# except the sanitizer *link* flags of the library (see unsync_enable_sanitizers).
include_guard(GLOBAL)

function(unsync_validate_sanitize_option)
    if(UNSYNC_SANITIZE STREQUAL "")
        return()
    endif()
    if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        message(FATAL_ERROR "UNSYNC_SANITIZE is only supported with GCC or Clang")
    endif()
    string(REPLACE "," ";" _list "${UNSYNC_SANITIZE}")
    if("thread" IN_LIST _list AND ("address" IN_LIST _list OR "leak" IN_LIST _list))
        message(FATAL_ERROR "UNSYNC_SANITIZE: 'thread' cannot be combined with 'address'/'leak'")
    endif()
    message(STATUS "unsync: sanitizers enabled: ${UNSYNC_SANITIZE}")
endfunction()

# -Wall -Wextra -Wpedantic (+ -Werror if UNSYNC_WERROR), PRIVATE to the target.
function(unsync_set_warnings target)
    if(MSVC)
        target_compile_options(${target} PRIVATE /W4 /permissive-)
        if(UNSYNC_WERROR)
            target_compile_options(${target} PRIVATE /WX)
        endif()
    else()
        target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
        if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
            # GCC >= 12 warns (-Wtsan) of every atomic_thread_fence under -fsanitize=thread,
            # Asio's fenced blocks included; TSan does not model fences, and Asio synchronises
            # through what TSan sees. Off here, so that a parent project's own
            # `-fsanitize=thread -Werror` still builds unsync's sources.
            target_compile_options(${target} PRIVATE -Wno-tsan)
        endif()
        if(UNSYNC_WERROR)
            target_compile_options(${target} PRIVATE -Werror)
        endif()
    endif()
endfunction()

# Applies UNSYNC_SANITIZE to the target's compile and link steps.
# For the library itself the link flags are PUBLIC so that whatever links an instrumented
# (static) libunsync also links the sanitizer runtime; compile flags are always PRIVATE.
function(unsync_enable_sanitizers target)
    if(UNSYNC_SANITIZE STREQUAL "")
        return()
    endif()
    set(_flags "-fsanitize=${UNSYNC_SANITIZE}" -fno-omit-frame-pointer)
    if(UNSYNC_SANITIZE MATCHES "undefined")
        list(APPEND _flags -fno-sanitize-recover=all)
    endif()
    get_target_property(_type ${target} TYPE)
    target_compile_options(${target} PRIVATE ${_flags})
    if(_type MATCHES "LIBRARY$" AND NOT _type STREQUAL "INTERFACE_LIBRARY")
        target_link_options(${target} PUBLIC ${_flags})
    else()
        target_link_options(${target} PRIVATE ${_flags})
    endif()
endfunction()

# Everything a project target needs: C++20 without extensions, warnings, sanitizers.
function(unsync_configure_target target)
    set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
    unsync_set_warnings(${target})
    unsync_enable_sanitizers(${target})
endfunction()
