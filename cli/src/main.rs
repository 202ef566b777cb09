//! The `spoke` command: plain and password-secured flows, file transfer, a
//! password-secured tunnel and the reference's demonstration, all run by
//! the Spoke component under wasmtime, and `run` for any command component.
//! Each subcommand's network policy allows exactly the addresses on its
//! command line. Errors are one line on stderr and a non-zero exit.

#![deny(unsafe_code)]

mod cli;
mod header;
mod netcat;
mod password;
mod runner;
mod session;
mod simulate;
mod stdio;
mod transfer;
mod tunnel;
mod writeback;

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Parser;
use spoke_host::{Instance, NetworkPolicy};

use cli::{Cli, Command, PasswordArgs};
use session::Target;
use spoke_host::Role;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("spoke: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("spoke: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

async fn run(command: Command) -> Result<ExitCode> {
    let done: Result<()> = match command {
        Command::Run {
            allow_connect,
            allow_listen,
            allow_name_lookup,
            env,
            component,
            args,
        } => {
            let mut policy = NetworkPolicy::deny_all().allow_name_lookup(allow_name_lookup);
            for addr in allow_connect {
                policy = policy.allow_connect(addr);
            }
            for addr in allow_listen {
                policy = policy.allow_listen(addr);
            }
            let run = runner::Run {
                component: &component,
                args: &args,
                env: &env,
                policy,
            };
            // The component's exit code is spoke's.
            return runner::run(run).await;
        }
        Command::Connect { target, secure } => {
            let password = secure
                .enabled()
                .then(|| password::obtain(secure.password.password_file.as_deref(), false))
                .transpose()?;
            let (mut instance, flow) = dial(&target).await?;
            let flow = match &password {
                Some(pw) => {
                    session::upgrade(
                        &mut instance,
                        flow,
                        Role::Client,
                        &secure.password,
                        None,
                        pw,
                    )
                    .await?
                }
                None => flow,
            };
            let result = netcat::run(&mut instance, &flow).await;
            instance.close(flow).await;
            result
        }
        Command::Listen {
            address,
            echo,
            secure,
            server,
        } => {
            let password = secure
                .enabled()
                .then(|| password::obtain(secure.password.password_file.as_deref(), false))
                .transpose()?;
            let (mut instance, flow) = accept_one(address).await?;
            let flow = match &password {
                Some(pw) => {
                    session::upgrade(
                        &mut instance,
                        flow,
                        Role::Server,
                        &secure.password,
                        Some(&server),
                        pw,
                    )
                    .await?
                }
                None => flow,
            };
            let result = if echo {
                netcat::echo(&mut instance, &flow).await.map(drop)
            } else {
                netcat::run(&mut instance, &flow).await
            };
            instance.close(flow).await;
            result
        }
        Command::Send { file, to, password } => {
            let pw = password::obtain(password.password_file.as_deref(), false)?;
            let (mut instance, flow) = dial(&to).await?;
            let flow =
                session::upgrade(&mut instance, flow, Role::Client, &password, None, &pw).await?;
            let ciphers = session::describe_ciphers(&mut instance, &flow).await;
            let sent = transfer::send(&mut instance, &flow, &file).await;
            instance.close(flow).await;
            let sent = sent?;
            eprintln!(
                "sent {} ({} bytes) in {:.2} s, {:.1} MB/s, cipher {ciphers}; the receiver verified it",
                file.display(),
                sent.size,
                sent.elapsed.as_secs_f64(),
                transfer::rate(sent.size, sent.elapsed)
            );
            Ok(())
        }
        Command::Recv {
            listen,
            output,
            password,
            server,
        } => {
            let pw = password::obtain(password.password_file.as_deref(), false)?;
            let (mut instance, flow) = accept_one(listen).await?;
            let flow = session::upgrade(
                &mut instance,
                flow,
                Role::Server,
                &password,
                Some(&server),
                &pw,
            )
            .await?;
            let ciphers = session::describe_ciphers(&mut instance, &flow).await;
            let received = transfer::recv(&mut instance, &flow, output.as_deref()).await;
            instance.close(flow).await;
            let received = received?;
            eprintln!(
                "received {} ({} bytes) in {:.2} s, {:.1} MB/s, cipher {ciphers}; size and {} digest verified",
                received.path.display(),
                received.size,
                received.elapsed.as_secs_f64(),
                transfer::rate(received.size, received.elapsed),
                received.digest.name()
            );
            Ok(())
        }
        Command::Tunnel {
            listen,
            to,
            serve,
            target,
            password,
            server,
        } => {
            let side = match (listen, to, serve, target) {
                (Some(listen), Some(to), None, None) => tunnel::Side::Entrance { listen, to },
                (None, None, Some(serve), Some(target)) => tunnel::Side::Exit { serve, target },
                _ => anyhow::bail!(
                    "give either --listen ADDR:PORT --to HOST:PORT or --serve ADDR:PORT --target HOST:PORT"
                ),
            };
            tunnel::run(side, &password, &server).await
        }
        Command::Simulate {
            file,
            address,
            password,
            compat,
        } => {
            let spoke = session::load()?;
            let args = PasswordArgs {
                password_file: None,
                identity: "spoke-client,spoke-server".into(),
                compat,
            };
            let cfg = session::config(&args, None)?;
            let outcome = simulate::run(&spoke, &file, address, password.as_bytes(), cfg).await?;
            println!(
                "{}: {} bytes echoed and checked in {:.3} s: {:.1} MB/s each way (handshake {:.1} ms, cipher {})",
                file.display(),
                outcome.size,
                outcome.elapsed.as_secs_f64(),
                transfer::rate(outcome.size, outcome.elapsed),
                outcome.handshake.as_secs_f64() * 1e3,
                outcome.ciphers
            );
            Ok(())
        }
    };
    done.map(|()| ExitCode::SUCCESS)
}

/// Connects to `HOST:PORT`, the only address (and, for a name, the only
/// lookup) the policy allows.
async fn dial(target: &str) -> Result<(Instance, spoke_host::Flow)> {
    let target = Target::resolve(target).await?;
    let mut instance = session::load()?.instantiate(target.policy()).await?;
    let flow = instance
        .connect(&target.host, target.port)
        .await
        .map_err(|e| anyhow!("connecting to {}:{}: {e}", target.host, target.port))?;
    Ok((instance, flow))
}

/// Listens on `address` (the only address the policy allows) and accepts one peer.
async fn accept_one(address: std::net::SocketAddr) -> Result<(Instance, spoke_host::Flow)> {
    let spoke = session::load()?;
    let mut instance = spoke
        .instantiate(NetworkPolicy::deny_all().allow_listen(address))
        .await?;
    let listener = instance
        .listen(address)
        .await
        .map_err(|e| anyhow!("listening on {address}: {e}"))?;
    let bound = instance
        .listener_address(&listener)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    eprintln!("spoke: listening on {bound}");
    let flow = instance
        .accept(&listener)
        .await
        .map_err(|e| anyhow!("accepting on {bound}: {e}"))?;
    instance.close_listener(listener).await;
    Ok((instance, flow))
}
