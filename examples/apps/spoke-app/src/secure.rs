//! Running the handshake that the `--secure`, `--identity` and `--compat`
//! options (parsed in `options.rs`) ask for.
//!
//! The password comes from an environment variable named on the command
//! line (a component has no terminal to prompt on). It is wiped from memory
//! once the handshake has consumed it, and never printed.

use crate::bindings::spoke::flow::spoke::{self, Identities};
use crate::bindings::spoke::flow::types::Flow;
use crate::io;
use crate::net;
use zeroize::Zeroize;

/// How long a server gives a client to finish the handshake, in
/// nanoseconds: a client that connects and says nothing must not hold a
/// server that handles its clients one call at a time.
const HANDSHAKE_TIMEOUT: u64 = 5_000_000_000;

pub use crate::options::{Role, Secure};

impl Secure {
    /// Runs the handshake over `flow` as `role` if `--secure` was given;
    /// otherwise returns `flow` as it is.
    pub fn wrap(&self, flow: Flow, role: Role) -> Result<Flow, String> {
        let Some(var) = &self.password_env else {
            return Ok(flow);
        };
        let Some(password) = io::env_var(var) else {
            flow.close();
            return Err(format!(
                "--secure: the environment variable {var} is not set"
            ));
        };
        let mut password = password.into_bytes();
        let mut cfg = spoke::default_config();
        if self.compat {
            cfg.version = 1;
        }
        let ids = Identities {
            client: self.identity.0.clone(),
            server: self.identity.1.clone(),
        };
        let secured = match role {
            Role::Client => spoke::client(flow, &ids, &password, cfg),
            Role::Server => spoke::server_within(flow, &ids, &password, cfg, HANDSHAKE_TIMEOUT),
        };
        password.zeroize();
        secured.map_err(|e| format!("handshake failed: {}", net::handshake_error(&e)))
    }
}
