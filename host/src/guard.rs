//! Online password guessing, bounded: how a server limits failed
//! handshakes.
//!
//! A password-authenticated key exchange gives an attacker who talks to the
//! server exactly one password guess per handshake, and nothing it sees
//! lets it test a second guess offline. So the only thing left to bound is
//! how many handshakes may fail. A [`Guard`] keeps that count, per source
//! (an IPv4 address, or an IPv6 /64 network, since one host often holds a
//! whole /64) and for the whole server, and decides when a new connection
//! may start its handshake:
//!
//! - **Per source, growing delays.** After a source's n-th failed handshake
//!   in a row, its next handshake may start only `delay * 2^(n-1)` later
//!   (at most `max_delay`). A success forgets the source's failures. A
//!   user who mistyped waits a second; a guesser's rate halves with every
//!   guess.
//! - **Per server, a limit.** At most `max_failures` failed handshakes that
//!   may have tested a password, in total (a server for one peer, such as
//!   `spoke recv`, then stops), or in any `period` (a service, such as a
//!   tunnel exit, then refuses every handshake until the oldest failure is
//!   older than the period).
//!
//! A handshake tests a password once the server has answered the client's
//! key share: from then on a wrong password, a reset, silence or a deadline
//! are all one guess to the server, which cannot tell them apart
//! ([`Guard::failed`]). What fails before that (garbage, a malformed or
//! invalid key share, a peer that leaves or stalls before sending one)
//! tested nothing: it delays its source but does not count against the
//! server ([`Guard::misbehaved`]). [`could_have_guessed`] tells the two
//! apart from the error when nothing better is known.
//!
//! This module is sans-IO: it is told the time and what happened, and
//! never sleeps, touches a socket or prints. Servers call
//! [`Guard::admit`] when a connection arrives, then [`Guard::succeeded`]
//! or [`Guard::failed`] when its handshake ends.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::error::HandshakeError;

/// How many sources a guard remembers at most; past it, the one whose
/// delay ends first is forgotten. Bounds the guard's memory under an
/// attack from many addresses (which the server-wide limit still counts).
const MAX_SOURCES: usize = 65_536;

/// The limits a [`Guard`] enforces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardConfig {
    /// How many failed handshakes the server accepts: in total when
    /// `period` is `None`, else within any `period`. At least 1.
    pub max_failures: u32,
    /// The window `max_failures` applies to, or `None` for the server's
    /// whole life (it is then exhausted for good).
    pub period: Option<Duration>,
    /// How long a source waits after its first failed handshake; each
    /// further failure in a row doubles it. Zero turns per-source delays
    /// off.
    pub delay: Duration,
    /// The longest a source is made to wait.
    pub max_delay: Duration,
}

impl GuardConfig {
    /// For a server that waits for one peer (`spoke listen`, `spoke recv`):
    /// 10 failed handshakes in total, then the server stops; per source, 1
    /// s after the first failure, doubling up to 5 minutes.
    pub fn one_peer() -> Self {
        Self {
            max_failures: 10,
            period: None,
            delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
        }
    }

    /// For a service that runs until stopped (a tunnel exit): 60 failed
    /// handshakes in any hour, past which handshakes are refused until the
    /// oldest of them is an hour old; per source, 1 s after the first
    /// failure, doubling up to 10 minutes.
    pub fn service() -> Self {
        Self {
            max_failures: 60,
            period: Some(Duration::from_secs(3600)),
            delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(600),
        }
    }
}

/// What a server does with a connection that has just arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Start the handshake now.
    Now,
    /// Start the handshake once this much time has passed (the source
    /// failed recently). A server that cannot wait that long refuses.
    After(Duration),
    /// Refuse the connection without a handshake.
    Refuse(Refusal),
}

/// Why a connection is refused without a handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The server has had `failures` failed handshakes, its limit: for
    /// good (`retry_in` is `None`) or until `retry_in` has passed.
    Exhausted {
        /// Failed handshakes counted.
        failures: u32,
        /// When handshakes are allowed again, if ever.
        retry_in: Option<Duration>,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Exhausted {
                failures,
                retry_in: None,
            } => write!(
                f,
                "the limit of {failures} failed {} is reached: no more password guesses are taken",
                handshakes(*failures)
            ),
            Refusal::Exhausted {
                failures,
                retry_in: Some(after),
            } => write!(
                f,
                "the limit of {failures} failed {} in a period is reached: handshakes resume \
                 in {} s",
                handshakes(*failures),
                whole_seconds(*after)
            ),
        }
    }
}

/// Whether a server handshake that failed with `e` may have tested a
/// password: `false` for the failures that happen before the server
/// answers a key share (a malformed or invalid one, another version, the
/// server's own configuration), `true` for the rest, including a peer that
/// left or stalled, since it may have done so after the answer.
pub fn could_have_guessed(e: &HandshakeError) -> bool {
    !matches!(
        e,
        HandshakeError::PointNotOnPrimeOrderSubgroup
            | HandshakeError::VersionMismatch { .. }
            | HandshakeError::InvalidPublicPacket
            | HandshakeError::IterationCountRefused { .. }
            | HandshakeError::InvalidConfig(_)
    )
}

