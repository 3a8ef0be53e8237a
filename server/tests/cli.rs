//! The `ticksync-server` command line: `token` mints a verifiable join token from the secret in
//! the environment, refuses to run without one, and invalid flags fail with a clear message.
//! The configuration layers (file < `TICKSYNC_*` environment < flags) are checked through
//! `--print-config`, which prints the effective settings and exits without binding.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ticksync_protocol::token::verify;
use ticksync_server::ServerConfig;

/// At least 32 bytes, the shortest secret the server accepts.
const SECRET: &str = "cli test secret, long enough to be accepted";

/// The server binary with no `TICKSYNC_*` variables inherited from the test's environment.
fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ticksync-server"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TICKSYNC_") {
            command.env_remove(name);
        }
    }
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the server binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8 output")
}

fn stderr(output: &Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A file in the temporary directory, unique to this test process and `name`.
fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("ticksync-cli-test-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).expect("temp file is writable");
    path
}

/// The configuration `--print-config` reports for these arguments and environment.
fn printed_config(args: &[&str], env: &[(&str, &str)]) -> ServerConfig {
    let output = run(server()
        .arg("--print-config")
        .args(args)
        .envs(env.iter().copied()));
    toml::from_str(&stdout(&output)).expect("--print-config prints a valid config")
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn token_subcommand_mints_a_token_the_server_accepts() {
    let output = run(server()
        .args(["token", "--player", "p42", "--name", "Grace", "--ttl", "1h"])
        .env("TICKSYNC_TOKEN_SECRET", SECRET));
    let token = stdout(&output);
    let claims = verify(SECRET.as_bytes(), token.trim(), "arena").expect("valid token");
    assert_eq!(
        (claims.sub.as_str(), claims.name.as_deref()),
        ("p42", Some("Grace"))
    );
    assert!(verify(b"other secret", token.trim(), "arena").is_err());
}

#[test]
fn token_subcommand_without_a_secret_explains_what_to_set() {
    let output = run(server().args(["token", "--player", "p42"]));
    let stderr = stderr(&output);
    assert!(stderr.contains("TICKSYNC_TOKEN_SECRET"), "{stderr}");
}

#[test]
fn token_subcommand_reads_the_secret_file_and_room_from_the_config_file() {
    let secret = temp_file("token-secret", &format!("{SECRET}\n"));
    let config = temp_file(
        "token-config.toml",
        &format!(
            "default_room = \"lobby\"\ntoken_secret_file = {:?}\n",
            path_arg(&secret)
        ),
    );
    let output = run(server().args(["--config", path_arg(&config), "token", "--player", "p7"]));
    let token = stdout(&output);
    let claims = verify(SECRET.as_bytes(), token.trim(), "lobby").expect("valid token");
    assert_eq!(claims.sub, "p7");
    let _ = std::fs::remove_file(secret);
    let _ = std::fs::remove_file(config);
}

#[test]
fn tls_flags_must_come_in_pairs() {
    let output = run(server().args(["--tls-cert", "cert.pem"]));
    let stderr = stderr(&output);
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

#[test]
fn flags_override_the_environment_which_overrides_the_file() {
    let file = temp_file("precedence.toml", "tick_rate_hz = 20\nmax_players = 50\n");
    let config = ["--config", path_arg(&file)];
    let env = [("TICKSYNC_TICK_RATE_HZ", "40")];

    let all = printed_config(&[&config[..], &["--tick-rate", "60"]].concat(), &env);
    assert_eq!(all.tick_rate_hz, 60);
    assert_eq!(all.max_players, 50);
    assert_eq!(printed_config(&config, &env).tick_rate_hz, 40);
    assert_eq!(printed_config(&config, &[]).tick_rate_hz, 20);
    assert_eq!(
        printed_config(&[], &[("TICKSYNC_CONFIG", path_arg(&file))]).tick_rate_hz,
        20
    );
    assert_eq!(printed_config(&[], &[]), ServerConfig::default());
    let _ = std::fs::remove_file(file);
}

#[test]
fn unknown_keys_in_the_file_fail_naming_the_key_and_the_file() {
    let file = temp_file("unknown.toml", "tick_rate_hz = 20\nmax_player = 50\n");
    let output = run(server().args(["--config", path_arg(&file), "--print-config"]));
    let stderr = stderr(&output);
    assert!(stderr.contains("max_player"), "{stderr}");
    assert!(stderr.contains(path_arg(&file)), "{stderr}");
    assert!(output.stdout.is_empty());
    let _ = std::fs::remove_file(file);
}

#[test]
fn bad_values_fail_naming_the_setting_and_its_source() {
    let file = temp_file("bad-value.toml", "tick_rate_hz = \"fast\"\n");
    let stderr_of = |command: &mut Command| stderr(&run(command));

    let message = stderr_of(server().args(["--config", path_arg(&file)]));
    assert!(message.contains("tick_rate_hz"), "{message}");
    assert!(message.contains(path_arg(&file)), "{message}");

    let message = stderr_of(server().env("TICKSYNC_IDLE_TIMEOUT", "soon"));
    assert!(message.contains("TICKSYNC_IDLE_TIMEOUT"), "{message}");

    let message = stderr_of(server().env("TICKSYNC_TICK_RATE_HZ", "0"));
    assert!(message.contains("TICKSYNC_TICK_RATE_HZ"), "{message}");
    assert!(
        message.contains("tick_rate_hz must be greater than 0"),
        "{message}"
    );

    let message = stderr_of(server().args(["--tick-rate", "fast"]));
    assert!(message.contains("--tick-rate"), "{message}");
    let _ = std::fs::remove_file(file);
}

#[test]
fn configuration_mistakes_exit_2_with_one_clean_line_even_with_rust_backtrace() {
    let output = run(server()
        .args(["--tick-rate", "70000", "--print-config"])
        .env("RUST_BACKTRACE", "1"));
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert_eq!(
        message,
        "ticksync-server: configuration error: flag --tick-rate: tick_rate_hz 70000 is out of \
         range: it is a whole number from 1 to 240\n"
    );
    assert!(!message.contains("backtrace"), "{message}");
}

#[test]
fn short_token_secrets_are_refused() {
    let output = run(server()
        .args(["token", "--player", "p1"])
        .env("TICKSYNC_TOKEN_SECRET", "hunter2"));
    let message = stderr(&output);
    assert!(message.contains("at least 32"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn printed_config_reads_back_to_the_same_printout() {
    let source = temp_file(
        "print-source.toml",
        "aoi_radius = 250\nallowed_origins = [\"https://a.example\"]\n[rooms.big]\ntick_rate_hz = 20\n",
    );
    let first = stdout(&run(server()
        .args([
            "--print-config",
            "--config",
            path_arg(&source),
            "--idle-timeout",
            "1m 30s",
        ])
        .env("TICKSYNC_TOKEN_SECRET", SECRET)));
    assert!(first.starts_with('#'), "{first}");
    assert!(!first.contains(SECRET), "{first}");
    let printed = temp_file("printed.toml", &first);
    let second = stdout(&run(server().args([
        "--config",
        path_arg(&printed),
        "--print-config",
    ])));
    assert_eq!(first, second);
    let _ = std::fs::remove_file(source);
    let _ = std::fs::remove_file(printed);
}

#[test]
fn the_example_config_file_loads() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ticksync.example.toml");
    let config = printed_config(&["--config", path_arg(&example)], &[]);
    assert_eq!(
        ServerConfig {
            rooms: Default::default(),
            ..config.clone()
        },
        ServerConfig::default()
    );
    assert_eq!(config.room_config("big").tick_rate_hz, 20);
}

#[test]
fn help_shows_each_default() {
    let help = stdout(&run(server().arg("--help")));
    for expected in [
        "--config <FILE>",
        "--print-config",
        "[default: 30]",
        "[default: 15s]",
    ] {
        assert!(help.contains(expected), "{expected} missing from:\n{help}");
    }
}
