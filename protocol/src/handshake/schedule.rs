//! Password-derived values (§3) and the key schedule (§5, §9).
//!
//! Owns: `Spoke.keys` (M, N, h_K, h_L, L), the transcript hash of either
//! version, the four subkeys, and the validator checks. Keys only leave
//! here as [`ConfirmedKeys`], which exist only once the peer's validator
//! has been compared (in constant time) and found right: a state machine
//! cannot forget the check. Must never compare secrets with `==`.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::primitives::blake2::{Transcript, subkey};
use crate::primitives::ed25519::{Point, base_clamp, from_uniform};
use crate::primitives::pbkdf2::pbkdf2_le;
use crate::wire::PUBLIC_LEN;
use crate::{HandshakeError, Identities, Version};

/// `Spoke.keys`: the values both sides derive from the password.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct PasswordKeys {
    pub(crate) m: Point,
    pub(crate) n: Point,
    pub(crate) h_k: [u8; 32],
    pub(crate) h_l: [u8; 32],
    pub(crate) l: Point,
}

impl PasswordKeys {
    /// `mnkl = PBKDF2(password, salt, count, 128)`, split and mapped.
    pub(crate) fn derive(password: &[u8], salt: &[u8; 16], count: u32) -> Self {
        let mut mnkl = Zeroizing::new([0u8; 128]);
        pbkdf2_le(password, salt, count, &mut mnkl[..]);
        let part = |i: usize| {
            let mut b = [0u8; 32];
            b.copy_from_slice(&mnkl[i * 32..i * 32 + 32]);
            b
        };
        let (mut m, mut n) = (part(0), part(1));
        let h_l = part(3);
        let keys = PasswordKeys {
            m: from_uniform(&m),
            n: from_uniform(&n),
            h_k: part(2),
            h_l,
            l: base_clamp(&h_l),
        };
        m.zeroize();
        n.zeroize();
        keys
    }
}

/// Everything the transcript hash covers.
pub(crate) struct TranscriptInput<'a> {
    pub(crate) version: Version,
    pub(crate) ids: &'a Identities,
    pub(crate) public: &'a [u8; PUBLIC_LEN],
    pub(crate) x: &'a Point,
    pub(crate) y: &'a Point,
    pub(crate) z: &'a Point,
    pub(crate) h_k: &'a [u8; 32],
    pub(crate) v: &'a Point,
}

/// Version 2 length-prefixes identities with a u16.
pub(crate) fn check_identities(version: Version, ids: &Identities) -> Result<(), HandshakeError> {
    let limit = usize::from(u16::MAX);
    if version == Version::V2 && (ids.client.len() > limit || ids.server.len() > limit) {
        return Err(HandshakeError::InvalidConfig(
            "identities longer than 65535 bytes cannot be used",
        ));
    }
    Ok(())
}

/// The main key and its four subkeys, before either validator is checked.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct PendingKeys {
    k0: [u8; 64],
    k1: [u8; 64],
    cv: [u8; 64],
    sv: [u8; 64],
}

impl PendingKeys {
    /// Hashes the transcript (§5 for version 1, §9 for version 2) and
    /// derives `k0, k1, client_validator, server_validator`.
    pub(crate) fn schedule(t: &TranscriptInput<'_>) -> Self {
        let mut h = Transcript::new();
        match t.version {
            Version::V1 => {
                h.put(&1u16.to_le_bytes());
                h.put(&t.ids.client);
                h.put(&t.ids.server);
            }
            Version::V2 => {
                h.put(&2u16.to_le_bytes());
                // check_identities ran in the constructors.
                h.put(&(t.ids.client.len() as u16).to_be_bytes());
                h.put(&t.ids.client);
                h.put(&(t.ids.server.len() as u16).to_be_bytes());
                h.put(&t.ids.server);
                h.put(t.public);
            }
        }
        for part in [t.x, t.y, t.z, t.h_k, t.v] {
            h.put(part);
        }
        let main = Zeroizing::new(h.finish());
        PendingKeys {
            k0: subkey(&main, 0),
            k1: subkey(&main, 1),
            cv: subkey(&main, 2),
            sv: subkey(&main, 3),
        }
    }

    /// The validator the server sends (`Y || cv`).
    pub(crate) fn client_validator(&self) -> &[u8; 64] {
        &self.cv
    }

    /// Client side: checks the server's `cv`; on success the keys and the
    /// `sv` to send.
    pub(crate) fn confirm_as_client(
        &self,
        cv: &[u8],
    ) -> Result<(ConfirmedKeys, [u8; 64]), HandshakeError> {
        if bool::from(self.cv.ct_eq(cv)) {
            Ok((self.confirmed(), self.sv))
        } else {
            Err(HandshakeError::InvalidClientValidator)
        }
    }

    /// Server side: checks the client's `sv`.
    pub(crate) fn confirm_as_server(&self, sv: &[u8]) -> Result<ConfirmedKeys, HandshakeError> {
        if bool::from(self.sv.ct_eq(sv)) {
            Ok(self.confirmed())
        } else {
            Err(HandshakeError::InvalidServerValidator)
        }
    }

    fn confirmed(&self) -> ConfirmedKeys {
        ConfirmedKeys {
            k0: Zeroizing::new(self.k0),
            k1: Zeroizing::new(self.k1),
        }
    }
}

/// The two shared keys, once the peer's validator matched.
pub(crate) struct ConfirmedKeys {
    k0: Zeroizing<[u8; 64]>,
    k1: Zeroizing<[u8; 64]>,
}

impl ConfirmedKeys {
    pub(crate) fn into_keys(self) -> (Zeroizing<[u8; 64]>, Zeroizing<[u8; 64]>) {
        (self.k0, self.k1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::wiped_on_drop;

    #[test]
    fn secrets_are_wiped_on_drop() {
        wiped_on_drop::<PasswordKeys>();
        wiped_on_drop::<PendingKeys>();
        wiped_on_drop::<Zeroizing<[u8; 64]>>(); // ConfirmedKeys' fields
    }

    #[test]
    fn validators_are_checked_both_ways() {
        let ids = Identities {
            client: vec![],
            server: vec![],
        };
        let p = [7u8; 32];
        let t = TranscriptInput {
            version: Version::V2,
            ids: &ids,
            public: &[0; PUBLIC_LEN],
            x: &p,
            y: &p,
            z: &p,
            h_k: &p,
            v: &p,
        };
        let keys = PendingKeys::schedule(&t);
        let cv = *keys.client_validator();
        let Ok((_, sv)) = keys.confirm_as_client(&cv) else {
            panic!("own cv must match")
        };
        assert!(keys.confirm_as_server(&sv).is_ok());
        let mut bad = sv;
        bad[63] ^= 1;
        assert_eq!(
            keys.confirm_as_server(&bad).err(),
            Some(HandshakeError::InvalidServerValidator)
        );
        assert_eq!(
            keys.confirm_as_client(&cv[..63]).err(),
            Some(HandshakeError::InvalidClientValidator)
        );
    }
}
