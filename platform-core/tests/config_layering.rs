//! Layering precedence, profiles, environment naming and error messages of `ConfigLoader`.
#![cfg(feature = "config")]

use std::path::PathBuf;

use platform_core::config::{ConfigLoader, Format, LoadError, Location, Origin, RemoteDocument};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct App {
    name: String,
    server: Server,
    log: Log,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Server {
    host: String,
    port: u16,
    workers: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Log {
    level: String,
}

impl Default for App {
    fn default() -> Self {
        Self { name: "app".into(), server: Server::default(), log: Log::default() }
    }
}

impl Default for Server {
    fn default() -> Self {
        Self { host: "0.0.0.0".into(), port: 8080, workers: 4 }
    }
}

impl Default for Log {
    fn default() -> Self {
        Self { level: "info".into() }
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config").join(name)
}

fn loader(file: &str) -> ConfigLoader<App> {
    ConfigLoader::new().file(fixture(file)).with_env(Vec::<(String, String)>::new())
}

fn remote(text: &str) -> RemoteDocument {
    RemoteDocument {
        origin: "test remote".into(),
        format: Format::Toml,
        text: text.into(),
        version: 1,
    }
}

#[test]
fn each_layer_overrides_the_ones_before() {
    let env = [("PLATFORM__LOG__LEVEL", "debug"), ("PLATFORM__SERVER__PORT", "9002")];
    let loader = loader("platform.toml").profile("prod").with_env(env);
    let app = loader.load_with(Some(&remote("[server]\nport = 9003\n"))).unwrap();
    assert_eq!(app.name, "app", "defaults only");
    assert_eq!(app.server.workers, 8, "file over defaults");
    assert_eq!(app.server.host, "prod-host", "profile over file");
    assert_eq!(app.log.level, "debug", "env over profile");
    assert_eq!(app.server.port, 9003, "remote over env");
    assert_eq!(loader.load().unwrap().server.port, 9002, "env over profile without remote");
}

#[test]
fn defaults_alone_and_missing_optional_file() {
    let app: App = ConfigLoader::new()
        .optional_file(fixture("does-not-exist.toml"))
        .with_env([("OTHER__SERVER__PORT", "1")])
        .load()
        .unwrap();
    assert_eq!(app, App::default());
    let err = loader("does-not-exist.toml").load().unwrap_err();
    assert!(matches!(err, LoadError::Read { .. }), "{err}");
    assert!(err.to_string().contains("does-not-exist.toml"), "{err}");
}

#[test]
fn profile_comes_from_the_explicit_argument_then_the_variable() {
    let by_var = loader("platform.toml").with_env([("PLATFORM_PROFILE", "prod")]);
    assert_eq!(by_var.active_profile().as_deref(), Some("prod"));
    assert_eq!(by_var.profile_file(), Some(fixture("platform.prod.toml")));
    assert_eq!(by_var.load().unwrap().server.host, "prod-host");

    let explicit = by_var.clone().profile("staging");
    // No `platform.staging.toml`: the overlay is skipped, the base file applies.
    assert_eq!(explicit.load().unwrap().server.host, "file-host");

    let custom = loader("platform.toml").env_prefix("MYAPP").with_env([
        ("MYAPP_PROFILE", "prod"),
        ("MYAPP__SERVER__WORKERS", "3"),
        ("PLATFORM__SERVER__WORKERS", "99"),
    ]);
    let app = custom.load().unwrap();
    assert_eq!((app.server.host.as_str(), app.server.workers), ("prod-host", 3));
}

#[test]
fn env_vars_nest_on_double_underscores_and_parse_types() {
    let app = loader("platform.toml")
        .with_env([
            ("PLATFORM__SERVER__WORKERS", "16"),
            ("PLATFORM__NAME", "from-env"),
            ("PLATFORM_SERVER_PORT", "1"), // single underscores: not ours
        ])
        .load()
        .unwrap();
    assert_eq!(app.server.workers, 16);
    assert_eq!(app.name, "from-env");
    assert_eq!(app.server.port, 9000);
}

#[test]
fn env_type_error_names_the_variable_and_key() {
    let err = loader("platform.toml")
        .with_env([("PLATFORM__SERVER__PORT", "eighty")])
        .load()
        .unwrap_err();
    assert_eq!(err.origin(), Some(&Origin::Env("PLATFORM__SERVER__PORT".into())));
    assert_eq!(err.key(), Some("server.port"));
    let msg = err.to_string();
    assert!(msg.contains("environment variable `PLATFORM__SERVER__PORT`"), "{msg}");
    assert!(msg.contains("`server.port`"), "{msg}");
    assert!(msg.contains("eighty"), "{msg}");
}

#[test]
fn toml_syntax_error_shows_file_line_and_column() {
    let err = loader("bad_syntax.toml").load().unwrap_err();
    assert!(matches!(err, LoadError::Syntax { .. }), "{err}");
    assert_eq!(err.location().map(|l| l.line), Some(3));
    let msg = err.to_string();
    assert!(msg.contains("bad_syntax.toml:3:"), "{msg}");
}

#[test]
fn toml_type_error_shows_file_line_column_and_key() {
    let err = loader("bad_type.toml").load().unwrap_err();
    assert_eq!(err.location(), Some(Location { line: 3, column: 8 }));
    assert_eq!(err.key(), Some("server.port"));
    let msg = err.to_string();
    assert!(msg.contains("bad_type.toml:3:8: key `server.port`"), "{msg}");
    assert!(msg.contains("u16"), "{msg}");
}

#[test]
fn yaml_errors_show_file_line_and_column() {
    let err = loader("bad_type.yaml").load().unwrap_err();
    assert_eq!(err.location(), Some(Location { line: 3, column: 9 }));
    assert!(err.to_string().contains("bad_type.yaml:3:9: key `server.port`"), "{err}");

    let err = loader("bad_syntax.yaml").load().unwrap_err();
    assert!(matches!(err, LoadError::Syntax { .. }), "{err}");
    assert!(err.location().is_some(), "{err}");
    assert!(err.to_string().contains("bad_syntax.yaml:"), "{err}");
}

#[test]
fn unknown_key_is_located() {
    let err = loader("unknown_key.toml").load().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("unknown_key.toml"), "{msg}");
    assert!(msg.contains("prot"), "{msg}");
}

#[test]
fn yaml_and_json_files_load_by_extension() {
    let yaml = loader("platform.yaml").load().unwrap();
    assert_eq!((yaml.server.host.as_str(), yaml.server.port), ("yaml-host", 7000));
    let json = loader("platform.json").load().unwrap();
    assert_eq!((json.server.host.as_str(), json.server.port), ("json-host", 7100));
    let err = ConfigLoader::<App>::new().file(fixture("x.ini")).load().unwrap_err();
    assert!(matches!(err, LoadError::UnknownFormat { .. }), "{err}");
}

#[test]
fn remote_errors_name_the_remote_source() {
    let err =
        loader("platform.toml").load_with(Some(&remote("[server]\nport = -1\n"))).unwrap_err();
    assert_eq!(err.origin(), Some(&Origin::Remote("test remote".into())));
    assert!(err.to_string().contains("remote source test remote:2:8: key `server.port`"), "{err}");
    let err = loader("platform.toml").load_with(Some(&remote("[server\n"))).unwrap_err();
    assert!(matches!(err, LoadError::Syntax { .. }), "{err}");
}
