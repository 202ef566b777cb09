//! Plain TCP flows through the real component.
