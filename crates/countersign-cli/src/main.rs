//! The `countersign` binary: runs the server, applies migrations, bootstraps an installation,
//! administers the directory directly on the database, and helps integrators (token exchange,
//! legacy header). The only crate that reads flags, files and the environment.
#![expect(
    clippy::print_stdout,
    reason = "a command-line tool prints its results"
)]

mod args;
mod client;
mod commands;
mod config;
mod operations;
mod output;
mod pages;
mod reference;
mod serve;
mod stdin;

use anyhow::Result;
use clap::Parser;

/// Authentication server for multi-tenant document-signing APIs.
#[derive(Debug, Parser)]
#[command(name = "countersign", version, about)]
pub struct Cli {
    #[command(flatten)]
    overrides: config::Overrides,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Organization to act on (needed only when the installation holds several).
    #[arg(long, global = true, env = "COUNTERSIGN_ORGANIZATION")]
    org: Option<String>,
    #[command(subcommand)]
    command: args::Command,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    commands::run(cli).await
}
