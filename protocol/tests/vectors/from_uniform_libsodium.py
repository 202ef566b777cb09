#!/usr/bin/env python3
"""Writes from_uniform_libsodium.json: libsodium's crypto_core_ed25519_from_uniform
(called through ctypes; 1.0.18 expected) on edge inputs and on seeded inputs.
Usage: python3 from_uniform_libsodium.py > from_uniform_libsodium.json"""
import ctypes, hashlib, json

so = ctypes.CDLL("libsodium.so.23")
assert so.sodium_init() >= 0
so.sodium_version_string.restype = ctypes.c_char_p
VERSION = so.sodium_version_string().decode()


def sodium(b):
    out = ctypes.create_string_buffer(32)
    assert so.crypto_core_ed25519_from_uniform(out, bytes(b)) == 0
    return out.raw


p = 2**255 - 19
A = 486662


def chi(x):
    return pow(x % p, (p - 1) // 2, p)


def sqrt(x):
    x %= p
    r = pow(x, (p + 3) // 8, p)
    if (r * r - x) % p:
        r = r * pow(2, (p - 1) // 4, p) % p
    assert (r * r - x) % p == 0
    return r


def f(u):
    return (u * u * u + A * u * u + u) % p


def branch(b):
    """(square branch?, u) by an independent big-integer Elligator 2."""
    r = int.from_bytes(b, "little") & ((1 << 255) - 1)
    d = -A * pow(1 + 2 * r * r, p - 2, p) % p
    sq = chi(f(d)) != p - 1
    return sq, (d if sq else (-d - A) % p)


def enc(v, top=False):
    b = bytearray((v % (1 << 256)).to_bytes(32, "little"))
    if top:
        b[31] |= 0x80
    return bytes(b)


edges = [(bytes(32), "zero"), (b"\xff" * 32, "all 0xff (p+18, top bit)")]
for k in range(20):
    edges.append((enc(p + k), f"p+{k}" + (" (= 2^255: only the top bit)" if k == 19 else "")))
    if k < 19:
        edges.append((enc(p + k, True), f"p+{k}, top bit"))
for k in range(1, 20):
    edges += [(enc(k), f"{k}"), (enc(k, True), f"{k}, top bit"), (enc(p - k), f"p-{k}")]
edges.append((enc((1 << 255) - 1), "2^255-1"))
# r for which d = -A/(1+2r^2), or -d-A, is the u of a small-order point or -1
# (those whose r^2 is not a square have no such r).
special = {0: "u=0", 1: "u=1", p - 1: "u=-1"}
for u0 in (39382357235489614581723060781553021112529911719440698176882885853963445705823,
           325606250916557431795983626356110631294008115727848805560023387167927233504):
    special[u0] = "u of an order-8 point"
for u0, label in special.items():
    for target, how in ((u0, "d"), ((-u0 - A) % p, "-d-A")):
        if target == 0:
            continue
        t = (-A * pow(target, p - 2, p) - 1) * pow(2, p - 2, p) % p
        if chi(t) == p - 1:
            continue
        r = sqrt(t)
        for rr in (r, p - r):
            for top in (False, True):
                edges.append((enc(rr, top), f"r with {how} = {label}" + (", top bit" if top else "")))

vectors, seen = [], set()
for b, note in edges:
    if b in seen:
        continue
    seen.add(b)
    sq, u = branch(b)
    note += ("" if sq else ", non-square branch") + (", u=0" if u == 0 else "")
    assert u != p - 1
    vectors.append({"input_hex": b.hex(), "output_hex": sodium(b).hex(), "note": note})


def splitmix(state):
    m = 2**64 - 1
    while True:
        state = (state + 0x9E3779B97F4A7C15) & m
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        yield z ^ (z >> 31)


COUNT, g, h, first = 200000, splitmix(0x53504F4B45), hashlib.blake2b(digest_size=32), None
for n in range(COUNT):
    b = b"".join(next(g).to_bytes(8, "little") for _ in range(4))
    o = sodium(b)
    first = first or (b.hex(), o.hex())
    h.update(o)

print(json.dumps({
    "about": f"libsodium {VERSION} (Debian libsodium23 1.0.18-1+deb12u1, x86_64) crypto_core_ed25519_from_uniform, called directly, on edge inputs and on seeded pseudo-random inputs. Hex is lowercase. Notes name the Elligator 2 branch taken (from an independent big-integer computation) where it is the non-square one.",
    "ed25519_from_uniform": {
        "function": "libsodium crypto_core_ed25519_from_uniform (Elligator2, sign of x from bit 255, then cofactor cleared)",
        "vectors": vectors,
    },
    "ed25519_from_uniform_seeded": {
        "generator": "splitmix64 (state += 0x9e3779b97f4a7c15; z = (z ^ z>>30) * 0xbf58476d1ce4e5b9; z = (z ^ z>>27) * 0x94d049bb133111eb; z ^ z>>31) from state 0x53504f4b45; each input is 4 outputs, little-endian, concatenated",
        "count": COUNT,
        "first_input_hex": first[0],
        "first_output_hex": first[1],
        "blake2b_256_of_outputs_hex": h.hexdigest(),
    },
}, indent=2))
