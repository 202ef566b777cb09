//! What the example applications for WASI 0.3 share: the bindings of their
//! world (`spoke:examples/command@0.2.0`: `spoke:flow@0.2.0` and the
//! `wasi:cli@0.3.0` command line, with the `wasi:cli/run@0.3.0` export each
//! application implements and exports with [`export!`]), running an async
//! `main` as `run`, reading arguments and the environment, printing lines,
//! addresses, and the `--secure` options.
//!
//! It never touches the network itself, and no byte of a connection passes
//! through it: every socket belongs to the Spoke component the applications
//! are composed with, and the applications hand streams from one import to
//! another.

pub mod bindings {
    //! Generated from `examples/apps/wit/p3/command.wit` and
    //! `wit/p3/flow.wit`.
    wit_bindgen::generate!({
        path: ["../../../wit/p3", "../wit/p3"],
        world: "spoke:examples/command@0.2.0",
        generate_all,
        // Each application exports `run` with this crate's `export!`.
        pub_export_macro: true,
    });
}

pub mod io;
pub mod net;
#[path = "../../spoke-app/src/options.rs"]
pub mod options;
pub mod secure;

pub use bindings::exports::wasi::cli::run::Guest as Run;
pub use bindings::spoke::flow::types::Error;
pub use bindings::spoke::flow::{spoke, tcp, types};
pub use bindings::{export, wit_future, wit_stream};
pub use wit_bindgen::{FutureReader, StreamReader, StreamResult, StreamWriter};

/// How one direction of a connection or session ended, as `spoke:flow`
/// says it.
pub type Ending = FutureReader<Result<(), Error>>;
