//! The on-disk index, probing, search, alignment, LSH and exhaustive baselines.
