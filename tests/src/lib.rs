//! Integration tests live in `tests/tests/workbench/`, one binary (`main.rs`) of modules.
