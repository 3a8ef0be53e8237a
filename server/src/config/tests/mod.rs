//! Tests of [`load`](super::load) as a whole: the layers' precedence, `--print-config`, the
//! example file and the table of keys; `errors` holds the messages a user sees for each
//! source.

mod errors;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// A secret long enough to be accepted.
const SECRET: &str = "0123456789abcdef0123456789abcdef-s3cret";

const NO_ENV: [(&str, &str); 0] = [];

fn args(flags: &[&str]) -> ServerArgs {
    ServerArgs::try_parse_with_defaults(
        std::iter::once("ticksync-server").chain(flags.iter().copied()),
    )
    .expect("valid flags")
}

/// A config file in the temporary directory, unique to this test process and `name`.
fn config_file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "ticksync-config-test-{}-{name}.toml",
        std::process::id()
    ));
    std::fs::write(&path, contents).expect("temp file is writable");
    path
}

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ticksync.example.toml")
}

#[test]
fn defaults_are_valid_and_are_what_no_flags_load() {
    let config = ServerConfig::default();
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(load(&args(&[]), NO_ENV), Ok(config));
}

#[test]
fn flags_override_defaults() {
    let config = load(
        &args(&[
            "--bind",
            "0.0.0.0:9000",
            "--tick-rate",
            "60",
            "--idle-timeout",
            "2s",
            "--allow-origin",
            "https://a.example",
            "--allow-origin",
            "https://b.example",
            "--require-origin",
            "--max-rooms",
            "7",
        ]),
        NO_ENV,
    )
    .expect("valid");
    assert_eq!(config.bind.port(), 9000);
    assert_eq!(config.tick_rate_hz, 60);
    assert_eq!(config.idle_timeout, Duration::from_secs(2));
    assert_eq!(
        config.allowed_origins,
        ["https://a.example", "https://b.example"]
    );
    assert!(config.require_origin);
    assert_eq!(config.max_rooms, 7);
}

#[test]
fn precedence_is_file_then_env_then_flags() {
    let file = config_file("precedence", "tick_rate_hz = 20\nmax_players = 500\n");
    let file_arg = file.to_str().expect("utf-8 temp path");
    let env = [("TICKSYNC_TICK_RATE_HZ", "40")];

    let all = load(&args(&["--config", file_arg, "--tick-rate", "60"]), env).expect("valid");
    assert_eq!(all.tick_rate_hz, 60);
    let no_flag = load(&args(&["--config", file_arg]), env).expect("valid");
    assert_eq!(no_flag.tick_rate_hz, 40);
    let file_only = load(&args(&["--config", file_arg]), NO_ENV).expect("valid");
    assert_eq!(file_only.tick_rate_hz, 20);
    // Keys a higher layer does not set keep the lower layer's value.
    assert_eq!(all.max_players, 500);
    assert_eq!(all.idle_timeout, ServerConfig::default().idle_timeout);

    // TICKSYNC_CONFIG names the file when --config does not.
    let via_env = load(&args(&[]), [("TICKSYNC_CONFIG", file_arg)]).expect("valid");
    assert_eq!(via_env.tick_rate_hz, 20);
    let _ = std::fs::remove_file(file);
}

