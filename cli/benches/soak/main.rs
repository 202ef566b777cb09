//! The tunnel under load and abuse, as a user runs it. Not a test: it
//! prints what happened and what it cost.
//!
//! `cargo bench -p spoke-cli --bench soak` starts a plain echo service (in
//! this process), a `spoke tunnel` exit in front of it, a `spoke tunnel`
//! entrance to that exit, and a second entrance with a wrong password,
//! each its own process. Then, in rounds against the same processes, it
//! opens many client connections at once (1000 by default). Honest ones
//! (from 127.0.0.1) each send 1 MB of varied bytes through the entrance,
//! half-close, read the echo and compare it byte for byte: every one must
//! complete. About 5% misbehave, taking turns in seven ways: straight to
//! the exit from 127.0.0.2, garbage, a truncated handshake, a reset at a
//! handshake step, and a slowloris (a byte a second); through the
//! wrong-password entrance; and at the entrance, from 127.0.0.3, a reset
//! mid-stream and a client that never reads its echo and gives up. They
//! accept any outcome (refused, closed, reset); the bench says which they
//! got. After each round it waits until the tunnel processes hold no more
//! connections, then a few seconds, and prints their resident memory, so
//! that growth from round to round shows.
//!
//! The wrong-password entrance reaches the exit from 127.0.0.1, like the
//! honest entrance: `spoke tunnel` cannot choose its source address, so an
//! exit that holds failures against a source address sees the honest
//! entrance's address fail too.
//!
//! Settings (environment): `SOAK_CONNECTIONS` (1000), `SOAK_BYTES` per
//! connection (1000000), `SOAK_ROUNDS` (3), `SOAK_MISBEHAVING` percent (5,
//! at least one of each kind), `SOAK_GIVE_UP` seconds a misbehaving client
//! waits for the tunnel (60), `SOAK_STALL` seconds the client that never
//! reads keeps its connection (10), `SOAK_HONEST_TIMEOUT` seconds (600),
//! `SOAK_SETTLE` seconds between the last connection's end and the memory
//! figure (5), `SOAK_EXIT_ARGS` and `SOAK_ENTRANCE_ARGS` extra options for
//! the tunnel ends (split at spaces), `SOAK_BIN` another `spoke` binary.

mod clients;
mod tunnels;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clients::{Kind, Patience, Seen, Targets};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tunnels::Tunnel;

/// What to run, from the environment.
struct Settings {
    connections: usize,
    bytes: u64,
    rounds: usize,
    misbehaving_percent: usize,
    patience: Patience,
    honest_timeout: Duration,
    settle: Duration,
    exit_args: Vec<String>,
    entrance_args: Vec<String>,
    spoke: PathBuf,
}

impl Settings {
    fn from_env() -> Settings {
        let num = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default)
        };
        let args = |name: &str| {
            std::env::var(name)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        };
        Settings {
            connections: num("SOAK_CONNECTIONS", 1000).max(1) as usize,
            bytes: num("SOAK_BYTES", 1_000_000),
            rounds: num("SOAK_ROUNDS", 3).max(1) as usize,
            misbehaving_percent: num("SOAK_MISBEHAVING", 5) as usize,
            patience: Patience {
                give_up: Duration::from_secs(num("SOAK_GIVE_UP", 60)),
                stall: Duration::from_secs(num("SOAK_STALL", 10)),
            },
            honest_timeout: Duration::from_secs(num("SOAK_HONEST_TIMEOUT", 600)),
            settle: Duration::from_secs(num("SOAK_SETTLE", 5)),
            exit_args: args("SOAK_EXIT_ARGS"),
            entrance_args: args("SOAK_ENTRANCE_ARGS"),
            spoke: std::env::var_os("SOAK_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_spoke"))),
        }
    }

    /// How many of the connections misbehave: the percentage, but at least
    /// one of each kind (and never all of them).
    fn misbehaving(&self) -> usize {
        if self.misbehaving_percent == 0 {
            return 0;
        }
        let share = (self.connections * self.misbehaving_percent).div_ceil(100);
        share
            .max(Kind::ALL.len())
            .min(self.connections.saturating_sub(1))
    }
}

/// Raises this process's open-file limit to its hard limit: a round holds
/// two descriptors per connection here, and the tunnel processes, which
/// inherit the limit, four or more.
fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read or write only the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
    }
    lim.rlim_cur
}

/// The plain service behind the exit: echoes each connection and
/// half-closes when the peer does.
async fn echo_service() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = tokio::io::BufReader::with_capacity(64 * 1024, r);
                if tokio::io::copy_buf(&mut r, &mut w).await.is_ok() {
                    let _ = w.shutdown().await;
                }
            });
        }
    });
    addr
}

