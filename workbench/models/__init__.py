"""Model files: the manifest, verification before any load, and (later) the llama.cpp and ONNX runtimes."""
