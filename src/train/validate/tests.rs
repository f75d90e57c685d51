use super::*;
use crate::audio::augment::{AugmentConfig, Augmenter};
use crate::model::ModelConfig;

/// A one-layer encoder: fast in the debug test profile.
fn tiny_model() -> Model {
    let config = ModelConfig {
        d_model: 32,
        layers: 1,
        heads: 2,
        d_ff: 64,
        proj_hidden: 64,
        emb_dim: 32,
        hash_hidden: 32,
        k_bits: 8,
        ..ModelConfig::SMALL
    };
    Model::new(config, 5)
}

/// Track t: a chord of three partials at distinct frequencies, with a slow tremolo.
fn chord(t: usize, seconds: f32) -> Vec<f32> {
    let base = 220.0 * (1.0 + t as f32 * 0.37);
    (0..(seconds * 16_000.0) as usize)
        .map(|i| {
            let s = i as f32 / 16_000.0;
            let tone: f32 = [1.0, 1.5, 2.25]
                .iter()
                .map(|m| (std::f32::consts::TAU * base * m * s).sin())
                .sum();
            0.2 * tone * (1.0 + 0.5 * (std::f32::consts::TAU * 0.7 * s).sin())
        })
        .collect()
}

fn augmenter() -> Augmenter {
    let config = AugmentConfig {
        generated_rirs: 4,
        generated_noises_per_kind: 1,
        generated_noise_s: 2.0,
        ..AugmentConfig::default()
    };
    Augmenter::new(config, vec![], vec![], 9).unwrap()
}

#[test]
fn validate_gives_sane_deterministic_figures_on_a_tiny_setup() {
    let model = tiny_model();
    let tracks: Vec<Vec<f32>> = (0..3).map(|t| chord(t, 4.0)).collect();
    let augmenter = augmenter();
    let v = validate(&model, &tracks, &augmenter, 12, 1).unwrap();
    // 4 s at 100 ms hop: 31 one-second segments per track.
    assert_eq!(v.segments, 3 * 31);
    assert_eq!(v.conditions.len(), 6);
    for r in &v.conditions {
        assert_eq!(r.queries, 12);
        assert!(
            0.0 <= r.strict && r.strict <= r.loose && r.loose <= r.track && r.track <= 1.0,
            "{r:?}"
        );
    }
    assert_eq!(
        v.conditions[0].same_bucket, 1.0,
        "clean is its own original"
    );
    assert!(
        v.conditions[0].track >= 0.9,
        "distinct chords tell tracks apart: {v}"
    );
    assert!(v.nonempty_share > 0.0 && v.nonempty_share <= 1.0);
    assert!(v.entropy_bits >= 0.0 && v.entropy_bits <= v.entropy_ceiling_bits + 1e-9);
    assert_eq!(v.entropy_ceiling_bits, (93f64).log2().min(8.0));
    let again = validate(&model, &tracks, &augmenter, 12, 1).unwrap();
    assert_eq!(
        Validation {
            seconds: 0.0,
            ..again
        },
        Validation {
            seconds: 0.0,
            ..v.clone()
        }
    );
    let line = v.to_string();
    assert!(
        line.starts_with("val clean ") && !line.contains('\n'),
        "{line}"
    );
    let header = Validation::csv_header();
    assert_eq!(header.split(',').count(), v.csv_row().split(',').count());
    assert!(header.starts_with("strict_clean,loose_clean,strict_n0,"));
}

#[test]
fn occupancy_counts_buckets_and_entropy() {
    assert_eq!(occupancy(&[1, 1, 2, 3]), (3, 1.5));
    assert_eq!(occupancy(&[7; 5]), (1, 0.0));
    assert_eq!(bucket_key(&[0.5, -1.0, 0.0]), 0b101);
}

#[test]
fn validate_rejects_tracks_too_short() {
    let model = tiny_model();
    let tracks = vec![chord(0, 0.5)];
    assert!(validate(&model, &tracks, &augmenter(), 4, 0).is_err());
}
