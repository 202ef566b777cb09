//! Replays the reference vectors.
