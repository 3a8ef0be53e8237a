//! The command line: [`ServerArgs`], what the flags said, built from the one table of keys
//! ([`KEYS`]) — each setting's flag is declared once, there, with its help; `--help` adds
//! each default from [`ServerConfig::default`], so help and code cannot disagree. Flag values
//! stay text here and are read by the flags' layer like any other source.
//!
//! Besides the settings: `--config`, `--print-config`, and the `token` subcommand.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{NonEmptyStringValueParser, PossibleValuesParser};
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Subcommand};
use figment::value::Value;

use super::keys::{Flag, Key, Kind, KEYS};
use super::ServerConfig;

const ABOUT: &str = "Authoritative game state sync server: a fixed-timestep tick loop that takes \
                     players' inputs over WebSocket and sends every player a snapshot each tick.";

const AFTER_HELP: &str = "Configuration: embedded defaults, overridden by the config file \
    (--config FILE or TICKSYNC_CONFIG; keys as in ticksync.example.toml), then by \
    TICKSYNC_<KEY> environment variables (e.g. TICKSYNC_TICK_RATE_HZ=60, \
    TICKSYNC_ALLOWED_ORIGINS=https://a.example,https://b.example, \
    TICKSYNC_ROOMS__BIG__MAX_PLAYERS=2000 for [rooms.big]), then by these flags. \
    --print-config shows the result.\n\
    Logs: quiet by default; set RUST_LOG=debug (or e.g. RUST_LOG=ticksync_server=trace) for \
    detail.";

/// What the command line said: the config file, `--print-config`, the subcommand, and the
/// settings given as flags (read by [`super::load`] as the top layer).
#[derive(Debug)]
pub struct ServerArgs {
    /// Read settings from this TOML file.
    pub config: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    pub print_config: bool,
    /// A subcommand instead of running the server.
    pub command: Option<Command>,
    /// Each setting given as a flag, with its text (every value, for a repeated flag).
    settings: Vec<(&'static Key, Vec<String>)>,
}

/// Subcommands; without one, the server runs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mint a join token with the secret from TICKSYNC_TOKEN_SECRET (or the configured
    /// token_secret_file) and print it, for tests and tools.
    Token(TokenArgs),
}

/// Arguments of `ticksync-server token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Player id the token vouches for.
    #[arg(long)]
    pub player: String,
    /// Display name [default: the player id].
    #[arg(long)]
    pub name: Option<String>,
    /// Room the token admits to [default: the configured default_room, "arena" unless set].
    #[arg(long)]
    pub room: Option<String>,
    /// How long the token stays valid (e.g. 30m, 1h, 7d).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    pub ttl: Duration,
}

impl ServerArgs {
    /// Parses the process's arguments, printing help or an error and exiting when asked or
    /// wrong.
    pub fn parse_with_defaults() -> ServerArgs {
        ServerArgs::try_parse_with_defaults(std::env::args_os())
            .unwrap_or_else(|error| error.exit())
    }

    /// [`ServerArgs::parse_with_defaults`] for the given arguments, returning errors.
    pub fn try_parse_with_defaults<I, T>(args: I) -> Result<ServerArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut command = ServerArgs::command();
        let matches = command.try_get_matches_from_mut(args)?;
        ServerArgs::from_matches(&matches).map_err(|error| error.format(&mut command))
    }

    /// The clap command: `--config`, `--print-config`, a flag for each key in the table of
    /// keys that has one (its id is the key), and the subcommands. The help of each flag ends
    /// with its range, where it has a limit, and its default.
    pub fn command() -> clap::Command {
        let defaults = Value::serialize(ServerConfig::default())
            .ok()
            .and_then(Value::into_dict)
            .unwrap_or_default();
        let command = clap::Command::new("ticksync-server")
            .version(env!("CARGO_PKG_VERSION"))
            .about(ABOUT)
            .after_help(AFTER_HELP)
            .arg(
                Arg::new("config")
                    .long("config")
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help(
                        "Read settings from this TOML file (see ticksync.example.toml) [env: \
                         TICKSYNC_CONFIG]",
                    ),
            )
            .arg(
                Arg::new("print_config")
                    .long("print-config")
                    .action(ArgAction::SetTrue)
                    .help(
                        "Print the effective configuration (defaults, file, environment and \
                         flags merged) as TOML and exit",
                    ),
            );
        let command = KEYS.iter().fold(command, |command, key| match &key.flag {
            Some(flag) => command.arg(setting_arg(key, flag, defaults.get(key.name))),
            None => command,
        });
        // After the subcommands, whose derive would set their enum's doc as the about.
        Command::augment_subcommands(command).about(ABOUT)
    }

    /// The settings given as flags: each key, its flag (without dashes) and its values.
    pub(super) fn settings(&self) -> impl Iterator<Item = (&'static Key, &'static str, &[String])> {
        self.settings.iter().filter_map(|(key, values)| {
            key.flag
                .as_ref()
                .map(|flag| (*key, flag.long, values.as_slice()))
        })
    }

    fn from_matches(matches: &ArgMatches) -> Result<ServerArgs, clap::Error> {
        let settings = KEYS
            .iter()
            .filter(|key| key.flag.is_some())
            .filter_map(|key| {
                let values = matches.get_many::<String>(key.name)?;
                Some((key, values.cloned().collect()))
            })
            .collect();
        let command = match matches.subcommand_name() {
            Some(_) => Some(Command::from_arg_matches(matches)?),
            None => None,
        };
        Ok(ServerArgs {
            config: matches.get_one::<PathBuf>("config").cloned(),
            print_config: matches.get_flag("print_config"),
            command,
            settings,
        })
    }
}

