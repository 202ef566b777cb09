//! Where the `spoke` command gets a password: `--password-file`, the
//! `SPOKE_PASSWORD` environment variable, or a prompt on the terminal. Never
//! from the command line (other users can read argv), never printed.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result, bail};
use zeroize::Zeroizing;

/// The environment variable a password may come from.
pub const ENV: &str = "SPOKE_PASSWORD";

/// Reads the password from `file` if given, else from [`ENV`], else by
/// prompting on the terminal (twice when `confirm`, as for a new secret).
pub fn obtain(file: Option<&Path>, confirm: bool) -> Result<Zeroizing<Vec<u8>>> {
    if let Some(path) = file {
        let contents = Zeroizing::new(
            std::fs::read(path)
                .with_context(|| format!("cannot read the password file {}", path.display()))?,
        );
        return from_file_contents(&contents)
            .with_context(|| format!("in the password file {}", path.display()));
    }
    if let Some(value) = std::env::var_os(ENV) {
        let value = Zeroizing::new(value.into_encoded_bytes());
        if value.is_empty() {
            bail!("{ENV} is set but empty");
        }
        return Ok(Zeroizing::new(value.to_vec()));
    }
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        bail!(
            "no password given: use --password-file PATH or set {ENV} (there is no terminal to ask on)"
        );
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("spoke password: ")
            .context("cannot read the password from the terminal")?,
    );
    if first.is_empty() {
        bail!("the password is empty");
    }
    if confirm {
        let second = Zeroizing::new(
            rpassword::prompt_password("again: ")
                .context("cannot read the password from the terminal")?,
        );
        if *first != *second {
            bail!("the two passwords differ");
        }
    }
    Ok(Zeroizing::new(first.as_bytes().to_vec()))
}

/// The password in a file: its first line, without the line ending.
fn from_file_contents(contents: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let line = contents.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        bail!("the first line is empty");
    }
    Ok(Zeroizing::new(line.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::from_file_contents;

    #[test]
    fn a_password_file_gives_its_first_line_without_the_line_ending() {
        assert_eq!(&**from_file_contents(b"hunter2\n").unwrap(), b"hunter2");
        assert_eq!(
            &**from_file_contents(b"hunter2\r\nsecond line\n").unwrap(),
            b"hunter2"
        );
        assert_eq!(&**from_file_contents(b"no newline").unwrap(), b"no newline");
        assert_eq!(
            &**from_file_contents(b" spaces kept ").unwrap(),
            b" spaces kept "
        );
    }

    #[test]
    fn an_empty_password_file_is_an_error() {
        assert!(from_file_contents(b"").is_err());
        assert!(from_file_contents(b"\nsecond").is_err());
    }
}
