//! The errors a user sees for a bad value from each source: what is wrong, where it was set
//! (the file and its line, the variable, the flag) and what to write instead.

use super::super::*;
use super::{args, config_file, NO_ENV};

#[test]
fn unknown_file_key_names_the_key_the_file_and_the_line() {
    let file = config_file("unknown", "bind = \"127.0.0.1:7000\"\ntick_rate = 60\n");
    let error =
        load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV).expect_err("unknown key");
    let message = error.to_string();
    assert!(matches!(error, ConfigError::File { .. }), "{message}");
    assert!(message.contains("tick_rate"), "{message}");
    assert!(message.contains(file.to_str().expect("utf-8")), "{message}");
    assert!(message.contains("line 2"), "{message}");
    let _ = std::fs::remove_file(file);
}

#[test]
fn bad_file_values_name_the_key() {
    let file = config_file("bad-type", "tick_rate_hz = \"fast\"\n");
    let message = load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV)
        .expect_err("bad type")
        .to_string();
    assert!(message.contains("tick_rate_hz"), "{message}");
    assert!(message.contains("line 1"), "{message}");

    let _ = std::fs::remove_file(file);

    let file = config_file("bad-room-key", "[rooms.big]\nmax_player = 10\n");
    let message = load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV)
        .expect_err("unknown room key")
        .to_string();
    assert!(message.contains("max_player"), "{message}");
    assert!(message.contains("line 2"), "{message}");
    let _ = std::fs::remove_file(file);

    let file = config_file("zero", "tick_rate_hz = 0\n");
    let error =
        load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV).expect_err("zero rate");
    assert_eq!(
        error,
        ConfigError::Setting {
            origin: Origin::File {
                path: file.clone(),
                line: Some(1)
            },
            error: Box::new(ConfigError::MustBePositive {
                field: "tick_rate_hz"
            }),
        }
    );
    let _ = std::fs::remove_file(file);
}

#[test]
fn secrets_cannot_be_written_in_the_file() {
    let file = config_file("secret", "token_secret = \"hunter2\"\n");
    let message = load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV)
        .expect_err("secret in file")
        .to_string();
    assert!(message.contains("TICKSYNC_TOKEN_SECRET"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    let _ = std::fs::remove_file(file);
}

#[test]
fn bad_environment_values_name_the_variable() {
    let error = load(&args(&[]), [("TICKSYNC_TICK_RATE_HZ", "fast")]).expect_err("bad");
    assert!(
        matches!(&error, ConfigError::Env { variable, key, .. } if variable == "TICKSYNC_TICK_RATE_HZ" && key == "tick_rate_hz"),
        "{error}"
    );
    let message = load(&args(&[]), [("TICKSYNC_TICK_RATE_HZ", "70000")])
        .expect_err("out of range")
        .to_string();
    assert!(message.contains("TICKSYNC_TICK_RATE_HZ"), "{message}");

    let error = load(&args(&[]), [("TICKSYNC_MAX_PLAYERS", "0")]).expect_err("zero");
    assert_eq!(
        error.to_string(),
        "environment variable TICKSYNC_MAX_PLAYERS: max_players must be greater than 0"
    );
}

#[test]
fn validation_errors_name_the_field_and_where_it_was_set() {
    let config = ServerConfig {
        tick_rate_hz: 0,
        ..ServerConfig::default()
    };
    assert_eq!(
        config.validate(),
        Err(ConfigError::MustBePositive {
            field: "tick_rate_hz"
        })
    );
    let config = ServerConfig {
        tick_rate_hz: 1000,
        ..ServerConfig::default()
    };
    assert!(config.validate().unwrap_err().to_string().contains("1000"));

    let message = load(&args(&["--tick-rate", "1000"]), NO_ENV)
        .expect_err("too fast")
        .to_string();
    assert!(
        message.starts_with("flag --tick-rate: tick_rate_hz"),
        "{message}"
    );
    let message = load(&args(&["--tls-cert", "cert.pem"]), NO_ENV)
        .expect_err("no key")
        .to_string();
    assert!(message.contains("--tls-key"), "{message}");
    let message = load(&args(&["--default-room", "no spaces"]), NO_ENV)
        .expect_err("bad room name")
        .to_string();
    assert!(message.contains("default_room"), "{message}");

    let mut config = ServerConfig::default();
    config.rooms.insert(
        "big".to_owned(),
        RoomOverrides {
            tick_rate_hz: Some(0),
            ..RoomOverrides::default()
        },
    );
    assert_eq!(
        config.validate().unwrap_err().to_string(),
        "[rooms.big]: tick_rate_hz must be greater than 0"
    );
}

#[test]
fn numbers_are_checked_against_their_real_range_from_every_source() {
    let expected = "tick_rate_hz 70000 is out of range: it is a whole number from 1 to 240";
    let message = load(&args(&["--tick-rate", "70000"]), NO_ENV)
        .expect_err("too fast")
        .to_string();
    assert_eq!(message, format!("flag --tick-rate: {expected}"));
    let message = load(&args(&[]), [("TICKSYNC_TICK_RATE_HZ", "70000")])
        .expect_err("too fast")
        .to_string();
    assert_eq!(
        message,
        format!("environment variable TICKSYNC_TICK_RATE_HZ: {expected}")
    );
    let file = config_file("range", "max_players = 2000\ntick_rate_hz = 70000\n");
    let message = load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV)
        .expect_err("too fast")
        .to_string();
    assert_eq!(
        message,
        format!("config file {}, line 2: {expected}", file.display())
    );
    let message = load(&args(&["--tick-rate", "fast"]), NO_ENV)
        .expect_err("not a number")
        .to_string();
    assert!(message.contains("from 1 to 240"), "{message}");
    let _ = std::fs::remove_file(file);
}

