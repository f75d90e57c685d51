//! Real music end to end with the shipped model: a library of excerpts of the demo set
//! (`demo/music`: four Wesnoth tracks held out of training), queried with excerpts at known
//! offsets, clean and under real background noise from `demo/noise` — the right track and
//! a start within ±50 ms (all clean queries, all but one noisy one, never a wrong track) —
//! and a query of unrelated audio (speech babble alone), which must get no match.

use earmark::audio::augment::mix_at_snr;
use earmark::audio::{SAMPLE_RATE, load_mono_16k};
use earmark::index::{
    Answer, Library, LibraryBuilder, LibraryConfig, Method, Query, SearchSettings, Searcher,
};
use earmark::model::Model;
use std::path::{Path, PathBuf};

const TRACKS: [&str; 4] = [
    "breaking_the_chains",
    "heroes_rite",
    "the_deep_path",
    "traveling_minstrels",
];
/// Each track is indexed from this second of its demo excerpt, for this long.
const EXCERPT: (f64, f64) = (8.0, 16.0);
/// Queries: 3 s from these offsets (s) into the indexed excerpt — off the 100 ms grid.
const QUERY_OFFSETS: [f64; 2] = [2.437, 9.061];
const QUERY_S: f64 = 3.0;
/// A hit's start must be within this of the truth (DESIGN.md §6).
const TOLERANCE_S: f64 = 0.05;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn seconds(s: f64) -> usize {
    (s * f64::from(SAMPLE_RATE)).round() as usize
}

struct Fixture {
    model: Model,
    library: Library,
    /// The indexed excerpt of every track, 16 kHz mono.
    excerpts: Vec<Vec<f32>>,
}

fn fixture() -> Fixture {
    let model =
        Model::load(&repo("models/earmark-small.safetensors")).expect("the shipped model loads");
    let config = LibraryConfig::new(model.identity(), model.config().k_bits as u32);
    let mut builder = LibraryBuilder::new(config);
    let mut excerpts = Vec::new();
    for (i, name) in TRACKS.iter().enumerate() {
        let audio = load_mono_16k(repo(&format!("demo/music/{name}.ogg"))).unwrap();
        let (from, len) = (seconds(EXCERPT.0), seconds(EXCERPT.1));
        let excerpt = audio[from..from + len].to_vec();
        let e = model.embed_audio(&excerpt, config.hop as usize).unwrap();
        builder
            .add_track(name, EXCERPT.1, i as u64, &e.embeddings, &e.logits)
            .unwrap();
        excerpts.push(excerpt);
    }
    Fixture {
        model,
        library: builder.build(),
        excerpts,
    }
}

fn search(f: &Fixture, audio: &[f32]) -> Answer {
    let hop = f.library.config().hop;
    let e = f.model.embed_audio(audio, hop as usize).unwrap();
    let query = Query {
        embeddings: &e.embeddings,
        logits: &e.logits,
        hop,
    };
    Searcher::new(&f.library, Method::HashTable)
        .search(&query, &SearchSettings::default())
        .unwrap()
}

/// A noise recording of the demo set, looped to `len` samples.
fn noise(name: &str, len: usize) -> Vec<f32> {
    let clip = load_mono_16k(repo(&format!("demo/noise/{name}.ogg"))).unwrap();
    clip.iter().copied().cycle().take(len).collect()
}

/// Every clean query must be found; of the eight noisy ones, at most one may be missed
/// (the model's measured hit rate for 3 s queries at 15 dB is about 90 %, so demanding all
/// eight would test luck), and no query may be answered with a wrong track.
const NOISY_MISSES_ALLOWED: usize = 1;

#[test]
fn clean_and_noisy_excerpts_are_found_at_their_offsets() {
    let f = fixture();
    let len = seconds(QUERY_S);
    let (mut failures, mut noisy_misses) = (Vec::new(), Vec::new());
    for (track, excerpt) in f.excerpts.iter().enumerate() {
        for &offset in &QUERY_OFFSETS {
            let clean = &excerpt[seconds(offset)..seconds(offset) + len];
            let noisy = mix_at_snr(clean, &noise("campfire", len), 15.0).unwrap();
            for (label, audio) in [("clean", clean.to_vec()), ("campfire 15 dB", noisy)] {
                let answer = search(&f, &audio);
                let best = answer.best();
                let hit = best
                    .is_some_and(|h| h.track == track && (h.start_s - offset).abs() <= TOLERANCE_S);
                let what = format!(
                    "{} at {offset} s, {label}: got {:?}",
                    TRACKS[track],
                    best.map(|h| (TRACKS[h.track], h.start_s, h.score))
                );
                let wrong_track = best.is_some_and(|h| h.track != track);
                if wrong_track || (!hit && label == "clean") {
                    failures.push(what);
                } else if !hit {
                    noisy_misses.push(what);
                }
            }
        }
    }
    assert!(failures.is_empty(), "missed:\n{}", failures.join("\n"));
    assert!(
        noisy_misses.len() <= NOISY_MISSES_ALLOWED,
        "missed:\n{}",
        noisy_misses.join("\n")
    );
}

#[test]
fn the_default_threshold_was_calibrated_on_the_shipped_model() {
    let model = Model::load(&repo("models/earmark-small.safetensors")).unwrap();
    assert_eq!(
        model.identity(),
        earmark::index::MinScore::BY_LENGTH_MODEL,
        "recalibrate MinScore::ByLength (earmark bench threshold) for the new model and \
         update MinScore::BY_LENGTH_MODEL"
    );
}

#[test]
fn unrelated_audio_gets_no_match() {
    let f = fixture();
    let babble = noise("babble-6-talkers", seconds(QUERY_S));
    let answer = search(&f, &babble);
    assert!(
        answer.best().is_none(),
        "speech babble matched {:?}",
        answer.best().map(|h| (TRACKS[h.track], h.start_s, h.score))
    );
}
