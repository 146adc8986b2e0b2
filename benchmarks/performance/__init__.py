"""`newsbot bench`: ingest against the model's own speed, the int8 ONNX option, query latency
from 1k to 100k chunks, cold start and memory (see benchmarks/README.md). The entry point is
`benchmarks.performance.runner.run_bench`; this package imports nothing itself, so its probes
start as cold as `newsbot` does."""
