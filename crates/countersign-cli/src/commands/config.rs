//! `config defaults` and `config check`: the configuration reference and the effective values.

use crate::args::ConfigAction;
use crate::config::FileConfig;
use crate::output::print_json;
use crate::reference;
use anyhow::Result;

/// Runs a `config` subcommand.
pub fn run(config: &FileConfig, action: ConfigAction, json_mode: bool) -> Result<()> {
    match action {
        ConfigAction::Defaults => print!("{}", reference::defaults()),
        ConfigAction::Check => {
            let (text, value) = reference::effective(config);
            if json_mode {
                print_json(&value);
            } else {
                print!("{text}");
            }
        }
    }
    Ok(())
}
