//! The `spoke` command: plain and password-secured flows, file transfer, a
//! password-secured tunnel and the reference's demonstration, all run by
//! the Spoke component under wasmtime, and `run` for any command component.
//! Each subcommand's network policy allows exactly the addresses on its
//! command line. Errors are one line on stderr and a non-zero exit.

#![deny(unsafe_code)]

mod cli;
mod header;
mod malloc;
mod netcat;
mod netcat_p3;
mod password;
mod runner;
mod session;
mod simulate;
mod stdio;
mod transfer;
mod tunnel;
mod writeback;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Parser;
use spoke_host::{Instance, Listener, NetworkPolicy};
use zeroize::Zeroizing;

use cli::{Cli, Command, PasswordArgs, SecureArgs, ServerArgs};
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
    let done = match command {
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
        Command::Connect {
            target,
            secure,
            component,
        } if component.p3() => {
            let password = optional_password(&secure)?;
            netcat_p3::connect(&target, &secure.password, password.as_ref()).await
        }
        Command::Connect { target, secure, .. } => connect(&target, &secure).await,
        Command::Listen {
            address,
            echo,
            secure,
            server,
            component,
        } if component.p3() => {
            let password = optional_password(&secure)?;
            let args = &secure.password;
            netcat_p3::listen(address, echo, args, &server, password.as_ref()).await
        }
        Command::Listen {
            address,
            echo,
            secure,
            server,
            ..
        } => listen(address, echo, &secure, &server).await,
        Command::Send { file, to, password } => send(&file, &to, &password).await,
        Command::Recv {
            listen,
            output,
            password,
            server,
        } => recv(listen, output.as_deref(), &password, &server).await,
        Command::Tunnel {
            listen,
            to,
            serve,
            target,
            password,
            server,
            connections,
        } => {
            let side = match (listen, to, serve, target) {
                (Some(listen), Some(to), None, None) => tunnel::Side::Entrance { listen, to },
                (None, None, Some(serve), Some(target)) => tunnel::Side::Exit { serve, target },
                _ => anyhow::bail!(
                    "give either --listen ADDR:PORT --to HOST:PORT or --serve ADDR:PORT --target HOST:PORT"
                ),
            };
            tunnel::run(side, &password, &server, &connections).await
        }
        Command::Simulate {
            file,
            address,
            password,
            compat,
        } => simulate(&file, address, &password, compat).await,
    };
    done.map(|()| ExitCode::SUCCESS)
}

/// `spoke connect`: a netcat to `target`, secured if `secure` says so.
async fn connect(target: &str, secure: &SecureArgs) -> Result<()> {
    let password = optional_password(secure)?;
    let (mut instance, flow) = dial(target).await?;
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

/// `spoke listen`: one peer accepted on `address`, echoed or used as a
/// netcat, secured if `secure` says so.
async fn listen(
    address: SocketAddr,
    echo: bool,
    secure: &SecureArgs,
    server: &ServerArgs,
) -> Result<()> {
    let password = optional_password(secure)?;
    let flow_of = async |instance: &mut Instance, listener: &Listener, bound| match &password {
        Some(pw) => {
            let args = &secure.password;
            session::accept_secure(instance, listener, bound, args, server, pw).await
        }
        None => accept(instance, listener, bound).await,
    };
    let (mut instance, flow) = serve_one(address, flow_of).await?;
    let result = if echo {
        netcat::echo(&mut instance, &flow).await.map(drop)
    } else {
        netcat::run(&mut instance, &flow).await
    };
    instance.close(flow).await;
    result
}

/// The password for a flow that `secure` asks to secure, `None` for a
/// plain one.
fn optional_password(secure: &SecureArgs) -> Result<Option<Zeroizing<Vec<u8>>>> {
    secure
        .enabled()
        .then(|| password::obtain(secure.password.password_file.as_deref(), false))
        .transpose()
}

/// `spoke send`: `file` to the receiver at `to`, then a summary on stderr.
async fn send(file: &Path, to: &str, password: &PasswordArgs) -> Result<()> {
    let pw = password::obtain(password.password_file.as_deref(), false)?;
    let (mut instance, flow) = dial(to).await?;
    let flow = session::upgrade(&mut instance, flow, Role::Client, password, None, &pw).await?;
    let ciphers = session::describe_ciphers(&mut instance, &flow).await;
    let sent = transfer::send(&mut instance, &flow, file).await;
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

/// `spoke recv`: one file from a sender accepted on `listen`, stored at
/// `output` (or under the sender's name), then a summary on stderr.
async fn recv(
    listen: SocketAddr,
    output: Option<&Path>,
    password: &PasswordArgs,
    server: &ServerArgs,
) -> Result<()> {
    let pw = password::obtain(password.password_file.as_deref(), false)?;
    let flow_of = async |instance: &mut Instance, listener: &Listener, bound| {
        session::accept_secure(instance, listener, bound, password, server, &pw).await
    };
    let (mut instance, flow) = serve_one(listen, flow_of).await?;
    let ciphers = session::describe_ciphers(&mut instance, &flow).await;
    let received = transfer::recv(&mut instance, &flow, output).await;
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

/// `spoke simulate`: the demonstration with `file` on `address`, then its
/// figures on stdout.
async fn simulate(file: &Path, address: SocketAddr, password: &str, compat: bool) -> Result<()> {
    let spoke = session::load()?;
    let args = PasswordArgs {
        password_file: None,
        identity: "spoke-client,spoke-server".into(),
        compat,
    };
    let cfg = session::config(&args, None)?;
    let outcome = simulate::run(&spoke, file, address, password.as_bytes(), cfg).await?;
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

/// Listens on `address` (the only address the policy allows) until
/// `flow_of` has the flow of the one peer it serves, then stops listening.
async fn serve_one(
    address: SocketAddr,
    flow_of: impl AsyncFnOnce(&mut Instance, &Listener, SocketAddr) -> Result<spoke_host::Flow>,
) -> Result<(Instance, spoke_host::Flow)> {
    let (mut instance, listener, bound) = session::listen_on(&session::load()?, address).await?;
    eprintln!("spoke: listening on {bound}");
    let flow = flow_of(&mut instance, &listener, bound).await?;
    instance.close_listener(listener).await;
    Ok((instance, flow))
}

/// The first peer accepted on `listener`, plain.
async fn accept(
    instance: &mut Instance,
    listener: &Listener,
    bound: SocketAddr,
) -> Result<spoke_host::Flow> {
    instance
        .accept(listener)
        .await
        .map_err(|e| anyhow!("accepting on {bound}: {e}"))
}
