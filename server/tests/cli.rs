//! The `ticksync-server` command line: `token` mints a verifiable join token from the secret in
//! the environment, refuses to run without one, and invalid flags fail with a clear message.

use std::process::Command;

use ticksync_protocol::token::verify;

const SECRET: &str = "cli test secret";

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ticksync-server"))
}

#[test]
fn token_subcommand_mints_a_token_the_server_accepts() {
    let output = server()
        .args(["token", "--player", "p42", "--name", "Grace", "--ttl", "1h"])
        .env("TICKSYNC_TOKEN_SECRET", SECRET)
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap();
    let claims = verify(SECRET.as_bytes(), token.trim(), "arena").expect("valid token");
    assert_eq!(
        (claims.sub.as_str(), claims.name.as_str()),
        ("p42", "Grace")
    );
    assert!(verify(b"other secret", token.trim(), "arena").is_err());
}

#[test]
fn token_subcommand_without_a_secret_explains_what_to_set() {
    let output = server()
        .args(["token", "--player", "p42"])
        .env_remove("TICKSYNC_TOKEN_SECRET")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TICKSYNC_TOKEN_SECRET"), "{stderr}");
}

#[test]
fn tls_flags_must_come_in_pairs() {
    let output = server()
        .args(["--tls-cert", "cert.pem"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--tls-key"), "{stderr}");
}
