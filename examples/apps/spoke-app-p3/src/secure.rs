//! Starting a spoke session over a transport with what the `--secure`,
//! `--identity` and `--compat` options (parsed in `options.rs`, shared with
//! the WASI 0.2 applications) ask for.
//!
//! The password comes from an environment variable named on the command
//! line (a component has no terminal to prompt on). It is wiped from memory
//! once the session has it, and never printed.

use zeroize::Zeroizing;

use crate::bindings::spoke::flow::spoke::{self, Config, Identities, Session};
use crate::bindings::spoke::flow::tcp::Connection;
use crate::{Ending, StreamReader, io};

pub use crate::options::{Role, Secure};

impl Secure {
    /// The password from the environment variable `--secure` named.
    pub fn password(&self) -> Result<Zeroizing<Vec<u8>>, String> {
        let var = self
            .password_env
            .as_deref()
            .ok_or("no --secure was given")?;
        io::env_var(var)
            .map(|p| Zeroizing::new(p.into_bytes()))
            .ok_or(format!(
                "--secure: the environment variable {var} is not set"
            ))
    }

    /// The identities both ends bind into the handshake.
    pub fn identities(&self) -> Identities {
        Identities {
            client: self.identity.0.clone(),
            server: self.identity.1.clone(),
        }
    }

    /// Starts a session as `role` over a transport whose bytes from the
    /// peer are `incoming` (ending as `incoming_end` says); returns it and
    /// the stream for the peer, which the caller hands to the transport
    /// before it awaits the handshake.
    ///
    /// For a TCP connection of the Spoke component, use
    /// [`session_over_tcp`](Self::session_over_tcp): the connection's own
    /// `incoming_end` cannot be handed back to the component that wrote it.
    pub fn session(
        &self,
        role: Role,
        incoming: StreamReader<u8>,
        incoming_end: Option<Ending>,
    ) -> Result<(Session, StreamReader<u8>), String> {
        let password = self.password()?;
        let cfg = self.config();
        let ids = self.identities();
        Ok(match role {
            Role::Client => Session::client(incoming, incoming_end, &ids, &password, cfg),
            Role::Server => Session::server(incoming, incoming_end, &ids, &password, cfg),
        })
    }

    /// Starts a session as `role` over a TCP `connection` of the Spoke
    /// component, which the session takes whole: the records go between
    /// the socket and the session inside that component, and a failure of
    /// the socket is the session's error.
    pub fn session_over_tcp(&self, role: Role, connection: Connection) -> Result<Session, String> {
        let password = self.password()?;
        let cfg = self.config();
        let ids = self.identities();
        Ok(match role {
            Role::Client => Session::client_over_tcp(connection, &ids, &password, cfg),
            Role::Server => Session::server_over_tcp(connection, &ids, &password, cfg),
        })
    }

    /// The handshake's configuration: the default, at version 1 with
    /// `--compat`.
    fn config(&self) -> Config {
        let mut cfg = spoke::default_config();
        if self.compat {
            cfg.version = 1;
        }
        cfg
    }
}
