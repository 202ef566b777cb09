//! The `spoke` command.

mod cli;
mod header;
mod password;

fn main() {}
