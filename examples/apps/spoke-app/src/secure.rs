//! The `--secure`, `--identity` and `--compat` options both applications
//! share, and running the handshake they ask for.
//!
//! The password comes from an environment variable named on the command
//! line (a component has no terminal to prompt on). It is wiped from memory
//! once the handshake has consumed it, and never printed.

use crate::bindings::spoke::flow::spoke::{self, Identities};
use crate::bindings::spoke::flow::types::Flow;
use crate::io;
use crate::net;
use zeroize::Zeroize;

/// How to secure a flow, from the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secure {
    /// The environment variable that holds the password; `None` for a
    /// plain flow.
    pub password_env: Option<String>,
    /// Client and server identities (default `spoke-client`,
    /// `spoke-server`, as the `spoke` command).
    pub identity: (String, String),
    /// Speak version 1, the OCaml library's format.
    pub compat: bool,
}

/// Which end of the handshake to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The connecting side.
    Client,
    /// The accepting side.
    Server,
}

impl Secure {
    /// Plain flows, default identities.
    pub fn new() -> Self {
        Self {
            identity: ("spoke-client".into(), "spoke-server".into()),
            ..Self::default()
        }
    }

    /// Takes `arg` (and its value from `rest`) if it is one of these
    /// options; `Ok(false)` if it is not.
    pub fn parse(
        &mut self,
        arg: &str,
        rest: &mut impl Iterator<Item = String>,
    ) -> Result<bool, String> {
        match arg {
            "--secure" => {
                self.password_env = Some(
                    rest.next()
                        .ok_or("--secure takes the name of an environment variable")?,
                );
            }
            "--identity" => {
                let pair = rest.next().ok_or("--identity takes CLIENT,SERVER")?;
                match pair.split_once(',') {
                    Some((c, s)) if !c.is_empty() && !s.is_empty() && !s.contains(',') => {
                        self.identity = (c.to_string(), s.to_string());
                    }
                    _ => {
                        return Err(format!(
                            "--identity takes CLIENT,SERVER (two names and one comma), not {pair:?}"
                        ));
                    }
                }
            }
            "--compat" => self.compat = true,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Whether flows are to be secured.
    pub fn enabled(&self) -> bool {
        self.password_env.is_some()
    }

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
            Role::Server => spoke::server(flow, &ids, &password, cfg),
        };
        password.zeroize();
        secured.map_err(|e| format!("handshake failed: {}", net::handshake_error(&e)))
    }
}
