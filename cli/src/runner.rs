//! `spoke run`: a command component under the network policy its command
//! line allows, with spoke's standard streams.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use spoke_host::{CommandComponent, Invocation, NetworkPolicy, Options};

/// What `spoke run` was asked to allow and pass on.
pub struct Run<'a> {
    pub component: &'a Path,
    pub args: &'a [String],
    pub env: &'a [String],
    pub policy: NetworkPolicy,
}

/// Compiles and runs the component to its end; its exit code becomes
/// spoke's (an exit code outside 0-255 is reported as 1). A denial by the
/// policy is explained on stderr.
pub async fn run(run: Run<'_>) -> Result<ExitCode> {
    let bytes = std::fs::read(run.component)
        .with_context(|| format!("reading {}", run.component.display()))?;
    let command = CommandComponent::with_options(&bytes, &Options::with_user_cache())
        .with_context(|| format!("loading {}", run.component.display()))?;
    let name = run
        .component
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| run.component.display().to_string());
    let argv: Vec<&str> = std::iter::once(name.as_str())
        .chain(run.args.iter().map(String::as_str))
        .collect();
    let mut invocation = Invocation::new(&argv)
        .policy(run.policy)
        .stdin(crate::stdio::stdin())
        .stdout(crate::stdio::stdout())
        .stderr(tokio::io::stderr());
    for var in run.env {
        let (name, value) = environment(var)?;
        invocation = invocation.env(name, value);
    }
    let exit = command.run(invocation).await?;
    if let Some(denied) = &exit.denied {
        eprintln!("spoke: {}", as_options(denied));
    }
    Ok(ExitCode::from(u8::try_from(exit.code).unwrap_or(1)))
}

/// A policy's explanation of a denial, with the library calls that would
/// allow it written as `spoke run`'s options.
fn as_options(explained: &str) -> String {
    let mut out = explained.to_string();
    for (call, option) in [
        ("NetworkPolicy::allow_connect(", "--allow-connect"),
        ("NetworkPolicy::allow_listen(", "--allow-listen"),
        ("NetworkPolicy::allow_name_lookup(", "--allow-name-lookup"),
    ] {
        while let Some(start) = out.find(call) {
            let args = start + call.len();
            let Some(len) = out[args..].find(')') else {
                break;
            };
            let written = match &out[args..args + len] {
                "true" => option.to_string(),
                "address" => format!("{option} ADDR:PORT"),
                arg => format!("{option} {arg}"),
            };
            out.replace_range(start..args + len + 1, &written);
        }
    }
    out
}

/// `NAME=VALUE`, or `NAME` for spoke's own value of it.
fn environment(var: &str) -> Result<(String, String)> {
    match var.split_once('=') {
        Some((name, value)) => Ok((name.to_string(), value.to_string())),
        None => {
            let value = std::env::var(var)
                .with_context(|| format!("--env {var}: spoke's environment has no {var}"))?;
            Ok((var.to_string(), value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{as_options, environment};

    #[test]
    fn a_denial_names_the_option_that_would_allow_it() {
        assert_eq!(
            as_options(
                "the network policy does not allow connecting to 127.0.0.1:9 (allowed: no \
                 connection); allow it with NetworkPolicy::allow_connect(127.0.0.1:9)"
            ),
            "the network policy does not allow connecting to 127.0.0.1:9 (allowed: no \
             connection); allow it with --allow-connect 127.0.0.1:9"
        );
        assert_eq!(
            as_options("allow one with NetworkPolicy::allow_connect(address)"),
            "allow one with --allow-connect ADDR:PORT"
        );
        assert_eq!(
            as_options("allow it with NetworkPolicy::allow_listen([::1]:0)"),
            "allow it with --allow-listen [::1]:0"
        );
        assert_eq!(
            as_options("or allow it with NetworkPolicy::allow_name_lookup(true)"),
            "or allow it with --allow-name-lookup"
        );
    }

    #[test]
    fn an_environment_variable_is_given_with_its_value_or_taken_from_spokes_own() {
        assert_eq!(
            environment("A=b=c").unwrap(),
            ("A".to_string(), "b=c".to_string())
        );
        // PATH is set wherever tests run.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(environment("PATH").unwrap(), ("PATH".to_string(), path));
        let missing = environment("SPOKE_SURELY_UNSET_VARIABLE").unwrap_err();
        assert!(missing.to_string().contains("spoke's environment has no"));
    }
}
