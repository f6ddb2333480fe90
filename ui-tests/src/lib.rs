//! Compile-pass and compile-fail tests for the parrot macros.