#[test]
fn environment_values_are_read_as_the_key_type() {
    let config = load(
        &args(&[]),
        [
            ("TICKSYNC_BIND", "0.0.0.0:7000"),
            ("TICKSYNC_IDLE_TIMEOUT", "1m 30s"),
            (
                "TICKSYNC_ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("TICKSYNC_REQUIRE_ORIGIN", "true"),
            ("TICKSYNC_AOI_RADIUS", "150"),
            ("TICKSYNC_DEFAULT_ROOM", "1234"),
            ("TICKSYNC_ROOMS", "{ big = { max_players = 5 } }"),
            // Empty counts as unset; other TICKSYNC_ variables are not config keys.
            ("TICKSYNC_MAX_PLAYERS", ""),
            ("TICKSYNC_URL", "ws://elsewhere"),
            ("TICKSYNC_REQUIRE_PYTHON", "1"),
            ("TICKSYNC_TOKEN_SECRET", SECRET),
            ("UNRELATED", "x"),
        ],
    )
    .expect("valid");
    assert_eq!(config.bind, SocketAddr::from(([0, 0, 0, 0], 7000)));
    assert_eq!(config.idle_timeout, Duration::from_secs(90));
    assert_eq!(
        config.allowed_origins,
        ["https://a.example", "https://b.example"]
    );
    assert!(config.require_origin);
    assert_eq!(config.aoi_radius, Some(150));
    assert_eq!(config.default_room, "1234");
    assert_eq!(config.rooms["big"].max_players, Some(5));
    assert_eq!(config.max_players, ServerConfig::default().max_players);
    assert_eq!(config.token_secret, Some(Secret::new(SECRET)));
}

#[test]
fn rooms_merge_room_by_room_and_key_by_key() {
    let file = config_file(
        "rooms",
        "[rooms.big]\ntick_rate_hz = 20\nmax_players = 2000\n[rooms.small]\nmax_players = 4\n",
    );
    let config = load(
        &args(&["--config", file.to_str().expect("utf-8")]),
        [("TICKSYNC_ROOMS", "{ big = { max_players = 3000 } }")],
    )
    .expect("valid");
    let big = config.room_config("big");
    assert_eq!((big.tick_rate_hz, big.max_players), (20, 3000));
    assert_eq!(config.room_config("small").max_players, 4);
    assert_eq!(config.room_config("other").max_players, config.max_players);
    let _ = std::fs::remove_file(file);
}

#[test]
fn dev_tls_fills_in_the_certificate_path() {
    let on = load(&args(&["--dev-tls"]), NO_ENV).expect("valid");
    assert!(on.dev_tls);
    assert_eq!(on.dev_tls_cert, Some(default_dev_tls_cert()));
    assert_eq!(on.dev_tls_cert_path(), Some(default_dev_tls_cert()));

    let file = config_file(
        "dev-tls",
        "dev_tls = true\ndev_tls_cert = \"/x/cert.pem\"\n",
    );
    let file_arg = file.to_str().expect("utf-8");
    let from_file = load(&args(&["--config", file_arg]), NO_ENV).expect("valid");
    assert_eq!(from_file.dev_tls_cert, Some(PathBuf::from("/x/cert.pem")));
    let off = load(&args(&["--config", file_arg, "--dev-tls=false"]), NO_ENV).expect("valid");
    assert_eq!((off.dev_tls, off.dev_tls_cert_path()), (false, None));
    let _ = std::fs::remove_file(file);

    assert_eq!(ServerConfig::default().dev_tls_cert_path(), None);
    let by_hand = ServerConfig {
        dev_tls_cert: Some(PathBuf::from("/y.pem")),
        ..ServerConfig::default()
    };
    assert_eq!(by_hand.dev_tls_cert_path(), Some(PathBuf::from("/y.pem")));
    let twice = ServerConfig {
        tls_cert: Some(PathBuf::from("c.pem")),
        tls_key: Some(PathBuf::from("k.pem")),
        dev_tls: true,
        ..ServerConfig::default()
    };
    assert_eq!(twice.validate(), Err(ConfigError::TlsTwice));
}

#[test]
fn token_secret_comes_from_the_file_or_the_environment() {
    let (from_file, from_env) = (format!("from-file-{SECRET}"), format!("from-env-{SECRET}"));
    let secret_file = config_file("secret-file", &format!("{from_file}\n"));
    let secret_arg = secret_file.to_str().expect("utf-8");
    let env = [("TICKSYNC_TOKEN_SECRET", from_env.as_str())];
    let config = load(&args(&[]), env).expect("valid");
    assert_eq!(config.token_secret, Some(Secret::new(&from_env)));
    let config = load(&args(&["--token-secret-file", secret_arg]), env).expect("valid");
    assert_eq!(config.token_secret, Some(Secret::new(&from_file)));
    let config = load(&args(&[]), [("TICKSYNC_TOKEN_SECRET_FILE", secret_arg)]).expect("valid");
    assert_eq!(config.token_secret, Some(Secret::new(&from_file)));
    assert_eq!(load(&args(&[]), NO_ENV).expect("valid").token_secret, None);

    std::fs::write(&secret_file, "\n").expect("writable");
    let error = load(&args(&["--token-secret-file", secret_arg]), NO_ENV).expect_err("empty");
    assert!(matches!(error, ConfigError::SecretFile { .. }), "{error}");
    let _ = std::fs::remove_file(secret_file);
}

#[test]
fn printed_config_loads_back_to_the_same_settings_without_secrets() {
    let file = config_file(
        "print-source",
        "aoi_radius = 300\nidle_timeout = \"1500ms\"\nallowed_origins = [\"https://a.example\"]\n\
         dev_tls = true\n[rooms.big]\ntick_rate_hz = 20\n",
    );
    let config = load(
        &args(&[
            "--config",
            file.to_str().expect("utf-8"),
            "--max-rooms",
            "9",
        ]),
        [("TICKSYNC_TOKEN_SECRET", SECRET)],
    )
    .expect("valid");
    let printed = config.to_toml().expect("serializable");
    assert!(printed.starts_with('#'), "{printed}");
    assert!(!printed.contains(SECRET), "{printed}");
    let reprinted = config_file("print-output", &printed);
    let reloaded = load(
        &args(&["--config", reprinted.to_str().expect("utf-8")]),
        NO_ENV,
    )
    .expect("printed config loads");
    assert_eq!(
        reloaded,
        ServerConfig {
            token_secret: None,
            ..config
        }
    );
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(reprinted);
}

#[test]
fn example_file_loads_to_the_defaults_plus_its_room() {
    let config = load(
        &args(&["--config", example_path().to_str().expect("utf-8")]),
        NO_ENV,
    )
    .expect("the example file loads");
    let mut expected = ServerConfig::default();
    expected.rooms.insert(
        "big".to_owned(),
        RoomOverrides {
            tick_rate_hz: Some(20),
            max_players: Some(2000),
            aoi_radius: Some(200),
            game: toml::toml! { world_size = 4000 },
            ..RoomOverrides::default()
        },
    );
    assert_eq!(config, expected);
}

#[test]
fn example_file_lists_every_key() {
    let example = std::fs::read_to_string(example_path()).expect("example file");
    let keys: Vec<&str> = example
        .lines()
        .map(|line| line.trim_start_matches('#').trim_start())
        .filter_map(|line| line.split_once(" = ").map(|(key, _)| key))
        .collect();
    for key in config_keys() {
        if key == "rooms" {
            assert!(
                example.contains("[rooms."),
                "example lacks a [rooms.NAME] table"
            );
        } else {
            assert!(keys.contains(&key), "ticksync.example.toml lacks {key}");
        }
    }
    assert!(!config_keys().contains(&"token_secret"));
}

#[test]
fn every_setting_flag_is_named_after_its_config_key() {
    let keys = config_keys();
    let not_settings = ["config", "print_config", "help", "version"];
    for arg in ServerArgs::command().get_arguments() {
        let id = arg.get_id().as_str();
        if !not_settings.contains(&id) {
            assert!(keys.contains(&id), "flag id {id} is not a config key");
        }
    }
}

#[test]
fn help_shows_the_defaults() {
    let help = ServerArgs::command().render_help().to_string();
    assert!(help.contains("[default: 30]"), "{help}");
    assert!(help.contains("[default: 127.0.0.1:7878]"), "{help}");
    assert!(help.contains("[default: 15s]"), "{help}");
}

#[test]
fn unknown_ticksync_variables_are_reported() {
    let env = [
        ("TICKSYNC_TICK_RATE", "60"),
        ("TICKSYNC_TICK_RATE_HZ", "60"),
        ("TICKSYNC_TOKEN_SECRET", "s"),
        ("PATH", "/bin"),
    ]
    .map(|(name, value)| (OsString::from(name), OsString::from(value)));
    assert_eq!(
        unknown_env_variables(env),
        [UnknownVariable {
            name: "TICKSYNC_TICK_RATE".to_owned(),
            did_you_mean: Some("TICKSYNC_TICK_RATE_HZ".to_owned()),
        }]
    );
}

#[test]
fn the_table_of_keys_and_the_settings_agree() {
    // Every optional setting set, so that serde shows every key.
    let mut config = ServerConfig {
        aoi_radius: Some(1),
        aoi_max_entities: Some(1),
        tick_threads: Some(1),
        token_secret_file: Some(PathBuf::from("s")),
        tls_cert: Some(PathBuf::from("c")),
        tls_key: Some(PathBuf::from("k")),
        dev_tls_cert: Some(PathBuf::from("d")),
        ..ServerConfig::default()
    };
    config.web_dir = Some(PathBuf::from("w"));
    config.game = toml::toml! { world_size = 1 };
    config.cluster = Some(crate::cluster::ClusterSettings::new(
        "redis://r",
        "ws://n/ws",
        "n",
    ));
    let room = RoomOverrides {
        tick_rate_hz: Some(1),
        max_players: Some(1),
        aoi_radius: Some(1),
        aoi_max_entities: Some(1),
        game: toml::toml! { world_size = 1 },
    };
    config.rooms.insert("big".to_owned(), room.clone());
    let fields = |value: toml::Value| -> Vec<String> {
        let mut keys: Vec<String> = value.as_table().expect("a table").keys().cloned().collect();
        keys.sort();
        keys
    };
    let mut names: Vec<String> = config_keys().into_iter().map(String::from).collect();
    names.sort();
    assert_eq!(fields(toml::Value::try_from(&config).expect("toml")), names);
    let mut per_room: Vec<String> = keys::KEYS
        .iter()
        .filter(|key| key.per_room)
        .map(|key| key.name.to_owned())
        .collect();
    per_room.sort();
    assert_eq!(
        fields(toml::Value::try_from(&room).expect("toml")),
        per_room
    );
}

#[test]
fn room_keys_come_from_nested_variables() {
    let file = config_file("nested", "[rooms.big]\ntick_rate_hz = 20\n");
    let config = load(
        &args(&["--config", file.to_str().expect("utf-8")]),
        [
            ("TICKSYNC_ROOMS__BIG__MAX_PLAYERS", "3000"),
            ("TICKSYNC_ROOMS__SMALL__AOI_RADIUS", "50"),
        ],
    )
    .expect("valid");
    let big = config.room_config("big");
    assert_eq!((big.tick_rate_hz, big.max_players), (20, 3000));
    assert_eq!(config.room_config("small").aoi_radius, Some(50));

    let error = load(&args(&[]), [("TICKSYNC_ROOMS__BIG__MAX_PLAYER", "3")]).expect_err("typo");
    assert!(
        matches!(&error, ConfigError::Env { variable, .. } if variable == "TICKSYNC_ROOMS__BIG__MAX_PLAYER"),
        "{error}"
    );
    assert!(
        error.to_string().contains("did you mean `max_players`"),
        "{error}"
    );
    let message = load(&args(&[]), [("TICKSYNC_ROOMS__BIG__MAX_PLAYERS", "0")])
        .expect_err("zero")
        .to_string();
    assert_eq!(
        message,
        "environment variable TICKSYNC_ROOMS__BIG__MAX_PLAYERS: [rooms.big]: max_players must \
         be greater than 0"
    );
    // The game's own settings come from nested variables too, typed as they read.
    let config = load(
        &args(&[]),
        [
            ("TICKSYNC_GAME__WORLD_SIZE", "3000"),
            ("TICKSYNC_ROOMS__BIG__GAME__WORLD_SIZE", "500"),
        ],
    )
    .expect("valid");
    assert_eq!(
        config.game.get("world_size"),
        Some(&toml::Value::Integer(3000))
    );
    assert_eq!(
        config.room_config("big").game.get("world_size"),
        Some(&toml::Value::Integer(500))
    );
    assert_eq!(
        config.room_config("other").game.get("world_size"),
        Some(&toml::Value::Integer(3000))
    );
    let _ = std::fs::remove_file(file);
}

#[test]
fn the_admin_listener_moves_or_turns_off_from_every_layer() {
    let file = config_file("admin", "admin_bind = \"off\"\n");
    let from_file =
        load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV).expect("valid");
    assert_eq!(from_file.admin_bind, None);
    let from_env = load(&args(&[]), [("TICKSYNC_ADMIN_BIND", "0.0.0.0:9100")]).expect("valid");
    assert_eq!(
        from_env.admin_bind,
        Some(SocketAddr::from(([0, 0, 0, 0], 9100)))
    );
    let from_flag = load(&args(&["--admin-bind", "OFF"]), NO_ENV).expect("valid");
    assert_eq!(from_flag.admin_bind, None);
    // Printed and read back.
    let printed = from_file.to_toml().expect("prints");
    assert!(printed.contains("admin_bind = \"off\""), "{printed}");
    let error = load(&args(&["--admin-bind", "nowhere"]), NO_ENV).expect_err("not an address");
    assert!(error.to_string().contains("admin_bind"), "{error}");
    let _ = std::fs::remove_file(file);
}
