//! Behaviour tests of the protocol core (filled below).