/// The flag of `key`, with its range and `default` in the help.
fn setting_arg(key: &'static Key, flag: &'static Flag, default: Option<&Value>) -> Arg {
    let mut help = flag.help.trim_end_matches('.').to_owned();
    if let Some(range) = key.kind.range_note() {
        help.push_str(&format!(" ({range})"));
    }
    let shown = match default {
        Some(Value::String(_, text)) => Some(text.clone()),
        Some(Value::Num(_, number)) => number.to_u128().map(|number| number.to_string()),
        Some(Value::Bool(_, value)) => Some(value.to_string()),
        _ => None,
    };
    if let Some(shown) = shown {
        help.push_str(&format!(" [default: {shown}]"));
    }
    let arg = Arg::new(key.name)
        .long(flag.long)
        .value_name(flag.value_name)
        .help(help);
    match key.kind {
        Kind::Switch => arg
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .value_parser(PossibleValuesParser::new(["true", "false"])),
        Kind::List => arg
            .action(ArgAction::Append)
            .value_parser(NonEmptyStringValueParser::new()),
        _ => arg
            .action(ArgAction::Set)
            .value_parser(NonEmptyStringValueParser::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(flags: &[&str]) -> ServerArgs {
        ServerArgs::try_parse_with_defaults(
            std::iter::once("ticksync-server").chain(flags.iter().copied()),
        )
        .expect("valid flags")
    }

    #[test]
    fn flags_keep_their_text_by_key() {
        let parsed = args(&[
            "--tick-rate",
            "60",
            "--allow-origin",
            "https://a.example",
            "--allow-origin",
            "https://b.example",
            "--dev-tls",
            "--require-origin=false",
        ]);
        let given: Vec<(&str, &str, Vec<&str>)> = parsed
            .settings()
            .map(|(key, long, values)| {
                (key.name, long, values.iter().map(String::as_str).collect())
            })
            .collect();
        assert_eq!(
            given,
            [
                ("tick_rate_hz", "tick-rate", vec!["60"]),
                ("dev_tls", "dev-tls", vec!["true"]),
                (
                    "allowed_origins",
                    "allow-origin",
                    vec!["https://a.example", "https://b.example"]
                ),
                ("require_origin", "require-origin", vec!["false"]),
            ]
        );
    }

    #[test]
    fn the_token_subcommand_parses_after_the_flags() {
        let parsed = args(&["--config", "x.toml", "token", "--player", "p1"]);
        assert_eq!(parsed.config, Some(PathBuf::from("x.toml")));
        let Some(Command::Token(token)) = parsed.command else {
            panic!("no token subcommand");
        };
        assert_eq!(token.player, "p1");
        assert_eq!(token.ttl, Duration::from_secs(3600));
    }

    #[test]
    fn help_shows_ranges_and_defaults() {
        let help = ServerArgs::command().render_help().to_string();
        assert!(help.contains("(1 to 240) [default: 30]"), "{help}");
        assert!(help.contains("[default: 127.0.0.1:7878]"), "{help}");
        assert!(help.contains("[default: 15s]"), "{help}");
        assert!(help.contains("[default: false]"), "{help}");
    }
}
