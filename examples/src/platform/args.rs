//! The `platform` binary's command line.

use std::path::PathBuf;

use super::error::PlatformError;

/// The usage text.
pub const USAGE: &str = "\
usage: platform [--config FILE]

Runs the whole platform: the gateway on 127.0.0.1:8080, the admin listener on
127.0.0.1:9901, the token server, the registry and config service and the echo
service behind the gateway, with state under ./data.

  --config FILE   a TOML configuration (see examples/config/platform.toml)
  -h, --help      this text

Environment: PLATFORM__SECTION__KEY overrides any setting (PLATFORM__GATEWAY__LISTEN,
PLATFORM__DATA_DIR, PLATFORM__DATABASE__URL, PLATFORM__TELEMETRY__FORMAT=json, ...);
PLATFORM_ADMIN_PASSWORD sets the first administrator's password; RUST_LOG the log filter.
";

/// Command-line options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Args {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `-h` / `--help`.
    pub help: bool,
}

impl Args {
    /// Parses the arguments after the program name.
    ///
    /// ```
    /// use platform_examples::platform::Args;
    ///
    /// let args = Args::parse(["--config", "platform.toml"].map(String::from)).unwrap();
    /// assert_eq!(args.config.unwrap().to_str(), Some("platform.toml"));
    /// let err = Args::parse(["--port".to_owned()]).unwrap_err().to_string();
    /// assert!(err.contains("--port") && err.contains("usage"), "{err}");
    /// ```
    ///
    /// # Errors
    /// [`PlatformError::Usage`] naming the argument, with the usage text.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, PlatformError> {
        let mut parsed = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--config" => {
                    let file = args.next().ok_or_else(|| {
                        PlatformError::Usage(format!("--config needs a file\n\n{USAGE}"))
                    })?;
                    parsed.config = Some(PathBuf::from(file));
                }
                "-h" | "--help" => parsed.help = true,
                other => {
                    return Err(PlatformError::Usage(format!(
                        "unknown argument {other:?}\n\n{USAGE}"
                    )));
                }
            }
        }
        Ok(parsed)
    }
}
