//! `earmark index DIR_OR_FILES... -o LIBRARY`: embeds a catalogue into a library.
//!
//! Files are found recursively by extension ([`AUDIO_EXTENSIONS`]); a track's path is
//! stored relative to the root it was found under (the directory given, or a given file's
//! parent), with `/` separators. Every file's bytes are hashed (FNV-1a 64) first, so that a
//! file already indexed with the same content, or the same content under another path, is
//! not decoded or embedded again. Two worker threads decode and embed files (one file each
//! at a time); the main thread adds their results and draws the progress bar. A file that
//! cannot be read is reported and skipped; the command fails only if files were given and
//! none of them could be read.

use super::device::{DeviceArgs, Embedder};
use super::model_choice::ModelArgs;
use anyhow::{Context, bail};
use earmark::audio::SAMPLE_RATE;
use earmark::index::{AddOutcome, Dtype, Library, LibraryBuilder, LibraryConfig};
use earmark::train::data::{AUDIO_EXTENSIONS, list_audio};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

/// Decode-and-embed worker threads (the target machine has two cores).
const WORKERS: usize = 2;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Audio files and directories (searched recursively).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The library file to write.
    #[arg(short, long, value_name = "LIBRARY")]
    output: PathBuf,
    /// Add to an existing library instead of creating a new one.
    #[arg(long)]
    append: bool,
    /// Milliseconds between database segments: 100 (default) or 50 (finer start times,
    /// twice the size). With --append, must match the library's.
    #[arg(long, value_name = "MS", value_parser = parse_hop_ms)]
    hop_ms: Option<u32>,
    /// How embeddings are stored: f16 (the default), f32 (twice the size) or i8 (half the
    /// size and faster to scan; similarities move by about 1e-3). With --append, must
    /// match the library's.
    #[arg(long, value_name = "TYPE")]
    storage: Option<Dtype>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    device: DeviceArgs,
}

/// `--hop-ms`: 100 or 50, returned in 10 ms frames.
pub fn parse_hop_ms(s: &str) -> Result<u32, String> {
    match s {
        "100" => Ok(10),
        "50" => Ok(5),
        _ => Err(format!("`{s}`: the hop is 100 or 50 ms")),
    }
}

/// An audio file and its path as stored in the library.
struct Input {
    file: PathBuf,
    track: String,
}

