"""Lamina's benchmarks: `./lamina bench` (python -m bench). See bench/README.md."""
