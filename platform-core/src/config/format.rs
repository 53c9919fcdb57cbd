//! Document formats: parsing with the format's own crate and locating a key path in a
//! document for error messages.

use std::path::Path;

use figment::value::Dict;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::{LoadError, Location, Origin};

/// The format of a configuration document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    /// TOML (`.toml`), parsed by the `toml` crate.
    Toml,
    /// YAML (`.yaml`, `.yml`), parsed by `serde_norway`.
    Yaml,
    /// JSON (`.json`), parsed by `serde_json`.
    Json,
}

impl Format {
    /// The format named by `path`'s extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(Self::Toml),
            "yaml" | "yml" => Some(Self::Yaml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// The format's name as used in Redis documents and file extensions.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Toml => "toml",
            Self::Yaml => "yaml",
            Self::Json => "json",
        }
    }

    /// Parses `text` into a figment dictionary; syntax errors carry line and column.
    pub(crate) fn parse(self, text: &str, origin: &Origin) -> Result<Dict, LoadError> {
        let syntax = |location, message: String| LoadError::Syntax {
            origin: origin.clone(),
            location,
            message,
        };
        match self {
            Self::Toml => toml::from_str::<Dict>(text).map_err(|e| {
                let location = e.span().map(|s| Location::of_offset(text, s.start));
                syntax(location, e.message().trim_end().to_owned())
            }),
            Self::Yaml => {
                if text.trim().is_empty() {
                    return Ok(Dict::new());
                }
                serde_norway::from_str::<Dict>(text).map_err(|e| {
                    let location =
                        e.location().map(|l| Location { line: l.line(), column: l.column() });
                    syntax(location, yaml_message(&e))
                })
            }
            Self::Json => serde_json::from_str::<Dict>(text).map_err(|e| {
                let location = Location { line: e.line(), column: e.column() };
                syntax(Some(location), json_message(&e))
            }),
        }
    }

    /// Where the value at `path` (`["server", "port"]`) starts in `text`, if present.
    pub(crate) fn locate(self, text: &str, path: &[String]) -> Option<Location> {
        if path.is_empty() {
            return None;
        }
        let seed = Locate { path };
        match self {
            Self::Toml => {
                let de = toml::de::Deserializer::parse(text).ok()?;
                let err = seed.deserialize(de).err()?;
                err.span().map(|s| Location::of_offset(text, s.start))
            }
            Self::Yaml => {
                let de = serde_norway::Deserializer::from_str(text);
                let err = seed.deserialize(de).err()?;
                err.location().map(|l| Location { line: l.line(), column: l.column() })
            }
            Self::Json => {
                let mut de = serde_json::Deserializer::from_str(text);
                let err = seed.deserialize(&mut de).err()?;
                // serde_json reports the position just after the offending token.
                Some(Location { line: err.line(), column: err.column() })
            }
        }
    }
}

/// serde_norway appends " at line L column C" to its messages; the location is reported
/// separately, so strip it.
fn yaml_message(e: &serde_norway::Error) -> String {
    let msg = e.to_string();
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}

fn json_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}

/// Walks a document along `path` and fails as soon as it reaches the value there, so the
/// format's error carries that value's position. Finishing without error means "absent".
struct Locate<'a> {
    path: &'a [String],
}

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a table or sequence containing the key")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (head, rest) = self.path.split_first().expect("path is never empty");
        while let Some(key) = map.next_key::<String>()? {
            if !key.eq_ignore_ascii_case(head) {
                map.next_value::<IgnoredAny>()?;
            } else if rest.is_empty() {
                map.next_value_seed(Found)?;
            } else {
                map.next_value_seed(Locate { path: rest })?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (head, rest) = self.path.split_first().expect("path is never empty");
        let wanted = head.parse::<usize>().ok();
        let mut i = 0;
        loop {
            let found = if Some(i) != wanted {
                seq.next_element::<IgnoredAny>()?.is_some()
            } else if rest.is_empty() {
                seq.next_element_seed(Found)?.is_some()
            } else {
                seq.next_element_seed(Locate { path: rest })?.is_some()
            };
            if !found {
                return Ok(());
            }
            i += 1;
        }
    }

    // A scalar where a table was expected: the path does not continue here.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Fails on whatever value it is handed: the error's position is the value's.
struct Found;

impl<'de> DeserializeSeed<'de> for Found {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(FoundVisitor)
    }
}

struct FoundVisitor;

impl<'de> Visitor<'de> for FoundVisitor {
    type Value = ();

    // Every `visit_*` keeps serde's default, which returns an `invalid_type` error: that
    // error is the signal, raised while the deserializer stands on the value.
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("nothing (locating a key)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn locates_keys_in_every_format() {
        let toml = "[server]\nhost = \"a\"\nport = \"x\"\n";
        let at = Format::Toml.locate(toml, &path("server.port")).unwrap();
        assert_eq!((at.line, at.column), (3, 8));
        let yaml = "server:\n  host: a\n  port: x\n";
        let at = Format::Yaml.locate(yaml, &path("server.port")).unwrap();
        assert_eq!(at.line, 3);
        assert_eq!(at.column, 9);
        let json = "{\n  \"server\": {\n    \"port\": \"x\"\n  }\n}";
        let at = Format::Json.locate(json, &path("server.port")).unwrap();
        assert_eq!(at.line, 3);
        assert_eq!(Format::Toml.locate(toml, &path("server.missing")), None);
        assert_eq!(Format::Toml.locate(toml, &path("server.host.deeper")), None);
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let origin = Origin::File("a.toml".into());
        let err = Format::Toml.parse("[server]\nport = = 1\n", &origin).unwrap_err();
        assert_eq!(err.location().map(|l| l.line), Some(2));
        let err = Format::Yaml.parse("a:\n  b: [1, 2\n", &origin).unwrap_err();
        assert!(err.location().is_some(), "{err}");
    }

    #[test]
    fn format_from_extension() {
        assert_eq!(Format::from_path(Path::new("a/platform.TOML")), Some(Format::Toml));
        assert_eq!(Format::from_path(Path::new("a.yml")), Some(Format::Yaml));
        assert_eq!(Format::from_path(Path::new("a.json")), Some(Format::Json));
        assert_eq!(Format::from_path(Path::new("a.ini")), None);
    }
}
