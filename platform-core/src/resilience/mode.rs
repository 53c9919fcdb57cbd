use serde::{Deserialize, Serialize};

/// Whether a layer enforces its decisions or only records them.
///
/// In [`Mode::Shadow`] a layer makes every decision as usual — windows fill, limits are
/// computed, events and listener calls say what *would* have been rejected — but every
/// call is let through. Use it to tune thresholds against production traffic before
/// switching to [`Mode::Enforce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decisions are enforced (the default).
    #[default]
    Enforce,
    /// Decisions are recorded and reported, never enforced.
    Shadow,
}

impl Mode {
    /// `true` in [`Mode::Shadow`].
    pub fn is_shadow(self) -> bool {
        matches!(self, Self::Shadow)
    }
}