/// "handshake" or "handshakes", for `n` of them.
fn handshakes(n: u32) -> &'static str {
    if n == 1 { "handshake" } else { "handshakes" }
}

/// `d` in whole seconds, rounded up (at least 1): how long to tell a
/// peer or a user to wait.
pub fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// What one source has done lately.
#[derive(Clone, Copy, Debug)]
struct Source {
    /// Failed handshakes in a row.
    failures: u32,
    /// When its next handshake may start.
    next: Instant,
}

/// A key for a source: the address, IPv6 cut to its /64 network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SourceKey {
    V4([u8; 4]),
    V6([u8; 8]),
}

impl SourceKey {
    fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => SourceKey::V4(v4.octets()),
            IpAddr::V6(v6) => {
                let mut net = [0u8; 8];
                net.copy_from_slice(&v6.octets()[..8]);
                SourceKey::V6(net)
            }
        }
    }
}

/// The failed-handshake bookkeeping of one server. See the module docs.
#[derive(Debug)]
pub struct Guard {
    config: GuardConfig,
    sources: HashMap<SourceKey, Source>,
    /// When the failures that count against the server-wide limit
    /// happened (only the last `max_failures` are kept).
    failures: VecDeque<Instant>,
    /// Failed handshakes since the guard was made.
    total: u64,
}

impl Guard {
    /// A guard enforcing `config`.
    pub fn new(mut config: GuardConfig) -> Self {
        config.max_failures = config.max_failures.max(1);
        Self {
            config,
            sources: HashMap::new(),
            failures: VecDeque::new(),
            total: 0,
        }
    }

    /// The limits enforced.
    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// Failed handshakes counted since the guard was made.
    pub fn total_failures(&self) -> u64 {
        self.total
    }

    /// Whether a connection from `peer` arriving at `now` may start its
    /// handshake, and when.
    pub fn admit(&mut self, peer: IpAddr, now: Instant) -> Admission {
        if let Some(refusal) = self.exhausted(now) {
            return Admission::Refuse(refusal);
        }
        match self.sources.get(&SourceKey::of(peer)) {
            Some(source) if source.next > now => Admission::After(source.next - now),
            _ => Admission::Now,
        }
    }

