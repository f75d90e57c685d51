//! Reverse-mode autodiff: the tape, each op's forward and backward side by side.
