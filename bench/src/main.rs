//! Benchmark harness helpers, driven by `bench/run.sh` and the other scripts in `bench/`: the
//! command line and its dispatch. The commands live by concern: `setup` (`ceiling`, the plain
//! axum endpoint every figure is compared with, and `populate`, a directory and credentials),
//! `report` (wrk outputs as Markdown, JSON and an SVG chart), `memory` (`distinct`, `failures`,
//! `burst`: resident memory under load) and `load` (`soak`, `scale-load`, `tokens`).
#![expect(
    clippy::print_stdout,
    reason = "a command-line tool prints its results"
)]

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

mod load;
mod memory;
mod oauth;
mod report;
mod setup;

use load::{scale_load, soak, tokens};
use memory::{burst, distinct, failures};
use report::report;
use setup::{ceiling, populate};

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the ceiling: `GET /v1/verify` answering 200 without authenticating.
    Ceiling {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
    },
    /// Populate a running server and write credentials as JSON.
    Populate {
        #[arg(long)]
        server: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long)]
        admin_password: String,
        /// Users to create (each a member of the main account).
        #[arg(long, default_value_t = 200)]
        users: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Mixed load at a fixed rate for a bounded time: token issuance, bearer and legacy
    /// verification, and admin writes; reports errors, latency percentiles and the server's
    /// resident memory at start and end.
    Soak {
        #[arg(long)]
        server: String,
        /// Credentials written by `populate`.
        #[arg(long)]
        creds: PathBuf,
        #[arg(long)]
        admin_email: String,
        #[arg(long)]
        admin_password: String,
        /// Server process id (for resident memory).
        #[arg(long)]
        pid: u32,
        /// Requests per second.
        #[arg(long, default_value_t = 500)]
        rate: u64,
        /// Seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Bulk-load users (each with a membership) and user-scoped API users straight into the
    /// database, keeping a sample of API usernames and keys for token exchanges.
    ScaleLoad {
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 1_000_000)]
        users: usize,
        #[arg(long, default_value_t = 10_000)]
        sample: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Exchange the sampled keys for tokens and write them as `populate` does.
    Tokens {
        #[arg(long)]
        server: String,
        #[arg(long)]
        pairs: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a stream of distinct valid tokens (minted with the server's signing key from the
    /// claims of the populated tokens, each with a fresh session id) and sample the server's
    /// resident memory: the memory bound under millions of distinct tokens.
    Distinct {
        #[arg(long)]
        server: String,
        /// `populate` output (its tokens name the identities to mint for).
        #[arg(long)]
        creds: PathBuf,
        /// File with the server's signing key (hex), as given to `serve --signing-key-file`.
        #[arg(long)]
        signing_key_file: PathBuf,
        /// The server's process id (resident memory).
        #[arg(long)]
        pid: u32,
        /// Distinct tokens to verify.
        #[arg(long, default_value_t = 2_000_000)]
        tokens: u64,
        /// Requests in flight.
        #[arg(long, default_value_t = 32)]
        concurrency: u64,
    },
    /// Failed token exchanges with distinct long API usernames while the server's resident
    /// memory is sampled (the throttle's failure memory, SPEC §9).
    Failures {
        #[arg(long)]
        server: String,
        /// The server's process id (resident memory).
        #[arg(long)]
        pid: u32,
        /// Failed exchanges, each with a distinct username.
        #[arg(long, default_value_t = 500_000)]
        attempts: u64,
        /// Bytes per username.
        #[arg(long, default_value_t = 1024)]
        name_bytes: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 32)]
        concurrency: u64,
    },
    /// A burst of concurrent wrong-password legacy headers (each for a distinct unknown user,
    /// so no name is throttled) while `/healthz` is timed and resident memory sampled.
    Burst {
        #[arg(long)]
        server: String,
        /// The server's process id (resident memory).
        #[arg(long)]
        pid: u32,
        /// Credentials written by `populate` (for the integrator key).
        #[arg(long)]
        creds: PathBuf,
        /// Concurrent requests.
        #[arg(long, default_value_t = 500)]
        requests: usize,
    },
    /// Build the report from `name=ceiling_file=subject_file` triples of wrk outputs.
    Report {
        /// Scenario results: `NAME=CEILING_WRK_OUTPUT=SUBJECT_WRK_OUTPUT`.
        #[arg(long = "scenario")]
        scenarios: Vec<String>,
        /// Markdown table output.
        #[arg(long)]
        markdown: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: PathBuf,
        /// SVG chart output.
        #[arg(long)]
        svg: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Ceiling { listen } => ceiling(&listen).await,
        Command::Populate {
            server,
            admin_email,
            admin_password,
            users,
            out,
        } => populate(&server, &admin_email, &admin_password, users, &out).await,
        Command::Report {
            scenarios,
            markdown,
            json,
            svg,
        } => report(&scenarios, &markdown, &json, &svg),
        Command::ScaleLoad {
            database,
            users,
            sample,
            out,
        } => scale_load(&database, users, sample, &out).await,
        Command::Tokens { server, pairs, out } => tokens(&server, &pairs, &out).await,
        Command::Distinct {
            server,
            creds,
            signing_key_file,
            pid,
            tokens,
            concurrency,
        } => distinct(&server, &creds, &signing_key_file, pid, tokens, concurrency).await,
        Command::Failures {
            server,
            pid,
            attempts,
            name_bytes,
            concurrency,
        } => failures(&server, pid, attempts, name_bytes, concurrency).await,
        Command::Burst {
            server,
            pid,
            creds,
            requests,
        } => burst(&server, pid, &creds, requests).await,
        Command::Soak {
            server,
            creds,
            admin_email,
            admin_password,
            pid,
            rate,
            seconds,
        } => {
            soak(
                &server,
                &creds,
                &admin_email,
                &admin_password,
                pid,
                rate,
                seconds,
            )
            .await
        }
    }
}
