//! The sans-IO spoke protocol core.
