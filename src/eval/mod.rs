//! Query building and the hit-rate table.
