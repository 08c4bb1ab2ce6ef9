//! Dispatching a parsed command line, and what the directory subcommands share: `Direct` (the
//! operations opened straight on the database, acting as `cli`) and the parsing of ids and
//! secrets given as flags or on standard input. Each entity's subcommands live in a submodule.

mod account;
mod api_user;
mod audit;
mod config;
mod doctor;
mod env;
mod integrator_key;
mod legacy;
mod user;

use crate::Cli;
use crate::args::{Command, DirectoryCommand};
use crate::config::{FileConfig, mask_url};
use crate::operations::{self, Open};
use crate::{client, serve};
use anyhow::{Context, Result, anyhow, bail};
use countersign_core::api_user::Scope;
use countersign_core::ids::{EnvironmentId, OrganizationId, UserId};
use countersign_server::clock::SystemClock;
use countersign_server::ops::{Actor, OpError, Ops, StandaloneOps};
use std::sync::Arc;

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let config = crate::config::load(&cli.overrides)?;
    let json_mode = cli.json;
    match cli.command {
        Command::Serve => serve::serve(config).await,
        Command::Migrate => {
            operations::open_migrated(&config, Open::MayCreate).await?;
            println!("migrations applied to {}", mask_url(&config.database_url));
            Ok(())
        }
        Command::Init => serve::init(&config).await,
        Command::Backup { to } => operations::backup(&config, &to).await,
        Command::Restore { from } => operations::restore(&config, &from).await,
        Command::Healthcheck { url } => operations::healthcheck(&config, url.as_deref()).await,
        Command::Config { action } => config::run(&config, action, json_mode),
        Command::Token(args) => client::run_token(args, json_mode).await,
        Command::Header(args) => {
            client::header(&args);
            Ok(())
        }
        Command::Directory(command) => {
            let direct = Direct::open(&config, cli.org.as_deref()).await?;
            let result = directory(&direct, command, json_mode).await;
            direct.finish().await;
            result
        }
    }
}

async fn directory(direct: &Direct, command: DirectoryCommand, json_mode: bool) -> Result<()> {
    match command {
        DirectoryCommand::Env { action } => env::run(direct, action, json_mode).await,
        DirectoryCommand::Account { action } => account::run(direct, action, json_mode).await,
        DirectoryCommand::User { action } => user::run(direct, action, json_mode).await,
        DirectoryCommand::ApiUser { action } => api_user::run(direct, action, json_mode).await,
        DirectoryCommand::IntegratorKey { action } => {
            integrator_key::run(direct, action, json_mode).await
        }
        DirectoryCommand::Legacy { action } => legacy::run(direct, action, json_mode).await,
        DirectoryCommand::Doctor => doctor::run(&direct.ops.store, json_mode).await,
        DirectoryCommand::Audit { action } => audit::run(direct, action, json_mode).await,
    }
}

/// Direct database operations for directory subcommands.
struct Direct {
    public_url: String,
    ops: StandaloneOps,
    organization: OrganizationId,
    actor: Actor,
}

impl Direct {
    async fn open(config: &FileConfig, org: Option<&str>) -> Result<Self> {
        let store = operations::open_migrated(config, Open::Existing).await?;
        let supplied = serve::supplied_secrets(config)?;
        let ops = Ops::open(
            store.clone(),
            &config.server,
            &supplied,
            Arc::new(SystemClock),
        )
        .await?;
        let organizations = store.list_organizations().await?;
        let organization = match org {
            Some(id) => OrganizationId::parse(id)
                .ok_or_else(|| anyhow!("--org must be an organization id"))?,
            None => match organizations.as_slice() {
                [only] => only.id,
                [] => bail!("the database is empty: run `countersign init` first"),
                _ => bail!("several organizations exist: choose one with --org"),
            },
        };
        Ok(Self {
            public_url: config.server.public_url.clone(),
            ops,
            organization,
            actor: Actor {
                organization_id: organization,
                user_id: None,
                name: "cli".into(),
                source_ip: None,
            },
        })
    }

    async fn finish(self) {
        self.ops.finish().await;
    }
}

/// An operation's refusal as the command's error (its text is already user-facing).
fn op_error(error: OpError) -> anyhow::Error {
    anyhow!("{error}")
}

/// Parses an id given as the flag `what`.
fn parse<T>(text: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(text).ok_or_else(|| anyhow!("{what} must be a UUID"))
}

/// Parses an RFC 3339 time given as a flag; `context` is the error text.
fn parse_time(text: Option<String>, context: &'static str) -> Result<Option<time::OffsetDateTime>> {
    text.map(|t| {
        time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
            .context(context)
    })
    .transpose()
}

/// Parses `organization`, `environment:<id>` or `user:<id>`.
fn parse_scope(text: &str) -> Result<Scope> {
    match text.split_once(':') {
        None if text == "organization" => Ok(Scope::Organization),
        Some(("user", id)) => Ok(Scope::User(parse(id, UserId::parse, "user id")?)),
        Some(("environment", id)) => Ok(Scope::Environment(parse(
            id,
            EnvironmentId::parse,
            "environment id",
        )?)),
        _ => bail!("scope must be organization, environment:<id> or user:<id>"),
    }
}
