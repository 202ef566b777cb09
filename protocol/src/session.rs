//! The outcome of a successful handshake.
//!
//! Owns: the two confirmed 64-byte shared keys until they become a sealer
//! and an opener, and the bytes read past the handshake. Must never expose
//! the keys (wiped on drop, redacted from Debug).

use core::fmt;

use zeroize::Zeroizing;

use crate::handshake::ConfirmedKeys;
use crate::{Cipher, Opener, Sealer, Version};

/// A side of the handshake: the client speaks first with the password, the
/// server answers with the public packet (§3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The connecting side: runs [`ClientHandshake`](crate::ClientHandshake).
    Client,
    /// The accepting side: runs [`ServerHandshake`](crate::ServerHandshake).
    Server,
}

/// A secured session: confirmed keys, the ciphers and the bytes the peer
/// sent past the handshake.
pub struct Session {
    version: Version,
    role: Role,
    server_to_client: Cipher,
    client_to_server: Cipher,
    k0: Zeroizing<[u8; 64]>,
    k1: Zeroizing<[u8; 64]>,
    pending: Vec<u8>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("version", &self.version)
            .field("role", &self.role)
            .field("server_to_client", &self.server_to_client)
            .field("client_to_server", &self.client_to_server)
            .field("keys", &"<redacted>")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Session {
    pub(crate) fn new(
        version: Version,
        role: Role,
        (server_to_client, client_to_server): (Cipher, Cipher),
        keys: ConfirmedKeys,
        pending: Vec<u8>,
    ) -> Self {
        let (k0, k1) = keys.into_keys();
        Session {
            version,
            role,
            server_to_client,
            client_to_server,
            k0,
            k1,
            pending,
        }
    }

    /// The protocol version of the session.
    pub fn version(&self) -> Version {
        self.version
    }

    /// `(server_to_client, client_to_server)` ciphers.
    pub fn ciphers(&self) -> (Cipher, Cipher) {
        (self.server_to_client, self.client_to_server)
    }

    /// Our sealer and the peer's opener; the opener already holds the bytes
    /// received past the handshake. Server to client uses k0, client to
    /// server k1.
    pub fn into_parts(self) -> (Sealer, Opener) {
        let v = self.version;
        match self.role {
            Role::Client => (
                Sealer::new(v, self.client_to_server, &self.k1),
                Opener::new(v, self.server_to_client, &self.k0, self.pending),
            ),
            Role::Server => (
                Sealer::new(v, self.server_to_client, &self.k0),
                Opener::new(v, self.client_to_server, &self.k1, self.pending),
            ),
        }
    }

    /// Test hook: the shared keys `(k0, k1)`.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn keys(&self) -> (&[u8; 64], &[u8; 64]) {
        (&self.k0, &self.k1)
    }

    /// Test hook: the bytes read past the handshake.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn pending(&self) -> &[u8] {
        &self.pending
    }
}
