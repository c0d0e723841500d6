//! Disclosure control for the published marts: primary suppression of small counts (1 to threshold−1)
//! and secondary suppression, so that no hidden cell can be recovered by subtracting from a total, from
//! the other gender, from the sub-projects of the same project or from the other parts of a row's sum.
//!
//! A mart is seen as cells (row, count column) tied by additive relations (total = sum of parts). After
//! primary suppression, every relation with exactly one hidden cell gets a second one (its smallest
//! visible part, else its total) until no such relation is left. Relations are taken conservatively: a
//! project's participants are not exactly the sum of its sub-projects' (a person may be in two), but an
//! attacker could still approximate, so they are protected as if they were. Shares are hidden when any
//! count they are computed from is hidden. The unsuppressed marts stay for authorised analysts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::arrow::util::display::array_value_to_string;

/// How one mart is protected.
pub struct MartSpec {
    pub name: &'static str,
    /// Columns that identify a row, gender excluded.
    pub keys: &'static [&'static str],
    /// The gender column (values woman, man, total), if the mart is split by gender.
    pub gender: Option<&'static str>,
    /// Count columns, all protected.
    pub counts: &'static [&'static str],
    /// Within-row sums: (total column, part columns).
    pub row_sums: &'static [(&'static str, &'static [&'static str])],
    /// If set, rows with `level = 'project'` total the `level = 'subproject'` rows of the same project
    /// (and same other keys).
    pub scope_hierarchy: bool,
    /// Share columns and the count columns they are computed from (in the same row or, for
    /// `share_women`, the woman row of the same scope).
    pub shares: &'static [(&'static str, &'static [&'static str])],
}

pub const PUBLISHED: &[MartSpec] = &[
    MartSpec {
        name: "regional_overview",
        keys: &["project_id", "level", "subproject_id"],
        gender: Some("gender"),
        counts: &[
            "enrolments",
            "participants",
            "active",
            "exited",
            "exits_work",
            "exits_studies",
            "exits_job_seeking",
            "exits_other",
            "exits_no_outcome",
        ],
        row_sums: &[
            ("participants", &["active", "exited"]),
            (
                "exited",
                &[
                    "exits_work",
                    "exits_studies",
                    "exits_job_seeking",
                    "exits_other",
                    "exits_no_outcome",
                ],
            ),
        ],
        scope_hierarchy: true,
        shares: &[
            ("share_women", &["participants"]),
            (
                "share_exits_work_or_studies",
                &["exits_work", "exits_studies", "exited"],
            ),
        ],
    },
    MartSpec {
        name: "monthly_active",
        keys: &["project_id", "level", "subproject_id", "month"],
        gender: Some("gender"),
        counts: &["active", "starts", "exits"],
        row_sums: &[],
        scope_hierarchy: true,
        shares: &[],
    },
    MartSpec {
        name: "esf_indicators",
        keys: &["project_id", "indicator_code"],
        gender: Some("gender"),
        counts: &["value"],
        row_sums: &[],
        scope_hierarchy: false,
        shares: &[],
    },
    MartSpec {
        name: "method_outcomes",
        keys: &["project_id", "activity_type"],
        gender: Some("gender"),
        counts: &[
            "participants",
            "exited",
            "exits_work",
            "exits_studies",
            "exits_work_or_studies",
        ],
        row_sums: &[("exits_work_or_studies", &["exits_work", "exits_studies"])],
        scope_hierarchy: false,
        shares: &[(
            "share_exits_work_or_studies",
            &["exits_work_or_studies", "exited"],
        )],
    },
    MartSpec {
        name: "pathway_steps",
        keys: &["project_id", "step"],
        gender: None,
        counts: &["participants_reached", "participants_current", "moved_on"],
        row_sums: &[(
            "participants_reached",
            &["participants_current", "moved_on"],
        )],
        scope_hierarchy: false,
        shares: &[
            ("median_days_in_step", &["participants_reached"]),
            ("mean_days_in_step", &["participants_reached"]),
        ],
    },
];

type CellId = (usize, usize); // (row, index into spec.counts)

/// A total and the parts that sum to it.
#[derive(Debug, Clone)]
pub struct Relation {
    pub total: CellId,
    pub parts: Vec<CellId>,
}