/// What a worker made of one file.
enum Outcome {
    /// Embedded: duration (s), content hash, embeddings (n × D), logits (n × K).
    Embedded {
        duration_s: f64,
        hash: u64,
        embeddings: Vec<f32>,
        logits: Vec<f32>,
    },
    /// Not embedded: the library has it already, as `AddOutcome` says.
    Skipped(AddOutcome),
    Failed(String),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let model = args.model.load()?;
    let model_id = model.identity();
    let device = args.device.open()?;
    let embedder = Embedder::new(&model, &device)?;
    let exists = args.output.exists();
    let builder = if args.append && exists {
        let library = Library::open(&args.output, model_id)?;
        if let Some(hop) = args.hop_ms
            && hop != library.config().hop
        {
            bail!(
                "{}: the library has a {} ms hop, not {} ms",
                args.output.display(),
                library.config().hop * 10,
                hop * 10
            );
        }
        if let Some(storage) = args.storage
            && storage != library.config().dtype
        {
            bail!(
                "{}: the library stores {} embeddings, not {}",
                args.output.display(),
                library.config().dtype.name(),
                storage.name()
            );
        }
        library.into_builder()
    } else {
        if exists {
            bail!(
                "{} exists: pass --append to add to it, or remove it first",
                args.output.display()
            );
        }
        let mut config = LibraryConfig::new(model_id, model.config().k_bits as u32);
        config.dim = model.config().emb_dim as u32;
        config.hop = args.hop_ms.unwrap_or(config.hop);
        config.dtype = args.storage.unwrap_or(config.dtype);
        LibraryBuilder::new(config)
    };
    let inputs = find_inputs(&args.inputs)?;
    if inputs.is_empty() {
        bail!("no audio files ({}) found", AUDIO_EXTENSIONS.join(", "));
    }
    let hop = builder.config().hop as usize;
    let builder = Mutex::new(builder);
    let tally = index_files(&inputs, &embedder, hop, &builder)?;
    let library = builder.into_inner().expect("no worker panicked").build();
    if tally.failed == inputs.len() {
        bail!("none of the {} files could be read", inputs.len());
    }
    library
        .save(&args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let info = library.info();
    println!(
        "{} files: {} added, {} replaced, {} unchanged, {} duplicate content, {} unreadable",
        inputs.len(),
        tally.added,
        tally.replaced,
        tally.unchanged,
        tally.duplicates,
        tally.failed
    );
    println!("{info}");
    println!(
        "took {seconds:.1} s for {:.2} h of new audio: {:.0} × real time",
        tally.audio_s / 3600.0,
        tally.audio_s / seconds.max(1e-9)
    );
    Ok(())
}

/// Counts of what happened to the files.
#[derive(Default)]
struct Tally {
    added: usize,
    replaced: usize,
    unchanged: usize,
    duplicates: usize,
    failed: usize,
    /// Seconds of audio decoded and embedded.
    audio_s: f64,
}

/// Decodes and embeds `inputs` on [`WORKERS`] threads, adding them to `builder`.
fn index_files(
    inputs: &[Input],
    model: &Embedder<'_>,
    hop: usize,
    builder: &Mutex<LibraryBuilder>,
) -> anyhow::Result<Tally> {
    let bar = ProgressBar::new(inputs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files, {msg} [{elapsed} < {eta}]")
            .expect("a valid template"),
    );
    let next = AtomicUsize::new(0);
    let (send, receive) = mpsc::channel::<(usize, Outcome)>();
    let mut tally = Tally::default();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        for _ in 0..WORKERS {
            let send = send.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let outcome = process(input, model, hop, builder);
                    if send.send((i, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(send);
        for (i, outcome) in receive {
            let input = &inputs[i];
            match outcome {
                Outcome::Embedded {
                    duration_s,
                    hash,
                    embeddings,
                    logits,
                } => {
                    tally.audio_s += duration_s;
                    let added = builder.lock().expect("no worker panicked").add_track(
                        &input.track,
                        duration_s,
                        hash,
                        &embeddings,
                        &logits,
                    );
                    match added {
                        Ok(outcome) => count(&mut tally, &outcome),
                        Err(e) => {
                            tally.failed += 1;
                            bar.suspend(|| {
                                eprintln!("earmark: skipped {}: {e}", input.file.display())
                            });
                        }
                    }
                }
                Outcome::Skipped(outcome) => count(&mut tally, &outcome),
                Outcome::Failed(message) => {
                    tally.failed += 1;
                    bar.suspend(|| eprintln!("earmark: skipped {message}"));
                }
            }
            bar.inc(1);
            bar.set_message(format!("{:.2} h of audio", tally.audio_s / 3600.0));
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(tally)
}

fn count(tally: &mut Tally, outcome: &AddOutcome) {
    match outcome {
        AddOutcome::Added => tally.added += 1,
        AddOutcome::Replaced { .. } => tally.replaced += 1,
        AddOutcome::Unchanged => tally.unchanged += 1,
        AddOutcome::DuplicateContent { .. } => tally.duplicates += 1,
    }
}

/// Hashes one file and, unless the library has it already, decodes and embeds it.
fn process(
    input: &Input,
    model: &Embedder<'_>,
    hop: usize,
    builder: &Mutex<LibraryBuilder>,
) -> Outcome {
    let hash = match hash_file(&input.file) {
        Ok(hash) => hash,
        Err(e) => return Outcome::Failed(format!("{}: {e}", input.file.display())),
    };
    let plan = builder
        .lock()
        .expect("no worker panicked")
        .plan(&input.track, hash);
    if !plan.needs_embeddings() {
        return Outcome::Skipped(plan);
    }
    // Errors from the audio front-end name the file already.
    let samples = match earmark::audio::load_mono_16k(&input.file) {
        Ok(samples) => samples,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    match model.embed_audio(&samples, hop) {
        Ok(e) => Outcome::Embedded {
            duration_s: samples.len() as f64 / f64::from(SAMPLE_RATE),
            hash,
            embeddings: e.embeddings,
            logits: e.logits,
        },
        Err(e) => Outcome::Failed(format!("{}: {e}", input.file.display())),
    }
}

/// FNV-1a 64 offset basis and prime (the published constants).
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of a file's bytes, read in 1 MiB blocks: the content hash of a track.
pub fn hash_file(path: &Path) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(path)?;
    let mut block = vec![0u8; 1 << 20];
    let mut h = FNV_OFFSET_BASIS;
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            return Ok(h);
        }
        h = fnv1a(h, &block[..n]);
    }
}

/// Folds `bytes` into the FNV-1a 64 state `h`.
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    h
}

/// Audio files under the given paths, sorted by track path, with their track paths.
fn find_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if meta.is_dir() {
            for file in list_audio(path)? {
                // Track paths are relative to the root given, with `/` on every platform.
                let relative = file.strip_prefix(path).unwrap_or(&file);
                let parts: Vec<_> = relative.iter().map(|p| p.to_string_lossy()).collect();
                inputs.push(Input {
                    track: parts.join("/"),
                    file,
                });
            }
        } else {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let track = name.with_context(|| format!("{}: not a file name", path.display()))?;
            inputs.push(Input {
                file: path.clone(),
                track,
            });
        }
    }
    inputs.sort_by(|a, b| a.track.cmp(&b.track).then_with(|| a.file.cmp(&b.file)));
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_published_vectors() {
        // From the FNV reference test suite: "" and "a" and "foobar".
        assert_eq!(fnv1a(FNV_OFFSET_BASIS, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET_BASIS, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET_BASIS, b"foobar"), 0x8594_4171_f739_67e8);
        // Streaming in pieces equals one pass.
        assert_eq!(
            fnv1a(fnv1a(FNV_OFFSET_BASIS, b"foo"), b"bar"),
            0x8594_4171_f739_67e8
        );
    }

    #[test]
    fn hop_flag_accepts_100_and_50_ms() {
        assert_eq!(parse_hop_ms("100"), Ok(10));
        assert_eq!(parse_hop_ms("50"), Ok(5));
        assert!(parse_hop_ms("20").is_err());
    }
}