    /// Whether the server-wide limit is reached at `now`, and until when.
    pub fn exhausted(&mut self, now: Instant) -> Option<Refusal> {
        let max = self.config.max_failures as usize;
        if let Some(period) = self.config.period {
            while self
                .failures
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= period)
            {
                self.failures.pop_front();
            }
        }
        if self.failures.len() < max {
            return None;
        }
        let retry_in = self
            .config
            .period
            .zip(self.failures.front())
            .map(|(period, oldest)| period.saturating_sub(now.saturating_duration_since(*oldest)));
        Some(Refusal::Exhausted {
            failures: self.config.max_failures,
            retry_in,
        })
    }

    /// Records that a handshake from `peer` that may have tested a
    /// password failed at `now`. Returns the refusal that now applies to
    /// every new connection when this failure reached the server-wide
    /// limit.
    pub fn failed(&mut self, peer: IpAddr, now: Instant) -> Option<Refusal> {
        self.total += 1;
        self.failures.push_back(now);
        while self.failures.len() > self.config.max_failures as usize {
            self.failures.pop_front();
        }
        self.misbehaved(peer, now);
        self.exhausted(now)
    }

    /// Records that a handshake from `peer` failed at `now` before it could
    /// test a password: its source waits longer, the server's count is
    /// unchanged.
    pub fn misbehaved(&mut self, peer: IpAddr, now: Instant) {
        if !self.config.delay.is_zero() {
            self.remember(SourceKey::of(peer), now);
        }
    }

    /// Records that a handshake from `peer` succeeded: its failures are
    /// forgotten. (The server-wide count is not: successes do not buy
    /// guesses.)
    pub fn succeeded(&mut self, peer: IpAddr) {
        self.sources.remove(&SourceKey::of(peer));
    }

    fn remember(&mut self, key: SourceKey, now: Instant) {
        if !self.sources.contains_key(&key) && self.sources.len() >= MAX_SOURCES {
            self.sources.retain(|_, s| s.next > now);
            if self.sources.len() >= MAX_SOURCES
                && let Some(first) = self.sources.iter().min_by_key(|(_, s)| s.next)
            {
                let first = *first.0;
                self.sources.remove(&first);
            }
        }
        let source = self.sources.entry(key).or_insert(Source {
            failures: 0,
            next: now,
        });
        source.failures = source.failures.saturating_add(1);
        let doublings = source.failures.saturating_sub(1).min(31);
        let wait = self
            .config
            .delay
            .saturating_mul(1u32 << doublings)
            .min(self.config.max_delay);
        source.next = now + wait;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn each_failure_in_a_row_doubles_the_sources_wait_up_to_the_cap() {
        let mut guard = Guard::new(GuardConfig {
            max_failures: 100,
            period: None,
            delay: secs(1),
            max_delay: secs(10),
        });
        let (peer, t0) = (ip("192.0.2.7"), Instant::now());
        assert_eq!(guard.admit(peer, t0), Admission::Now);
        let mut waits = Vec::new();
        for _ in 0..6 {
            guard.failed(peer, t0);
            match guard.admit(peer, t0) {
                Admission::After(wait) => waits.push(wait.as_secs()),
                other => panic!("expected a wait, got {other:?}"),
            }
        }
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(guard.admit(peer, t0 + secs(10)), Admission::Now);
        assert_eq!(guard.admit(ip("192.0.2.8"), t0), Admission::Now);
    }

    #[test]
    fn a_success_forgets_the_sources_failures_but_not_the_servers() {
        let mut guard = Guard::new(GuardConfig {
            max_failures: 3,
            period: None,
            ..GuardConfig::one_peer()
        });
        let (peer, t0) = (ip("192.0.2.7"), Instant::now());
        guard.failed(peer, t0);
        guard.failed(peer, t0);
        guard.succeeded(peer);
        assert_eq!(guard.admit(peer, t0), Admission::Now);
        assert_eq!(
            guard.failed(ip("198.51.100.1"), t0),
            Some(Refusal::Exhausted {
                failures: 3,
                retry_in: None
            })
        );
        assert!(matches!(
            guard.admit(peer, t0 + secs(86_400)),
            Admission::Refuse(_)
        ));
        assert_eq!(guard.total_failures(), 3);
    }

    #[test]
    fn a_service_refuses_handshakes_until_its_oldest_failure_leaves_the_period() {
        let mut guard = Guard::new(GuardConfig {
            max_failures: 2,
            period: Some(secs(60)),
            delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        });
        let (peer, t0) = (ip("192.0.2.7"), Instant::now());
        assert_eq!(guard.failed(peer, t0), None);
        let refusal = guard.failed(peer, t0 + secs(20));
        assert_eq!(
            refusal,
            Some(Refusal::Exhausted {
                failures: 2,
                retry_in: Some(secs(40))
            })
        );
        assert!(matches!(
            guard.admit(peer, t0 + secs(59)),
            Admission::Refuse(_)
        ));
        assert_eq!(guard.admit(peer, t0 + secs(60)), Admission::Now);
        assert_eq!(
            refusal.unwrap().to_string(),
            "the limit of 2 failed handshakes in a period is reached: handshakes resume in 40 s"
        );
    }

    #[test]
    fn a_failure_that_tested_no_password_delays_its_source_but_is_not_counted() {
        let mut guard = Guard::new(GuardConfig {
            max_failures: 1,
            ..GuardConfig::one_peer()
        });
        let (peer, t0) = (ip("192.0.2.7"), Instant::now());
        guard.misbehaved(peer, t0);
        assert_eq!(guard.admit(peer, t0), Admission::After(secs(1)));
        assert_eq!(guard.admit(ip("192.0.2.8"), t0), Admission::Now);
        assert_eq!(guard.total_failures(), 0);
        assert!(!could_have_guessed(
            &HandshakeError::PointNotOnPrimeOrderSubgroup
        ));
        assert!(could_have_guessed(&HandshakeError::InvalidServerValidator));
        assert!(could_have_guessed(&HandshakeError::EndOfInput));
    }

    #[test]
    fn ipv6_sources_are_counted_by_their_64_bit_network_and_mapped_v4_as_v4() {
        let mut guard = Guard::new(GuardConfig::service());
        let t0 = Instant::now();
        guard.failed(ip("2001:db8:1:2::1"), t0);
        assert!(matches!(
            guard.admit(ip("2001:db8:1:2:ffff::9"), t0),
            Admission::After(_)
        ));
        assert_eq!(guard.admit(ip("2001:db8:1:3::1"), t0), Admission::Now);
        guard.failed(ip("::ffff:192.0.2.1"), t0);
        assert!(matches!(
            guard.admit(ip("192.0.2.1"), t0),
            Admission::After(_)
        ));
    }

    #[test]
    fn the_guard_remembers_a_bounded_number_of_sources() {
        let mut guard = Guard::new(GuardConfig {
            max_failures: u32::MAX,
            ..GuardConfig::service()
        });
        let t0 = Instant::now();
        for i in 0..(MAX_SOURCES as u32 + 10) {
            let addr = IpAddr::V4(i.to_be_bytes().into());
            guard.failed(addr, t0 + Duration::from_nanos(u64::from(i)));
        }
        assert_eq!(guard.sources.len(), MAX_SOURCES);
        assert_eq!(guard.total_failures(), MAX_SOURCES as u64 + 10);
    }
}