fn key_string(batch: &RecordBatch, cols: &[&str], row: usize) -> String {
    cols.iter()
        .map(|c| {
            batch
                .column_by_name(c)
                .map(|a| {
                    if a.is_null(row) {
                        "\u{0}".to_string()
                    } else {
                        array_value_to_string(a, row).unwrap_or_default()
                    }
                })
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("\u{1}")
}

fn text(batch: &RecordBatch, col: &str, row: usize) -> Option<String> {
    let a = batch.column_by_name(col)?;
    (!a.is_null(row)).then(|| array_value_to_string(a, row).unwrap_or_default())
}

/// The additive relations of a mart.
pub fn relations(spec: &MartSpec, batch: &RecordBatch) -> Vec<Relation> {
    let mut out = Vec::new();
    let n = batch.num_rows();
    let ncounts = spec.counts.len();
    let idx = |c: &str| spec.counts.iter().position(|x| *x == c);
    // Within-row sums.
    for row in 0..n {
        for (total, parts) in spec.row_sums {
            if let Some(t) = idx(total) {
                out.push(Relation {
                    total: (row, t),
                    parts: parts
                        .iter()
                        .filter_map(|p| idx(p))
                        .map(|p| (row, p))
                        .collect(),
                });
            }
        }
    }
    // Gender: total = woman + man, per key.
    if let Some(g) = spec.gender {
        let mut groups: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for row in 0..n {
            let gender = text(batch, g, row).unwrap_or_default();
            groups
                .entry(key_string(batch, spec.keys, row))
                .or_default()
                .insert(gender, row);
        }
        for rows in groups.values() {
            if let (Some(t), Some(w), Some(m)) =
                (rows.get("total"), rows.get("woman"), rows.get("man"))
            {
                for c in 0..ncounts {
                    out.push(Relation {
                        total: (*t, c),
                        parts: vec![(*w, c), (*m, c)],
                    });
                }
            }
        }
    }
    // Sub-projects add up to their project (conservatively).
    if spec.scope_hierarchy {
        let other: Vec<&str> = spec
            .keys
            .iter()
            .copied()
            .filter(|k| *k != "level" && *k != "subproject_id")
            .chain(spec.gender)
            .collect();
        let mut totals: BTreeMap<String, usize> = BTreeMap::new();
        let mut parts: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for row in 0..n {
            let k = key_string(batch, &other, row);
            match text(batch, "level", row).as_deref() {
                Some("project") => {
                    totals.insert(k, row);
                }
                Some("subproject") => parts.entry(k).or_default().push(row),
                _ => {}
            }
        }
        for (k, t) in totals {
            let Some(ps) = parts.get(&k) else { continue };
            for c in 0..ncounts {
                out.push(Relation {
                    total: (t, c),
                    parts: ps.iter().map(|r| (*r, c)).collect(),
                });
            }
        }
    }
    out
}

/// Which cells to hide: primary (1 ≤ value < threshold) then secondary until no relation has exactly one
/// hidden cell. `values[row][c]` is None for a cell without a value (never hidden, never a complement).
pub fn suppress(
    values: &[Vec<Option<i64>>],
    relations: &[Relation],
    threshold: i64,
) -> BTreeSet<CellId> {
    let value = |(r, c): CellId| values[r][c];
    let mut hidden: BTreeSet<CellId> = BTreeSet::new();
    for (r, row) in values.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if let Some(v) = v {
                if *v >= 1 && *v < threshold {
                    hidden.insert((r, c));
                }
            }
        }
    }
    loop {
        let mut changed = false;
        for rel in relations {
            let cells: Vec<CellId> = std::iter::once(rel.total)
                .chain(rel.parts.iter().copied())
                .filter(|c| value(*c).is_some())
                .collect();
            let n_hidden = cells.iter().filter(|c| hidden.contains(c)).count();
            if n_hidden != 1 || cells.len() < 2 {
                continue;
            }
            // Complement: the smallest visible part with a value above zero, else any visible part, else
            // the total.
            let visible_parts: Vec<CellId> = rel
                .parts
                .iter()
                .copied()
                .filter(|c| !hidden.contains(c) && value(*c).is_some())
                .collect();
            let pick = visible_parts
                .iter()
                .copied()
                .filter(|c| value(*c).unwrap_or(0) > 0)
                .min_by_key(|c| (value(*c), *c))
                .or_else(|| {
                    visible_parts
                        .iter()
                        .copied()
                        .min_by_key(|c| (value(*c), *c))
                })
                .or_else(|| (!hidden.contains(&rel.total)).then_some(rel.total));
            if let Some(p) = pick {
                hidden.insert(p);
                changed = true;
            }
        }
        if !changed {
            return hidden;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DisclosureError {
    #[error("mart {mart}: column {column} is missing or not an integer count")]
    Column { mart: String, column: String },
    #[error("mart {mart}: {message}")]
    Arrow { mart: String, message: String },
}

/// Apply the spec to a mart's batches: hidden counts and the shares that depend on them become null, and
/// a `suppressed` column says whether anything in the row was hidden.
pub fn protect(
    spec: &MartSpec,
    batches: &[RecordBatch],
    threshold: i64,
) -> Result<RecordBatch, DisclosureError> {
    let arrow_err = |e: datafusion::arrow::error::ArrowError| DisclosureError::Arrow {
        mart: spec.name.into(),
        message: e.to_string(),
    };
    let schema = batches
        .first()
        .map(|b| b.schema())
        .ok_or_else(|| DisclosureError::Arrow {
            mart: spec.name.into(),
            message: "no batches".into(),
        })?;
    let batch = concat_batches(&schema, batches).map_err(arrow_err)?;
    let n = batch.num_rows();
    let mut values: Vec<Vec<Option<i64>>> = vec![Vec::with_capacity(spec.counts.len()); n];
    for c in spec.counts {
        let col = batch
            .column_by_name(c)
            .and_then(|a| a.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| DisclosureError::Column {
                mart: spec.name.into(),
                column: c.to_string(),
            })?;
        for (r, row) in values.iter_mut().enumerate() {
            row.push((!col.is_null(r)).then(|| col.value(r)));
        }
    }
    let rels = relations(spec, &batch);
    let hidden = suppress(&values, &rels, threshold);

    // share_women on a total row depends on the woman row of the same scope.
    let mut woman_row: BTreeMap<String, usize> = BTreeMap::new();
    if let Some(g) = spec.gender {
        for r in 0..n {
            if text(&batch, g, r).as_deref() == Some("woman") {
                woman_row.insert(key_string(&batch, spec.keys, r), r);
            }
        }
    }
    let count_idx = |c: &str| spec.counts.iter().position(|x| *x == c);
    let mut columns: Vec<ArrayRef> = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    let mut row_hidden = vec![false; n];
    for (r, flag) in row_hidden.iter_mut().enumerate() {
        *flag = (0..spec.counts.len()).any(|c| hidden.contains(&(r, c)));
    }
    for (i, field) in schema.fields().iter().enumerate() {
        let name = field.name().as_str();
        let col = batch.column(i);
        if let Some(c) = count_idx(name) {
            let arr = col.as_primitive::<Int64Type>();
            let out: Int64Array = (0..n)
                .map(|r| (!hidden.contains(&(r, c)) && !arr.is_null(r)).then(|| arr.value(r)))
                .collect();
            columns.push(Arc::new(out));
            fields.push(Field::new(name, DataType::Int64, true));
        } else if let Some((_, deps)) = spec.shares.iter().find(|(s, _)| *s == name) {
            let arr = col
                .as_primitive_opt::<datafusion::arrow::datatypes::Float64Type>()
                .ok_or_else(|| DisclosureError::Column {
                    mart: spec.name.into(),
                    column: name.to_string(),
                })?;
            let out: Float64Array = (0..n)
                .map(|r| {
                    let mut dep_hidden = deps
                        .iter()
                        .filter_map(|d| count_idx(d))
                        .any(|c| hidden.contains(&(r, c)));
                    if name == "share_women" {
                        let w = woman_row.get(&key_string(&batch, spec.keys, r));
                        let pc = count_idx("participants");
                        if let (Some(w), Some(pc)) = (w, pc) {
                            dep_hidden |= hidden.contains(&(*w, pc));
                        }
                    }
                    (!dep_hidden && !arr.is_null(r)).then(|| arr.value(r))
                })
                .collect();
            if out.null_count() > arr.null_count() {
                for (r, flag) in row_hidden.iter_mut().enumerate() {
                    *flag |= out.is_null(r) && !arr.is_null(r);
                }
            }
            columns.push(Arc::new(out));
            fields.push(Field::new(name, DataType::Float64, true));
        } else {
            columns.push(col.clone());
            fields.push(field.as_ref().clone());
        }
    }
    columns.push(Arc::new(BooleanArray::from(row_hidden)));
    fields.push(Field::new("suppressed", DataType::Boolean, false));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(arrow_err)
}
