//! Benchmarks for parrot.
