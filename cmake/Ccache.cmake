# ccache, when present. The precompiled Torch header needs the pch sloppiness to be cacheable.
find_program(GEX_CCACHE ccache)
if(GEX_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      ${GEX_CCACHE})
  message(STATUS "Using ccache: ${GEX_CCACHE}")
endif()
