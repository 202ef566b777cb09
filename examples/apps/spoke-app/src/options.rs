//! The `--secure`, `--identity` and `--compat` options every example
//! application takes, parsed into [`Secure`]. Only the parsing: how a
//! connection is secured is in each bindings crate's `secure.rs` (this file
//! is shared with `spoke-app-p3` by path).
//!
//! The password itself is never here: only the name of the environment
//! variable that holds it (a component has no terminal to prompt on).

/// How to secure a connection, from the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secure {
    /// The environment variable that holds the password; `None` for a
    /// plain connection.
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
    /// Plain connections, default identities.
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

    /// Whether connections are to be secured.
    pub fn enabled(&self) -> bool {
        self.password_env.is_some()
    }
}
