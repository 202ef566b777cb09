//! Replays the reference's vectors (tests/vectors/*.json) through the real
//! primitives and state machines.
