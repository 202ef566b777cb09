//! What the example applications share: the bindings of their world
//! (`spoke:examples/imports`, with every WASI type taken from the `wasi`
//! crate so that flows' pollables and standard streams' pollables can be
//! waited on together), reading arguments and the environment, writing whole
//! buffers to the standard streams, and rendering Spoke's errors.
//!
//! It never touches the network itself: every socket belongs to the Spoke
//! component the applications are composed with.

pub mod bindings {
    //! Generated from `examples/apps/wit/command.wit` and `wit/flow.wit`.
    wit_bindgen::generate!({
        path: ["../../../wit", "../wit"],
        world: "spoke:examples/imports",
        with: {
            "wasi:io/poll@0.2.12": ::wasip2::io::poll,
            "wasi:io/error@0.2.12": ::wasip2::io::error,
            "wasi:io/streams@0.2.12": ::wasip2::io::streams,
            "wasi:sockets/network@0.2.12": ::wasip2::sockets::network,
        },
        generate_all,
    });
}

pub mod io;
pub mod net;
pub mod options;
pub mod secure;

pub use bindings::spoke::flow::types::{Error, Flow, ShutdownMode, WriteError};
pub use bindings::spoke::flow::{combinators, spoke, tcp, types};