/// One round's outcome.
struct Round {
    honest_ok: usize,
    honest_failed: Vec<(usize, String)>,
    /// When the last honest connection ended.
    honest_wall: Duration,
    /// The slowest and the median honest connection.
    honest_slowest: Duration,
    honest_median: Duration,
    misbehaving: BTreeMap<Kind, Vec<Seen>>,
    wall: Duration,
}

async fn round(settings: &Settings, targets: Targets, number: usize) -> Round {
    let n = settings.connections;
    let bad = settings.misbehaving();
    // Spread the misbehaving connections evenly among the honest ones.
    let is_bad = |i: usize| bad > 0 && (i * bad) / n != ((i + 1) * bad) / n;
    let start = Instant::now();
    let mut honest = tokio::task::JoinSet::new();
    let mut misbehaving = tokio::task::JoinSet::new();
    let mut bad_so_far = 0;
    for i in 0..n {
        let seed = (number * 1_000_000 + i) as u64;
        if is_bad(i) {
            let kind = Kind::ALL[bad_so_far % Kind::ALL.len()];
            let nth = bad_so_far / Kind::ALL.len();
            bad_so_far += 1;
            let (bytes, patience) = (settings.bytes, settings.patience);
            misbehaving.spawn(async move {
                let seen = clients::misbehave(kind, nth, seed, targets, bytes, patience).await;
                (kind, seen)
            });
        } else {
            let (bytes, timeout) = (settings.bytes, settings.honest_timeout);
            honest.spawn(async move {
                let outcome = clients::honest(targets.entrance, seed, bytes, timeout).await;
                (i, outcome, start.elapsed())
            });
        }
    }
    let mut durations = Vec::new();
    let mut failed = Vec::new();
    let mut honest_wall = Duration::ZERO;
    while let Some(done) = honest.join_next().await {
        let (i, outcome, at) = done.expect("an honest client task");
        honest_wall = honest_wall.max(at);
        match outcome {
            Ok(took) => durations.push(took),
            Err(why) => failed.push((i, why)),
        }
    }
    let mut seen: BTreeMap<Kind, Vec<Seen>> = BTreeMap::new();
    while let Some(done) = misbehaving.join_next().await {
        let (kind, outcome) = done.expect("a misbehaving client task");
        seen.entry(kind).or_default().push(outcome);
    }
    durations.sort();
    Round {
        honest_ok: durations.len(),
        honest_failed: failed,
        honest_wall,
        honest_slowest: durations.last().copied().unwrap_or_default(),
        honest_median: durations
            .get(durations.len() / 2)
            .copied()
            .unwrap_or_default(),
        misbehaving: seen,
        wall: start.elapsed(),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn print_round(number: usize, r: &Round, settings: &Settings) {
    let honest = r.honest_ok + r.honest_failed.len();
    println!(
        "round {number}: honest {}/{honest} completed, {} FAILED; wall {} (last honest done at {}, median {}, slowest {})",
        r.honest_ok,
        r.honest_failed.len(),
        secs(r.wall),
        secs(r.honest_wall),
        secs(r.honest_median),
        secs(r.honest_slowest),
    );
    if !r.honest_failed.is_empty() {
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for (_, why) in &r.honest_failed {
            let kind: String = why
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect();
            *reasons.entry(kind).or_insert(0) += 1;
        }
        for (why, count) in reasons {
            println!("  HONEST FAILURE x{count}: {why}");
        }
        for (i, why) in r.honest_failed.iter().take(5) {
            println!("    e.g. connection {i}: {why}");
        }
    }
    let bad: usize = r.misbehaving.values().map(Vec::len).sum();
    println!(
        "  misbehaving: {bad} (given up after {} at most)",
        secs(settings.patience.give_up)
    );
    for (kind, outcomes) in &r.misbehaving {
        let mut by_label: BTreeMap<String, Vec<Option<Duration>>> = BTreeMap::new();
        for o in outcomes {
            by_label.entry(o.label()).or_default().push(o.elapsed());
        }
        println!("    {} ({}):", kind.name(), outcomes.len());
        for (label, times) in by_label {
            let known: Vec<Duration> = times.iter().flatten().copied().collect();
            let range = match (known.iter().min(), known.iter().max()) {
                (Some(lo), Some(hi)) => {
                    format!(", after {:.1}-{:.1} s", lo.as_secs_f64(), hi.as_secs_f64())
                }
                _ => String::new(),
            };
            println!("      {} x{}{range}", label, times.len());
        }
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test` builds benches and runs them without --bench
    }
    let settings = Settings::from_env();
    let fds = raise_fd_limit();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("soak");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (right, wrong) = (dir.join("password"), dir.join("wrong-password"));
    std::fs::write(&right, "soak test password\n").unwrap();
    std::fs::write(&wrong, "not the password\n").unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let echo = runtime.block_on(echo_service());

    let arg = |s: &str| s.to_owned();
    let mut exit_args = vec![
        arg("tunnel"),
        arg("--serve"),
        arg("127.0.0.1:0"),
        arg("--target"),
        echo.to_string(),
    ];
    exit_args.extend(settings.exit_args.iter().cloned());
    let mut exit = Tunnel::start("exit", &settings.spoke, &exit_args, &right);
    let entrance_args = |to: SocketAddr| {
        let mut a = vec![
            arg("tunnel"),
            arg("--listen"),
            arg("127.0.0.1:0"),
            arg("--to"),
            to.to_string(),
        ];
        a.extend(settings.entrance_args.iter().cloned());
        a
    };
    let mut entrance = Tunnel::start(
        "entrance",
        &settings.spoke,
        &entrance_args(exit.addr),
        &right,
    );
    let mut wrong_entrance = Tunnel::start(
        "wrong-password entrance",
        &settings.spoke,
        &entrance_args(exit.addr),
        &wrong,
    );
    let targets = Targets {
        exit: exit.addr,
        entrance: entrance.addr,
        wrong_entrance: wrong_entrance.addr,
    };
    let bad = settings.misbehaving();
    println!(
        "soak: {} connections a round ({} honest, {bad} misbehaving), {} bytes each, {} rounds; open-file limit {fds}",
        settings.connections,
        settings.connections - bad,
        settings.bytes,
        settings.rounds
    );
    println!(
        "  echo {echo}, exit {} (pid {}), entrance {} (pid {}), wrong-password entrance {} (pid {})",
        exit.addr,
        exit.pid(),
        entrance.addr,
        entrance.pid(),
        wrong_entrance.addr,
        wrong_entrance.pid()
    );
    let mut memory: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut all_honest_ok = true;
    for number in 1..=settings.rounds {
        let r = runtime.block_on(round(&settings, targets, number));
        print_round(number, &r, &settings);
        all_honest_ok &= r.honest_failed.is_empty();
        // The connections the clients left behind end in their own time
        // (handshake timeouts, lingering echoes): wait for them all, then
        // let the processes settle.
        let clients_done = Instant::now();
        let deadline = clients_done + Duration::from_secs(180);
        let mut tunnels = [&mut exit, &mut entrance, &mut wrong_entrance];
        let idle: Vec<_> = tunnels.iter().map(|t| t.wait_idle(deadline)).collect();
        std::thread::sleep(settings.settle);
        let mut this_round = Vec::new();
        for (t, idle) in tunnels.iter_mut().zip(idle) {
            let alive = t.alive();
            let (peak, rss) = (t.memory_mb("VmHWM"), t.memory_mb("VmRSS"));
            let idle = match idle {
                Ok(at) => format!(
                    "its last connection ended {} after the last client",
                    secs(at - clients_done)
                ),
                Err(open) => format!(
                    "STILL HOLDS {open} MORE SOCKETS THAN WHEN IDLE, {} after the last client",
                    secs(deadline - clients_done)
                ),
            };
            println!(
                "  {}{}: peak RSS {peak:.0} MB, RSS {rss:.0} MB once idle + {}; {idle}",
                t.name,
                if alive { "" } else { " (EXITED)" },
                secs(settings.settle)
            );
            let reports = t.new_reports();
            if reports.is_empty() {
                println!("      no failures reported");
            } else {
                println!("      failures it reported (it reports no successes):");
            }
            for (what, count) in reports {
                println!("        {what} x{count}");
            }
            this_round.push((peak, rss));
        }
        memory.push(this_round);
    }
    println!("resident memory after each round (MB, peak / after the load):");
    for (i, name) in ["exit", "entrance", "wrong-password entrance"]
        .iter()
        .enumerate()
    {
        let figures: Vec<String> = memory
            .iter()
            .map(|r| format!("{:.0} / {:.0}", r[i].0, r[i].1))
            .collect();
        println!("  {name}: {}", figures.join(", "));
    }
    if all_honest_ok {
        println!("every honest connection completed");
    } else {
        println!("SOME HONEST CONNECTIONS FAILED (see above)");
    }
}
