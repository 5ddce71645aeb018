//! The Unix socket server; its parts follow in the files of this directory.

mod connection;

pub use connection::*;