#[test]
fn durations_without_a_unit_say_how_to_write_them() {
    let fix = "a duration needs a unit: write 10s";
    let message = load(&args(&["--idle-timeout", "10"]), NO_ENV)
        .expect_err("no unit")
        .to_string();
    assert!(message.starts_with("flag --idle-timeout"), "{message}");
    assert!(message.contains(fix), "{message}");
    let message = load(&args(&[]), [("TICKSYNC_IDLE_TIMEOUT", "10")])
        .expect_err("no unit")
        .to_string();
    assert!(message.contains("TICKSYNC_IDLE_TIMEOUT"), "{message}");
    assert!(message.contains(fix), "{message}");
    let file = config_file("duration", "\nidle_timeout = 10\n");
    let message = load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV)
        .expect_err("no unit")
        .to_string();
    assert!(message.contains("line 2: idle_timeout"), "{message}");
    assert!(message.contains(fix), "{message}");
    let _ = std::fs::remove_file(file);
}

#[test]
fn a_host_name_to_bind_asks_for_an_ip() {
    let message = load(&args(&["--bind", "localhost:9000"]), NO_ENV)
        .expect_err("a host name")
        .to_string();
    assert!(message.starts_with("flag --bind"), "{message}");
    assert!(message.contains("use an IP: 127.0.0.1:9000"), "{message}");
}

#[test]
fn origins_that_can_never_match_are_refused_where_they_were_set() {
    let error =
        load(&args(&["--allow-origin", "game.example.com"]), NO_ENV).expect_err("no scheme");
    let message = error.to_string();
    assert!(message.starts_with("flag --allow-origin: "), "{message}");
    assert!(
        message.contains("write https://game.example.com"),
        "{message}"
    );
    let file = config_file(
        "origins",
        "require_origin = true\nallowed_origins = [\"https://a.example/play\"]\n",
    );
    let error =
        load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV).expect_err("a path");
    assert!(
        matches!(
            &error,
            ConfigError::Setting { origin: Origin::File { line: Some(2), .. }, error }
                if matches!(**error, ConfigError::BadOrigin { .. })
        ),
        "{error}"
    );
    let _ = std::fs::remove_file(file);
}

#[test]
fn short_token_secrets_are_refused() {
    let error = load(&args(&[]), [("TICKSYNC_TOKEN_SECRET", "hunter2")]).expect_err("short");
    assert_eq!(
        error,
        ConfigError::WeakSecret {
            place: "environment variable TICKSYNC_TOKEN_SECRET".to_owned(),
            bytes: 7
        }
    );
    assert!(!error.to_string().contains("hunter2"));
}
