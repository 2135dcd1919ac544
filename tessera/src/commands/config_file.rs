//! `--config FILE` (or `TESSERA_CONFIG`): a TOML file of settings, each key
//! a long flag name (`api-token`, `slots`...). Its values become the
//! defaults of the matching `TESSERA_*` environment variables, so the order
//! of precedence is: command line, then environment, then file, then the
//! built-in default. Unknown keys are refused, naming the key.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context};

/// The config file named on the command line or in the environment, if any.
pub fn named(args: &[String]) -> Option<String> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--config" {
            return args.next().cloned();
        }
        if let Some(value) = arg.strip_prefix("--config=") {
            return Some(value.to_string());
        }
    }
    std::env::var("TESSERA_CONFIG").ok()
}

/// Every environment variable the command line reads.
fn known_env(command: &clap::Command, out: &mut BTreeSet<String>) {
    for arg in command.get_arguments() {
        if let Some(env) = arg.get_env() {
            out.insert(env.to_string_lossy().into_owned());
        }
    }
    for sub in command.get_subcommands() {
        known_env(sub, out);
    }
}

/// The environment variable of a config key: `api-token` -> `TESSERA_API_TOKEN`.
fn env_name(key: &str) -> String {
    format!("TESSERA_{}", key.replace('-', "_").to_ascii_uppercase())
}

fn as_env_value(key: &str, value: &toml::Value) -> anyhow::Result<String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => {
            items.iter().map(|v| as_env_value(key, v)).collect::<anyhow::Result<Vec<_>>>()?.join(",")
        }
        other => bail!("setting '{key}' has an unsupported value: {other}"),
    })
}

/// Reads the file and sets the environment variables it gives that are not
/// already set. Must run before any thread starts (it writes the environment).
pub fn apply(file: &Path, command: &clap::Command) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read config file {}", file.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("config file {} is not valid TOML", file.display()))?;
    let mut known = BTreeSet::new();
    known_env(command, &mut known);
    for (key, value) in &table {
        let env = env_name(key);
        if !known.contains(&env) {
            bail!(
                "config file {}: unknown setting '{key}' (settings are long flag names, e.g. slots, api-token)",
                file.display()
            );
        }
        if std::env::var_os(&env).is_none() {
            // Single-threaded here: no other thread reads the environment yet.
            std::env::set_var(&env, as_env_value(key, value)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_map_to_environment() {
        assert_eq!(env_name("api-token"), "TESSERA_API_TOKEN");
        assert_eq!(env_name("max_upload_bytes"), "TESSERA_MAX_UPLOAD_BYTES");
        let array = toml::Value::Array(vec!["h264".into(), "av1".into()]);
        assert_eq!(as_env_value("codecs", &array).unwrap(), "h264,av1");
        assert_eq!(as_env_value("slots", &toml::Value::Integer(3)).unwrap(), "3");
        let args: Vec<String> = ["tessera", "worker", "--config=/x.toml"].map(String::from).to_vec();
        assert_eq!(named(&args).as_deref(), Some("/x.toml"));
    }
}
