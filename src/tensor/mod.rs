//! The f32 tensor and its CPU ops.
