//! The paths users run, against what they would pick instead. Not a test:
//! it prints times and ratios measured in one run, on this machine.
//!
//! `cargo bench -p spoke-cli --bench user_paths` runs the real `spoke`
//! binary as a user does, each end its own process, a file on standard
//! input and the output in a file, compared byte for byte afterwards, and
//! in the same rounds, taking turns, the anchors:
//!
//! - plain netcat echo: `socat` against `spoke connect` + `spoke listen --echo`;
//! - encrypted echo: the OCaml `spoke` reference (client and server) against
//!   `spoke connect --secure` + `spoke listen --echo --secure` (version 2,
//!   ChaCha20-Poly1305 both ways), and mixed: Spoke `--compat` as the
//!   server of the OCaml client and as the client of the OCaml server;
//! - tunnel: a `stunnel4` pair (TLS 1.3, pre-shared key) against a `spoke
//!   tunnel` pair, a native echo behind both and `socat` as the client;
//! - the composed `spoke-cat` under the stock `wasmtime run` and under
//!   `spoke run`, and `spoke connect`, all off `spoke listen --echo`;
//! - a file sent with `spoke send` to `spoke recv` against a `socat` copy;
//! - the two components: `spoke connect` + `spoke listen --echo` through
//!   the WASI 0.3 component (`--wasi 0.3`) against the same through the
//!   WASI 0.2 one (the anchor), plain and `--secure`.
//!
//! `SPOKE_USER_MB` sets the echo size (100 by default), `SPOKE_USER_SEND_MB`
//! the file sent (1000), `SPOKE_USER_ROUNDS` the rounds (3),
//! `SPOKE_USER_ONLY` a comma-separated subset of `netcat`, `secure`,
//! `mixed`, `tunnel`, `composed`, `send`, `wasi`, `SPOKE_USER_BIN` another
//! `spoke` binary to run instead of this build's, and `SPOKE_USER_VS` another
//! to run beside it in the same rounds (its rows are marked `*`). The OCaml peer is found at
//! `$SPOKE_REF_PEER` or `../shared/ref-peer/spoke-ref-peer` beside the
//! project; `wasmtime` on the PATH or where `.ci/run` keeps it. An anchor
//! that is not installed is skipped with a line that says how to get it.

mod paths;
mod processes;

use paths::{Ctx, Tools};
use processes::{children_cpu, median, same_file, write_payload};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `spoke` binary under test: this build's, or `$SPOKE_USER_BIN` (another
/// build of it, to compare two versions against the same anchors).
fn spoke_bin() -> PathBuf {
    std::env::var_os("SPOKE_USER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_spoke")))
}

/// Another build of `spoke` to run beside the one under test in the same
/// rounds (`$SPOKE_USER_VS`), to compare two versions in one run.
fn vs_bin() -> Option<PathBuf> {
    std::env::var_os("SPOKE_USER_VS").map(PathBuf::from)
}
const PASSWORD: &str = "correct horse battery staple";
/// How long one transfer may take before the bench calls it stalled.
const DEADLINE: Duration = Duration::from_secs(120);

/// One path: it runs a transfer, leaves its output in the file given, and
/// returns the time it took (`None` if it failed or stalled).
type Run<'a> = Box<dyn Fn(&Path) -> Option<Duration> + 'a>;

/// What to run, from the environment.
struct Settings {
    /// MB echoed by every echo path.
    mb: usize,
    /// MB copied by the send paths.
    send_mb: usize,
    rounds: usize,
    /// The groups to run (`SPOKE_USER_ONLY`, comma-separated); all if `None`.
    only: Option<String>,
}

impl Settings {
    fn from_env() -> Self {
        let env_num = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Settings {
            mb: env_num("SPOKE_USER_MB", 100),
            send_mb: env_num("SPOKE_USER_SEND_MB", 1000),
            rounds: env_num("SPOKE_USER_ROUNDS", 3).max(1),
            only: std::env::var("SPOKE_USER_ONLY").ok(),
        }
    }

    fn wanted(&self, group: &str) -> bool {
        self.only
            .as_deref()
            .is_none_or(|o| o.split(',').any(|g| g == group))
    }
}

