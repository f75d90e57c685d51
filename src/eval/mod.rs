//! Query building and the hit-rate table (DESIGN.md §6).
//!
//! | module | what it holds |
//! |---|---|
//! | [`queries`] | the poster's conditions, query plans (track, start to the sample, length) and rendering |
//! | [`truth`] | ground truth and its CSV form |
//! | [`score`] | a query through the model and a searcher, hit windows, per-cell sums |
//! | [`table`] | the table in the poster's layout, the paper's figures, CSV and JSON |

pub mod queries;
pub mod score;
pub mod table;
pub mod truth;

pub use queries::{
    PlannedQuery, condition_name, condition_param, eval_augmenter, paper_conditions,
    parse_condition, plan_queries, render_query,
};
pub use score::{Cell, LOOSE_S, Outcome, STRICT_S, Verdict, answer_query, judge};
pub use table::{PAPER_FE_HT, Table, paper_figure};
pub use truth::{Truth, parse_truth_csv, write_truth_csv};
