//! `--model PATH` / `--random-model SEED`: which encoder a command embeds audio with.
//!
//! Without either flag the model is looked up in this order: `$EARMARK_MODEL`, then
//! [`DEFAULT_MODEL`] under the current directory, then under every ancestor directory of
//! the executable (so that `target/release/earmark` finds the repository's `models/`).

use anyhow::{Context, bail};
use earmark::model::{Model, ModelConfig};
use std::path::{Path, PathBuf};

/// Where the trained model ships, relative to the repository root.
pub const DEFAULT_MODEL: &str = "models/earmark-small.safetensors";

/// Environment variable naming the model file when `--model` is not given.
pub const MODEL_ENV: &str = "EARMARK_MODEL";

#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model weights (safetensors written by `earmark train`). Default: $EARMARK_MODEL,
    /// else models/earmark-small.safetensors in the current directory or the
    /// executable's repository.
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// FOR TESTING ONLY: untrained weights of the small preset drawn from SEED, instead of
    /// a model file. Its embeddings have the right shape but no robustness to distortion.
    #[arg(long, value_name = "SEED", conflicts_with = "model")]
    random_model: Option<u64>,
}

impl ModelArgs {
    /// Loads (or, with `--random-model`, creates) the model.
    pub fn load(&self) -> anyhow::Result<Model> {
        if let Some(seed) = self.random_model {
            return Ok(Model::new(ModelConfig::SMALL, seed));
        }
        let path = match &self.model {
            Some(path) => path.clone(),
            None => find_default()?,
        };
        Model::load(&path).with_context(|| format!("loading the model {}", path.display()))
    }
}

/// The first existing file of the default search order (see the module docs).
fn find_default() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(MODEL_ENV) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("{MODEL_ENV}={} is not a file", path.display());
        }
        return Ok(path);
    }
    let mut roots: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    roots
        .iter()
        .map(|root| root.join(DEFAULT_MODEL))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no model found: pass --model PATH or set {MODEL_ENV}, or train one with \
                 `earmark train --music DIR --out {DEFAULT_MODEL}` (looked for {DEFAULT_MODEL} in the \
                 current directory and above the executable)"
            )
        })
}
