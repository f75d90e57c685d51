//! Checkpoints: one safetensors file (written atomically) holding everything a
//! [`Trainer`] needs to continue exactly:
//!
//! - the model's parameters under their own names, with the model's `earmark.*` metadata
//!   (so `Model::load` semantics apply to that part);
//! - Adam's moments and step (`optim.m.*`, `optim.v.*`, `optim.step`);
//! - the Sinkhorn queue's rows in storage order (`train.queue`, (len, K));
//! - metadata `earmark.train.{step, seed, queue_pushed, queue_capacity, format}`.
//!
//! All tensors are f32, so a resumed run continues with bit-identical state. The model's
//! part goes through `Model::save` / `Model::load` (a temporary file beside the
//! checkpoint), so the model file format is defined in one place only.

use std::path::{Path, PathBuf};

use crate::model::Model;
use crate::model::weights::{self, Dtype, NamedTensor};
use crate::train::sinkhorn::HashQueue;
use crate::train::trainer::{TrainConfig, Trainer};
use crate::{Error, Result};

const FORMAT: &str = "checkpoint/1";
const QUEUE: &str = "train.queue";
const OPTIM_PREFIX: &str = "optim.";

/// `path` with `suffix` appended to its file name (for temporary siblings).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Writes `trainer`'s state to `path` (atomically: a temporary file renamed over it).
pub fn save(trainer: &Trainer, path: &Path) -> Result<()> {
    let tmp_model = sibling(path, ".model.tmp");
    trainer.model.save(&tmp_model, Dtype::F32)?;
    let model = weights::load(&tmp_model);
    std::fs::remove_file(&tmp_model).map_err(|e| Error::io(&tmp_model, e))?;
    let model = model?;
    let mut meta: Vec<(String, String)> = model.metadata().to_vec();
    meta.extend(
        [
            ("format", FORMAT.to_string()),
            ("step", trainer.step.to_string()),
            ("seed", trainer.config.seed.to_string()),
            ("queue_pushed", trainer.queue_pushed.to_string()),
            ("queue_capacity", trainer.queue.capacity().to_string()),
        ]
        .map(|(k, v)| (format!("earmark.train.{k}"), v)),
    );
    let mut tensors = model.into_tensors();
    let optim = trainer.adam.export_state(&trainer.model.params);
    tensors.extend(
        optim
            .into_iter()
            .map(|(name, shape, data)| NamedTensor { name, shape, data }),
    );
    let k = trainer.queue.bits();
    tensors.push(NamedTensor {
        name: QUEUE.to_string(),
        shape: vec![trainer.queue.len(), k],
        data: trainer.queue.rows().to_vec(),
    });
    weights::save(path, &tensors, Dtype::F32, &meta)
}

/// Restores a trainer from `path`. `config` supplies the run settings (steps, lr, …); its
/// seed and queue length must match the checkpoint's, since the batches and the queue
/// depend on them.
pub fn load(path: &Path, config: TrainConfig) -> Result<Trainer> {
    let w = weights::load(path)?;
    let bad = |problem: String| Error::weights(path, problem);
    let number = |key: &str| -> Result<u64> {
        let full = format!("earmark.train.{key}");
        let v = w
            .metadata_value(&full)
            .ok_or_else(|| bad(format!("not a checkpoint: metadata `{full}` is missing")))?;
        v.parse()
            .map_err(|_| bad(format!("metadata `{full}` = `{v}` is not a whole number")))
    };
    let (step, seed, pushed, capacity) = (
        number("step")?,
        number("seed")?,
        number("queue_pushed")?,
        number("queue_capacity")? as usize,
    );
    if seed != config.seed || capacity != config.queue {
        return Err(bad(format!(
            "checkpoint is of seed {seed} with a queue of {capacity}; this run asks for seed {} and {}",
            config.seed, config.queue
        )));
    }
    let meta: Vec<(String, String)> = w
        .metadata()
        .iter()
        .filter(|(k, _)| !k.starts_with("earmark.train."))
        .cloned()
        .collect();
    let (mut model_part, mut optim, mut queue_rows) = (Vec::new(), Vec::new(), None);
    for t in w.into_tensors() {
        if t.name == QUEUE {
            queue_rows = Some(t);
        } else if t.name.starts_with(OPTIM_PREFIX) {
            optim.push((t.name, t.shape, t.data));
        } else {
            model_part.push(t);
        }
    }
    let tmp_model = sibling(path, ".model.tmp");
    weights::save(&tmp_model, &model_part, Dtype::F32, &meta)?;
    let model = Model::load(&tmp_model);
    std::fs::remove_file(&tmp_model).map_err(|e| Error::io(&tmp_model, e))?;
    let mut trainer = Trainer::new(model?, config);
    trainer
        .adam
        .import_state(&trainer.model.params, optim)
        .map_err(|e| bad(e.to_string()))?;
    let rows =
        queue_rows.ok_or_else(|| bad(format!("not a checkpoint: tensor `{QUEUE}` is missing")))?;
    let bits = trainer.model.config().k_bits;
    if rows.shape.len() != 2 || rows.shape[1] != bits {
        return Err(bad(format!(
            "queue has shape {:?}, expected [rows, {bits}]",
            rows.shape
        )));
    }
    trainer.queue = restore_queue(bits, capacity, pushed, &rows.data).map_err(bad)?;
    trainer.queue_pushed = pushed;
    trainer.step = step;
    Ok(trainer)
}

/// The queue with `rows` ((len, K) in storage order) and the same write cursor as a
/// queue after `pushed` pushes: push every row in storage order (filling it), then push
/// the first `cursor` rows again, which rewrites them in place and leaves the cursor at
/// `cursor`. Also used by the GPU trainer to hand its queue back.
pub(crate) fn restore_queue(
    bits: usize,
    capacity: usize,
    pushed: u64,
    rows: &[f32],
) -> std::result::Result<HashQueue, String> {
    let len = (pushed as usize).min(capacity);
    if rows.len() != len * bits {
        return Err(format!(
            "queue has {} values, expected [{len}, {bits}]",
            rows.len()
        ));
    }
    let mut queue = HashQueue::new(bits, capacity);
    queue.push(rows);
    if capacity > 0 && pushed as usize > capacity {
        let cursor = (pushed as usize - capacity) % capacity;
        queue.push(&rows[..cursor * bits]);
    }
    Ok(queue)
}
