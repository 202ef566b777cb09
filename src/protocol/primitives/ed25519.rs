//! The edwards25519 operations of the reference, with libsodium 1.0.18
//! semantics, on 32-byte compressed points.
//!
//! Owns: `from_uniform` (Elligator 2), the base and variable-base scalar
//! multiplications with libsodium's point checks, and add/sub. Must never
//! accept a point libsodium's checks reject, nor return an undecodable point.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use zeroize::Zeroizing;

use super::field::Fe;

/// A compressed edwards25519 point (or candidate point, as received).
pub(crate) type Point = [u8; 32];

/// Why an edwards25519 operation refused its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rejected;

/// Montgomery curve constant A of curve25519.
const A: Fe = Fe::from_u64(486662);

/// libsodium's `crypto_core_ed25519_from_uniform` (1.0.18): bit 255 picks
/// the sign of x, the other 255 bits are a field element r; Elligator 2
/// maps r to a Montgomery u, converted to Edwards and multiplied by 8.
pub(crate) fn from_uniform(r: &[u8; 32]) -> Point {
    let mut s = Zeroizing::new(*r);
    let x_sign = s[31] & 0x80;
    s[31] &= 0x7f;
    let r = Fe::from_bytes(&s);

    // u = -A / (1 + 2 r^2)
    let rr2 = r.square();
    let rr2 = rr2.add(rr2).add(Fe::ONE).invert();
    let mut x = A.mul(rr2).neg();
    // e = u^3 + A u^2 + u; if e is not a square, u = -u - A
    let x2 = x.square();
    let e = x.mul(x2).add(x).add(x2.mul(A));
    let e_is_minus_1 = e.chi().to_bytes()[1] & 1;
    x = Fe::select(x, x.neg(), e_is_minus_1);
    x = x.sub(Fe::select(Fe::ZERO, A, e_is_minus_1));
    // Edwards y = (u - 1) / (u + 1)
    let y = x.sub(Fe::ONE).mul(x.add(Fe::ONE).invert());
    let mut enc = y.to_bytes();
    enc[31] |= x_sign;
    // A y obtained this way always decodes (u is on the curve); if it ever
    // did not, the identity is as good an answer as a panic would not be.
    match CompressedEdwardsY(enc).decompress() {
        Some(p) => p.mul_by_cofactor().compress().to_bytes(),
        None => EdwardsPoint::default().compress().to_bytes(),
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