/// One path of a group: its label and how to run it.
struct UserPath<'a> {
    group: &'static str,
    label: String,
    run: Run<'a>,
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test` builds benches and runs them without --bench
    }
    let settings = Settings::from_env();
    let (mb, send_mb, rounds) = (settings.mb, settings.send_mb, settings.rounds);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("user_paths");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in");
    write_payload(&input, mb * 1_000_000);
    let big = dir.join("big.bin");
    if settings.wanted("send") {
        write_payload(&big, send_mb * 1_000_000);
    }
    std::fs::write(dir.join("pw"), format!("{PASSWORD}\n")).unwrap();
    let tools = Tools::find(&dir);
    let (bin, vs) = (spoke_bin(), vs_bin());
    let ctx = Ctx {
        dir: &dir,
        input: &input,
        tools: &tools,
        spoke: &bin,
    };
    let vs_ctx = vs.as_deref().map(|spoke| Ctx { spoke, ..ctx });

    println!(
        "== the paths users run: {mb} MB echoed ({send_mb} MB sent), {rounds} rounds taking turns"
    );
    println!("each end its own process, a file on stdin, the output in a file and compared;");
    println!("ms of wall time and CPU ms of the path's processes (medians over the rounds);");
    println!("ratio = the anchor's time / this path's, so above 1 means Spoke is faster.\n");

    let paths = user_paths(&ctx, vs_ctx.as_ref(), &settings, &big);
    let times = take_turns(&paths, rounds, &dir, &input, &big);
    print_table(&paths, &times);
    println!();
    tools.report_skipped();
    println!(
        "mixed-server: the OCaml client against Spoke --compat's echo (ChaCha20-Poly1305 both ways);"
    );
    println!(
        "mixed-client: Spoke --compat's client against the OCaml echo (which answers in AES-256-GCM);"
    );
    println!(
        "composed: spoke-cat under `wasmtime run` (the anchor) and `spoke run`, and `spoke connect`."
    );
    println!(
        "wasi-*: `spoke connect` + `spoke listen --echo` through the WASI 0.3 component against the 0.2 one."
    );
    if let Some(vs) = &vs {
        println!("*: the same path with {}", vs.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The paths to run, in the order they take turns within a round; the first
/// path of a group is its anchor. With `vs`, another build of `spoke`, each
/// Spoke path also runs with that build, in the same rounds (label + `*`).
fn user_paths<'a>(
    ctx: &'a Ctx<'a>,
    vs: Option<&'a Ctx<'a>>,
    settings: &Settings,
    big: &'a Path,
) -> Vec<UserPath<'a>> {
    const SECURE: &[&str] = &["--secure", "--password-file", "pw"];
    const WASI_0_3: &[&str] = &["--wasi", "0.3"];
    const SECURE_WASI_0_3: &[&str] = &["--secure", "--password-file", "pw", "--wasi", "0.3"];
    const COMPAT: &[&str] = &[
        "--compat",
        "--identity",
        "client,server",
        "--password-file",
        "pw",
    ];
    let tools = ctx.tools;
    let mut paths = Vec::new();
    let mut add = |group: &'static str, label: &str, run: Run<'a>| {
        paths.push(UserPath {
            group,
            label: label.to_owned(),
            run,
        })
    };
    let wanted = |group| settings.wanted(group);
    if wanted("netcat") {
        if tools.socat {
            add("netcat", "socat", Box::new(|out| ctx.socat_echo(out)));
        }
        both(&mut add, ctx, vs, "netcat", "spoke", |c, out| {
            c.spoke_echo(out, &[])
        });
    }
    if wanted("secure") {
        if tools.ref_peer.is_some() {
            add("secure", "ocaml", Box::new(|out| ctx.ocaml_to_ocaml(out)));
        }
        both(&mut add, ctx, vs, "secure", "spoke", |c, out| {
            c.spoke_echo(out, SECURE)
        });
    }
    if wanted("mixed") && tools.ref_peer.is_some() {
        add(
            "mixed-server",
            "ocaml",
            Box::new(|out| ctx.ocaml_to_ocaml(out)),
        );
        both(&mut add, ctx, vs, "mixed-server", "spoke", |c, out| {
            c.ocaml_to_spoke(out, COMPAT)
        });
        add(
            "mixed-client",
            "ocaml",
            Box::new(|out| ctx.ocaml_to_ocaml(out)),
        );
        both(&mut add, ctx, vs, "mixed-client", "spoke", |c, out| {
            c.spoke_to_ocaml(out, COMPAT)
        });
    }
    if wanted("tunnel") && tools.socat {
        if tools.stunnel {
            add("tunnel", "stunnel", Box::new(|out| ctx.stunnel(out)));
        }
        both(&mut add, ctx, vs, "tunnel", "spoke", |c, out| {
            c.spoke_tunnel(out)
        });
    }
    if wanted("composed") {
        if let Some(w) = &tools.wasmtime {
            add(
                "composed",
                "wasmtime",
                Box::new(move |out| ctx.spoke_cat(out, Some(w))),
            );
        }
        both(&mut add, ctx, vs, "composed", "spoke run", |c, out| {
            c.spoke_cat(out, None)
        });
        both(&mut add, ctx, vs, "composed", "connect", |c, out| {
            c.spoke_echo(out, &[])
        });
    }
    if wanted("wasi") {
        add(
            "wasi-plain",
            "0.2",
            Box::new(|out| ctx.spoke_echo(out, &[])),
        );
        both(&mut add, ctx, vs, "wasi-plain", "0.3", |c, out| {
            c.spoke_echo(out, WASI_0_3)
        });
        add(
            "wasi-secure",
            "0.2",
            Box::new(|out| ctx.spoke_echo(out, SECURE)),
        );
        both(&mut add, ctx, vs, "wasi-secure", "0.3", |c, out| {
            c.spoke_echo(out, SECURE_WASI_0_3)
        });
    }
    if wanted("send") {
        if tools.socat {
            add(
                "send",
                "socat",
                Box::new(move |out| ctx.socat_copy(out, big)),
            );
        }
        both(&mut add, ctx, vs, "send", "spoke", move |c, out| {
            c.spoke_send(out, big)
        });
    }
    paths
}

/// Adds a Spoke path run by this build, and by the `vs` build if there is one.
fn both<'a>(
    add: &mut dyn FnMut(&'static str, &str, Run<'a>),
    ctx: &'a Ctx<'a>,
    vs: Option<&'a Ctx<'a>>,
    group: &'static str,
    label: &str,
    run: impl Fn(&Ctx, &Path) -> Option<Duration> + Copy + 'a,
) {
    add(group, label, Box::new(move |out| run(ctx, out)));
    if let Some(vs) = vs {
        add(
            group,
            &format!("{label}*"),
            Box::new(move |out| run(vs, out)),
        );
    }
}

/// Runs every path once a round, in turns (in reverse every other round),
/// and checks each output against its input; returns every path's (wall
/// ms, CPU ms) per successful round.
fn take_turns(
    paths: &[UserPath],
    rounds: usize,
    dir: &Path,
    input: &Path,
    big: &Path,
) -> Vec<Vec<(f64, f64)>> {
    let mut times: Vec<Vec<(f64, f64)>> = vec![Vec::new(); paths.len()];
    for round in 1..=rounds {
        // Every other round in reverse: a path run right after another
        // finds the machine warmer (page cache, clocks), so no path may
        // always follow the same one.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..paths.len()).rev().collect()
        } else {
            (0..paths.len()).collect()
        };
        for i in order {
            let path = &paths[i];
            let (group, label) = (path.group, &path.label);
            let out = dir.join(format!("out-{i}"));
            let cpu0 = children_cpu();
            let wall = (path.run)(&out);
            let cpu = children_cpu().saturating_sub(cpu0);
            let expected = if group == "send" { big } else { input };
            match wall {
                Some(w) if same_file(&out, expected) => {
                    times[i].push((w.as_secs_f64() * 1e3, cpu.as_secs_f64() * 1e3))
                }
                Some(_) => {
                    println!("round {round}: {group} / {label}: the output differs from the input")
                }
                None => println!("round {round}: {group} / {label}: failed or stalled"),
            }
            let _ = std::fs::remove_file(&out);
        }
    }
    times
}

/// Prints each group's paths: medians, and the ratio to the group's anchor
/// with every round's.
fn print_table(paths: &[UserPath], times: &[Vec<(f64, f64)>]) {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, path) in paths.iter().enumerate() {
        groups.entry(path.group).or_default().push(i);
    }
    println!(
        "{:<14} {:<10} {:>8} {:>8}  {:>6}  rounds",
        "path", "who", "ms", "CPU ms", "ratio"
    );
    for (group, members) in &groups {
        let anchor = &times[members[0]];
        for (k, &i) in members.iter().enumerate() {
            let label = &paths[i].label;
            let t = &times[i];
            if t.is_empty() {
                println!("{group:<14} {label:<10} no successful round");
                continue;
            }
            let wall = median(t.iter().map(|x| x.0).collect());
            let cpu = median(t.iter().map(|x| x.1).collect());
            if k == 0 || anchor.is_empty() {
                println!("{group:<14} {label:<10} {wall:>8.0} {cpu:>8.0}");
                continue;
            }
            let ratio = median(anchor.iter().map(|x| x.0).collect()) / wall;
            let per_round: Vec<String> = anchor
                .iter()
                .zip(t)
                .map(|(a, s)| format!("{:.2}", a.0 / s.0))
                .collect();
            println!(
                "{group:<14} {label:<10} {wall:>8.0} {cpu:>8.0}  {ratio:>6.2}  {}",
                per_round.join(" ")
            );
        }
    }
}
