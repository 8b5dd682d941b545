# cuda.cmake — the CUDA backends (included when nvcc is found): sources, architectures, flags.
