"""Performance benchmarks (`imon eval bench`, `make bench`), each against a same-run baseline.

One module per benchmark (streaming, ingest, http_push, ask_latency, worker_memory,
vector_search), a runner and the writer of eval/BENCH.md. Imported only by the CLI.
"""
