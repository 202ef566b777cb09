//! The edwards25519 operations of the reference, with libsodium 1.0.18
//! semantics, on 32-byte compressed points.
//!
//! Owns: `from_uniform` (Elligator 2, through curve25519-dalek), the base
//! and variable-base scalar multiplications with libsodium's point checks,
//! and add/sub. Must never accept a point libsodium's checks reject, nor
//! return an undecodable point.

use curve25519_dalek::digest::consts::U64;
use curve25519_dalek::digest::{FixedOutput, HashMarker, Output, OutputSizeUser, Update};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A compressed edwards25519 point (or candidate point, as received).
pub(crate) type Point = [u8; 32];

/// Why an edwards25519 operation refused its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rejected;

/// libsodium's `crypto_core_ed25519_from_uniform` (1.0.18): bit 255 picks
/// the sign of x, the other 255 bits are a field element r (values >= p
/// accepted and reduced); Elligator 2 maps r to a Montgomery u, converted to
/// Edwards and multiplied by 8. curve25519-dalek's `nonspec_map_to_curve`
/// does exactly this to the first 32 bytes of a hash of its input, so it is
/// given a "hash" that returns its input ([`PassThrough`]).
/// `from_uniform_matches_libsodium` pins the result to libsodium's.
///
/// It cannot panic. dalek's only failure is its `expect` on the
/// Montgomery-to-Edwards conversion, which fails only if u = -1 or u is not
/// on the curve. Elligator 2 never returns such a u. Let
/// f(u) = u^3 + A u^2 + u and d = -A / (1 + 2 r^2), where 1 + 2 r^2 is never
/// 0 (as -1/2 is not a square). It returns d if f(d) is a square, otherwise
/// u = -d - A, for which f(u) = 2 r^2 f(d): a square (2 is not one) or, if
/// r = 0, zero (u = 0). So f(u) is always a square or 0, which puts u on the
/// curve, and u is not -1 because f(-1) = A - 2 = 486660 is not a square
/// mod 2^255 - 19.
#[allow(deprecated)] // The name warns that this is no hash-to-curve; it is not used as one.
pub(crate) fn from_uniform(r: &[u8; 32]) -> Point {
    EdwardsPoint::nonspec_map_to_curve::<PassThrough>(r)
        .compress()
        .to_bytes()
}

/// Not a hash: the "digest" [`from_uniform`] gives curve25519-dalek's
/// `nonspec_map_to_curve`, which takes the first 32 bytes of the output as
/// its field element and sign bit. Its 64-byte output is the first 32 bytes
/// fed to it, then zeros, so dalek maps those bytes themselves, as
/// libsodium's `from_uniform` does. The bytes derive from the password: they
/// are wiped when the value is dropped.
#[derive(Default, Zeroize, ZeroizeOnDrop)]
struct PassThrough {
    head: [u8; 32],
    len: usize,
}

impl HashMarker for PassThrough {}

impl OutputSizeUser for PassThrough {
    type OutputSize = U64;
}

impl Update for PassThrough {
    fn update(&mut self, data: &[u8]) {
        let take = data.len().min(32 - self.len);
        self.head[self.len..self.len + take].copy_from_slice(&data[..take]);
        self.len += take;
    }
}

impl FixedOutput for PassThrough {
    fn finalize_into(self, out: &mut Output<Self>) {
        out[..32].copy_from_slice(&self.head);
        out[32..].fill(0);
    }
}

/// `crypto_scalarmult_ed25519_base_noclamp`: bit 255 cleared, s·B. The
/// reference ignores the return code, so this never fails.
pub(crate) fn base_noclamp(s: &[u8; 32]) -> Point {
    let mut t = Zeroizing::new(*s);
    t[31] &= 127;
    let k = Zeroizing::new(Scalar::from_bytes_mod_order(*t));
    EdwardsPoint::mul_base(&k).compress().to_bytes()
}

/// `crypto_scalarmult_ed25519_base`: the scalar is clamped first.
pub(crate) fn base_clamp(s: &[u8; 32]) -> Point {
    base_noclamp(&clamp(s))
}

fn clamp(s: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut t = Zeroizing::new(*s);
    t[0] &= 248;
    t[31] &= 127;
    t[31] |= 64;
    t
}

/// Is the encoding's y (bit 255 ignored) below p? (`ge25519_is_canonical`)
fn is_canonical(p: &Point) -> bool {
    let mut c = (p[31] & 0x7f) ^ 0x7f;
    for b in &p[1..31] {
        c |= b ^ 0xff;
    }
    // All of bytes 1..32 at their maximum: canonical only if byte 0 < 0xed.
    c != 0 || p[0] < 0xed
}

/// Decodes a point that libsodium's scalar multiplication would accept:
/// canonical, decodable, not of small order, in the prime-order subgroup.
fn decode_prime_order(p: &Point) -> Result<EdwardsPoint, Rejected> {
    if !is_canonical(p) {
        return Err(Rejected);
    }
    let point = CompressedEdwardsY(*p).decompress().ok_or(Rejected)?;
    if point.is_small_order() || !point.is_torsion_free() {
        return Err(Rejected);
    }
    Ok(point)
}

fn mult(s: &[u8; 32], p: &Point) -> Result<Point, Rejected> {
    let point = decode_prime_order(p)?;
    let mut t = Zeroizing::new(*s);
    t[31] &= 127;
    let k = Zeroizing::new(Scalar::from_bytes_mod_order(*t));
    let q = point * *k;
    if q.is_identity() || s.iter().all(|&b| b == 0) {
        return Err(Rejected);
    }
    Ok(q.compress().to_bytes())
}

/// `crypto_scalarmult_ed25519_noclamp`, with all of libsodium's checks.
pub(crate) fn mult_noclamp(s: &[u8; 32], p: &Point) -> Result<Point, Rejected> {
    mult(s, p)
}

/// `crypto_scalarmult_ed25519` (clamped), with all of libsodium's checks.
/// The zero check is on the scalar as given, before clamping, as there.
pub(crate) fn mult_clamp(s: &[u8; 32], p: &Point) -> Result<Point, Rejected> {
    if s.iter().all(|&b| b == 0) {
        return Err(Rejected);
    }
    mult(&clamp(s), p)
}

/// `crypto_core_ed25519_add`, refusing points that do not decode (where the
/// reference went on with uninitialised memory).
pub(crate) fn add(p: &Point, q: &Point) -> Result<Point, Rejected> {
    let a = CompressedEdwardsY(*p).decompress().ok_or(Rejected)?;
    let b = CompressedEdwardsY(*q).decompress().ok_or(Rejected)?;
    Ok((a + b).compress().to_bytes())
}

/// `crypto_core_ed25519_sub`, refusing points that do not decode.
pub(crate) fn sub(p: &Point, q: &Point) -> Result<Point, Rejected> {
    let a = CompressedEdwardsY(*p).decompress().ok_or(Rejected)?;
    let b = CompressedEdwardsY(*q).decompress().ok_or(Rejected)?;
    Ok((a - b).compress().to_bytes())
}
