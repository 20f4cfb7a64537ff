// How this process's heap hands freed memory back to the kernel.
#pragma once

namespace gex {

// CPU tensors come from malloc, and glibc's defaults give a large block back to the kernel as soon
// as it is freed (an mmap above a threshold that adapts only up to 32 MB, the heap's top trimmed
// past twice that): each batch's activations then fault in fresh zeroed pages, and a one-shot
// `gex eval` of Fashion-MNIST spent more time in the kernel than computing. This keeps blocks up to
// 256 MB in the heap and up to 512 MB of it free before trimming (memory the process used at its
// peak stays with it). Left alone where the user tuned glibc's malloc through the environment.
// Called once at the start of each program's main(); true where it set the heap's thresholds.
bool keep_freed_memory_for_reuse();

}  // namespace gex
