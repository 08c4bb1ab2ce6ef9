//! Secrets read from standard input (passwords, keys), never from flags where they would show
//! in the process list.

use anyhow::{Context, Result};
use countersign_core::secret::Secret;
use std::io::BufRead;

/// Reads one non-empty line (a password or key) from standard input.
pub fn read_line_stdin(what: &str) -> Result<Secret> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading {what} from standard input"))?;
    let value = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!value.is_empty(), "{what} on standard input is empty");
    Ok(Secret::new(value))
}
