# One interface target carries the language standard, warnings and defines for every target (the
# standard is set once LibTorch is found: CMakeLists.txt).
add_library(project_options INTERFACE)
set(CMAKE_CXX_EXTENSIONS OFF)
# (C++ only: nvcc, for the CUDA kernels, takes other options.)
target_compile_options(project_options INTERFACE
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU,Clang>>:-Wall -Wextra -Wno-unused-parameter -Winvalid-pch>
  # No source-tree path in the binaries (__FILE__ in messages, debug info): they are the same
  # wherever they are built and name files relative to the project.
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU,Clang>>:-ffile-prefix-map=${PROJECT_SOURCE_DIR}/=>)
# LibTorch has a member named `slots`; Qt must not define it as a keyword.
target_compile_definitions(project_options INTERFACE
  QT_NO_KEYWORDS QT_NO_CAST_FROM_ASCII
  GEX_VERSION="${PROJECT_VERSION}")

option(GEX_SANITIZE "Build with AddressSanitizer and UBSan" OFF)
if(GEX_SANITIZE)
  target_compile_options(project_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(project_options INTERFACE -fsanitize=address,undefined)
endif()

# Every target that includes <torch/torch.h> gets it precompiled (~30 s a file without). A
# precompiled <torch/torch.h> takes ~50 s and 600 MB to make, so targets compiled with the same
# options share one: `gex_torch_pch(T REUSE H)` uses H's. GCC checks that the options match and
# says so (-Winvalid-pch) when they do not, rather than slowly compiling without it.
function(gex_torch_pch target)
  cmake_parse_arguments(ARG "" "REUSE" "" ${ARGN})
  if(ARG_REUSE)
    target_precompile_headers(${target} REUSE_FROM ${ARG_REUSE})
  else()
    target_precompile_headers(${target} PRIVATE <torch/torch.h> <nlohmann/json.hpp>)
  endif()
endfunction()

# Sources compiled in batches of eight (CMake's unity build): a file that includes Torch spends
# ~7 s loading the precompiled header and as long again on the code that header-only libraries
# (CLI11, nlohmann-json) emit into every file, before a line of its own; a batch pays that once.
# Files with options of their own (process_group.cpp, block_tail.cpp) stay apart. Turn it off for
# day-to-day work, where a change should recompile one file rather than its batch.
option(GEX_UNITY_BUILD "Compile the C++ sources in batches (faster from scratch, slower after an edit)" ON)
set(CMAKE_UNITY_BUILD ${GEX_UNITY_BUILD})
set(CMAKE_UNITY_BUILD_BATCH_SIZE 8)
