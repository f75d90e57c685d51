//! Tests of the index: file format, library edits, search and alignment.

mod builder_tests;
mod fixtures;
mod format_tests;
mod lsh_tests;
mod search_tests;
